//! [`GuestFs`] over the XFS reader. The last file opened is kept (its inode and extents), so
//! reading a large file in chunks (an initramfs) walks its path and its extent tree once.

use super::bmap::Extent;
use super::inode::Inode;
use super::raw::R;
use super::reader::Xfs;
use crate::disk::guestfs::{GuestFs, NodeKind};

/// Errors kept per file system; later ones are dropped.
const MAX_ERRORS: usize = 8;

/// An XFS file system seen by guest inspection; errors become "does not exist" after being
/// noted (at most [`MAX_ERRORS`]) in `errors`.
pub struct XfsGuest<'a> {
    pub fs: Xfs<'a>,
    pub errors: Vec<String>,
    /// The last regular file read: its path, inode and extents.
    open: Option<(String, Inode, Vec<Extent>)>,
}

impl<'a> XfsGuest<'a> {
    pub fn new(fs: Xfs<'a>) -> Self {
        XfsGuest {
            fs,
            errors: Vec::new(),
            open: None,
        }
    }

    fn note<T>(&mut self, path: &str, r: R<T>) -> Option<T> {
        r.map_err(|e| {
            if self.errors.len() < MAX_ERRORS {
                self.errors.push(format!("{path}: {e}"));
            }
        })
        .ok()
    }

    fn node(&mut self, path: &str) -> Option<Inode> {
        let r = self.fs.walk(path);
        self.note(path, r).flatten()
    }

    /// Make the regular file at `path` (with its extents) the open one, unless it is already.
    fn open_file(&mut self, path: &str) -> Option<()> {
        if self.open.as_ref().is_none_or(|(p, _, _)| p != path) {
            self.open = None;
            let n = self.node(path).filter(|n| n.kind() == NodeKind::File)?;
            let extents = if n.format == super::inode::FMT_LOCAL {
                Vec::new()
            } else {
                let r = self.fs.extents(&n);
                self.note(path, r)?
            };
            self.open = Some((path.to_string(), n, extents));
        }
        Some(())
    }
}

impl GuestFs for XfsGuest<'_> {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        self.node(path).map(|n| n.kind())
    }
    fn read_link(&mut self, path: &str) -> Option<String> {
        let n = self.node(path).filter(|n| n.kind() == NodeKind::Symlink)?;
        let r = self.fs.read_link(&n);
        self.note(path, r)
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        self.read_range(path, 0, max)
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        self.open_file(path)?;
        let (p, ino, extents) = self.open.take()?;
        let r = self.fs.read_range(&ino, &extents, offset, len);
        self.open = Some((p, ino, extents));
        self.note(path, r)
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        let Some(dir) = self.node(path).filter(|n| n.kind() == NodeKind::Dir) else {
            return Vec::new();
        };
        let r = self.fs.list(&dir, max);
        self.note(path, r)
            .map(|v| v.into_iter().map(|(n, _)| n).collect())
            .unwrap_or_default()
    }
    fn lists_dirs(&self) -> bool {
        true
    }
}
