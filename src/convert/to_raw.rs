//! Write the virtual disk as RAW bytes at their own offsets (also the data area of a fixed
//! VHD): data pieces read and written in parallel, zero runs left as holes, the length set
//! at the end so trailing holes exist too.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::atomic::TempOutput;
use super::input::{Input, Pieces};
use super::progress::Progress;
use super::{
    CHUNK, Stats, WRITEBACK_EVERY, ZERO_GRANULE, check_interrupted, nonzero_runs, workers,
};
use crate::error::{Error, Result};

const PAGE: u64 = 4096;

pub(crate) fn write(input: &Input, tmp: &TempOutput, stats: &Stats, bar: &Progress) -> Result<()> {
    let (out, out_path) = (tmp.file(), tmp.path());
    let kernel_copy = AtomicBool::new(input.has_file_ranges());
    let w = Writer {
        input,
        out,
        out_path,
        stats,
        kernel_copy: &kernel_copy,
    };
    let mut pieces = Pieces::new(input, CHUNK);
    let (mut holes_seen, mut since_writeback) = (0, 0);
    let next = || {
        check_interrupted()?;
        let piece = pieces.next_piece()?;
        bar.add(pieces.holes - holes_seen);
        holes_seen = pieces.holes;
        since_writeback += piece.map_or(0, |p| p.1);
        if since_writeback >= WRITEBACK_EVERY {
            tmp.kick_writeback();
            since_writeback = 0;
        }
        Ok(piece)
    };
    workers::pull(CHUNK as usize, next, |buf, (off, len)| {
        w.piece(buf, off, len)?;
        bar.add(len);
        Ok(())
    })?;
    out.set_len(input.size())
        .map_err(|e| Error::io(out_path, e))
}

struct Writer<'a> {
    input: &'a Input<'a>,
    out: &'a File,
    out_path: &'a Path,
    stats: &'a Stats,
    /// Cleared the first time the kernel says it cannot copy between these files.
    kernel_copy: &'a AtomicBool,
}

impl Writer<'_> {
    fn piece(&self, buf: &mut [u8], off: u64, len: u64) -> Result<()> {
        check_interrupted()?;
        let buf = &mut buf[..len as usize];
        self.input.disk.read_at(off, buf)?;
        Stats::add(&self.stats.read, len);
        for run in nonzero_runs(buf, ZERO_GRANULE) {
            let at = off + run.start as u64;
            let bytes = &buf[run];
            if !self.copy_in_kernel(at, bytes.len())? {
                self.out
                    .write_all_at(bytes, at)
                    .map_err(|e| Error::io(self.out_path, e))?;
            }
            Stats::add(&self.stats.written, bytes.len() as u64);
            Stats::add(&self.stats.data, bytes.len() as u64);
        }
        Ok(())
    }

    /// When the source holds the run as a plain file range, let the kernel copy it: one copy
    /// inside the kernel instead of a write from our buffer (measured faster on ext4 for
    /// page-aligned ranges), and on reflink-capable file systems shared blocks. The zero check above still needed the
    /// bytes. False: write them ourselves.
    fn copy_in_kernel(&self, at: u64, len: usize) -> Result<bool> {
        if !self.kernel_copy.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let Some((src, src_at)) = self.input.file_range(at, len as u64) else {
            return Ok(false);
        };
        // The kernel copies page by page: when source and destination sit at different
        // offsets within a page (a dynamic VHD's data follows its 512-byte bitmap) every page
        // is stitched from two, which measured slower than writing from our buffer.
        if src_at % PAGE != at % PAGE {
            return Ok(false);
        }
        match copy_file_range(src, src_at, self.out, at, len) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.kernel_copy.store(false, Ordering::Relaxed);
                Ok(false)
            }
            Err(e) => Err(Error::io(self.out_path, e)),
        }
    }
}

/// Copy `len` bytes from `src` at `src_at` to `dst` at `dst_at`. `Ok(false)` when the kernel
/// cannot copy between these files (what was copied by then is rewritten by the caller's
/// fallback, which writes the same bytes).
pub(crate) fn copy_file_range(
    src: &File,
    src_at: u64,
    dst: &File,
    dst_at: u64,
    len: usize,
) -> std::io::Result<bool> {
    let mut done = 0usize;
    while done < len {
        let (Ok(mut so), Ok(mut doff)) = (
            libc::loff_t::try_from(src_at + done as u64),
            libc::loff_t::try_from(dst_at + done as u64),
        ) else {
            return Ok(false);
        };
        // SAFETY: both descriptors are open for the lifetime of the call; the offsets are
        // passed by pointer so the files' own positions are untouched.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut so,
                dst.as_raw_fd(),
                &mut doff,
                len - done,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP) => {
                    return Ok(false);
                }
                _ => return Err(e),
            }
        }
        if n == 0 {
            // The source ended early (it shrank): let the caller's checked path report it.
            return Ok(false);
        }
        done += n as usize;
    }
    Ok(true)
}

/// Reusable buffers, so each worker touches the same few pages instead of faulting in fresh
/// ones per piece. Holds at most as many buffers as ran at once.
pub(crate) struct BufferPool {
    size: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub fn new(size: usize) -> Self {
        BufferPool {
            size,
            free: Mutex::new(Vec::new()),
        }
    }

    pub fn take(&self) -> Vec<u8> {
        let reused = self.free.lock().ok().and_then(|mut v| v.pop());
        reused.unwrap_or_else(|| vec![0u8; self.size])
    }

    pub fn give(&self, buf: Vec<u8>) {
        if let Ok(mut v) = self.free.lock() {
            v.push(buf);
        }
    }
}
