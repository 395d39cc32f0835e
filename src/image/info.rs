//! What `inspect` says about the image layer: format, sizes, allocation, and the format's own
//! section (every VHD field...). Built as JSON (the documented schema, docs/json.md) and
//! rendered as text from the same data.

use serde_json::{Value, json};

use super::Image;
use super::format::host_allocated;
use super::virtual_disk::VirtualDisk;
use crate::error::Result;

/// The image part of `inspect --json`.
pub fn image_json(image: &Image) -> Result<Value> {
    let mut section = image.section()?;
    let file = image.file();
    if image.kind() == super::Kind::Raw {
        if let Some(entry) = super::registry::named_format(file.path()) {
            section.warnings.push(format!(
                "the file is named like a {} image but holds none of its signatures (a VHD's \
                 footer at the end or at offset 0): it is read as RAW; if it was a {0} image it \
                 is damaged or truncated (`imgtool check` says what is missing)",
                entry.kind.name().to_uppercase()
            ));
        }
    }
    let mut doc = json!({
        "file": file.path().display().to_string(),
        "format": image.format_name(),
        "virtual_size": image.size(),
        "file_size": file.len(),
        "disk_size": host_allocated(file),
        "allocated_bytes": image.allocated_bytes()?,
        "warnings": section.warnings,
    });
    if let Some(key) = section.key {
        doc[key] = section.value;
    }
    Ok(doc)
}
