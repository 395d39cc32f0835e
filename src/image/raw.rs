//! RAW images: the file is the disk.

use std::path::Path;

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

    /// Bytes the file occupies on the host file system (st_blocks * 512).
    pub fn allocated_bytes(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.src
            .file()
            .metadata()
            .map(|m| m.blocks().saturating_mul(512))
            .unwrap_or(self.src.len())
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
        let (kind, end) = match self.src.data_region(offset) {
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
