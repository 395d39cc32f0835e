//! The block allocation table (MS-VHDX 2.5): payload entries with a sector-bitmap entry after
//! every `chunk_ratio` of them, and the states a payload block can be in.

use super::header::{MIB, Region};
use super::metadata::Metadata;
use super::view::View;
use crate::error::{Error, Result};

/// The most BAT entries held in memory: 16 Mi (128 MiB), 16 TiB of disk with 1 MiB blocks and
/// the whole 64 TiB the spec allows with 4 MiB blocks or more.
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

#[derive(Debug)]
pub struct Bat {
    pub entries: Vec<u64>,
    pub chunk_ratio: u64,
    pub data_blocks: u64,
    pub bitmap_blocks: u64,
    pub block_size: u64,
    /// Where the table lies in the file.
    pub offset: u64,
}

impl Bat {
    /// Index in the table of payload block `b`'s entry.
    pub fn payload_index(&self, b: u64) -> u64 {
        b + b / self.chunk_ratio
    }

    /// The state and file offset of payload block `b` (an index past the table reads as not
    /// present; `open` made sure the table covers the disk).
    pub fn payload(&self, b: u64) -> (PayloadState, u64) {
        let e = usize::try_from(self.payload_index(b))
            .ok()
            .and_then(|i| self.entries.get(i))
            .copied()
            .unwrap_or(0);
        let state = PayloadState::from_bits(e & 7).unwrap_or(PayloadState::NotPresent);
        (state, (e >> 20).saturating_mul(MIB))
    }

    /// File offset of the sector bitmap of chunk `c`, if present.
    pub fn bitmap(&self, c: u64) -> Option<u64> {
        let i = c
            .checked_mul(self.chunk_ratio + 1)?
            .checked_add(self.chunk_ratio)?;
        let e = *self.entries.get(usize::try_from(i).ok()?)?;
        (e & 7 == SB_BLOCK_PRESENT).then(|| (e >> 20).saturating_mul(MIB))
    }
}

/// Read the BAT and validate every entry the reader will follow: states valid for the disk's
/// type, present blocks and bitmaps inside the file and past the header section.
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
    // Read in pieces so the raw bytes never sit in memory beside the whole table.
    let mut entries: Vec<u64> = Vec::with_capacity(total as usize);
    let mut piece = vec![0u8; 1 << 20];
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(piece.len() as u64 / ENTRY_SIZE);
        let buf = &mut piece[..(n * ENTRY_SIZE) as usize];
        view.read_exact_at(region.file_offset + done * ENTRY_SIZE, buf, "VHDX BAT")?;
        entries.extend(
            buf.chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
        );
        done += n;
    }
    let bat = Bat {
        entries,
        chunk_ratio,
        data_blocks,
        bitmap_blocks,
        block_size,
        offset: region.file_offset,
    };
    validate(view, &bat, meta)?;
    Ok(bat)
}

fn validate(view: &View, bat: &Bat, meta: &Metadata) -> Result<()> {
    let path = view.src.path();
    let at = |i: u64| bat.offset + i * ENTRY_SIZE;
    for b in 0..bat.data_blocks {
        let i = bat.payload_index(b);
        let e = bat.entries.get(i as usize).copied().unwrap_or(0);
        let state = PayloadState::from_bits(e & 7);
        let ok = match state {
            None => false,
            Some(PayloadState::PartiallyPresent) => meta.has_parent,
            Some(_) => true,
        };
        if !ok {
            return Err(Error::malformed(
                path,
                at(i),
                format!("BAT entry of payload block {b} state"),
                (e & 7).to_string(),
                if meta.has_parent {
                    "0, 1, 2, 3, 6 or 7"
                } else {
                    "0, 1, 2, 3 or 6 (7, partially present, only in a differencing VHDX)"
                },
            ));
        }
        if !matches!(
            state,
            Some(PayloadState::FullyPresent | PayloadState::PartiallyPresent)
        ) {
            continue;
        }
        let start = b * bat.block_size;
        let need = bat.block_size.min(meta.virtual_size - start);
        let off = (e >> 20).saturating_mul(MIB);
        if off < MIB || off.saturating_add(need) > view.len() {
            return Err(Error::malformed(
                path,
                at(i),
                format!("BAT entry of payload block {b} file offset"),
                format!("{off} ({need} bytes needed)"),
                format!(
                    "a block at or after 1 MiB and inside the file ({} bytes): the file is truncated or the entry damaged",
                    view.len()
                ),
            ));
        }
        if state == Some(PayloadState::PartiallyPresent)
            && bat.bitmap(b / bat.chunk_ratio).is_none()
        {
            return Err(Error::malformed(
                path,
                at(bat.payload_index(b)),
                format!("sector bitmap of chunk {}", b / bat.chunk_ratio),
                "not present",
                "a present sector bitmap block for a partially present payload block",
            ));
        }
    }
    for c in 0..bat.bitmap_blocks {
        let i = c * (bat.chunk_ratio + 1) + bat.chunk_ratio;
        let Some(&e) = bat.entries.get(i as usize) else {
            continue;
        };
        match e & 7 {
            0 => {}
            SB_BLOCK_PRESENT if meta.has_parent => {
                let off = (e >> 20).saturating_mul(MIB);
                if off < MIB || off.saturating_add(MIB) > view.len() {
                    return Err(Error::malformed(
                        path,
                        at(i),
                        format!("sector bitmap entry of chunk {c} file offset"),
                        off.to_string(),
                        "a 1 MiB block at or after 1 MiB and inside the file",
                    ));
                }
            }
            s => {
                return Err(Error::malformed(
                    path,
                    at(i),
                    format!("sector bitmap entry of chunk {c} state"),
                    s.to_string(),
                    if meta.has_parent {
                        "0 or 6"
                    } else {
                        "0 (no sector bitmaps outside a differencing VHDX)"
                    },
                ));
            }
        }
    }
    Ok(())
}
