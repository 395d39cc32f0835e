//! One VHDX file, opened: headers, log replayed in memory, regions, metadata and BAT, and the
//! reads of its payload blocks.

use super::bat::{Bat, PayloadState, SECTORS_PER_BITMAP, read_bat};
use super::header::{self, Headers, Regions};
use super::log::{self, Replay};
use super::metadata::{Metadata, read_metadata};
use super::view::View;
use crate::error::Result;
use crate::image::finding::{Finding, Severity};
use crate::image::source::SourceFile;

#[derive(Debug)]
pub struct VhdxFile {
    pub view: View,
    pub creator: String,
    pub headers: Headers,
    pub replay: Option<Replay>,
    pub regions: Regions,
    pub meta: Metadata,
    pub bat: Bat,
    /// Non-fatal findings made while opening (a damaged header or region table copy, a
    /// replayed log...).
    pub findings: Vec<Finding>,
}

/// Where a range of one block comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// This file, at this offset.
    File(u64),
    Zero,
    /// The parent (or zeros when there is none).
    Parent,
}

impl VhdxFile {
    pub fn open(src: SourceFile) -> Result<VhdxFile> {
        let creator = header::read_creator(&src)?;
        let headers = header::read_headers(&src)?;
        let mut findings = Vec::new();
        for s in &headers.slots {
            if let Err(f) = s {
                findings.push(f.clone().repair("rewrite it from the other, valid header"));
            }
        }
        let h = headers.header.clone();
        let (view, replay) = match log::replay(&src, &h)? {
            None => (View::new(src), None),
            Some((overlay, r)) => {
                findings.push(Finding::new(
                    Severity::Warning,
                    r.log_offset + u64::from(r.tail),
                    "log",
                    format!(
                        "{} entries (sequence {} to {}) not yet applied: the file was not closed cleanly",
                        r.entries, r.tail_sequence, r.head_sequence
                    ),
                    "an empty log; imgtool replayed it in memory and reads what Hyper-V would (the file is not changed)",
                ).repair("open it once in Hyper-V, or run `qemu-img check -r all` on it, to apply the log to the file"));
                let len = r.file_length;
                (View::with_overlay(src, overlay, len), Some(r))
            }
        };
        let regions = header::read_regions(&view)?;
        if let Some(f) = &regions.other {
            findings.push(f.clone());
        }
        let meta = read_metadata(&view, &regions.metadata)?;
        for (at, field, found, expected) in &meta.notes {
            findings.push(Finding::new(Severity::Warning, *at, field, found, expected));
        }
        let bat = read_bat(&view, &regions.bat, &meta)?;
        Ok(VhdxFile {
            view,
            creator,
            headers,
            replay,
            regions,
            meta,
            bat,
            findings,
        })
    }

    pub fn src(&self) -> &SourceFile {
        &self.view.src
    }

    pub fn virtual_size(&self) -> u64 {
        self.meta.virtual_size
    }

    pub fn block_size(&self) -> u64 {
        self.bat.block_size
    }

    pub fn differencing(&self) -> bool {
        self.meta.has_parent
    }

    /// "fixed", "dynamic" or "differencing": VHDX has no type field, so this is what the file
    /// parameters say (a fixed VHDX is one that asks to keep its blocks allocated).
    pub fn disk_type(&self) -> &'static str {
        if self.meta.has_parent {
            "differencing"
        } else if self.meta.leave_blocks_allocated {
            "fixed"
        } else {
            "dynamic"
        }
    }

    /// What the block holding `offset` says about the whole block (its BAT entry read and
    /// checked if it was not yet).
    pub fn block_source(&self, offset: u64) -> Result<(PayloadState, Source)> {
        let b = offset / self.bat.block_size;
        let (state, at) = self.bat.payload(&self.view, b)?;
        let src = match state {
            PayloadState::FullyPresent | PayloadState::PartiallyPresent => Source::File(at),
            // A differencing disk's absent (and undefined) blocks are its parent's; the spec
            // lets a reader return zeros for undefined and unmapped blocks, which we do.
            PayloadState::NotPresent | PayloadState::Undefined if self.meta.has_parent => {
                Source::Parent
            }
            _ => Source::Zero,
        };
        Ok((state, src))
    }

    /// Whether sectors `first..first + n` (logical sectors of the disk) are present in this file,
    /// as runs: (start sector, count, present). Reads only the bitmap bytes covering them.
    pub fn bitmap_runs(&self, first: u64, n: u64) -> Result<Vec<(u64, u64, bool)>> {
        let chunk = first / SECTORS_PER_BITMAP;
        let Some(at) = self.bat.bitmap(&self.view, chunk)? else {
            return Ok(vec![(first, n, false)]);
        };
        let in_chunk = first % SECTORS_PER_BITMAP;
        let byte0 = in_chunk / 8;
        let byte1 = (in_chunk + n).div_ceil(8);
        // The sectors are those of one payload block (image.rs, the only caller), at most
        // 256 MiB: their bitmap bytes are at most 64 KiB.
        #[allow(clippy::cast_possible_truncation)]
        let mut b = vec![0u8; (byte1 - byte0) as usize];
        self.view
            .read_exact_at(at + byte0, &mut b, "VHDX sector bitmap")?;
        // Bit 0 of byte 0 is the chunk's first sector.
        let bit = |s: u64| {
            let i = in_chunk + (s - first) - byte0 * 8;
            b.get((i / 8) as usize)
                .is_some_and(|x| x & (1 << (i % 8)) != 0)
        };
        let mut runs: Vec<(u64, u64, bool)> = Vec::new();
        for s in first..first + n {
            let v = bit(s);
            match runs.last_mut() {
                Some((_, len, p)) if *p == v => *len += 1,
                _ => runs.push((s, 1, v)),
            }
        }
        Ok(runs)
    }

    /// Bytes of the virtual disk this file holds (fully and partially present blocks, clipped
    /// to the disk): a pass over the whole BAT, made once.
    pub fn allocated_bytes(&self) -> Result<u64> {
        Ok(self.bat.summary(&self.view)?.allocated_bytes)
    }
}
