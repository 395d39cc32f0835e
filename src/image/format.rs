//! What the rest of the program may ask of an image format, beyond its bytes. Every format
//! implements [`Format`]; nothing outside `image/` looks at a concrete format's type, so adding
//! a format is a folder here and one line in the registry (`image::FORMATS`).

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::finding::CheckReport;
pub use super::kind::Kind;
use super::source::SourceFile;
use super::virtual_disk::VirtualDisk;
use crate::error::Result;

/// What `convert --in-place` may do with the file as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InPlace {
    /// The file is the disk, byte for byte: a footer can be appended.
    Raw,
    /// The file is the disk followed by exactly one 512-byte footer: it can be dropped.
    FixedVhd,
    /// Neither; the text says why, as a clause ("is a dynamic VHD; ...").
    No(String),
}

/// A format's own section of `inspect`, as typed fields: serialised under the format's key
/// (`"vhd"`) by their serde derive (the documented schema, docs/json.md), and rendered as
/// text from the same fields.
pub trait Details: ToJson + fmt::Debug {
    /// The section's key in the `inspect` document.
    fn key(&self) -> &'static str;
    /// The section's text: titled tables, every string from the image escaped once (by
    /// [`crate::text::Table`] or where a line is written by hand).
    fn text(&self) -> String;
}

/// A value as JSON through its `Serialize`: what lets a `dyn Details` be serialised.
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl<T: Serialize> ToJson for T {
    fn to_json(&self) -> Value {
        // Plain structs of numbers, strings and string-keyed maps: serialising cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A format's own section of `inspect` (none for RAW) and the warnings it found while
/// opening.
#[derive(Debug, Default)]
pub struct Section {
    pub details: Option<Box<dyn Details>>,
    pub warnings: Vec<String>,
}

impl Section {
    /// The section's fields as JSON (`null` when the format has none).
    pub fn json(&self) -> Value {
        self.details.as_ref().map_or(Value::Null, |d| d.to_json())
    }
}

/// An opened image of some format: a virtual disk plus what the format knows of itself.
pub trait Format: VirtualDisk + fmt::Debug {
    fn kind(&self) -> Kind;

    /// A phrase for messages: "a RAW image", "a dynamic VHD", "a differencing VHD chain".
    fn describe(&self) -> String;

    /// The opened file.
    fn file(&self) -> &SourceFile;

    /// Every file the disk's bytes come from, the opened one first (a chain's parents after).
    fn files(&self) -> Vec<&SourceFile> {
        vec![self.file()]
    }

    /// Whether the opened file alone holds the whole disk (no parent, backing or data file),
    /// so it can be uploaded as it is.
    fn self_contained(&self) -> bool {
        self.files().len() == 1
    }

    /// Why the opened file cannot be uploaded as it is in its own format, if it cannot: it does
    /// not hold the whole disk, or it uses something the import service is not documented to
    /// take. `None`: the file can go up as it is.
    fn upload_obstacle(&self) -> Option<String> {
        (!self.self_contained())
            .then(|| format!("{} does not hold the whole disk alone", self.describe()))
    }

    /// The file whose bytes `0..size` are the disk's bytes, if there is one (RAW, fixed VHD):
    /// its holes are the disk's holes, and any range of it can be copied by the kernel.
    fn flat_file(&self) -> Option<&SourceFile> {
        None
    }

    /// Where the virtual range `offset..offset + len` lies as one contiguous run of one file,
    /// if it does: what lets the kernel copy it or a map show it.
    fn file_range(&self, offset: u64, len: u64) -> Option<(&SourceFile, u64)> {
        let _ = len;
        self.flat_file().map(|f| (f, offset))
    }

    /// The one file [`Format::file_range`] ever answers with, if it can answer at all.
    fn mapped_file(&self) -> Option<&SourceFile> {
        self.flat_file()
    }

    /// What `convert --in-place` may do.
    fn in_place(&self) -> InPlace {
        InPlace::No(format!("is {}", self.describe()))
    }

    /// What identifies the content beyond the file's size and time (a VHD's unique id).
    fn identity(&self) -> Option<String> {
        None
    }

    /// Whether the file's own tables cover the whole disk its header states (a dynamic VHD's
    /// MaxTableEntries x BlockSize against its current size); `Err` says what falls short.
    /// A reader may still read such a file; a service that takes the file as it is may not.
    fn tables_cover_disk(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    /// Whether reading the disk inflates compressed data (qcow2 compressed clusters,
    /// streamOptimized VMDK grains): reads then cost CPU rather than copies, and a conversion
    /// runs one worker per core or more instead of the few that keep one writer busy.
    fn compressed_reads(&self) -> bool {
        false
    }

    /// Bytes of the virtual disk the image stores (not holes, not unallocated blocks).
    fn allocated_bytes(&self) -> Result<u64>;

    /// The format's section of `inspect`.
    fn section(&self) -> Result<Section>;
}

/// One format in the registry: how to recognise it and how to open it.
pub struct Entry {
    pub kind: Kind,
    /// File-name extensions of the format (lower case, no dot). Never used to decide what a
    /// file is, only to say what a file named like this should have held.
    pub extensions: &'static [&'static str],
    /// Whether the file carries this format's signature. An `Err` is a damaged file of this
    /// format that must not be read as anything else.
    pub probe: fn(&SourceFile) -> Result<bool>,
    pub open: fn(SourceFile) -> Result<Box<dyn Format>>,
    /// Every structural check of the format, going on past what it finds.
    pub check: fn(&Path) -> Result<CheckReport>,
}

/// The host blocks a file occupies (st_blocks x 512).
pub fn host_allocated(src: &SourceFile) -> u64 {
    use std::os::unix::fs::MetadataExt;
    src.file()
        .metadata()
        .map(|m| m.blocks().saturating_mul(512))
        .unwrap_or(0)
}

/// Paths of a format's files, for messages and destination checks.
pub fn paths(f: &dyn Format) -> Vec<&Path> {
    f.files().into_iter().map(SourceFile::path).collect()
}
