//! File contents: local data in the inode, or any byte range of a file of any size through
//! its extents (holes and unwritten extents read as zeros, as the kernel returns them); and
//! symlink targets, local or in blocks (v5 blocks start with an "XSLM" header).

use super::bmap::Extent;
use super::inode::{FMT_LOCAL, Inode};
use super::raw::{R, be32};
use super::reader::Xfs;

pub const SYMLINK_V5_HDR: usize = 56;
const SYMLINK_MAGIC: &[u8; 4] = b"XSLM";
const MAX_SYMLINK: u64 = 1024;

impl Xfs<'_> {
    /// Up to `max` bytes from the start of a file's data. `max` is the caller's bound: this
    /// much is allocated (at most the file's size).
    pub fn read_data(&mut self, ino: &Inode, max: u64) -> R<Vec<u8>> {
        let len = usize::try_from(max.min(ino.size)).map_err(|_| "size too large")?;
        if ino.format == FMT_LOCAL {
            return ino.fork.get(..len).map(<[u8]>::to_vec).ok_or_else(|| {
                format!(
                    "inode {}: local data of {len} bytes exceeds its {}-byte fork",
                    ino.ino,
                    ino.fork.len()
                )
            });
        }
        let extents = self.extents(ino)?;
        self.read_range(ino, &extents, 0, len)
    }

    /// Up to `len` bytes at byte `offset` of a file whose extents (from [`Xfs::extents`],
    /// so in order and checked) are `extents`; fewer at its end. Only the blocks the range
    /// covers are read. `len` is the caller's bound: this much is allocated.
    pub fn read_range(
        &mut self,
        ino: &Inode,
        extents: &[Extent],
        offset: u64,
        len: usize,
    ) -> R<Vec<u8>> {
        let end = offset.saturating_add(len as u64).min(ino.size);
        if offset >= end {
            return Ok(Vec::new());
        }
        let n = usize::try_from(end - offset).map_err(|_| "range too large")?;
        if ino.format == FMT_LOCAL {
            let from = usize::try_from(offset).map_err(|_| "offset too large")?;
            return from
                .checked_add(n)
                .and_then(|to| ino.fork.get(from..to))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    format!(
                        "inode {}: local data of {} bytes exceeds its {}-byte fork",
                        ino.ino,
                        ino.size,
                        ino.fork.len()
                    )
                });
        }
        let bs = u64::from(self.sb.block_size);
        let mut out = vec![0u8; n];
        // The first extent that ends after `offset` (they are in file order).
        let first = extents.partition_point(|e| {
            e.off
                .saturating_add(e.len)
                .checked_mul(bs)
                .is_some_and(|x| x <= offset)
        });
        for e in &extents[first..] {
            let Some(e_from) = e.off.checked_mul(bs).filter(|&f| f < end) else {
                break;
            };
            if e.unwritten {
                continue;
            }
            let e_to = e.len.checked_mul(bs).and_then(|l| e_from.checked_add(l));
            let lo = e_from.max(offset);
            let hi = e_to.map_or(end, |t| t.min(end));
            if lo >= hi {
                continue;
            }
            let disk = self
                .sb
                .fsb_to_byte(e.start)?
                .checked_add(lo - e_from)
                .ok_or("extent byte offset overflows")?;
            // Both in 0..=n (out.len()), since offset <= lo < hi <= end.
            let (a, b) = (
                crate::image::fit::min_len(out.len(), lo - offset),
                crate::image::fit::min_len(out.len(), hi - offset),
            );
            self.read_into(disk, &mut out[a..b])?;
        }
        Ok(out)
    }

    pub fn read_link(&mut self, ino: &Inode) -> R<String> {
        if ino.size == 0 || ino.size > MAX_SYMLINK {
            return Err(format!(
                "symlink inode {}: length {} (di_size), expected 1..={MAX_SYMLINK}",
                ino.ino, ino.size
            ));
        }
        let bytes = if ino.format == FMT_LOCAL || !self.sb.v5 {
            self.read_data(ino, ino.size)?
        } else {
            self.remote_link_v5(ino)?
        };
        String::from_utf8(bytes).map_err(|_| format!("symlink inode {}: not UTF-8", ino.ino))
    }

    /// A v5 remote symlink: each block starts with an XSLM header before its piece.
    fn remote_link_v5(&mut self, ino: &Inode) -> R<Vec<u8>> {
        let mut out = Vec::new();
        for e in self.extents(ino)?.iter().take(4) {
            let block = self.read_fsb(e.start, e.len.min(4))?;
            for b in block.chunks(self.sb.block_size as usize) {
                if b.get(0..4) != Some(SYMLINK_MAGIC.as_slice()) {
                    return Err(format!(
                        "symlink inode {}: block magic is not XSLM",
                        ino.ino
                    ));
                }
                let n = be32(b, 8)? as usize;
                let piece = SYMLINK_V5_HDR
                    .checked_add(n)
                    .and_then(|end| b.get(SYMLINK_V5_HDR..end))
                    .ok_or_else(|| {
                        format!(
                            "symlink inode {}: piece of {n} bytes (byte 8) overruns its block",
                            ino.ino
                        )
                    })?;
                out.extend_from_slice(piece);
            }
        }
        out.truncate(crate::image::fit::min_len(out.len(), ino.size));
        Ok(out)
    }
}
