//! Write VHDs: fixed (the RAW bytes and a footer) and dynamic (2 MiB blocks, allocated only
//! for blocks holding a non-zero byte).
//!
//! Our footers say creator `imgt` with the current size equal to the exact virtual size.
//! QEMU 10 sizes every creator but `vpc `/`qemu` by the current size, so it reads the exact
//! size back; the geometry is the spec's (possibly rounding down), for tools that look at it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::atomic::TempOutput;
use super::input::{Input, Pieces};
use super::mapped::Guard;
use super::progress::Progress;
use super::to_raw::{Sharing, shrank_or};
use super::{
    CHUNK, Format, Stats, WRITEBACK_EVERY, atomic, check_interrupted, is_zero, vhd_now, workers,
};
use crate::error::{Error, Result};
use crate::image::vhd::dynamic::{
    self, BAT_UNALLOCATED, DYNAMIC_COOKIE, DynamicHeader, HEADER_SIZE, HEADER_VERSION,
    ParentLocator,
};
use crate::image::vhd::footer::{
    DATA_OFFSET_NONE, DiskType, FEATURE_RESERVED, FOOTER_SIZE, FORMAT_VERSION, Footer, VHD_COOKIE,
};
use crate::image::vhd::geometry::{Geometry, QEMU_MAX_SECTORS, SECTOR};

/// Our creator application: not `vpc `/`qemu`, so QEMU 10 uses the current size.
pub const CREATOR_APP: [u8; 4] = *b"imgt";
/// Creator version 0.1, as major.minor words.
pub const CREATOR_VERSION: u32 = 0x0000_0001;
/// The host OS field Windows tools write; some readers expect one of the two spec values.
pub const CREATOR_HOST_OS: [u8; 4] = *b"Wi2k";
const HEADER_OFFSET: u64 = FOOTER_SIZE as u64;
const BAT_OFFSET: u64 = HEADER_OFFSET + HEADER_SIZE as u64;

/// A disk a VHD can hold: whole sectors, not empty, and for dynamic disks no more than the
/// 2040 GiB QEMU and Hyper-V accept.
pub(crate) fn check_size(src: &Path, size: u64, format: Format) -> Result<()> {
    if size == 0 || size % SECTOR != 0 {
        return Err(Error::Usage(format!(
            "{}: the disk is {size} bytes, not a whole number of 512-byte sectors; a VHD cannot hold it",
            src.display()
        )));
    }
    if format == Format::VhdDynamic && size > QEMU_MAX_SECTORS * SECTOR {
        return Err(Error::Usage(format!(
            "{}: the disk is {size} bytes, more than the {} bytes (2040 GiB) a dynamic VHD may hold; use --to vhd-fixed",
            src.display(),
            QEMU_MAX_SECTORS * SECTOR
        )));
    }
    Ok(())
}

/// A new footer for a disk of `size` bytes.
pub(crate) fn new_footer(kind: DiskType, size: u64, data_offset: u64) -> Result<Footer> {
    let mut unique_id = atomic::random_bytes::<16>()?;
    // A version 4 (random) UUID, as the spec's "UUID" field suggests.
    unique_id[6] = (unique_id[6] & 0x0f) | 0x40;
    unique_id[8] = (unique_id[8] & 0x3f) | 0x80;
    Ok(Footer {
        cookie: *VHD_COOKIE,
        features: FEATURE_RESERVED,
        format_version: FORMAT_VERSION,
        data_offset,
        timestamp: vhd_now(),
        creator_app: CREATOR_APP,
        creator_version: CREATOR_VERSION,
        creator_host_os: CREATOR_HOST_OS,
        original_size: size,
        current_size: size,
        geometry: Geometry::from_sectors(size / SECTOR),
        disk_type: kind.as_u32(),
        checksum: 0,
        unique_id,
        saved_state: 0,
        reserved_nonzero: false,
    })
}

