//! Which formats imgtool reads, in detection order, and `open`, which decides a file's format
//! from its contents. Adding a format is one line in [`FORMATS`].

use super::format::Entry;
use super::source::SourceFile;
use super::{Image, foreign, qcow2, raw, vhd, vhdx, vmdk};
use crate::error::Result;

/// The formats imgtool reads, in detection order. RAW is not here: it is what a file is when
/// no format (and no foreign one) claims it. The formats whose signature is at offset 0 come
/// before VHD: theirs is definitive, while a VHD footer could be payload bytes at their end.
pub(crate) const FORMATS: &[Entry] = &[qcow2::ENTRY, vhdx::ENTRY, vmdk::ENTRY, vhd::ENTRY];

/// The format a file's name says it holds (`.vhd`), if any. Never used to decide what a file
/// is: only to say what a file named like this should have held.
pub fn named_format(path: &std::path::Path) -> Option<&'static Entry> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    FORMATS
        .iter()
        .find(|e| e.extensions.contains(&ext.as_str()))
}

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
