//! The block allocation table (MS-VHDX 2.5): payload entries with a sector-bitmap entry after
//! every `chunk_ratio` of them, and the states a payload block can be in.

use std::sync::{Arc, OnceLock};

use super::header::{MIB, Region};
use super::metadata::Metadata;
use super::view::View;
use crate::error::{Error, Result};
use crate::image::cache::Cache;

/// The most BAT entries a file may have: 16 Mi (128 MiB of table), 16 TiB of disk with 1 MiB
/// blocks and the whole 64 TiB the spec allows with 4 MiB blocks or more. It bounds the
/// whole-table passes; entries are not held in memory (see [`Bat`]).
pub const MAX_BAT_ENTRIES: u64 = 16 << 20;
/// Sectors described by one sector-bitmap block (1 MiB of bits).
pub const SECTORS_PER_BITMAP: u64 = 1 << 23;
const ENTRY_SIZE: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadState {
    NotPresent,
    Undefined,
    Zero,
    Unmapped,
    FullyPresent,
    PartiallyPresent,
}

impl PayloadState {
    pub fn from_bits(b: u64) -> Option<PayloadState> {
        Some(match b {
            0 => PayloadState::NotPresent,
            1 => PayloadState::Undefined,
            2 => PayloadState::Zero,
            3 => PayloadState::Unmapped,
            6 => PayloadState::FullyPresent,
            7 => PayloadState::PartiallyPresent,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            PayloadState::NotPresent => "not_present",
            PayloadState::Undefined => "undefined",
            PayloadState::Zero => "zero",
            PayloadState::Unmapped => "unmapped",
            PayloadState::FullyPresent => "fully_present",
            PayloadState::PartiallyPresent => "partially_present",
        }
    }

    pub const ALL: [PayloadState; 6] = [
        PayloadState::NotPresent,
        PayloadState::Undefined,
        PayloadState::Zero,
        PayloadState::Unmapped,
        PayloadState::FullyPresent,
        PayloadState::PartiallyPresent,
    ];
}

/// The sector-bitmap entry state that says a bitmap block is in the file.
pub const SB_BLOCK_PRESENT: u64 = 6;

/// Entries per page of the BAT read at once and cached (32 KiB: 4 GiB of disk with 1 MiB
/// blocks).
const PAGE_ENTRIES: u64 = 4096;
/// The most bytes of BAT pages kept cached per file.
pub const BAT_CACHE_BYTES: usize = 4 << 20;
/// Bytes of the BAT read at once by a whole-table pass ([`Bat::scan`]).
const SCAN_PIECE: u64 = 256 << 10;

/// The BAT of one file: where it lies and what it must cover. Entries are read when a read
/// needs them, a page at a time through a cache bounded in bytes, and each is checked when it
/// is read, so opening (and reading a few blocks of) a 1 TiB disk reads a few KiB of it. Only
/// what needs every entry ([`Bat::scan`]: inspect's counts, `check`) reads it all, in pieces
/// of [`SCAN_PIECE`] bytes, holding none of them.
#[derive(Debug)]
pub struct Bat {
    /// Entries the table must hold for this disk (payload and sector-bitmap entries).
    pub total: u64,
    pub chunk_ratio: u64,
    pub data_blocks: u64,
    pub bitmap_blocks: u64,
    pub block_size: u64,
    /// Where the table lies in the file.
    pub offset: u64,
    has_parent: bool,
    virtual_size: u64,
    pages: Cache<[u64]>,
    summary: OnceLock<Summary>,
}

/// What a pass over every entry found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Payload blocks by state, in the order of [`PayloadState::ALL`].
    pub states: [u64; 6],
    pub bitmaps_present: u64,
    /// Fully and partially present blocks' bytes, clipped to the disk.
    pub allocated_bytes: u64,
}

/// One entry met by [`Bat::scan`], checked.
#[derive(Debug, Clone, Copy)]
pub enum Slot {
    /// Payload block `block`, in `state`, at `at` in the file (present blocks only; else 0).
    Payload {
        block: u64,
        state: PayloadState,
        at: u64,
    },
    /// The sector bitmap of chunk `chunk`, present at `at`.
    Bitmap { chunk: u64, at: u64 },
}

impl Bat {
    /// Index in the table of payload block `b`'s entry.
    pub fn payload_index(&self, b: u64) -> u64 {
        b + b / self.chunk_ratio
    }

    /// Index in the table of chunk `c`'s sector-bitmap entry.
    pub fn bitmap_index(&self, c: u64) -> u64 {
        c.saturating_mul(self.chunk_ratio + 1)
            .saturating_add(self.chunk_ratio)
    }

