//! The one interface every format offers: a byte-addressable disk of a fixed size, read by
//! position from any thread, with extents that say where the holes are.

use std::path::Path;

use crate::error::{Error, Result};

/// What a range of the virtual disk holds, as far as the format can tell without reading data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtentKind {
    /// Bytes that must be read.
    Data,
    /// Bytes known to read as zeros (an unallocated block, a hole).
    Zero,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub kind: ExtentKind,
    /// Length in bytes, at least 1 and never past the end of the disk.
    pub len: u64,
}

/// A virtual disk: positional reads over a disk of `size()` bytes. Shared by threads.
pub trait VirtualDisk: Send + Sync {
    /// The virtual size in bytes.
    fn size(&self) -> u64;

    /// Fill `buf` with the bytes at `offset`. A read that runs past `size()` is an error.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// What is at `offset` (which must be below `size()`) and for how long. The default says
    /// "data to the end", which is always correct, merely slow for sparse images.
    fn extent(&self, offset: u64) -> Result<Extent> {
        Ok(Extent {
            kind: ExtentKind::Data,
            len: self.size().saturating_sub(offset),
        })
    }
}

/// A read of `len` bytes at `offset` must end inside the `size`-byte disk of the image `path`.
#[inline]
pub fn check_read(path: &Path, size: u64, offset: u64, len: usize) -> Result<()> {
    let end = offset.checked_add(len as u64);
    if end.is_none_or(|e| e > size) {
        return Err(Error::Usage(format!(
            "{}: read of {len} bytes at {offset} runs past the end of the {size}-byte virtual disk",
            path.display()
        )));
    }
    Ok(())
}

/// An extent query at `offset`, at or past the end of the disk.
pub fn extent_past_end(offset: u64) -> Error {
    Error::Usage(format!("extent query at {offset} past the end of the disk"))
}

impl<T: VirtualDisk + ?Sized> VirtualDisk for Box<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(offset, buf)
    }
    fn extent(&self, offset: u64) -> Result<Extent> {
        (**self).extent(offset)
    }
}

impl<T: VirtualDisk + ?Sized> VirtualDisk for std::sync::Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_at(offset, buf)
    }
    fn extent(&self, offset: u64) -> Result<Extent> {
        (**self).extent(offset)
    }
}
