//! Refcounts for `check`: the counts rebuilt from every reference in the file (with who claimed
//! each cluster, to see metadata overlaps), and the counts the file stores.

use super::entry::OFFSET_MASK;
use super::header::Header;
use crate::error::{Error, Result};
use crate::image::finding::{Finding, Severity};
use crate::image::source::SourceFile;

/// The most host clusters `check` rebuilds refcounts for (5 bytes each in memory: 80 MiB; a
/// 1 TiB file with 64 KiB clusters). Larger files are refused with an error.
pub const MAX_CHECK_CLUSTERS: u64 = 16 << 20;

/// Who refers to a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Owner {
    None = 0,
    Header,
    L1,
    L2,
    Data,
    RefTable,
    RefBlock,
    Snapshots,
    Bitmap,
}

impl Owner {
    fn from_u8(v: u8) -> Owner {
        use Owner::*;
        [
            None, Header, L1, L2, Data, RefTable, RefBlock, Snapshots, Bitmap,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(None)
    }
    fn name(self) -> &'static str {
        match self {
            Owner::None => "nothing",
            Owner::Header => "the header",
            Owner::L1 => "an L1 table",
            Owner::L2 => "an L2 table",
            Owner::Data => "guest data",
            Owner::RefTable => "the refcount table",
            Owner::RefBlock => "a refcount block",
            Owner::Snapshots => "the snapshot table",
            Owner::Bitmap => "a bitmap structure",
        }
    }
}

/// Rebuilt refcounts of every cluster of the file.
pub struct Counts {
    pub counts: Vec<u32>,
    owner: Vec<u8>,
    cluster_bits: u32,
}

impl Counts {
    pub fn new(src: &SourceFile, h: &Header) -> Result<Counts> {
        let n = src.len().div_ceil(h.cluster_size());
        if n > MAX_CHECK_CLUSTERS {
            return Err(Error::Unsupported {
                path: src.path().to_path_buf(),
                what: format!(
                    "the file holds {n} clusters; imgtool checks at most {MAX_CHECK_CLUSTERS} \
                     (the refcount rebuild takes 5 bytes per cluster); use `qemu-img check`"
                ),
            });
        }
        // At most MAX_CHECK_CLUSTERS (16 Mi), checked just above.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Counts {
            counts: vec![0; n as usize],
            owner: vec![0; n as usize],
            cluster_bits: h.cluster_bits,
        })
    }

    /// Count one reference to every cluster of `offset..offset + len` by `who`; `what` and
    /// `at` (the referring field's offset) name it in findings.
    pub fn add(
        &mut self,
        offset: u64,
        len: u64,
        who: Owner,
        what: &str,
        at: u64,
        out: &mut Vec<Finding>,
    ) {
        if len == 0 {
            return;
        }
        let first = offset >> self.cluster_bits;
        let last = offset.saturating_add(len - 1) >> self.cluster_bits;
        for c in first..=last {
            // A cluster number past usize is past the table too: the same finding.
            let i = usize::try_from(c).unwrap_or(usize::MAX);
            let Some(slot) = self.counts.get_mut(i) else {
                out.push(Finding::new(
                    Severity::Error,
                    at,
                    what,
                    format!("a reference to offset {:#x}", c << self.cluster_bits),
                    format!("an offset inside the file ({} clusters)", self.counts.len()),
                ));
                return;
            };
            *slot = slot.saturating_add(1);
            let prev = Owner::from_u8(self.owner[i]);
            let shared = prev == who && matches!(who, Owner::L2 | Owner::Data);
            if prev != Owner::None && !shared && (prev != Owner::Data || who != Owner::Data) {
                out.push(Finding::new(
                    Severity::Error,
                    at,
                    format!("{what}: overlapping metadata"),
                    format!(
                        "cluster {:#x} also used by {}",
                        c << self.cluster_bits,
                        prev.name()
                    ),
                    format!("a cluster used only by {}", who.name()),
                ));
            }
            if prev == Owner::None {
                self.owner[i] = who as u8;
            }
        }
    }
}

/// The refcounts the file stores, read block by block (the last block read is kept).
pub struct Stored<'a> {
    src: &'a SourceFile,
    h: &'a Header,
    table: Vec<u64>,
    block: Option<(u64, Vec<u8>)>,
}

