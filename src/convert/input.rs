//! The source side of a conversion: the virtual disk, which of its ranges hold data, and where
//! a range is a plain byte range of one file (RAW and fixed VHD data, a parentless dynamic
//! VHD's allocated blocks), that file range, so the kernel can copy from it. For RAW and fixed
//! VHD the file's own holes count as the disk's.

use super::{CHUNK, Format};
use crate::error::{Error, Result};
use crate::image::source::SourceFile;
use crate::image::vhd::footer::FOOTER_SIZE;
use crate::image::{Extent, ExtentKind, Image, VirtualDisk};

pub(crate) struct Input<'a> {
    pub disk: &'a dyn VirtualDisk,
    img: Option<&'a Image>,
    /// The file whose bytes `0..size` are the disk's bytes, when there is one.
    file: Option<&'a SourceFile>,
}

impl<'a> Input<'a> {
    pub fn of(img: &'a Image) -> Input<'a> {
        Input {
            disk: img,
            img: Some(img),
            file: img.flat_file(),
        }
    }

    /// A bare virtual disk: its extents alone say where data is, and no range is a file's.
    pub fn of_disk(disk: &'a dyn VirtualDisk) -> Input<'a> {
        Input {
            disk,
            img: None,
            file: None,
        }
    }

    pub fn size(&self) -> u64 {
        self.disk.size()
    }

    /// Where the file holds the virtual range `offset..offset + len` as one contiguous run of
    /// bytes, if it does: what lets the kernel copy it.
    pub fn file_range(&self, offset: u64, len: u64) -> Option<(&'a SourceFile, u64)> {
        self.img?.file_range(offset, len)
    }

    /// The one file [`Input::file_range`] answers with, if any.
    pub fn single_file(&self) -> Option<&'a SourceFile> {
        self.img?.mapped_file()
    }

    /// Whether reads inflate compressed data, so the conversion is CPU work (see
    /// [`crate::image::format::Format::compressed_reads`]).
    pub fn compressed_reads(&self) -> bool {
        self.img.is_some_and(|i| i.compressed_reads())
    }

    /// Workers for a conversion of this source that ends in writes to one file: a few to keep
    /// the writer busy, or one per core and more when reads are decompression.
    pub fn worker_threads(&self) -> usize {
        if self.compressed_reads() {
            super::workers::decompress_threads()
        } else {
            super::workers::writer_threads()
        }
    }

    /// Whether [`Input::file_range`] can answer at all.
    pub fn has_file_ranges(&self) -> bool {
        self.single_file().is_some()
    }

    /// Like [`VirtualDisk::extent`], but a fixed VHD's holes come from its file (the VHD reader
    /// calls all of a fixed disk data).
    pub fn extent(&self, offset: u64) -> Result<Extent> {
        match self.file {
            Some(src) => Ok(src.disk_extent(offset, self.size())),
            None => self.disk.extent(offset),
        }
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

    /// The next piece as (offset, length); `None` at the end of the disk.
    pub fn next_piece(&mut self) -> Result<Option<(u64, u64)>> {
        let size = self.input.size();
        while self.pos < size {
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
            let piece = (self.pos, end - self.pos);
            self.pos = end;
            return Ok(Some(piece));
        }
        Ok(None)
    }
}

/// An upper bound of the bytes the output will occupy, from the extents alone (nothing read):
/// what the free-space check compares with.
pub(crate) fn estimate_output(input: &Input, format: Format) -> Result<u64> {
    let mut pieces = Pieces::new(input, CHUNK);
    let (mut data, mut blocks, mut last_block) = (0u64, 0u64, None);
    while let Some((off, len)) = pieces.next_piece()? {
        data += len;
        let b = off / CHUNK;
        if last_block != Some(b) {
            blocks += 1;
            last_block = Some(b);
        }
    }
    let footer = FOOTER_SIZE as u64;
    Ok(match format {
        Format::Raw => data,
        Format::VhdFixed => data + footer,
        Format::VhdDynamic => {
            // Each block in a page-aligned slot (see vhd_meta::Layout::page_aligned).
            let bat = input.size().div_ceil(CHUNK) * 4;
            blocks * (CHUNK + 4096) + bat + 4096 + 2048 + 2 * footer
        }
    })
}
