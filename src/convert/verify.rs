//! `--verify`: read the output back through our own reader and compare it with the source,
//! in parallel chunks. Ranges both sides call zero by their extents are not read.

use std::path::Path;

use rayon::prelude::*;

use super::progress::Progress;
use super::to_raw::BufferPool;
use super::{BATCH, CHUNK, CHUNK_LEN, Format, check_interrupted};
use crate::error::{Error, Result};
use crate::image::fit::min_len;
use crate::image::raw::RawImage;
use crate::image::vhd::VhdImage;
use crate::image::{ExtentKind, VirtualDisk};

/// Compare the written file at `out` (in `format`) with the source disk. A difference is an
/// `Error::Failed` (exit 1) naming the first differing byte.
pub(crate) fn output(
    src: &dyn VirtualDisk,
    out: &Path,
    format: Format,
    progress: bool,
) -> Result<()> {
    let bar = Progress::start("verifying", src.size(), progress);
    let diff = match format {
        Format::Raw => compare(src, &RawImage::open(out)?, Some(&bar))?,
        Format::VhdDynamic | Format::VhdFixed => compare(src, &VhdImage::open(out)?, Some(&bar))?,
    };
    match diff {
        None => Ok(()),
        Some(at) => Err(Error::Failed(format!(
            "verification failed: the output differs from the source at byte {at} (sector {}); the output was removed",
            at / 512
        ))),
    }
}

/// The first byte offset at which two disks differ (a size difference counts, at the end of
/// the shorter one); `None` when they hold the same bytes.
pub fn first_difference(a: &dyn VirtualDisk, b: &dyn VirtualDisk) -> Result<Option<u64>> {
    compare(a, b, None)
}

fn compare(
    a: &dyn VirtualDisk,
    b: &dyn VirtualDisk,
    bar: Option<&Progress>,
) -> Result<Option<u64>> {
    if a.size() != b.size() {
        return Ok(Some(a.size().min(b.size())));
    }
    let size = a.size();
    let (mut za, mut zb) = (ZeroCursor::new(a), ZeroCursor::new(b));
    let pool = BufferPool::new(2 * CHUNK_LEN);
    let mut off = 0u64;
    while off < size {
        check_interrupted()?;
        let mut batch = Vec::with_capacity(BATCH);
        while off < size && batch.len() < BATCH {
            let len = CHUNK.min(size - off);
            if za.all_zero(off, len)? && zb.all_zero(off, len)? {
                if let Some(p) = bar {
                    p.add(len);
                }
            } else {
                batch.push((off, len));
            }
            off += len;
        }
        let found = batch
            .par_iter()
            .map(|&(at, len)| {
                let mut buf = pool.take();
                let r = chunk_difference(a, b, &mut buf, at, min_len(CHUNK_LEN, len));
                pool.give(buf);
                if let Some(p) = bar {
                    p.add(len);
                }
                r
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(at) = found.into_iter().flatten().min() {
            return Ok(Some(at));
        }
    }
    Ok(None)
}

fn chunk_difference(
    a: &dyn VirtualDisk,
    b: &dyn VirtualDisk,
    buf: &mut [u8],
    at: u64,
    len: usize,
) -> Result<Option<u64>> {
    let (x, y) = buf.split_at_mut(CHUNK_LEN);
    let (x, y) = (&mut x[..len], &mut y[..len]);
    a.read_at(at, x)?;
    b.read_at(at, y)?;
    if x == y {
        return Ok(None);
    }
    Ok(x.iter()
        .zip(y.iter())
        .position(|(p, q)| p != q)
        .map(|i| at + i as u64))
}

/// Answers "is this range all zero by the extents?" walking forward, asking the disk once per
/// extent.
struct ZeroCursor<'a> {
    disk: &'a dyn VirtualDisk,
    kind: ExtentKind,
    start: u64,
    end: u64,
}

impl<'a> ZeroCursor<'a> {
    fn new(disk: &'a dyn VirtualDisk) -> Self {
        ZeroCursor {
            disk,
            kind: ExtentKind::Data,
            start: 0,
            end: 0,
        }
    }

    fn all_zero(&mut self, off: u64, len: u64) -> Result<bool> {
        if !(self.start..self.end).contains(&off) {
            let e = self.disk.extent(off)?;
            self.kind = e.kind;
            self.start = off;
            self.end = off + e.len.max(1);
        }
        Ok(self.kind == ExtentKind::Zero && off + len <= self.end)
    }
}

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::image::Extent;

    /// An in-memory disk whose extents call every all-zero 2 MiB chunk a hole.
    struct Mem(Vec<u8>);

    impl VirtualDisk for Mem {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> crate::Result<()> {
            let o = offset as usize;
            buf.copy_from_slice(&self.0[o..o + buf.len()]);
            Ok(())
        }
        fn extent(&self, offset: u64) -> crate::Result<Extent> {
            let start = (offset / CHUNK * CHUNK) as usize;
            let end = (start + CHUNK as usize).min(self.0.len());
            let zero = self.0[start..end].iter().all(|&b| b == 0);
            Ok(Extent {
                kind: if zero {
                    ExtentKind::Zero
                } else {
                    ExtentKind::Data
                },
                len: end as u64 - offset,
            })
        }
    }

    #[test]
    fn finds_the_first_difference_even_in_a_hole_of_one_side() {
        let mut a = vec![0u8; (5 * CHUNK + 300) as usize];
        a[10] = 1;
        a[(4 * CHUNK + 7) as usize] = 9;
        let same = Mem(a.clone());
        assert_eq!(first_difference(&Mem(a.clone()), &same).unwrap(), None);
        // One byte changed where the source is a hole: the output's data must still be read.
        let mut b = a.clone();
        b[(2 * CHUNK + 5) as usize] = 3;
        assert_eq!(
            first_difference(&Mem(a.clone()), &Mem(b)).unwrap(),
            Some(2 * CHUNK + 5)
        );
        // Two differences: the lower one is reported.
        let mut c = a.clone();
        c[(5 * CHUNK + 299) as usize] = 1;
        c[11] = 4;
        assert_eq!(
            first_difference(&Mem(a.clone()), &Mem(c)).unwrap(),
            Some(11)
        );
        // A shorter output differs at its end.
        let short = Mem(a[..a.len() - 512].to_vec());
        assert_eq!(
            first_difference(&Mem(a.clone()), &short).unwrap(),
            Some(a.len() as u64 - 512)
        );
    }
}
