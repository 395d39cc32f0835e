//! The source side of a conversion: the virtual disk, which of its ranges hold data, and, when
//! the disk is a plain byte range of one file (RAW, fixed VHD), that file, so the kernel can
//! copy from it and its own holes count as the disk's.

use std::fs::File;

use super::{CHUNK, Format};
use crate::error::{Error, Result};
use crate::image::source::SourceFile;
use crate::image::vhd::dynamic::bitmap_size;
use crate::image::vhd::footer::FOOTER_SIZE;
use crate::image::{Extent, ExtentKind, Image, VirtualDisk};

pub(crate) struct Input<'a> {
    pub disk: &'a dyn VirtualDisk,
    /// The file whose bytes `0..size` are the disk's bytes, when there is one.
    pub file: Option<&'a SourceFile>,
}

impl<'a> Input<'a> {
    pub fn of(img: &'a Image) -> Input<'a> {
        let file = match img {
            Image::Raw(r) => Some(r.source()),
            Image::Vhd(v) if v.layers.len() == 1 && v.top().sparse.is_none() => Some(&v.top().src),
            Image::Vhd(_) => None,
        };
        Input { disk: img, file }
    }

    pub fn size(&self) -> u64 {
        self.disk.size()
    }

    pub fn raw_file(&self) -> Option<&File> {
        self.file.map(SourceFile::file)
    }

    /// Like [`VirtualDisk::extent`], but a fixed VHD's holes come from its file (the VHD reader
    /// calls all of a fixed disk data).
    pub fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        let Some(src) = self.file else {
            return self.disk.extent(offset);
        };
        let (kind, end) = match src.data_region(offset) {
            Some((data, _)) if data > offset => (ExtentKind::Zero, data),
            Some((_, hole)) => (ExtentKind::Data, hole),
            None => (ExtentKind::Data, size),
        };
        Ok(Extent {
            kind,
            len: end.min(size).max(offset + 1) - offset,
        })
    }
}

/// Hands out the disk's data ranges as pieces of at most `chunk` bytes that never cross a
/// multiple of `chunk`, skipping (and counting) the ranges the extents call zero.
pub(crate) struct Pieces<'a, 'b> {
    input: &'b Input<'a>,
    chunk: u64,
    pos: u64,
    data_end: u64,
    pub holes: u64,
}

impl<'a, 'b> Pieces<'a, 'b> {
    pub fn new(input: &'b Input<'a>, chunk: u64) -> Self {
        Pieces {
            input,
            chunk,
            pos: 0,
            data_end: 0,
            holes: 0,
        }
    }

    /// Up to `max` pieces as (offset, length); empty at the end of the disk.
    pub fn next_batch(&mut self, max: usize) -> Result<Vec<(u64, u64)>> {
        let size = self.input.size();
        let mut out = Vec::new();
        while out.len() < max && self.pos < size {
            if self.data_end <= self.pos {
                let e = self.input.extent(self.pos)?;
                if e.len == 0 {
                    return Err(Error::Failed(format!(
                        "the source reported an empty extent at offset {}",
                        self.pos
                    )));
                }
                let end = self.pos.saturating_add(e.len).min(size);
                if e.kind == ExtentKind::Zero {
                    self.holes += end - self.pos;
                    self.pos = end;
                    continue;
                }
                self.data_end = end;
            }
            let boundary = (self.pos / self.chunk + 1) * self.chunk;
            let end = boundary.min(self.data_end);
            out.push((self.pos, end - self.pos));
            self.pos = end;
        }
        Ok(out)
    }
}

/// An upper bound of the bytes the output will occupy, from the extents alone (nothing read):
/// what the free-space check compares with.
pub(crate) fn estimate_output(input: &Input, format: Format) -> Result<u64> {
    let mut pieces = Pieces::new(input, CHUNK);
    let (mut data, mut blocks, mut last_block) = (0u64, 0u64, None);
    loop {
        let batch = pieces.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        for (off, len) in batch {
            data += len;
            let b = off / CHUNK;
            if last_block != Some(b) {
                blocks += 1;
                last_block = Some(b);
            }
        }
    }
    let footer = FOOTER_SIZE as u64;
    Ok(match format {
        Format::Raw => data,
        Format::VhdFixed => data + footer,
        Format::VhdDynamic => {
            let bat = input.size().div_ceil(CHUNK) * 4;
            blocks * (CHUNK + bitmap_size(CHUNK as u32)) + bat + 2048 + 2 * footer
        }
    })
}
