//! The system calls the tests need (signals to children, the effective user, a file's holes),
//! behind safe functions: as in `src/sys.rs`, `unsafe` lives in this one file.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;

/// Send `sig` to process `pid`.
pub fn kill(pid: u32, sig: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a pid of a child this test started.
    unsafe { libc::kill(pid, sig) };
}

pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Where the first hole at or after `offset` starts (lseek SEEK_HOLE); negative on error.
pub fn seek_hole(f: &File, offset: i64) -> i64 {
    // SAFETY: lseek on a descriptor the caller owns.
    unsafe { libc::lseek(f.as_raw_fd(), offset, libc::SEEK_HOLE) }
}
