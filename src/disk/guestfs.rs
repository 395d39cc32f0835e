//! The few operations guest inspection needs from a file system, implemented by each reader
//! (ext4, FAT, NTFS through their crates; XFS by `xfs.rs`) and used by `guest.rs` and the
//! registry reader. Its own file so the readers and the inspection do not import each other.

/// Text files (os-release, release files) are read up to this many bytes.
pub const MAX_TEXT: usize = 256 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The few operations inspection needs from a file system. Paths are absolute, `/`-separated
/// and must already be resolved (no symlinks in them) except for the last component.
pub trait GuestFs {
    /// What `path` is, without following a symlink at its end; `None` if it does not exist.
    fn kind(&mut self, path: &str) -> Option<NodeKind>;
    /// The target of the symlink at `path`.
    fn read_link(&mut self, path: &str) -> Option<String>;
    /// Up to `max` bytes from the start of the regular file at `path`.
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>>;
    /// Up to `len` bytes at `offset` of the regular file at `path` (fewer at its end). The
    /// default reads from the start, so it suits only small files; NTFS seeks.
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        let end = usize::try_from(offset).ok()?.checked_add(len)?;
        let head = self.read_head(path, end.min(MAX_TEXT))?;
        Some(head.get(usize::try_from(offset).ok()?..)?.to_vec())
    }
    /// Up to `max` names in the directory at `path` (only needed for FAT: EFI/<distro>/).
    fn list_dir(&mut self, _path: &str, _max: usize) -> Vec<String> {
        Vec::new()
    }
    /// Whether `list_dir` lists directories (an empty answer then means an empty directory).
    fn lists_dirs(&self) -> bool {
        false
    }
    /// The volume label, for file systems whose label is not in a superblock (NTFS keeps it
    /// in the $Volume file).
    fn volume_label(&mut self) -> Option<String> {
        None
    }
}
