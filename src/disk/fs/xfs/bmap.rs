//! The block map of a file: an extent list in the inode, or an extent B+tree (bmbt) whose
//! root is in the inode and whose nodes and leaves are blocks ("BMAP" v4, "BMA3" v5). The
//! tree's depth is bounded by its root's level (each block must be exactly one level below
//! its parent, so a block pointing at itself or an ancestor is refused), the extent count
//! per file is capped, and the extents must come in file order without overlapping.

use super::inode::{FMT_BTREE, FMT_EXTENTS, Inode};
use super::raw::{R, be16, be64};
use super::reader::Xfs;

pub const EXTENT_REC: usize = 16;
pub const BMBT_V4_HDR: usize = 24;
pub const BMBT_V5_HDR: usize = 72;
/// The root of an extent B+tree in the inode: level u16 and numrecs u16.
pub const BMDR_HDR: usize = 4;
/// XFS itself never builds a bmbt deeper than 9 levels for 64-bit extent counts.
const MAX_BMBT_LEVELS: u16 = 9;
/// Extents read for one file: 64 Ki extents of at least one block each is more than any
/// kernel or initramfs needs, and 1 MiB of memory.
pub const MAX_EXTENTS: usize = 1 << 16;

/// One extent: file blocks `off..off+len` are file-system blocks `start..start+len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub off: u64,
    pub start: u64,
    pub len: u64,
    pub unwritten: bool,
}

/// A 128-bit big-endian extent record: flag (1), startoff (54), startblock (52), count (21).
pub fn parse_extent(rec: &[u8]) -> R<Extent> {
    let l0 = be64(rec, 0)?;
    let l1 = be64(rec, 8)?;
    Ok(Extent {
        unwritten: l0 >> 63 != 0,
        off: (l0 & (u64::MAX >> 1)) >> 9,
        start: ((l0 & 0x1FF) << 43) | (l1 >> 21),
        len: l1 & 0x1F_FFFF,
    })
}

impl Xfs<'_> {
    /// The extents of an extents- or btree-format fork, in file order, each checked to lie
    /// inside one AG and after the one before it.
    pub fn extents(&mut self, ino: &Inode) -> R<Vec<Extent>> {
        let out = match ino.format {
            FMT_EXTENTS => list_extents(ino)?,
            FMT_BTREE => self.btree_extents(ino)?,
            f => {
                return Err(format!(
                    "inode {}: data fork format {f} has no extents",
                    ino.ino
                ));
            }
        };
        let mut end = 0u64;
        for (i, e) in out.iter().enumerate() {
            let last = e.off.checked_add(e.len).filter(|_| e.len > 0);
            let Some(last) = last.filter(|_| e.off >= end) else {
                return Err(format!(
                    "inode {}: extent {i} (file block {}, {} blocks) is empty or overlaps the one before (which ends at file block {end})",
                    ino.ino, e.off, e.len
                ));
            };
            self.sb
                .check_run(e.start, e.len)
                .map_err(|m| format!("inode {}: extent {i}: {m}", ino.ino))?;
            end = last;
        }
        Ok(out)
    }

    fn btree_extents(&mut self, ino: &Inode) -> R<Vec<Extent>> {
        let level = be16(&ino.fork, 0)?;
        let numrecs = usize::from(be16(&ino.fork, 2)?);
        let maxrecs = ino.fork.len().saturating_sub(BMDR_HDR) / 16;
        if level == 0 || level > MAX_BMBT_LEVELS || numrecs > maxrecs {
            return Err(format!(
                "inode {}: extent tree root has level {level} and {numrecs} records (at most {maxrecs})",
                ino.ino
            ));
        }
        let ptrs_at = BMDR_HDR + maxrecs * 8;
        let mut out = Vec::new();
        for i in 0..numrecs {
            let ptr = be64(&ino.fork, ptrs_at + i * 8)?;
            self.bmbt_block(ptr, level - 1, &mut out)?;
        }
        Ok(out)
    }

    /// One B+tree block at `level` (0: leaf); recursion is bounded by the root's level, the
    /// blocks read by the budget and the extents by [`MAX_EXTENTS`].
    fn bmbt_block(&mut self, fsb: u64, level: u16, out: &mut Vec<Extent>) -> R<()> {
        let b = self.read_fsb(fsb, 1)?;
        let (magic, hdr): (&[u8], usize) = if self.sb.v5 {
            (b"BMA3", BMBT_V5_HDR)
        } else {
            (b"BMAP", BMBT_V4_HDR)
        };
        if b.get(0..4) != Some(magic) {
            return Err(format!(
                "extent tree block {fsb:#x}: magic at byte 0 is not {}",
                String::from_utf8_lossy(magic)
            ));
        }
        let found = be16(&b, 4)?;
        let numrecs = usize::from(be16(&b, 6)?);
        if found != level {
            return Err(format!(
                "extent tree block {fsb:#x}: level {found} at byte 4, expected {level}"
            ));
        }
        if level == 0 {
            let recs = b
                .get(hdr..)
                .map(|r| r.chunks_exact(EXTENT_REC))
                .ok_or("short block")?;
            if numrecs > recs.len() || out.len().saturating_add(numrecs) > MAX_EXTENTS {
                return Err(format!(
                    "extent tree leaf {fsb:#x}: {numrecs} records at byte 6 (at most {} here, {MAX_EXTENTS} per file)",
                    recs.len()
                ));
            }
            for r in recs.take(numrecs) {
                out.push(parse_extent(r)?);
            }
            return Ok(());
        }
        let maxrecs = b.len().saturating_sub(hdr) / 16;
        if numrecs > maxrecs {
            return Err(format!(
                "extent tree node {fsb:#x}: {numrecs} records at byte 6, at most {maxrecs}"
            ));
        }
        for i in 0..numrecs {
            let ptr = be64(&b, hdr + maxrecs * 8 + i * 8)?;
            self.bmbt_block(ptr, level - 1, out)?;
        }
        Ok(())
    }
}

/// The extent list of an extents-format fork.
fn list_extents(ino: &Inode) -> R<Vec<Extent>> {
    let n = usize::try_from(ino.nextents)
        .ok()
        .filter(|&n| {
            n.checked_mul(EXTENT_REC)
                .is_some_and(|b| b <= ino.fork.len())
        })
        .ok_or_else(|| {
            format!(
                "inode {}: {} extents do not fit its {}-byte fork",
                ino.ino,
                ino.nextents,
                ino.fork.len()
            )
        })?;
    ino.fork
        .chunks_exact(EXTENT_REC)
        .take(n)
        .map(parse_extent)
        .collect()
}
