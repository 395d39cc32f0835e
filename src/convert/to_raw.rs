//! Write the virtual disk as RAW bytes at their own offsets (also the data area of a fixed
//! VHD): data pieces read and written in parallel, zero runs left as holes, the length set
//! at the end so trailing holes exist too.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::atomic::TempOutput;
use super::input::{Input, Pieces};
use super::mapped::Guard;
use super::progress::Progress;
use super::{
    CHUNK, CHUNK_LEN, Stats, WRITEBACK_EVERY, ZERO_GRANULE, check_interrupted, nonzero_runs,
    workers,
};
use crate::error::{Error, Result};
use crate::image::source::SourceFile;

const PAGE: u64 = 4096;
/// Runs shorter than this are written rather than cloned.
const MIN_CLONE: u64 = 64 << 10;

pub(crate) fn write(input: &Input, tmp: &TempOutput, stats: &Stats, bar: &Progress) -> Result<()> {
    let (out, out_path) = (tmp.file(), tmp.path());
    let sharing = Sharing::new(input.has_file_ranges());
    let guard = Guard::arm(input.single_file().map(|f| f.path()), out_path);
    let w = Writer {
        input,
        out,
        out_path,
        stats,
        sharing: &sharing,
        maps: &guard,
        turn: &Mutex::new(()),
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
    workers::pull(
        input.worker_threads(),
        CHUNK_LEN,
        next,
        |buf, (off, len)| {
            w.piece(buf, off, len)?;
            bar.add(len);
            Ok(())
        },
    )?;
    drop(guard);
    out.set_len(input.size())
        .map_err(|e| Error::io(out_path, e))
}

/// A failed write from a map of `src`: EFAULT means the kernel's copy faulted because the
/// file was cut short under the map (the bytes at `src_at` are gone); anything else is the
/// output's error.
pub(crate) fn shrank_or(e: std::io::Error, src: &SourceFile, src_at: u64, out: &Path) -> Error {
    if e.raw_os_error() != Some(libc::EFAULT) {
        return Error::io(out, e);
    }
    Error::io(
        src.path(),
        std::io::Error::other(format!(
            "the file shrank while it was being converted (its bytes at offset {src_at} are \
             gone); the partial output was removed"
        )),
    )
}

struct Writer<'a> {
    input: &'a Input<'a>,
    out: &'a File,
    out_path: &'a Path,
    stats: &'a Stats,
    sharing: &'a Sharing,
    maps: &'a Guard,
    /// Held while writing a piece's runs.
    turn: &'a Mutex<()>,
}

impl Writer<'_> {
    /// One piece of the disk: its bytes looked at in place through a map where the source
    /// holds them as one file range, else read into `buf`; then every non-zero run written.
    fn piece(&self, buf: &mut [u8], off: u64, len: u64) -> Result<()> {
        check_interrupted()?;
        let range = self.input.file_range(off, len);
        let map = range.and_then(|(src, at)| self.maps.map(src, at, len));
        let bytes: &[u8] = match &map {
            Some(m) => m,
            None => {
                // Pieces are cut at CHUNK (Pieces::new above), the buffer's length.
                #[allow(clippy::cast_possible_truncation)]
                let buf = &mut buf[..len as usize];
                self.input.disk.read_at(off, buf)?;
                buf
            }
        };
        Stats::add(&self.stats.read, len);
        let runs = nonzero_runs(bytes, ZERO_GRANULE);
        // One writer at a time (see workers::writer_threads); the others scan meanwhile.
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        for run in runs {
            let at = off + run.start as u64;
            let data = &bytes[run];
            let shared = match range {
                Some((src, src_at)) => self
                    .sharing
                    .share(
                        src.file(),
                        src_at + (at - off),
                        self.out,
                        at,
                        data.len() as u64,
                    )
                    .map_err(|e| Error::io(self.out_path, e))?,
                None => false,
            };
            if !shared {
                self.out
                    .write_all_at(data, at)
                    .map_err(|e| match (&map, range) {
                        (Some(_), Some((src, src_at))) => {
                            shrank_or(e, src, src_at + (at - off), self.out_path)
                        }
                        _ => Error::io(self.out_path, e),
                    })?;
            }
            Stats::add(&self.stats.written, data.len() as u64);
            Stats::add(&self.stats.data, data.len() as u64);
        }
        Ok(())
    }
}

