//! Output that appears whole or not at all: a temporary file beside the destination, synced
//! and renamed at the end, removed on any error; and the checks made before writing anything
//! (destination exists, is the source, does not fit).

use crate::sys;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The infix of our temporary files: `.NAME.imgtool-XXXXXXXX.tmp`.
const TEMP_INFIX: &str = ".imgtool-";
const TEMP_SUFFIX: &str = ".tmp";

pub(crate) struct TempOutput {
    path: PathBuf,
    dst: PathBuf,
    file: File,
    /// Sync before the rename (and start writeback early so that sync is short).
    durable: bool,
    committed: bool,
    /// What the sweep before creating it found.
    pub leftovers: Leftovers,
}

/// Temporary files that killed runs left in the destination's folder.
#[derive(Debug, Default, Clone)]
pub struct Leftovers {
    /// Of the same destination: removed.
    pub removed: Vec<PathBuf>,
    /// Of other destinations, from runs that are gone: reported, left alone (they are not
    /// this run's to delete; the run that writes that destination again removes them).
    pub found: Vec<PathBuf>,
}

impl TempOutput {
    /// Create the temporary file for `dst`, after removing leftovers of killed runs. The file
    /// is locked so that a concurrent run for the same destination does not remove it.
    /// Errors name `dst`, the user's path, never the hidden temporary name.
    pub fn create(dst: &Path, durable: bool) -> Result<TempOutput> {
        let leftovers = sweep(dst);
        let path = temp_path(dst)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                Error::io(
                    dst,
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "{e} (cannot create a file in {})",
                            crate::text::path(&parent_dir(dst))
                        ),
                    ),
                )
            })?;
        sys::try_lock_exclusive(&file);
        Ok(TempOutput {
            path,
            dst: dst.to_path_buf(),
            file,
            durable,
            committed: false,
            leftovers,
        })
    }

    /// An error about the temporary file, told about the destination instead: the user
    /// never named the hidden file and cannot act on its name.
    pub fn user_error(&self, e: Error) -> Error {
        match e {
            Error::Io { path, source } if path == self.path => Error::Io {
                path: self.dst.clone(),
                source,
            },
            Error::Malformed {
                path,
                offset,
                field,
                found,
                expected,
            } if path == self.path => Error::Malformed {
                path: self.dst.clone(),
                offset,
                field,
                found,
                expected,
            },
            e => e,
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sync(&self) -> Result<()> {
        if !self.durable {
            return Ok(());
        }
        self.file.sync_all().map_err(|e| Error::io(&self.dst, e))
    }

    /// Called between batches: start writing what is dirty so the final sync finds little.
    pub fn kick_writeback(&self) {
        if self.durable {
            start_writeback(&self.file);
        }
    }

    /// Rename over the destination, then sync the directory so the rename itself is durable.
    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.path, &self.dst).map_err(|e| Error::io(&self.dst, e))?;
        self.committed = true;
        if !self.durable {
            return Ok(());
        }
        sync_dir(&self.dst)
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Ask the kernel to start writing the file's dirty pages now, without waiting: the disk then
/// works while we copy, and the final fsync finds little left to do.
fn start_writeback(f: &File) {
    sys::start_writeback(f);
}

pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = parent_dir(path);
    let d = File::open(&dir).map_err(|e| Error::io(&dir, e))?;
    d.sync_all().map_err(|e| Error::io(&dir, e))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(dst: &Path) -> Result<String> {
    dst.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", dst.display())))
}

/// `.NAME.imgtool-PID-XXXXXXXX.tmp`: the pid tells a later run whether the writer is gone.
fn temp_path(dst: &Path) -> Result<PathBuf> {
    let name = file_name(dst)?;
    let suffix: String = random_bytes::<4>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let pid = std::process::id();
    Ok(parent_dir(dst).join(format!(".{name}{TEMP_INFIX}{pid}-{suffix}{TEMP_SUFFIX}")))
}

/// A leftover without a pid in its name (older imgtool) is stale once untouched this long.
const STALE_WITHOUT_PID: std::time::Duration = std::time::Duration::from_secs(600);

/// Look at every `.*.imgtool-*.tmp` in `dst`'s folder. A file still locked belongs to a live
/// run and is left alone. The others of `dst` are removed; those of other destinations are
/// reported when their writer is gone (the pid in the name is not a live process, or, for a
/// name without one, not modified for ten minutes).
pub(crate) fn sweep(dst: &Path) -> Leftovers {
    let mut out = Leftovers::default();
    let Ok(name) = file_name(dst) else {
        return out;
    };
    let own = format!(".{name}{TEMP_INFIX}");
    let Ok(entries) = std::fs::read_dir(parent_dir(dst)) else {
        return out;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let Some(tag) = temp_tag(&n) else {
            continue;
        };
        let Ok(f) = File::open(e.path()) else {
            continue;
        };
        // The lock goes away when `f` is closed.
        if !sys::try_lock_exclusive(&f) {
            continue;
        }
        if n.starts_with(&own) {
            if std::fs::remove_file(e.path()).is_ok() {
                out.removed.push(e.path());
            }
        } else if writer_gone(tag, &f) {
            out.found.push(e.path());
        }
    }
    out
}

/// `PID-XXXXXXXX` or `XXXXXXXX` of a name `.NAME.imgtool-TAG.tmp`.
fn temp_tag(n: &str) -> Option<&str> {
    if !(n.starts_with('.') && n.ends_with(TEMP_SUFFIX)) {
        return None;
    }
    let at = n.rfind(TEMP_INFIX)?;
    n.get(at + TEMP_INFIX.len()..n.len() - TEMP_SUFFIX.len())
}

fn writer_gone(tag: &str, f: &File) -> bool {
    match tag.split_once('-').and_then(|(p, _)| p.parse::<u32>().ok()) {
        Some(pid) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
        None => f
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_WITHOUT_PID),
    }
}

