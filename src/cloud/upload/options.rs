//! What an upload is asked to do (bucket, key, part size, resume record) within the rules of
//! OSS multipart uploads, and what it did.

use std::path::PathBuf;

use super::source::Source;
use crate::cloud::oss::Oss;
use crate::error::{Error, Result};

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// OSS: every part but the last at least 100 KiB, at most 5 GiB, at most 10000 parts.
pub const MIN_PART: u64 = 100 * KIB;
pub const MAX_PART: u64 = 5 * GIB;
pub const MAX_PARTS: u64 = 10_000;
pub const DEFAULT_PART: u64 = 64 * MIB;
/// A single PutObject is limited to 5 GiB.
pub const MAX_PUT: u64 = 5 * GIB;

#[derive(Debug, Clone)]
pub struct Options {
    pub bucket: String,
    pub key: String,
    pub part_size: u64,
    pub parallel: usize,
    pub restart: bool,
    /// Identifies the source's bytes: file size, mtime, VHD id, and how bytes are produced.
    pub identity: String,
    /// Where resume records live; `None` disables resuming.
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub size: u64,
    pub crc64: u64,
    /// 0 for a single PutObject or an object already there.
    pub parts: u32,
    /// Parts found already uploaded (and verified) from an earlier run.
    pub resumed_parts: u32,
    /// An identical object was already in the bucket: nothing was sent.
    pub already_there: bool,
    pub sent_bytes: u64,
}

/// One upload: to where, from what, how.
pub(super) struct Upload<'a> {
    pub oss: &'a Oss,
    pub src: &'a dyn Source,
    pub o: &'a Options,
}

/// The part size: the requested one (or 64 MiB), grown when needed so there are at most
/// 10000 parts. A request below 100 KiB or above 5 GiB is refused.
pub fn part_size(size: u64, requested: Option<u64>) -> Result<u64> {
    if let Some(r) = requested {
        if !(MIN_PART..=MAX_PART).contains(&r) {
            return Err(Error::Usage(format!(
                "--part-size {r}: OSS parts are 100 KiB ({MIN_PART} bytes) to 5 GiB"
            )));
        }
    }
    let want = requested.unwrap_or(DEFAULT_PART);
    let ps = if size.div_ceil(want) > MAX_PARTS {
        size.div_ceil(MAX_PARTS).next_multiple_of(MIB)
    } else {
        want
    };
    if ps > MAX_PART {
        return Err(Error::Usage(format!(
            "{size} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB"
        )));
    }
    Ok(ps)
}

/// Parts in flight by default: enough to fill a link without flooding a small machine.
pub fn default_parallel() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(1, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_rules() {
        assert_eq!(part_size(10 * GIB, None).unwrap(), DEFAULT_PART);
        // 2 TiB in 64 MiB parts would be 32768 parts: grow to fit 10000.
        let ps = part_size(2048 * GIB, None).unwrap();
        assert!((2048 * GIB).div_ceil(ps) <= MAX_PARTS);
        assert!(ps % MIB == 0);
        assert!(part_size(1, Some(MIN_PART - 1)).is_err());
        assert_eq!(part_size(1 << 20, Some(MIN_PART)).unwrap(), MIN_PART);
        assert!(part_size(1, Some(MAX_PART + 1)).is_err());
    }
}
