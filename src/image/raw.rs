//! RAW images: the file is the disk.

use std::path::Path;

use super::format::{Format, InPlace, Kind, Section};
use super::source::SourceFile;
use super::{Extent, ExtentKind, VirtualDisk};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct RawImage {
    src: SourceFile,
}

impl RawImage {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(RawImage {
            src: SourceFile::open(path)?,
        })
    }

    pub fn from_source(src: SourceFile) -> Self {
        RawImage { src }
    }

    pub fn source(&self) -> &SourceFile {
        &self.src
    }
}

impl Format for RawImage {
    fn kind(&self) -> Kind {
        Kind::Raw
    }

    fn describe(&self) -> String {
        "a RAW image".into()
    }

    fn file(&self) -> &SourceFile {
        &self.src
    }

    fn flat_file(&self) -> Option<&SourceFile> {
        Some(&self.src)
    }

    fn in_place(&self) -> InPlace {
        InPlace::Raw
    }

    /// What is not a hole (SEEK_DATA/SEEK_HOLE), never more than the size.
    fn allocated_bytes(&self) -> Result<u64> {
        let size = self.size();
        let mut off = 0;
        let mut data = 0;
        // Bounded: each step advances by at least one byte, and file systems report few
        // extents for images; cap the walk anyway and fall back to the host's count.
        for _ in 0..1_000_000 {
            if off >= size {
                return Ok(data);
            }
            let e = self.extent(off)?;
            if e.kind == ExtentKind::Data {
                data += e.len;
            }
            off += e.len;
        }
        Ok(super::format::host_allocated(&self.src).min(size))
    }

    fn section(&self) -> Result<Section> {
        let mut warnings = Vec::new();
        if self.src.len() % 512 != 0 {
            warnings.push(format!(
                "the file is {} bytes, not a whole number of 512-byte sectors; ECS may refuse it",
                self.src.len()
            ));
        }
        Ok(Section {
            warnings,
            ..Section::default()
        })
    }
}

impl VirtualDisk for RawImage {
    fn size(&self) -> u64 {
        self.src.len()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.src.read_exact_at(offset, buf, "raw disk data")
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        if offset >= size {
            return Err(Error::Usage(format!(
                "{}: extent query at {offset} is past the end of the disk ({size} bytes)",
                self.src.path().display()
            )));
        }
        Ok(self.src.disk_extent(offset, size))
    }
}
