//! The VHDX file as Hyper-V would see it after replaying its log: the file's bytes with the
//! log's writes laid over them, in memory only (the user's file is never written).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::Result;
use crate::image::fit::min_len;
use crate::image::source::SourceFile;

/// Log sectors are 4 KiB, and so is every write the log describes.
pub const LOG_SECTOR: u64 = 4096;

/// One replayed 4 KiB sector of the file.
#[derive(Debug, Clone)]
pub enum Sector {
    Data(Arc<[u8]>),
    Zero,
}

#[derive(Debug)]
pub struct View {
    pub src: SourceFile,
    /// Replayed sectors by file sector number (offset / 4096).
    overlay: BTreeMap<u64, Sector>,
    /// The file's length after replay (the log may extend it; the extension reads as zeros).
    len: u64,
}

impl View {
    pub fn new(src: SourceFile) -> View {
        let len = src.len();
        View {
            src,
            overlay: BTreeMap::new(),
            len,
        }
    }

    pub fn with_overlay(src: SourceFile, overlay: BTreeMap<u64, Sector>, len: u64) -> View {
        let len = len.max(src.len());
        View { src, overlay, len }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn replayed(&self) -> bool {
        !self.overlay.is_empty() || self.len != self.src.len()
    }

    /// Whether any replayed sector lies in `offset..offset + len`.
    pub fn touched(&self, offset: u64, len: u64) -> bool {
        if self.overlay.is_empty() {
            return false;
        }
        let first = offset / LOG_SECTOR;
        let last = offset.saturating_add(len).div_ceil(LOG_SECTOR);
        self.overlay.range(first..last).next().is_some()
    }

    /// Read exactly `buf.len()` bytes at `offset` of the replayed file.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        let plain =
            !self.touched(offset, buf.len() as u64) && end.is_some_and(|e| e <= self.src.len());
        if plain || end.is_none_or(|e| e > self.len) {
            // Outside the replayed length, let the file say what is missing.
            return self.src.read_exact_at(offset, buf, what);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let sector = at / LOG_SECTOR;
            let in_sector = (at % LOG_SECTOR) as usize;
            #[allow(clippy::cast_possible_truncation)] // LOG_SECTOR is 4096
            let n = (LOG_SECTOR as usize - in_sector).min(buf.len() - done);
            let part = &mut buf[done..done + n];
            match self.overlay.get(&sector) {
                Some(Sector::Data(d)) => match d.get(in_sector..in_sector + n) {
                    Some(s) => part.copy_from_slice(s),
                    None => part.fill(0),
                },
                Some(Sector::Zero) => part.fill(0),
                None => {
                    let in_file = min_len(n, self.src.len().saturating_sub(at));
                    let (a, b) = part.split_at_mut(in_file);
                    if !a.is_empty() {
                        self.src.read_exact_at(at, a, what)?;
                    }
                    b.fill(0);
                }
            }
            done += n;
        }
        Ok(())
    }
}
