//! Opening a file system for the guest checks: ext2/3/4 through `ext4-view`, FAT through
//! `fatfs`, NTFS through `ntfs`, XFS through our own reader, each behind [`GuestFs`] with a
//! read budget and the checks of `fs_guard.rs` first.

use std::io::Read;

use super::windows::PE_HEAD;

use crate::disk::fs::FsKind;
use crate::disk::fs_guard::{ext4_path_ok, ntfs_dir_index_ok};
use crate::disk::guestfs::{GuestFs, MAX_TEXT, NodeKind};
use crate::disk::slice::{Slice, SliceReader, with_ext4_reader};

/// Total bytes one file system may read while being inspected.
pub const FS_READ_BUDGET: u64 = 32 << 20;

/// Open the file system of kind `fs_kind` on `slice` and run `f` on it. `None` when the
/// kind is not readable here or the crate refused it (the reason goes to `warnings`).
pub fn with_guest_fs<R>(
    slice: Slice<'_>,
    fs_kind: FsKind,
    what: &str,
    warnings: &mut Vec<String>,
    f: impl FnOnce(&mut dyn GuestFs, &mut Vec<String>) -> R,
) -> Option<R> {
    with_guest_fs_budget(slice, fs_kind, what, FS_READ_BUDGET, warnings, f)
}

/// [`with_guest_fs`] with another read budget (the readiness report streams an initramfs).
pub fn with_guest_fs_budget<R>(
    slice: Slice<'_>,
    fs_kind: FsKind,
    what: &str,
    budget: u64,
    warnings: &mut Vec<String>,
    f: impl FnOnce(&mut dyn GuestFs, &mut Vec<String>) -> R,
) -> Option<R> {
    if let Err(e) = crate::disk::fs_guard::check(&slice, fs_kind) {
        warnings.push(format!("{what}: not opened: {e}"));
        return None;
    }
    match fs_kind {
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => with_ext4_reader(slice, budget, |reader| {
            match ext4_view::Ext4::load(Box::new(reader)) {
                Ok(fs) => Some(f(&mut Ext4Guest(fs), warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: ext4-view cannot read it: {e}"));
                    None
                }
            }
        }),
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => {
            match fatfs::FileSystem::new(slice.reader(budget), fatfs::FsOptions::new()) {
                Ok(fs) => Some(f(&mut FatGuest(fs), warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: fatfs cannot read it: {e}"));
                    None
                }
            }
        }
        FsKind::Ntfs => {
            let mut r = slice.reader(budget);
            match open_ntfs(&mut r) {
                Ok(ntfs) => Some(f(&mut NtfsGuest { ntfs, r }, warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: ntfs cannot read it: {e}"));
                    None
                }
            }
        }
        FsKind::Xfs => match crate::disk::fs::xfs::Xfs::open(&slice, budget) {
            Ok(fs) => {
                let mut g = crate::disk::fs::xfs::XfsGuest::new(fs);
                let out = f(&mut g, warnings);
                warnings.extend(g.errors.into_iter().map(|e| format!("{what}: xfs: {e}")));
                Some(out)
            }
            Err(e) => {
                warnings.push(format!("{what}: cannot read it as XFS: {e}"));
                None
            }
        },
        _ => None,
    }
}

fn open_ntfs(r: &mut SliceReader<'_>) -> ntfs::Result<ntfs::Ntfs> {
    let mut ntfs = ntfs::Ntfs::new(r)?;
    // Name lookups compare through $UpCase; the crate panics if it was not read.
    ntfs.read_upcase_table(r)?;
    Ok(ntfs)
}

struct Ext4Guest(ext4_view::Ext4);

/// Up to `len` bytes from where `file` stands, fewer at its end; `None` on a read error.
fn read_up_to(file: &mut ext4_view::File, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut got = 0;
    while got < out.len() {
        match file.read_bytes(&mut out[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(_) => return None,
        }
    }
    out.truncate(got);
    Some(out)
}

impl GuestFs for Ext4Guest {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        if !ext4_path_ok(&self.0, path, true) {
            return None;
        }
        let m = self.0.symlink_metadata(path).ok()?;
        Some(match m.file_type() {
            t if t.is_symlink() => NodeKind::Symlink,
            t if t.is_dir() => NodeKind::Dir,
            t if t.is_regular_file() => NodeKind::File,
            _ => NodeKind::Other,
        })
    }
    fn read_link(&mut self, path: &str) -> Option<String> {
        if !ext4_path_ok(&self.0, path, true) {
            return None;
        }
        let t = self.0.read_link(path).ok()?;
        t.to_str().ok().map(str::to_string)
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        if !ext4_path_ok(&self.0, path, false) {
            return None;
        }
        let mut file = self.0.open(path).ok()?;
        read_up_to(&mut file, max.min(MAX_TEXT.max(PE_HEAD)))
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        if !ext4_path_ok(&self.0, path, false) {
            return None;
        }
        let mut file = self.0.open(path).ok()?;
        file.seek_to(offset.min(file.metadata().len())).ok()?;
        read_up_to(&mut file, len.min(MAX_RANGE))
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        if !ext4_path_ok(&self.0, path, false) {
            return Vec::new();
        }
        let Ok(dir) = self.0.read_dir(path) else {
            return Vec::new();
        };
        dir.take(max.saturating_add(2))
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().as_str().ok().map(str::to_string))
            .filter(|n| n != "." && n != "..")
            .collect()
    }
    fn lists_dirs(&self) -> bool {
        true
    }
}

/// One `read_range` returns at most this many bytes.
pub const MAX_RANGE: usize = 1 << 20;

struct FatGuest<'a>(fatfs::FileSystem<SliceReader<'a>>);

/// fatfs paths are relative to the root directory.
fn fat_path(p: &str) -> &str {
    p.trim_start_matches('/')
}

impl GuestFs for FatGuest<'_> {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        let p = fat_path(path);
        if p.is_empty() || self.0.root_dir().open_dir(p).is_ok() {
            return Some(NodeKind::Dir);
        }
        self.0.root_dir().open_file(p).ok().map(|_| NodeKind::File)
    }
    fn read_link(&mut self, _path: &str) -> Option<String> {
        None
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        let file = self.0.root_dir().open_file(fat_path(path)).ok()?;
        read_capped(file, max)
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        let p = fat_path(path);
        let root = self.0.root_dir();
        let dir = if p.is_empty() {
            Ok(root)
        } else {
            root.open_dir(p)
        };
        dir.map(|d| {
            d.iter()
                .take(max)
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n != "." && n != "..")
                .collect()
        })
        .unwrap_or_default()
    }
}

