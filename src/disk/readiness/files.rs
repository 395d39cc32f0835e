//! Reading the guest for the readiness checks: the root file system with a separate `/boot`
//! (when fstab mounts one) seen at `/boot`, bounded reads through symlinks resolved inside
//! the guest, directory listings, and a `Read` over a large file in chunks.

use std::io::Read;

use crate::disk::guest::{MAX_RANGE, resolve};
use crate::disk::guestfs::{GuestFs, NodeKind};

/// Text files (configs, grub.cfg, modules.builtin, /boot/config-*) are read up to this size.
pub const MAX_CONFIG: usize = 4 << 20;
/// Names listed from one directory at most.
pub const MAX_LIST: usize = 4096;

/// The root file system, with another file system seen at `/boot` when there is one.
pub struct Mounted<'a, 'b> {
    pub root: &'a mut dyn GuestFs,
    pub boot: Option<&'b mut dyn GuestFs>,
}

impl Mounted<'_, '_> {
    /// The file system holding `path`, and the path inside it.
    fn route<'p>(&mut self, path: &'p str) -> (&mut dyn GuestFs, std::borrow::Cow<'p, str>) {
        if let Some(boot) = self.boot.as_deref_mut() {
            if path == "/boot" {
                return (boot, "/".into());
            }
            if let Some(rest) = path.strip_prefix("/boot/") {
                return (boot, format!("/{rest}").into());
            }
        }
        (&mut *self.root, path.into())
    }
}

impl GuestFs for Mounted<'_, '_> {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        let (fs, p) = self.route(path);
        fs.kind(&p)
    }
    fn read_link(&mut self, path: &str) -> Option<String> {
        let (fs, p) = self.route(path);
        fs.read_link(&p)
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        let (fs, p) = self.route(path);
        fs.read_head(&p, max)
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        let (fs, p) = self.route(path);
        fs.read_range(&p, offset, len)
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        let (fs, p) = self.route(path);
        fs.list_dir(&p, max)
    }
    fn lists_dirs(&self) -> bool {
        self.root.lists_dirs() && self.boot.as_ref().is_none_or(|b| b.lists_dirs())
    }
}

/// `path` with its symlinks resolved inside the guest, if it names something.
pub fn real_path(fs: &mut dyn GuestFs, path: &str) -> Option<(String, NodeKind)> {
    let real = resolve(fs, path).ok()?;
    let kind = fs.kind(&real)?;
    Some((real, kind))
}

/// Whether `path` exists (after symlinks) as a regular file.
pub fn is_file(fs: &mut dyn GuestFs, path: &str) -> bool {
    real_path(fs, path).is_some_and(|(_, k)| k == NodeKind::File)
}

/// The first of `paths` that is a regular file.
pub fn first_file(fs: &mut dyn GuestFs, paths: &[&str]) -> Option<String> {
    paths.iter().find(|p| is_file(fs, p)).map(|p| p.to_string())
}

/// Up to `max` bytes of the file at `path` (after symlinks), read in chunks; `None` if it is
/// not a readable regular file. The bool says whether the file was longer than `max`.
pub fn read_file(fs: &mut dyn GuestFs, path: &str, max: usize) -> Option<(Vec<u8>, bool)> {
    let (real, kind) = real_path(fs, path)?;
    if kind != NodeKind::File {
        return None;
    }
    let mut out = Vec::new();
    loop {
        let want = MAX_RANGE.min(max + 1 - out.len());
        let chunk = fs.read_range(&real, out.len() as u64, want)?;
        let n = chunk.len();
        out.extend_from_slice(&chunk);
        if n == 0 || out.len() > max {
            break;
        }
    }
    let cut = out.len() > max;
    out.truncate(max);
    Some((out, cut))
}

/// The file as text (lossy UTF-8), up to [`MAX_CONFIG`] bytes.
pub fn read_text(fs: &mut dyn GuestFs, path: &str) -> Option<String> {
    read_file(fs, path, MAX_CONFIG).map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
}

/// The names in the directory at `path` (after symlinks), sorted.
pub fn list(fs: &mut dyn GuestFs, path: &str) -> Vec<String> {
    let Some((real, NodeKind::Dir)) = real_path(fs, path) else {
        return Vec::new();
    };
    let mut names = fs.list_dir(&real, MAX_LIST);
    names.sort();
    names
}

/// A `Read` over a guest file, one [`MAX_RANGE`] chunk at a time, stopping at `limit` bytes.
pub struct GuestReader<'f> {
    fs: &'f mut dyn GuestFs,
    path: String,
    offset: u64,
    limit: u64,
    buf: Vec<u8>,
    at: usize,
}

impl<'f> GuestReader<'f> {
    /// `path` must already be resolved (see [`real_path`]).
    pub fn new(fs: &'f mut dyn GuestFs, path: &str, limit: u64) -> Self {
        GuestReader {
            fs,
            path: path.to_string(),
            offset: 0,
            limit,
            buf: Vec::new(),
            at: 0,
        }
    }
}

impl Read for GuestReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.offset >= self.limit {
                return Ok(0);
            }
            let want = u64::try_from(MAX_RANGE)
                .unwrap_or(u64::MAX)
                .min(self.limit - self.offset);
            let want = usize::try_from(want).unwrap_or(MAX_RANGE);
            self.buf = self
                .fs
                .read_range(&self.path, self.offset, want)
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "{}: unreadable at offset {}",
                        self.path, self.offset
                    ))
                })?;
            self.at = 0;
            self.offset += self.buf.len() as u64;
            if self.buf.is_empty() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
