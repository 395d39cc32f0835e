//! The [`FileSystem`] trait: what the rest of `disk/` needs from an opened file system (what
//! a path is, a file's bytes by range with a size bound, a directory's names, a symlink's
//! target), implemented by each reader (ext4, FAT, NTFS through their crates in `guest.rs`;
//! XFS by `fs/xfs/`) and used by guest facts, readiness and the registry reader. What a
//! superblock says (kind, label, UUID, size) is `fs::probe`'s [`FsInfo`](crate::disk::fs::FsInfo),
//! known before anything is opened. Its own file so the readers and the inspection do not
//! import each other.

/// Text files (os-release, release files) are read up to this many bytes.
pub const MAX_TEXT: usize = 256 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    Other,
}

/// The earlier name of [`FileSystem`], kept for the files that use it.
pub use self::FileSystem as GuestFs;

/// An opened file system, read-only, every read within the reader's budget. Paths are
/// absolute, `/`-separated and must already be resolved (no symlinks in them) except for the
/// last component. Errors read as "does not exist"; the readers note why in warnings.
pub trait FileSystem {
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