    /// The state and file offset of payload block `b`, checked (a block past the disk reads
    /// as not present).
    pub fn payload(&self, view: &View, b: u64) -> Result<(PayloadState, u64)> {
        if b >= self.data_blocks {
            return Ok((PayloadState::NotPresent, 0));
        }
        let i = self.payload_index(b);
        let e = self.entry(view, i)?;
        self.check_payload(view, b, i, e)
    }

    /// File offset of the sector bitmap of chunk `c`, if present (checked).
    pub fn bitmap(&self, view: &View, c: u64) -> Result<Option<u64>> {
        if c >= self.bitmap_blocks {
            return Ok(None);
        }
        let i = self.bitmap_index(c);
        if i >= self.total {
            return Ok(None);
        }
        let e = self.entry(view, i)?;
        self.check_bitmap(view, c, i, e)
    }

    /// Entry `i` (below `total`), through the page cache.
    // A page is PAGE_ENTRIES (4096) entries of 8 bytes: its sizes and indexes fit a usize.
    #[allow(clippy::cast_possible_truncation)]
    fn entry(&self, view: &View, i: u64) -> Result<u64> {
        let page = i / PAGE_ENTRIES;
        let table = match self.pages.get(page) {
            Some(t) => t,
            None => {
                let first = page * PAGE_ENTRIES;
                let n = PAGE_ENTRIES.min(self.total - first);
                let mut raw = vec![0u8; (n * ENTRY_SIZE) as usize];
                view.read_exact_at(self.offset + first * ENTRY_SIZE, &mut raw, "VHDX BAT")?;
                let t: Arc<[u64]> = crate::bytes::le_u64s(&raw).collect();
                self.pages.put(page, t.clone(), raw.len());
                t
            }
        };
        Ok(table.get((i % PAGE_ENTRIES) as usize).copied().unwrap_or(0))
    }