pub(crate) fn write_fixed(
    input: &Input,
    tmp: &TempOutput,
    stats: &Stats,
    bar: &Progress,
) -> Result<()> {
    let (out, out_path) = (tmp.file(), tmp.path());
    super::to_raw::write(input, tmp, stats, bar)?;
    let footer = new_footer(DiskType::Fixed, input.size(), DATA_OFFSET_NONE)?.to_bytes();
    out.write_all_at(&footer, input.size())
        .map_err(|e| Error::io(out_path, e))?;
    Stats::add(&stats.written, FOOTER_SIZE as u64);
    Ok(())
}

/// Where things go in a dynamic VHD we write: footer copy, header, BAT, then the blocks in
/// the order workers finish them (the BAT makes any order valid). Each block sits in a slot
/// of one page plus the block: its sector bitmap in the last bytes of the page, so its data
/// starts on a page boundary. Page-aligned data is what lets a file system share the
/// blocks with a RAW source (and later with a RAW made from this VHD), and spares the kernel
/// a partial page at both ends of every block. The padding before a bitmap is never written.
struct Layout {
    entries: u64,
    bat_bytes: u64,
    bitmap: usize,
    /// Bytes of one slot in the file: padding, sector bitmap, data.
    stride: u64,
}

/// Data is aligned to this; also the size of the part of a slot before its data.
const SLOT_HEAD: u64 = 4096;

impl Layout {
    fn new(size: u64) -> Layout {
        let entries = size.div_ceil(CHUNK);
        let bitmap = dynamic::bitmap_size(CHUNK as u32);
        Layout {
            entries,
            bat_bytes: (entries * 4).div_ceil(SECTOR) * SECTOR,
            bitmap: bitmap as usize,
            stride: SLOT_HEAD + CHUNK,
        }
    }

    /// Where the first slot starts: after the BAT, on a page boundary.
    fn data_start(&self) -> u64 {
        (BAT_OFFSET + self.bat_bytes).div_ceil(SLOT_HEAD) * SLOT_HEAD
    }

    /// Where slot `slot`'s sector bitmap starts: the block's offset in the BAT.
    fn block_at(&self, slot: u64) -> u64 {
        self.data_start() + slot * self.stride + SLOT_HEAD - self.bitmap as u64
    }

    /// The end of the first `slots` slots: where the footer goes.
    fn end(&self, slots: u64) -> u64 {
        self.data_start() + slots * self.stride
    }
}

/// The blocks holding any data extent, in order, each once, with the bytes of data extents
/// in it (for progress). Pieces never cross a block boundary; a block split over several
/// pieces is read and written once, whole.
struct BlockPlan<'a, 'b> {
    pieces: Pieces<'a, 'b>,
    pending: Option<(u64, u64)>,
    holes_seen: u64,
}

impl<'a, 'b> BlockPlan<'a, 'b> {
    fn new(input: &'b Input<'a>) -> Self {
        BlockPlan {
            pieces: Pieces::new(input, CHUNK),
            pending: None,
            holes_seen: 0,
        }
    }

    fn next_block(&mut self, bar: &Progress) -> Result<Option<(u64, u64)>> {
        let first = match self.pending.take() {
            Some(p) => Some(p),
            None => self.pieces.next_piece()?,
        };
        let Some((off, mut data)) = first else {
            bar.add(self.pieces.holes - self.holes_seen);
            self.holes_seen = self.pieces.holes;
            return Ok(None);
        };
        let b = off / CHUNK;
        loop {
            match self.pieces.next_piece()? {
                Some((o, len)) if o / CHUNK == b => data += len,
                other => {
                    self.pending = other;
                    break;
                }
            }
        }
        bar.add(self.pieces.holes - self.holes_seen);
        self.holes_seen = self.pieces.holes;
        Ok(Some((b, data)))
    }
}