/// Refuse a destination that is a directory, saying what to do instead.
pub(crate) fn refuse_directory(dst: &Path) -> Result<()> {
    if dst.is_dir() {
        let example = dst.join("NAME.raw");
        return Err(Error::Usage(format!(
            "{}: is a directory; give the output file's name, e.g. {}",
            crate::text::path(dst),
            crate::text::path(&example)
        )));
    }
    Ok(())
}

/// Refuse a destination that exists (without `force`), is not a regular file, or is one of
/// the files the source reads (compared by device and inode, so symlinks and hard links are
/// seen through).
pub(crate) fn check_destination(sources: &[PathBuf], dst: &Path, force: bool) -> Result<()> {
    let meta = match std::fs::metadata(dst) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dst, e)),
    };
    for s in sources {
        let sm = std::fs::metadata(s).map_err(|e| Error::io(s, e))?;
        if sm.dev() == meta.dev() && sm.ino() == meta.ino() {
            return Err(Error::Usage(format!(
                "{}: is the same file as the source {}; write to another file (or use --in-place)",
                dst.display(),
                s.display()
            )));
        }
    }
    refuse_directory(dst)?;
    if !meta.is_file() {
        return Err(Error::Usage(format!(
            "{}: exists and is not a regular file",
            dst.display()
        )));
    }
    if !force {
        return Err(Error::Usage(format!(
            "{}: already exists; use --force to replace it",
            dst.display()
        )));
    }
    Ok(())
}

/// Refuse to start when the destination's file system has less room than `need` bytes.
pub(crate) fn check_free_space(dst: &Path, need: u64) -> Result<()> {
    let dir = parent_dir(dst);
    let avail = free_bytes(&dir)?;
    if avail < need {
        return Err(Error::io(
            &dir,
            std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "not enough free space for the output: {need} bytes needed, {avail} bytes available"
                ),
            ),
        ));
    }
    Ok(())
}

fn free_bytes(dir: &Path) -> Result<u64> {
    sys::free_bytes(dir).map_err(|e| Error::io(dir, e))
}

/// Random bytes from the kernel, for VHD unique ids and temporary names (no crate needed for
/// sixteen bytes).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| Error::io("/dev/urandom", e))?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_temp_files_are_removed_but_locked_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("out.raw");
        let stale = d.path().join(".out.raw.imgtool-0badf00d.tmp");
        let other = d.path().join(".other.raw.imgtool-0badf00d.tmp");
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&other, b"x").unwrap();
        let live = TempOutput::create(&dst, true).unwrap();
        assert!(
            !stale.exists(),
            "a leftover for this destination is removed"
        );
        assert!(
            other.exists(),
            "leftovers of other destinations are not ours"
        );
        assert!(live.leftovers.removed.contains(&stale));
        assert!(
            sweep(&dst).removed.is_empty(),
            "a live run's file is locked"
        );
        assert!(live.path().exists());
        let p = live.path().to_path_buf();
        drop(live);
        assert!(!p.exists(), "an uncommitted temporary file is removed");
    }

    #[test]
    fn errors_about_the_temporary_file_name_the_destination() {
        let d = tempfile::tempdir().unwrap();
        let dst = d.path().join("np-out.raw");
        let t = TempOutput::create(&dst, false).unwrap();
        let e = t.user_error(Error::io(
            t.path(),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ));
        let msg = e.to_string();
        assert!(msg.starts_with(&dst.display().to_string()), "{msg}");
        assert!(!msg.contains(".imgtool-"), "{msg}");
        // Errors about other files are left as they are.
        let other = t.user_error(Error::io("/src.vhd", std::io::Error::other("x")));
        assert!(other.to_string().starts_with("/src.vhd"));
        // Creating it in a folder that refuses names the destination and the folder.
        let gone = d.path().join("no-such-dir").join("out.raw");
        let msg = TempOutput::create(&gone, false).err().unwrap().to_string();
        assert!(msg.starts_with(&gone.display().to_string()), "{msg}");
        assert!(
            msg.contains("cannot create a file in") && !msg.contains(".imgtool-"),
            "{msg}"
        );
    }

    #[test]
    fn temp_names_carry_the_pid_and_are_recognised() {
        let p = temp_path(Path::new("/x/out.raw")).unwrap();
        let n = p.file_name().unwrap().to_string_lossy().into_owned();
        let tag = temp_tag(&n).unwrap();
        assert!(tag.starts_with(&format!("{}-", std::process::id())), "{n}");
        assert_eq!(temp_tag(".out.raw.imgtool-0badf00d.tmp"), Some("0badf00d"));
        assert_eq!(temp_tag("out.raw"), None);
    }
}