/// Sharing blocks between a source file and the output (reflink), while the file system
/// allows it. Shared, the output costs no copy and no disk space (XFS, Btrfs, bcachefs...).
/// Elsewhere (ext4) the kernel's own copy (copy_file_range, a splice through the page cache)
/// measured slower than writing from the mapped source, so the caller writes instead.
pub(crate) struct Sharing {
    on: AtomicBool,
}

impl Sharing {
    pub fn new(possible: bool) -> Sharing {
        Sharing {
            on: AtomicBool::new(possible),
        }
    }

    /// Share `len` bytes of `src` at `src_at` into `out` at `at`. False: not shared, the
    /// caller writes the bytes. Blocks can only be shared whole (offsets and length on block
    /// boundaries); short runs are written anyway, since each clone is a file-system
    /// transaction and one more extent, which costs more than copying a few pages. The first
    /// refusal from the file system stops all further asking.
    pub fn share(
        &self,
        src: &File,
        src_at: u64,
        out: &File,
        at: u64,
        len: u64,
    ) -> std::io::Result<bool> {
        if !self.on.load(Ordering::Relaxed)
            || src_at % PAGE != 0
            || at % PAGE != 0
            || len % PAGE != 0
            || len < MIN_CLONE
        {
            return Ok(false);
        }
        let shared = clone_range(src, src_at, out, at, len)?;
        if !shared {
            self.on.store(false, Ordering::Relaxed);
        }
        Ok(shared)
    }
}

/// Share `len` bytes of `src` at `src_at` into `dst` at `dst_at` (FICLONERANGE). `Ok(false)`
/// when this file system, these files or this alignment cannot share blocks; the caller then
/// writes the bytes, which gives the same content.
fn clone_range(
    src: &File,
    src_at: u64,
    dst: &File,
    dst_at: u64,
    len: u64,
) -> std::io::Result<bool> {
    loop {
        let Err(e) = crate::sys::clone_range(src, src_at, dst, dst_at, len) else {
            return Ok(true);
        };
        return match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Not supported here, across these files, for this block size, or at all.
            Some(
                libc::EOPNOTSUPP
                | libc::ENOTTY
                | libc::EXDEV
                | libc::EINVAL
                | libc::EPERM
                | libc::ETXTBSY
                | libc::EBADF
                | libc::ENOSYS,
            ) => Ok(false),
            _ => Err(e),
        };
    }
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

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn sharing_asks_only_for_whole_long_runs_and_stops_after_a_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..2 * MIN_CLONE).map(|i| (i % 251) as u8 + 1).collect();
        std::fs::write(dir.path().join("a"), &data).unwrap();
        let a = File::open(dir.path().join("a")).unwrap();
        let b = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("b"))
            .unwrap();
        let s = Sharing::new(true);
        // Not asked (so not a refusal): unaligned, or too short to be worth a clone.
        assert!(!s.share(&a, 512, &b, 0, MIN_CLONE).unwrap());
        assert!(!s.share(&a, 0, &b, 0, PAGE).unwrap());
        assert!(s.on.load(Ordering::Relaxed));
        // Asked: shared (a reflink file system) and still on, or refused and off for good.
        let shared = s.share(&a, 0, &b, 0, MIN_CLONE).unwrap();
        assert_eq!(s.on.load(Ordering::Relaxed), shared);
        if shared {
            let mut got = vec![0u8; MIN_CLONE as usize];
            b.read_exact_at(&mut got, 0).unwrap();
            assert_eq!(got, data[..MIN_CLONE as usize]);
        } else {
            assert!(!s.share(&a, MIN_CLONE, &b, 0, MIN_CLONE).unwrap());
        }
        assert!(!Sharing::new(false).share(&a, 0, &b, 0, MIN_CLONE).unwrap());
    }
}
