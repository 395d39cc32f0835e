//! Write VHDs: fixed (the RAW bytes and a footer) and dynamic (2 MiB blocks, allocated only
//! for blocks holding a non-zero byte). Every metadata byte (footer, header, BAT) and the
//! block layout come from `vhd_meta`, shared with the streamed VHD.

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
use super::vhd_meta::{self, BAT_OFFSET, HEADER_OFFSET, Identity, Layout};
use super::{CHUNK, CHUNK_LEN, Stats, WRITEBACK_EVERY, check_interrupted, is_zero, workers};
use crate::error::{Error, Result};
use crate::image::fit::min_len;
use crate::image::vhd::dynamic::BAT_UNALLOCATED;
use crate::image::vhd::footer::{DATA_OFFSET_NONE, DiskType, FOOTER_SIZE};

pub(crate) fn write_fixed(
    input: &Input,
    tmp: &TempOutput,
    stats: &Stats,
    bar: &Progress,
) -> Result<()> {
    let (out, out_path) = (tmp.file(), tmp.path());
    super::to_raw::write(input, tmp, stats, bar)?;
    let id = Identity::new()?;
    let footer = vhd_meta::footer(DiskType::Fixed, input.size(), DATA_OFFSET_NONE, &id).to_bytes();
    out.write_all_at(&footer, input.size())
        .map_err(|e| Error::io(out_path, e))?;
    Stats::add(&stats.written, FOOTER_SIZE as u64);
    Ok(())
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
    let layout = Layout::page_aligned(size)?;
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
    write_metadata(out, out_path, &layout, &bat, end)?;
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
            self.input.worker_threads(),
            self.layout.bitmap_len() + CHUNK_LEN,
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
        let len = min_len(CHUNK_LEN, size - start);
        let range = self.input.file_range(start, len as u64);
        let map = range.and_then(|(src, at)| self.maps.map(src, at, len as u64));
        let (bitmap, data) = buf.split_at_mut(self.layout.bitmap_len());
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
        let sector = self
            .layout
            .bat_entry(slot)
            .map_err(|e| Error::Failed(format!("{}: block {b}: {e}", self.out_path.display())))?;
        let io = |e| Error::io(self.out_path, e);
        // One writer at a time: the others read and scan their next blocks meanwhile.
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let written = match (&map, range) {
            (Some(m), Some((src, src_at))) => {
                let data_at = at + self.layout.bitmap;
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
                self.layout.bitmap_len() + len
            }
            _ => {
                data[len..].fill(0);
                self.out.write_all_at(buf, at).map_err(io)?;
                buf.len()
            }
        };
        let entry = usize::try_from(b).ok().and_then(|b| self.bat.get(b));
        let entry = entry.ok_or_else(|| {
            Error::Failed(format!(
                "{}: block {b} past the BAT",
                self.out_path.display()
            ))
        })?;
        entry.store(sector, Ordering::Relaxed);
        Stats::add(&self.stats.written, written as u64);
        Stats::add(&self.stats.data, len as u64);
        Ok(())
    }
}

/// The metadata around the blocks, once every block has its slot.
fn write_metadata(
    out: &File,
    out_path: &Path,
    layout: &Layout,
    bat: &[u32],
    end: u64,
) -> Result<()> {
    let io = |e| Error::io(out_path, e);
    let len = usize::try_from(layout.bat_bytes).map_err(|_| {
        Error::Failed(format!(
            "{}: a BAT of {} bytes does not fit in memory here",
            out_path.display(),
            layout.bat_bytes
        ))
    })?;
    let mut table = vec![0u8; len];
    layout.bat_bytes_at(0, &mut table, |e| {
        bat.get(e as usize).copied().unwrap_or(BAT_UNALLOCATED)
    });
    let footer = layout.footer(&Identity::new()?);
    out.write_all_at(&layout.header(), HEADER_OFFSET)
        .map_err(io)?;
    out.write_all_at(&table, BAT_OFFSET).map_err(io)?;
    out.write_all_at(&footer, 0).map_err(io)?;
    out.write_all_at(&footer, end).map_err(io)?;
    out.set_len(end + FOOTER_SIZE as u64).map_err(io)
}
