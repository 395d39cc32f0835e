//! The system calls the tests need (signals to children, the effective user, a file's holes),
//! behind safe functions: as in `src/sys.rs`, `unsafe` lives in this one file.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// Where the first data at or after `offset` starts (lseek SEEK_DATA); negative on error.
pub fn seek_data(f: &File, offset: i64) -> i64 {
    // SAFETY: lseek on a descriptor the caller owns.
    unsafe { libc::lseek(f.as_raw_fd(), offset, libc::SEEK_DATA) }
}

/// Where the first hole at or after `offset` starts (lseek SEEK_HOLE); negative on error.
pub fn seek_hole(f: &File, offset: i64) -> i64 {
    // SAFETY: lseek on a descriptor the caller owns.
    unsafe { libc::lseek(f.as_raw_fd(), offset, libc::SEEK_HOLE) }
}

/// Resource limits (`setrlimit`) set in the child between fork and exec, so what the child
/// may allocate or spend does not depend on this machine.
pub fn limit_child(c: &mut Command, limits: &[(libc::__rlimit_resource_t, libc::rlim_t)]) {
    let limits = limits.to_vec();
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec, on data the
    // closure owns.
    unsafe {
        c.pre_exec(move || {
            for &(res, lim) in &limits {
                let r = libc::rlimit {
                    rlim_cur: lim,
                    rlim_max: lim,
                };
                if libc::setrlimit(res, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
