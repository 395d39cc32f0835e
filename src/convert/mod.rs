//! Convert between RAW and VHD (fixed and dynamic), sparse, parallel and atomic.
//!
//! The source is any [`crate::image::Image`]; only the ranges its extents call data are read,
//! and all-zero runs are left as holes in the output. Output goes to a temporary file beside
//! the destination that is synced and renamed into place only when everything (including the
//! optional verification) succeeded.
//!
//! [`RawStream`] is the library entry point for consumers that want the converted RAW bytes
//! without a file (the upload streams them straight into object-storage parts).

// Numbers from files, flags and server answers are converted with checks or a reason
// (issue 13 point 5), as in image/ (see image/fit.rs).
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod atomic;
mod in_place;
mod input;
mod mapped;
pub(crate) mod progress;
mod stream;
mod to_raw;
mod to_vhd;
mod verify;
pub mod vhd_meta;
mod vhd_stream;
mod workers;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::{self, Image};

pub(crate) use atomic::refuse_directory;
pub use stream::RawStream;
pub use verify::first_difference;
pub use vhd_meta::Identity;
pub use vhd_stream::{VhdReader, VhdStream};

/// The unit of work: a read, a zero check and a write of at most this many bytes. It is also
/// the block size of the dynamic VHDs we write.
pub const CHUNK: u64 = 2 << 20;
/// [`CHUNK`] as a buffer length.
#[allow(clippy::cast_possible_truncation)] // 2 MiB
pub(crate) const CHUNK_LEN: usize = CHUNK as usize;
/// Granularity of hole detection inside a chunk: the file-system block size.
pub const ZERO_GRANULE: usize = 4096;
/// Chunks planned ahead for verification, handed to the thread pool at once (buffers are per
/// worker, so this bounds bookkeeping, not memory).
const BATCH: usize = 32;
/// Output bytes between two writeback starts: the disk works while we copy.
const WRITEBACK_EVERY: u64 = 64 << 20;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Raw,
    VhdDynamic,
    VhdFixed,
}

impl Format {
    /// The name used by `--to` and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::VhdDynamic => "vhd",
            Format::VhdFixed => "vhd-fixed",
        }
    }

    /// The format a destination's extension implies: `.raw`/`.img` RAW, `.vhd` dynamic VHD.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "raw" | "img" => Some(Format::Raw),
            "vhd" => Some(Format::VhdDynamic),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Replace an existing destination.
    pub force: bool,
    /// Read the output back and compare it with the source before renaming it into place.
    pub verify: bool,
    /// Show progress on stderr (the caller decides: terminal, --quiet).
    pub progress: bool,
    /// Skip the fsync before the rename: faster when the disk is the bottleneck, but a crash
    /// soon after may leave DST with missing data (never a partial DST from a failed run).
    pub no_sync: bool,
}

/// What a conversion did; serialised as the `--json` document (docs/json.md, "convert").
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub format: &'static str,
    pub virtual_size: u64,
    /// Bytes read from the source's data ranges.
    pub bytes_read: u64,
    /// Bytes written to the output, metadata included.
    pub bytes_written: u64,
    /// Virtual bytes not written: unallocated or all-zero ranges left as holes.
    pub holes: u64,
    pub seconds: f64,
    pub verified: bool,
    pub in_place: bool,
    /// Temporary files of killed runs to the same destination, removed before writing.
    pub stale_removed: Vec<PathBuf>,
    /// Temporary files of killed runs to other destinations in the same folder: left alone.
    pub stale_found: Vec<PathBuf>,
}

/// Counters shared by the workers.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub read: AtomicU64,
    pub written: AtomicU64,
    /// Virtual-disk bytes that went into the output as data.
    pub data: AtomicU64,
}

