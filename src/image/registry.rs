//! Which formats imgtool reads, in detection order, and `open`, which decides a file's format
//! from its contents. Adding a format is one line in [`FORMATS`].

use super::format::Entry;
use super::source::SourceFile;
use super::{Image, foreign, raw, vhd, vmdk};
use crate::error::Result;

/// The formats imgtool reads, in detection order. RAW is not here: it is what a file is when
/// no format (and no foreign one) claims it.
pub(crate) const FORMATS: &[Entry] = &[vhd::ENTRY, vmdk::ENTRY];

/// Open an image, deciding its format from its contents (never from its name): each format of
/// [`FORMATS`] by its signature, foreign formats refused by name, and RAW only when nothing
/// else matched.
pub fn open(path: impl AsRef<std::path::Path>) -> Result<Image> {
    let src = SourceFile::open(path)?;
    // A VMDK descriptor may be shorter than a sector: the formats look before the size rule.
    if src.is_empty() {
        return Err(crate::error::Error::malformed(
            src.path(),
            0,
            "file size",
            "0 bytes",
            "a disk image (RAW or VHD) of at least 512 bytes",
        ));
    }
    if let Some(f) = foreign::detect(&src)? {
        return Err(foreign::refuse(&src, f));
    }
    for entry in FORMATS {
        if (entry.probe)(&src)? {
            return Ok(Image((entry.open)(src)?));
        }
    }
    if src.len() < 512 {
        return Err(crate::error::Error::malformed(
            src.path(),
            0,
            "file size",
            format!("{} bytes", src.len()),
            "a disk image of at least one 512-byte sector (or a VMDK descriptor)",
        ));
    }
    Ok(Image(Box::new(raw::RawImage::from_source(src))))
}
