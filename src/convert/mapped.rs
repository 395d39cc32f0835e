//! Source data seen through a memory map instead of copied into a buffer. Converting to RAW
//! must look at every data byte (all-zero runs become holes), and through a map that look
//! is the only pass the CPU makes over the data on a reflink file system (the kernel then
//! shares the blocks), and one of two instead of three elsewhere: measured, the copy into
//! our buffer was three quarters of the CPU time of a fixed VHD -> RAW on XFS.
//!
//! A mapped file that shrinks under us raises SIGBUS when the missing page is touched. Maps
//! are only used while [`Guard`] is armed, which needs the process-wide SIGBUS handler that
//! [`crate::sys::install_sigbus_handler`] sets (the CLI does; a library caller that did not gets the
//! plain read path). The handler removes the temporary output, says which file changed and
//! exits with 2, the code for bad input.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use memmap2::Mmap;

use crate::image::source::SourceFile;
use crate::sys;

/// While alive, maps may be used: the SIGBUS handler knows which source and which temporary
/// file this conversion has. Dropping it (after every map is gone) disarms the handler.
pub(crate) struct Guard {
    active: bool,
}

impl Guard {
    /// Arm for reading `source` (no source: nothing will be mapped, so nothing to arm).
    pub fn arm(source: Option<&Path>, temp: &Path) -> Guard {
        let Some(source) = source.filter(|_| sys::sigbus_handler_installed()) else {
            return Guard { active: false };
        };
        let mut message = b"imgtool: ".to_vec();
        message.extend_from_slice(source.as_os_str().as_bytes());
        message.extend_from_slice(
            b": the file shrank while it was being converted (bus error reading its data); \
              the partial output was removed\n",
        );
        // One armed conversion per process: another one running meanwhile (a library caller
        // with threads) reads without maps rather than share the handler's one message.
        Guard {
            active: sys::arm_sigbus(temp, message),
        }
    }

    /// `len` bytes of `src` at `at`, mapped read-only with the pages already in place
    /// (MAP_POPULATE: one call instead of a fault per page). `None` when maps are not armed,
    /// the range is not wholly inside the file as it was opened (the read path then reports
    /// it), or the kernel refuses (then the read path does the work).
    pub fn map(&self, src: &SourceFile, at: u64, len: u64) -> Option<Mmap> {
        let end = at.checked_add(len)?;
        if !self.active || len == 0 || end > src.len() {
            return None;
        }
        sys::map_populated(src.file(), at, usize::try_from(len).ok()?).ok()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.active {
            sys::disarm_sigbus();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_armed_guard_at_a_time_and_maps_only_inside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("src");
        std::fs::write(&p, vec![7u8; 3 * 4096 + 5]).unwrap();
        let src = SourceFile::open(&p).unwrap();
        let temp = dir.path().join("tmp");
        sys::install_sigbus_handler();
        // Other tests may hold the guard meanwhile: wait for our turn.
        let first = loop {
            let g = Guard::arm(Some(&p), &temp);
            if g.active {
                break g;
            }
            std::thread::yield_now();
        };
        assert!(!Guard::arm(Some(&p), &temp).active, "a second guard arms");
        assert!(
            !Guard::arm(None, &temp).active,
            "nothing to map, nothing to arm"
        );
        let m = first
            .map(&src, 4096 + 3, 4096)
            .expect("a map inside the file");
        assert_eq!(&m[..], &[7u8; 4096][..]);
        assert!(first.map(&src, 3 * 4096, 6).is_none(), "past the end");
        assert!(
            first.map(&src, u64::MAX - 2, 4).is_none(),
            "overflowing range"
        );
        assert!(first.map(&src, 0, 0).is_none(), "empty");
        drop(m);
        drop(first);
        // Disarmed: the next conversion can arm (retrying while others hold it).
        let again = (0..1_000_000).any(|_| Guard::arm(Some(&p), &temp).active);
        assert!(again);
    }
}