fn read_capped(r: impl Read, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max as u64).read_to_end(&mut out).ok()?;
    Some(out)
}

struct NtfsGuest<'a> {
    ntfs: ntfs::Ntfs,
    r: SliceReader<'a>,
}

/// Walk `path` from the root directory, one case-insensitive index lookup per component.
fn ntfs_lookup<'n>(
    ntfs: &'n ntfs::Ntfs,
    r: &mut SliceReader<'_>,
    path: &str,
) -> Option<ntfs::NtfsFile<'n>> {
    let mut file = ntfs.root_directory(r).ok()?;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let next = {
            if !ntfs_dir_index_ok(&file, r) {
                return None;
            }
            let index = file.directory_index(r).ok()?;
            let mut finder = index.finder();
            let entry = ntfs::indexes::NtfsFileNameIndex::find(&mut finder, ntfs, r, comp)?.ok()?;
            entry.to_file(ntfs, r).ok()?
        };
        file = next;
    }
    Some(file)
}

impl GuestFs for NtfsGuest<'_> {
    fn volume_label(&mut self) -> Option<String> {
        let name = self.ntfs.volume_name(&mut self.r)?.ok()?;
        Some(name.name().to_string_lossy()).filter(|n| !n.is_empty())
    }
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        let f = ntfs_lookup(&self.ntfs, &mut self.r, path)?;
        Some(if f.is_directory() {
            NodeKind::Dir
        } else {
            NodeKind::File
        })
    }
    fn read_link(&mut self, _path: &str) -> Option<String> {
        // Reparse points (junctions) are not followed: Windows' system root is never one.
        None
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        self.read_range(path, 0, max)
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let r = &mut self.r;
        let file = ntfs_lookup(&self.ntfs, r, path)?;
        let item = file.data(r, "")?.ok()?;
        let attr = item.to_attribute().ok()?;
        let value = attr.value(r).ok()?;
        let mut v = value.attach(r);
        v.seek(SeekFrom::Start(offset)).ok()?;
        read_capped(v, len)
    }
}
