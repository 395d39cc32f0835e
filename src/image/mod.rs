//! Image formats behind one trait. A format turns a file (or a chain of files) into a
//! [`VirtualDisk`]: a byte-addressable disk of a fixed size. Nothing here knows about
//! partitions or file systems.

pub mod foreign;
pub mod info;
#[cfg(test)]
pub(crate) mod mem;
pub mod raw;
pub mod source;
pub mod vhd;

use crate::error::Result;

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

/// An opened image of any supported format.
#[derive(Debug)]
pub enum Image {
    Raw(raw::RawImage),
    Vhd(vhd::VhdImage),
}

impl Image {
    pub fn format_name(&self) -> &'static str {
        match self {
            Image::Raw(_) => "raw",
            Image::Vhd(_) => "vhd",
        }
    }

    fn disk(&self) -> &dyn VirtualDisk {
        match self {
            Image::Raw(r) => r,
            Image::Vhd(v) => v,
        }
    }
}

/// Open an image, deciding its format from its contents (never from its name): VHD by its
/// footer (or the footer copy at offset 0), foreign formats refused by name, and RAW only
/// when nothing else matched.
pub fn open(path: impl AsRef<std::path::Path>) -> Result<Image> {
    let src = source::SourceFile::open(path)?;
    if src.is_empty() {
        return Err(crate::error::Error::malformed(
            src.path(),
            0,
            "file size",
            "0 bytes",
            "a disk image (RAW or VHD) of at least 512 bytes",
        ));
    }
    if src.len() < 512 {
        return Err(crate::error::Error::malformed(
            src.path(),
            0,
            "file size",
            format!("{} bytes", src.len()),
            "a disk image (RAW or VHD) of at least one 512-byte sector",
        ));
    }
    if let Some(f) = foreign::detect(&src)? {
        return Err(foreign::refuse(&src, f));
    }
    if vhd::looks_like_vhd(&src)? {
        return Ok(Image::Vhd(vhd::VhdImage::from_source(src)?));
    }
    if has_orphan_dynamic_header(&src)? {
        return Err(crate::error::Error::malformed(
            src.path(),
            512,
            "VHD footer",
            "a dynamic header (\"cxsparse\") at offset 512 but no footer at the start or the end",
            "a VHD footer (\"conectix\"): this looks like a dynamic VHD whose footers are both destroyed",
        ));
    }
    Ok(Image::Raw(raw::RawImage::from_source(src)))
}

fn has_orphan_dynamic_header(src: &source::SourceFile) -> Result<bool> {
    if src.len() < 1024 {
        return Ok(false);
    }
    let mut b = [0u8; 8];
    src.read_exact_at(512, &mut b, "dynamic header cookie")?;
    Ok(&b == vhd::dynamic::DYNAMIC_COOKIE)
}

impl VirtualDisk for Image {
    fn size(&self) -> u64 {
        self.disk().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.disk().read_at(offset, buf)
    }
    fn extent(&self, offset: u64) -> Result<Extent> {
        self.disk().extent(offset)
    }
}