struct Blocks<'a> {
    input: &'a Input<'a>,
    out: &'a File,
    out_path: &'a Path,
    stats: &'a Stats,
    layout: &'a Layout,
    bat: &'a [AtomicU32],
    next_slot: &'a AtomicU64,
    maps: &'a Guard,
    sharing: &'a Sharing,
    /// Held while writing a block.
    turn: &'a Mutex<()>,
}

pub(crate) fn write_dynamic(
    input: &Input,
    tmp: &TempOutput,
    stats: &Stats,
    bar: &Progress,
) -> Result<()> {
    let (out, out_path) = (tmp.file(), tmp.path());
    let size = input.size();
    let layout = Layout::new(size);
    let bat: Vec<AtomicU32> = (0..layout.entries)
        .map(|_| AtomicU32::new(BAT_UNALLOCATED))
        .collect();
    let next_slot = AtomicU64::new(0);
    let guard = Guard::arm(input.single_file().map(|f| f.path()), out_path);
    let w = Blocks {
        input,
        out,
        out_path,
        stats,
        layout: &layout,
        bat: &bat,
        next_slot: &next_slot,
        maps: &guard,
        sharing: &Sharing::new(input.has_file_ranges()),
        turn: &Mutex::new(()),
    };
    w.copy_blocks(tmp, bar)?;
    drop(guard);
    let end = layout.end(next_slot.load(Ordering::Relaxed));
    let bat: Vec<u32> = bat.iter().map(|e| e.load(Ordering::Relaxed)).collect();
    write_metadata(out, out_path, size, &layout, &bat, end)?;
    Stats::add(
        &stats.written,
        BAT_OFFSET + layout.bat_bytes + FOOTER_SIZE as u64,
    );
    Ok(())
}

impl Blocks<'_> {
    fn copy_blocks(&self, tmp: &TempOutput, bar: &Progress) -> Result<()> {
        let mut blocks = BlockPlan::new(self.input);
        let mut since_writeback = 0;
        let next = || {
            check_interrupted()?;
            let block = blocks.next_block(bar)?;
            since_writeback += block.map_or(0, |_| CHUNK);
            if since_writeback >= WRITEBACK_EVERY {
                tmp.kick_writeback();
                since_writeback = 0;
            }
            Ok(block)
        };
        workers::pull(
            workers::writer_threads(),
            self.layout.bitmap + CHUNK as usize,
            next,
            |buf, (b, data_len)| {
                self.block(buf, b)?;
                bar.add(data_len);
                Ok(())
            },
        )
    }

    /// Block `b`: looked at in place through a map where the source holds it as one file
    /// range, else read into `buf` (bitmap then data); skipped when all zero; else given the
    /// next slot and written (its data shared with the source where the file system can).
    fn block(&self, buf: &mut [u8], b: u64) -> Result<()> {
        check_interrupted()?;
        let size = self.input.size();
        let start = b * CHUNK;
        let len = CHUNK.min(size - start) as usize;
        let range = self.input.file_range(start, len as u64);
        let map = range.and_then(|(src, at)| self.maps.map(src, at, len as u64));
        let (bitmap, data) = buf.split_at_mut(self.layout.bitmap);
        let bytes: &[u8] = match &map {
            Some(m) => m,
            None => {
                self.input.disk.read_at(start, &mut data[..len])?;
                &data[..len]
            }
        };
        Stats::add(&self.stats.read, len as u64);
        if is_zero(bytes) {
            return Ok(());
        }
        // Every sector is present in this file; the tail of a last partial block reads as
        // zeros (written as zeros from the buffer, or left a hole before the next slot).
        bitmap.fill(0xff);
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed);
        let at = self.layout.block_at(slot);
        let sector = u32::try_from(at / SECTOR)
            .ok()
            .filter(|&s| s != BAT_UNALLOCATED)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "{}: block {b} would start at byte {at}, past what a BAT entry can address",
                    self.out_path.display()
                ))
            })?;
        let io = |e| Error::io(self.out_path, e);
        // One writer at a time: the others read and scan their next blocks meanwhile.
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let written = match (&map, range) {
            (Some(m), Some((src, src_at))) => {
                let data_at = at + self.layout.bitmap as u64;
                self.out.write_all_at(bitmap, at).map_err(io)?;
                let shared = self
                    .sharing
                    .share(src.file(), src_at, self.out, data_at, len as u64)
                    .map_err(io)?;
                if !shared {
                    self.out
                        .write_all_at(m, data_at)
                        .map_err(|e| shrank_or(e, src, src_at, self.out_path))?;
                }
                self.layout.bitmap + len
            }
            _ => {
                data[len..].fill(0);
                self.out.write_all_at(buf, at).map_err(io)?;
                buf.len()
            }
        };
        self.bat[b as usize].store(sector, Ordering::Relaxed);
        Stats::add(&self.stats.written, written as u64);
        Stats::add(&self.stats.data, len as u64);
        Ok(())
    }
}