impl Stats {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Make SIGINT and SIGTERM stop a running conversion cleanly (its temporary file removed)
/// instead of killing the process, and let conversions read their source through maps (a
/// source that shrinks meanwhile is then a clean exit 2, see `mapped`). For programs, not
/// libraries: it changes process state.
pub fn install_interrupt_handler() {
    crate::sys::catch_interrupts();
    crate::sys::install_sigbus_handler();
}

pub(crate) fn check_interrupted() -> Result<()> {
    if crate::sys::interrupted() {
        return Err(Error::Interrupted(
            "interrupted; the partial output was removed".into(),
        ));
    }
    Ok(())
}

/// Bytes OR-folded at a time by [`is_zero`]: small enough that data (which rarely starts
/// with 64 zero bytes) is told apart after one look, large enough to vectorise.
const ZERO_PROBE: usize = 64;

/// True when every byte is zero. OR-folding fixed-size slices lets the compiler vectorise the
/// inner loop while still stopping at the first non-zero slice: a data granule is usually
/// decided by its first 64 bytes, so the scan reads little more than one cache line per
/// granule (measured: a third of the CPU time of a fixed VHD -> RAW went to a scan that
/// folded whole granules).
pub fn is_zero(buf: &[u8]) -> bool {
    buf.chunks(ZERO_PROBE)
        .all(|c| c.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// The non-zero runs of `buf`, as byte ranges aligned to `granule` (except at the end), with
/// adjacent non-zero granules merged so each run is one write.
pub(crate) fn nonzero_runs(buf: &[u8], granule: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, c) in buf.chunks(granule).enumerate() {
        if is_zero(c) {
            continue;
        }
        let start = i * granule;
        let end = start + c.len();
        match runs.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => runs.push(start..end),
        }
    }
    runs
}

/// Convert `src` to `dst` in `format`. The destination appears only when everything worked.
pub fn convert(src: &Path, dst: &Path, format: Format, opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let img = image::open(src)?;
    atomic::check_destination(&source_files(&img), dst, opts.force)?;
    let input = input::Input::of(&img);
    if format != Format::Raw {
        vhd_meta::check_size(src, input.size(), format)?;
    }
    let need = input::estimate_output(&input, format)?;
    atomic::check_free_space(dst, need)?;
    let tmp = atomic::TempOutput::create(dst, !opts.no_sync)?;
    let stats = Stats::default();
    let write = || -> Result<()> {
        let bar = progress::Progress::start("converting", input.size(), opts.progress);
        match format {
            Format::Raw => to_raw::write(&input, &tmp, &stats, &bar)?,
            Format::VhdFixed => to_vhd::write_fixed(&input, &tmp, &stats, &bar)?,
            Format::VhdDynamic => to_vhd::write_dynamic(&input, &tmp, &stats, &bar)?,
        }
        drop(bar);
        tmp.sync()?;
        if opts.verify {
            verify::output(&img, tmp.path(), format, opts.progress)?;
        }
        Ok(())
    };
    write().map_err(|e| tmp.user_error(e))?;
    let leftovers = tmp.leftovers.clone();
    tmp.commit()?;
    let data = stats.data.load(Ordering::Relaxed);
    Ok(Summary {
        source: src.to_path_buf(),
        destination: dst.to_path_buf(),
        format: format.name(),
        virtual_size: input.size(),
        bytes_read: stats.read.load(Ordering::Relaxed),
        bytes_written: stats.written.load(Ordering::Relaxed),
        holes: input.size().saturating_sub(data),
        seconds: started.elapsed().as_secs_f64(),
        verified: opts.verify,
        in_place: false,
        stale_removed: leftovers.removed,
        stale_found: leftovers.found,
    })
}

/// Turn a fixed VHD into RAW or a RAW into a fixed VHD without copying: drop or append the
/// footer, then rename to `dst` if one is given. `format` `None` means "the other one".
pub fn convert_in_place(
    src: &Path,
    dst: Option<&Path>,
    format: Option<Format>,
    opts: &Options,
) -> Result<Summary> {
    in_place::run(src, dst, format, opts)
}

/// Every file the source reads from: a differencing chain's parents too, so none of them can
/// be the destination.
fn source_files(img: &Image) -> Vec<PathBuf> {
    img.files()
        .into_iter()
        .map(|f| f.path().to_path_buf())
        .collect()
}

/// Seconds since the VHD epoch (2000-01-01), for footers we write.
pub(crate) fn vhd_now() -> u32 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(unix.saturating_sub(image::vhd::footer::VHD_EPOCH_UNIX)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        let mut b = vec![0u8; 3 * ZERO_GRANULE + 100];
        assert!(is_zero(&b));
        assert!(nonzero_runs(&b, ZERO_GRANULE).is_empty());
        let last = b.len() - 1;
        b[last] = 1;
        assert!(!is_zero(&b));
        b[5] = 7;
        b[ZERO_GRANULE + 1] = 7;
        assert_eq!(
            nonzero_runs(&b, ZERO_GRANULE),
            vec![0..2 * ZERO_GRANULE, 3 * ZERO_GRANULE..b.len()]
        );
    }

    #[test]
    fn a_single_non_zero_byte_anywhere_is_found() {
        // Every position, so no byte of a granule can be skipped by the early-out scan.
        let len = 2 * ZERO_GRANULE + 77;
        let mut b = vec![0u8; len];
        for p in 0..len {
            b[p] = 0x80;
            let g = p / ZERO_GRANULE * ZERO_GRANULE;
            assert!(!is_zero(&b), "byte {p}");
            assert_eq!(
                nonzero_runs(&b, ZERO_GRANULE),
                vec![g..(g + ZERO_GRANULE).min(len)],
                "byte {p}"
            );
            b[p] = 0;
        }
        assert!(is_zero(&b));
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(
            Format::from_extension(Path::new("a/b.RAW")),
            Some(Format::Raw)
        );
        assert_eq!(
            Format::from_extension(Path::new("b.img")),
            Some(Format::Raw)
        );
        assert_eq!(
            Format::from_extension(Path::new("b.vhd")),
            Some(Format::VhdDynamic)
        );
        assert_eq!(Format::from_extension(Path::new("b.qcow2")), None);
        assert_eq!(Format::from_extension(Path::new("noext")), None);
    }
}
