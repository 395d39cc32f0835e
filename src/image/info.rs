//! What `inspect` says about the image layer: format, sizes, allocation, and the format's own
//! section (every VHD field...). Typed fields: the JSON (the documented schema, docs/json.md)
//! is their serde derive, the text is rendered from them.

use serde::Serialize;
use serde_json::Value;

use super::Image;
use super::format::{Section, host_allocated};
use super::virtual_disk::VirtualDisk;
use crate::error::Result;
use crate::text::{Table, escape, human};

/// The image part of `inspect`. The format's section is serialised under its own key
/// ([`ImageReport::to_json`]); the disk part (partitions, file systems, guest) is added by
/// the caller.
#[derive(Debug, Serialize)]
pub struct ImageReport {
    pub file: String,
    pub format: &'static str,
    pub virtual_size: u64,
    pub file_size: u64,
    pub disk_size: u64,
    pub allocated_bytes: u64,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub section: Section,
}

impl ImageReport {
    pub fn new(image: &Image) -> Result<Self> {
        let mut section = image.section()?;
        let file = image.file();
        if image.kind() == super::Kind::Raw {
            if let Some(entry) = super::registry::named_format(file.path()) {
                section.warnings.push(format!(
                    "the file is named like a {} image but holds none of its signatures (a \
                     VHD's footer at the end or at offset 0): it is read as RAW; if it was a {0} \
                     image it is damaged or truncated (`imgtool check` says what is missing)",
                    entry.kind.name().to_uppercase()
                ));
            }
        }
        Ok(ImageReport {
            file: file.path().display().to_string(),
            format: image.format_name(),
            virtual_size: image.size(),
            file_size: file.len(),
            disk_size: host_allocated(file),
            allocated_bytes: image.allocated_bytes()?,
            warnings: std::mem::take(&mut section.warnings),
            section,
        })
    }

    /// The image part of `inspect --json`: these fields and the format's section.
    pub fn to_json(&self) -> Value {
        let mut doc = crate::image::format::ToJson::to_json(self);
        if let Some(d) = &self.section.details {
            doc[d.key()] = d.to_json();
        }
        doc
    }

    /// The sizes, aligned like `qemu-img info`, then the format's own tables.
    pub fn text(&self) -> String {
        let mut t = Table::default();
        t.row("image", self.file.clone());
        t.row("file format", self.format.to_string());
        t.row("virtual size", size_both(self.virtual_size));
        t.row("disk size", human(self.disk_size));
        t.row("allocated", size_both(self.allocated_bytes));
        let mut out = t.render(0);
        if let Some(d) = &self.section.details {
            out.push_str(&d.text());
        }
        out
    }
}

/// The image part of `inspect --json`.
pub fn image_json(image: &Image) -> Result<Value> {
    Ok(ImageReport::new(image)?.to_json())
}

/// "1 MiB (1048576 bytes)".
pub(crate) fn size_both(b: u64) -> String {
    format!("{} ({b} bytes)", human(b))
}

/// `"text"`, for strings that came from the image (escaped later, with the row).
pub(crate) fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// `Some(s)` as text, or `-`.
pub(crate) fn or_dash(s: Option<impl ToString>) -> String {
    s.map_or_else(|| "-".to_string(), |x| x.to_string())
}

/// One parent in the text of a chain: its file, the format's word for its type, its identity
/// (`("id", "...")`), its allocated bytes and how it was found.
pub(crate) struct ChainLine<'a> {
    pub file: &'a str,
    pub kind: String,
    pub id: (&'static str, String),
    pub allocated: u64,
    pub found_via: Option<&'a str>,
}

/// "parent chain:" and one numbered line per parent, the same for every format that has
/// chains; the line is escaped here, once.
pub(crate) fn chain_text<'a>(links: impl IntoIterator<Item = ChainLine<'a>>) -> String {
    let mut out = String::from("parent chain:\n");
    for (i, l) in links.into_iter().enumerate() {
        let via = l.found_via.map(|f| format!(", found via {f}"));
        out.push_str(&format!(
            "    {}. {}\n",
            i + 1,
            escape(&format!(
                "{} ({}, {} {}, {} allocated{})",
                l.file,
                l.kind,
                l.id.0,
                l.id.1,
                human(l.allocated),
                via.unwrap_or_default()
            ))
        ));
    }
    out
}