fn write_metadata(
    out: &File,
    out_path: &Path,
    size: u64,
    layout: &Layout,
    bat: &[u32],
    end: u64,
) -> Result<()> {
    let io = |e| Error::io(out_path, e);
    let header = DynamicHeader {
        cookie: *DYNAMIC_COOKIE,
        data_offset: DATA_OFFSET_NONE,
        table_offset: BAT_OFFSET,
        header_version: HEADER_VERSION,
        max_table_entries: u32::try_from(layout.entries).map_err(|_| {
            Error::Failed(format!(
                "{size} bytes need more BAT entries than a VHD holds"
            ))
        })?,
        block_size: CHUNK as u32,
        checksum: 0,
        parent_unique_id: [0; 16],
        parent_timestamp: 0,
        parent_name: Vec::new(),
        locators: [ParentLocator::default(); dynamic::LOCATOR_COUNT],
        reserved_nonzero: false,
    };
    // Padding after the last entry reads as unallocated, as QEMU writes it.
    let mut table = vec![0xffu8; layout.bat_bytes as usize];
    for (slot, e) in table.chunks_exact_mut(4).zip(bat) {
        slot.copy_from_slice(&e.to_be_bytes());
    }
    let footer = new_footer(DiskType::Dynamic, size, HEADER_OFFSET)?.to_bytes();
    out.write_all_at(&header.to_bytes(), HEADER_OFFSET)
        .map_err(io)?;
    out.write_all_at(&table, BAT_OFFSET).map_err(io)?;
    out.write_all_at(&footer, 0).map_err(io)?;
    out.write_all_at(&footer, end).map_err(io)?;
    out.set_len(end + FOOTER_SIZE as u64).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_places_blocks_after_the_bat() {
        let l = Layout::new((5 << 20) + 512);
        assert_eq!(l.entries, 3);
        assert_eq!(l.bat_bytes, 512);
        assert_eq!(l.data_start(), 4096);
        // Bitmaps end, and data starts, on page boundaries.
        assert_eq!(l.block_at(0), 4096 + 4096 - 512);
        assert_eq!(l.block_at(2), 4096 + 2 * (4096 + (2 << 20)) + 4096 - 512);
        assert_eq!((l.block_at(2) + 512) % 4096, 0);
        assert_eq!(l.end(3), 4096 + 3 * (4096 + (2 << 20)));
        // A BAT ending on a page boundary needs no padding.
        let big = Layout::new(2560 << 20);
        assert_eq!(big.bat_bytes, 5120);
        assert_eq!(big.data_start(), 8192);
    }

    #[test]
    fn footer_is_exact_and_qemu10_reads_current_size() {
        let size = (37 << 20) + 5 * 512;
        let f = new_footer(DiskType::Dynamic, size, 512).unwrap();
        let (v, _) =
            crate::image::vhd::geometry::virtual_size(&f.creator_app, f.geometry, f.current_size);
        assert_eq!(v, size);
        assert_ne!(f.geometry.bytes(), size, "CHS alone would lose the tail");
        assert_eq!(f.unique_id[6] >> 4, 4);
    }
}