    /// Every entry of the table in order, checked, in pieces: `each` sees payload blocks (any
    /// state) and present sector bitmaps.
    pub fn scan(&self, view: &View, mut each: impl FnMut(Slot)) -> Result<()> {
        // SCAN_PIECE is 256 KiB, and each piece at most that.
        #[allow(clippy::cast_possible_truncation)]
        let mut piece = vec![0u8; SCAN_PIECE as usize];
        let mut done = 0u64;
        while done < self.total {
            let n = (self.total - done).min(SCAN_PIECE / ENTRY_SIZE);
            #[allow(clippy::cast_possible_truncation)]
            let buf = &mut piece[..(n * ENTRY_SIZE) as usize];
            view.read_exact_at(self.offset + done * ENTRY_SIZE, buf, "VHDX BAT")?;
            for (k, e) in crate::bytes::le_u64s(buf).enumerate() {
                let i = done + k as u64;
                let per = self.chunk_ratio + 1;
                if i % per == self.chunk_ratio {
                    let chunk = i / per;
                    if chunk < self.bitmap_blocks {
                        if let Some(at) = self.check_bitmap(view, chunk, i, e)? {
                            each(Slot::Bitmap { chunk, at });
                        }
                    }
                } else {
                    let block = i / per * self.chunk_ratio + i % per;
                    if block < self.data_blocks {
                        let (state, at) = self.check_payload(view, block, i, e)?;
                        each(Slot::Payload { block, state, at });
                    }
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Counts over every entry (one [`Bat::scan`], remembered).
    pub fn summary(&self, view: &View) -> Result<&Summary> {
        if let Some(s) = self.summary.get() {
            return Ok(s);
        }
        let mut s = Summary::default();
        self.scan(view, |slot| match slot {
            Slot::Payload { block, state, .. } => {
                if let Some(k) = PayloadState::ALL.iter().position(|x| *x == state) {
                    s.states[k] += 1;
                }
                if matches!(
                    state,
                    PayloadState::FullyPresent | PayloadState::PartiallyPresent
                ) {
                    let start = block * self.block_size;
                    s.allocated_bytes += self.block_size.min(self.virtual_size - start);
                }
            }
            Slot::Bitmap { .. } => s.bitmaps_present += 1,
        })?;
        Ok(self.summary.get_or_init(|| s))
    }

    /// Payload entry `e` (index `i`) of block `b`: a state valid for this disk, and a present
    /// block at or after 1 MiB and inside the file.
    fn check_payload(&self, view: &View, b: u64, i: u64, e: u64) -> Result<(PayloadState, u64)> {
        let path = view.src.path();
        let at = self.offset + i * ENTRY_SIZE;
        let state = PayloadState::from_bits(e & 7);
        let state = match state {
            Some(PayloadState::PartiallyPresent) if !self.has_parent => None,
            s => s,
        };
        let Some(state) = state else {
            return Err(Error::malformed(
                path,
                at,
                format!("BAT entry of payload block {b} state"),
                (e & 7).to_string(),
                if self.has_parent {
                    "0, 1, 2, 3, 6 or 7"
                } else {
                    "0, 1, 2, 3 or 6 (7, partially present, only in a differencing VHDX)"
                },
            ));
        };
        if !matches!(
            state,
            PayloadState::FullyPresent | PayloadState::PartiallyPresent
        ) {
            return Ok((state, 0));
        }
        let start = b * self.block_size;
        let need = self.block_size.min(self.virtual_size - start);
        let off = (e >> 20).saturating_mul(MIB);
        if off < MIB || off.saturating_add(need) > view.len() {
            return Err(Error::malformed(
                path,
                at,
                format!("BAT entry of payload block {b} file offset"),
                format!("{off} ({need} bytes needed)"),
                format!(
                    "a block at or after 1 MiB and inside the file ({} bytes): the file is truncated or the entry damaged",
                    view.len()
                ),
            ));
        }
        if state == PayloadState::PartiallyPresent
            && self.bitmap(view, b / self.chunk_ratio)?.is_none()
        {
            return Err(Error::malformed(
                path,
                at,
                format!("sector bitmap of chunk {}", b / self.chunk_ratio),
                "not present",
                "a present sector bitmap block for a partially present payload block",
            ));
        }
        Ok((state, off))
    }

    /// Sector-bitmap entry `e` (index `i`) of chunk `c`: absent, or (differencing disks only)
    /// a 1 MiB block at or after 1 MiB and inside the file.
    fn check_bitmap(&self, view: &View, c: u64, i: u64, e: u64) -> Result<Option<u64>> {
        let path = view.src.path();
        let at = self.offset + i * ENTRY_SIZE;
        match e & 7 {
            0 => Ok(None),
            SB_BLOCK_PRESENT if self.has_parent => {
                let off = (e >> 20).saturating_mul(MIB);
                if off < MIB || off.saturating_add(MIB) > view.len() {
                    return Err(Error::malformed(
                        path,
                        at,
                        format!("sector bitmap entry of chunk {c} file offset"),
                        off.to_string(),
                        "a 1 MiB block at or after 1 MiB and inside the file",
                    ));
                }
                Ok(Some(off))
            }
            s => Err(Error::malformed(
                path,
                at,
                format!("sector bitmap entry of chunk {c} state"),
                s.to_string(),
                if self.has_parent {
                    "0 or 6"
                } else {
                    "0 (no sector bitmaps outside a differencing VHDX)"
                },
            )),
        }
    }
}

/// The BAT's place and size, checked against the region; no entry is read here (see [`Bat`]).
pub fn read_bat(view: &View, region: &Region, meta: &Metadata) -> Result<Bat> {
    let path = view.src.path();
    let block_size = u64::from(meta.block_size);
    let chunk_ratio = (SECTORS_PER_BITMAP * u64::from(meta.logical_sector_size)) / block_size;
    let data_blocks = meta.virtual_size.div_ceil(block_size);
    let bitmap_blocks = data_blocks.div_ceil(chunk_ratio);
    let total = if meta.has_parent {
        bitmap_blocks * (chunk_ratio + 1)
    } else {
        data_blocks + (data_blocks - 1) / chunk_ratio
    };
    if total > MAX_BAT_ENTRIES {
        return Err(Error::malformed(
            path,
            region.entry_offset,
            "BAT entries",
            format!(
                "{total} for a {}-byte disk of {block_size}-byte blocks",
                meta.virtual_size
            ),
            format!("at most {MAX_BAT_ENTRIES} (imgtool's limit, vhdx::bat::MAX_BAT_ENTRIES)"),
        ));
    }
    if total * ENTRY_SIZE > u64::from(region.length) {
        return Err(Error::malformed(
            path,
            region.entry_offset + 24,
            "BAT region length",
            region.length.to_string(),
            format!("at least {} bytes for {total} entries", total * ENTRY_SIZE),
        ));
    }
    Ok(Bat {
        total,
        chunk_ratio,
        data_blocks,
        bitmap_blocks,
        block_size,
        offset: region.file_offset,
        has_parent: meta.has_parent,
        virtual_size: meta.virtual_size,
        pages: Cache::new(BAT_CACHE_BYTES),
        summary: OnceLock::new(),
    })
}
