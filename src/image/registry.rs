//! Which formats imgtool reads, in detection order, and `open`, which decides a file's format
//! from its contents. Adding a format is one line in [`FORMATS`].

use super::format::Entry;
use super::source::SourceFile;
use super::{Image, foreign, qcow2, raw, vhd, vhdx};
use crate::error::Result;

/// The formats imgtool reads, in detection order. RAW is not here: it is what a file is when
/// no format (and no foreign one) claims it. VHDX comes before VHD: its signature at offset 0
/// is definitive, while a VHD footer could be payload bytes at the end of a VHDX.
pub(crate) const FORMATS: &[Entry] = &[qcow2::ENTRY, vhdx::ENTRY, vhd::ENTRY];

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
    for entry in FORMATS {
        if (entry.probe)(&src)? {
            return Ok(Image((entry.open)(src)?));
        }
    }
    Ok(Image(Box::new(raw::RawImage::from_source(src))))
}