impl<'a> Stored<'a> {
    pub fn new(src: &'a SourceFile, h: &'a Header) -> Result<Stored<'a>> {
        let len = u64::from(h.refcount_table_clusters) * h.cluster_size();
        // refcount_table_clusters is bounded by the header's checks (Header::validate), the
        // cluster size by MAX_CLUSTER_BITS: the table is a few MiB at most.
        #[allow(clippy::cast_possible_truncation)]
        let mut raw = vec![0u8; len as usize];
        src.read_exact_at(h.refcount_table_offset, &mut raw, "refcount table")?;
        let table = crate::bytes::be_u64s(&raw).collect();
        Ok(Stored {
            src,
            h,
            table,
            block: None,
        })
    }

    /// Refcount-block offsets, with the offset of their table entry.
    pub fn blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.table
            .iter()
            .enumerate()
            .map(|(i, e)| (self.h.refcount_table_offset + i as u64 * 8, e & !0x1ff))
            .filter(|(_, b)| *b != 0)
    }

    /// The stored refcount of host cluster `c`; a block that cannot be read counts as zeros
    /// (its entry is reported by `check` separately).
    pub fn get(&mut self, c: u64) -> u64 {
        let bits = 1u64 << self.h.refcount_order;
        let per_block = self.h.cluster_size() * 8 / bits;
        let (ti, idx) = (c / per_block, c % per_block);
        let Some(&e) = usize::try_from(ti).ok().and_then(|ti| self.table.get(ti)) else {
            return 0;
        };
        let off = e & !0x1ff;
        if off == 0 || !self.block_ok(off) {
            return 0;
        }
        if self.block.as_ref().is_none_or(|(o, _)| *o != off) {
            // At most 2 MiB (MAX_CLUSTER_BITS, checked when the header was read).
            #[allow(clippy::cast_possible_truncation)]
            let mut b = vec![0u8; self.h.cluster_size() as usize];
            if self
                .src
                .read_exact_at(off, &mut b, "refcount block")
                .is_err()
            {
                return 0;
            }
            self.block = Some((off, b));
        }
        let Some((_, b)) = &self.block else { return 0 };
        read_entry(b, idx, self.h.refcount_order)
    }

    pub fn block_ok(&self, off: u64) -> bool {
        let cs = self.h.cluster_size();
        off % cs == 0 && off.checked_add(cs).is_some_and(|e| e <= self.src.len())
    }
}

/// Entry `idx` of a refcount block of `1 << order`-bit entries (QEMU's packing: sub-byte
/// entries from the least significant bit, wider ones big-endian).
// idx is below a block's entry count (at most 2 MiB x 8 entries of one bit) and bits at most
// 64: every cast fits.
#[allow(clippy::cast_possible_truncation)]
fn read_entry(b: &[u8], idx: u64, order: u32) -> u64 {
    let bits = 1u64 << order;
    if bits < 8 {
        let per = 8 / bits;
        let byte = b.get((idx / per) as usize).copied().unwrap_or(0);
        let shift = (idx % per) * bits;
        return u64::from(byte >> shift) & ((1 << bits) - 1);
    }
    let n = (bits / 8) as usize;
    let at = idx as usize * n;
    b.get(at..at + n)
        .map_or(0, |s| s.iter().fold(0u64, |v, &x| v << 8 | u64::from(x)))
}

/// The L2-table offset bits of an L1 entry (kept here so check need not know entry.rs).
pub fn l1_offset(e: u64) -> u64 {
    e & OFFSET_MASK
}

#[cfg(test)]
mod tests {
    use super::read_entry;

    #[test]
    fn refcount_packing() {
        assert_eq!(read_entry(&[0b0000_0100], 2, 0), 1);
        assert_eq!(read_entry(&[0b1110_0100], 3, 1), 3);
        assert_eq!(read_entry(&[0x21], 1, 2), 2);
        assert_eq!(read_entry(&[0, 1, 0, 2], 1, 4), 2);
        assert_eq!(read_entry(&[0, 0, 0, 0, 0, 0, 1, 0], 0, 6), 256);
    }
}
