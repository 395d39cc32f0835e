//! Every system call that needs `unsafe`, each behind a small safe function. `unsafe` is denied
//! everywhere else in the crate (Cargo.toml `[lints]`), so this file is the whole list to
//! audit: signal dispositions, the SIGBUS guard for mapped sources, mmap, flock, statvfs,
//! FICLONERANGE, sync_file_range and lseek(SEEK_DATA/SEEK_HOLE).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, OnceLock};

use memmap2::{Mmap, MmapOptions};

/// The exit code of a program stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const EXIT_INTERRUPTED: i32 = 130;

/// A closed pipe (`imgtool inspect x | head`) ends the process quietly instead of making
/// `println!` panic. Called once at start-up, before any thread exists.
pub fn default_sigpipe() {
    // SAFETY: setting a signal disposition to its default at start-up.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn interrupt_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// From now on SIGINT and SIGTERM set the flag [`interrupted`] reads instead of killing the
/// process, so long work can stop cleanly (temporary output removed, how to resume said). A
/// second one while the first is being handled exits at once with 130, as a user who presses
/// Ctrl-C twice expects. One handler for the whole program (signal-hook); installing it again
/// is harmless. For programs, not libraries: it changes process state.
pub fn catch_interrupts() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let flag = interrupt_flag();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Order matters: the conditional exit must see the flag before it is set.
            let _ = signal_hook::flag::register_conditional_shutdown(
                sig,
                EXIT_INTERRUPTED,
                Arc::clone(flag),
            );
            let _ = signal_hook::flag::register(sig, Arc::clone(flag));
        }
    });
}

/// Whether SIGINT or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::SeqCst)
}

/// What the SIGBUS handler does for the conversion that is armed: everything prepared before
/// any map exists, since nothing may be allocated in a signal handler.
struct Armed {
    temp: CString,
    message: Vec<u8>,
}

static ARMED: AtomicPtr<Armed> = AtomicPtr::new(std::ptr::null_mut());
static SIGBUS_INSTALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigbus(_: libc::c_int) {
    let armed = ARMED.load(Ordering::SeqCst);
    // SAFETY: `armed` is null or a leaked-until-disarmed `Armed` (disarm runs only after
    // every map is gone, so no SIGBUS can race with it); unlink, write and _exit are
    // async-signal-safe.
    unsafe {
        if armed.is_null() {
            const MSG: &[u8] = b"imgtool: bus error (SIGBUS) while reading a mapped file\n";
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
        } else {
            let a = &*armed;
            libc::unlink(a.temp.as_ptr());
            libc::write(2, a.message.as_ptr().cast(), a.message.len());
        }
        libc::_exit(2);
    }
}

/// Turn SIGBUS (a mapped file shrank under us) into: remove the armed temporary file, print
/// the armed message, exit 2.
pub fn install_sigbus_handler() {
    let handler = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe { libc::signal(libc::SIGBUS, handler) };
    SIGBUS_INSTALLED.store(true, Ordering::SeqCst);
}

pub fn sigbus_handler_installed() -> bool {
    SIGBUS_INSTALLED.load(Ordering::SeqCst)
}

/// Arm the SIGBUS handler with the temporary file to remove and the message to print. Only
/// one arming at a time in a process: `false` when another is armed (its caller then reads
/// without maps).
pub fn arm_sigbus(temp: &Path, message: Vec<u8>) -> bool {
    let Ok(temp) = CString::new(temp.as_os_str().as_bytes()) else {
        return false;
    };
    let armed = Box::into_raw(Box::new(Armed { temp, message }));
    match ARMED.compare_exchange(
        std::ptr::null_mut(),
        armed,
        Ordering::SeqCst,
        Ordering::SeqCst,
    ) {
        Ok(_) => true,
        Err(_) => {
            // SAFETY: `armed` was never published; we still own it.
            drop(unsafe { Box::from_raw(armed) });
            false
        }
    }
}

/// Disarm what [`arm_sigbus`] armed; call only after every map of that conversion is gone.
pub fn disarm_sigbus() {
    let old = ARMED.swap(std::ptr::null_mut(), Ordering::SeqCst);
    if !old.is_null() {
        // SAFETY: only a successful `arm_sigbus` published it (a Box it leaked), and the swap
        // above took it out, so it is freed once.
        drop(unsafe { Box::from_raw(old) });
    }
}

/// `len` bytes of `file` at `at`, mapped read-only with the pages already in place
/// (MAP_POPULATE). Callers map only files they read, and only while the SIGBUS handler is
/// armed, so a file truncated by someone else becomes a clean exit, not a crash.
pub fn map_populated(file: &File, at: u64, len: usize) -> std::io::Result<Mmap> {
    // SAFETY: read-only map of a file we only read (see above for truncation by others).
    unsafe { MmapOptions::new().offset(at).len(len).populate().map(file) }
}

/// Try to take an exclusive advisory lock without waiting; `true` when taken. The lock goes
/// away when the file is closed.
pub fn try_lock_exclusive(file: &File) -> bool {
    // SAFETY: flock on a descriptor the caller owns.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Ask the kernel to start writing the file's dirty pages now, without waiting.
pub fn start_writeback(file: &File) {
    // SAFETY: sync_file_range on a descriptor the caller owns; the result only affects timing.
    unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Bytes available to an unprivileged user on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: statvfs fills the zeroed struct; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Share `len` bytes of `src` at `src_at` into `dst` at `dst_at` (FICLONERANGE). The raw
/// result: the caller decides which errors mean "not supported here".
pub fn clone_range(
    src: &File,
    src_at: u64,
    dst: &File,
    dst_at: u64,
    len: u64,
) -> std::io::Result<()> {
    let arg = libc::file_clone_range {
        src_fd: i64::from(src.as_raw_fd()),
        src_offset: src_at,
        src_length: len,
        dest_offset: dst_at,
    };
    // SAFETY: FICLONERANGE reads one `file_clone_range` we own; both descriptors are open for
    // the whole call.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONERANGE, &arg) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What `lseek(SEEK_DATA/SEEK_HOLE)` says about `offset` of a file of `len` bytes: where the
/// next data begins and where the hole after it begins. `None` when the file system cannot
/// tell. Our reads are positional, so moving the file offset is harmless.
pub fn data_region(file: &File, offset: u64, len: u64) -> Option<(u64, u64)> {
    let fd = file.as_raw_fd();
    let off = libc::off_t::try_from(offset).ok()?;
    // SAFETY: lseek on a valid descriptor the caller owns.
    let data = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
    if data < 0 {
        let err = std::io::Error::last_os_error();
        // ENXIO: no data after offset: all hole to the end.
        return (err.raw_os_error() == Some(libc::ENXIO)).then_some((len, len));
    }
    // SAFETY: as above.
    let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
    if hole < 0 {
        return None;
    }
    Some((u64::try_from(data).ok()?, u64::try_from(hole).ok()?))
}
