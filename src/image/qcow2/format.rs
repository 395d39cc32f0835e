//! The qcow2 reader behind the [`Format`] interface: its registry entry (magic, then open) and
//! what the rest of the program may ask of an opened qcow2 image.

use std::path::Path;

use super::header::{INCOMPAT_CORRUPT, INCOMPAT_DIRTY, has_magic};
use super::image::Qcow2Image;
use super::{check, info};
use crate::error::Result;
use crate::image::finding::CheckReport;
use crate::image::format::{Entry, Format, Kind, Section};
use crate::image::source::SourceFile;

pub const ENTRY: Entry = Entry {
    kind: Kind::Qcow2,
    extensions: &["qcow2", "qcow"],
    probe: has_magic,
    open,
    check: check_path,
};

fn open(src: SourceFile) -> Result<Box<dyn Format>> {
    Ok(Box::new(Qcow2Image::open(src)?))
}

fn check_path(path: &Path) -> Result<CheckReport> {
    check::check(path)
}

impl Format for Qcow2Image {
    fn kind(&self) -> Kind {
        Kind::Qcow2
    }

    fn describe(&self) -> String {
        let mut s = format!("a qcow2 image (version {})", self.top.header.version);
        if self.backing.is_some() {
            s.push_str(" with a backing file");
        }
        if self.top.data_file.is_some() {
            s.push_str(if self.backing.is_some() {
                " and an external data file"
            } else {
                " with an external data file"
            });
        }
        s
    }

    fn file(&self) -> &SourceFile {
        &self.top.src
    }

    fn files(&self) -> Vec<&SourceFile> {
        let mut v = vec![&self.top.src];
        v.extend(self.top.data_file.as_ref());
        if let Some(b) = &self.backing {
            v.extend(b.files());
        }
        v
    }

    /// Only a file with neither a backing file nor an external data file holds the disk.
    fn self_contained(&self) -> bool {
        self.backing.is_none() && self.top.data_file.is_none()
    }

    /// ImportImage takes QCOW2 (DiskDeviceMapping.N.Format, ../shared/docs/aliyun-import.md
    /// section 2). Alibaba's format comparison (help.aliyun.com/document_detail/200600) names
    /// ZLIB as QCOW2's compression; nothing documents zstd, extended L2 entries or external
    /// data files, so a file using them goes up read through this reader instead.
    fn upload_obstacle(&self) -> Option<String> {
        let h = &self.top.header;
        let why = if self.backing.is_some() {
            "has a backing file"
        } else if self.top.data_file.is_some() {
            "keeps its data in an external data file"
        } else if h.compression_type != 0 {
            "uses zstd compression, which the import service is not documented to read"
        } else if h.extended_l2() {
            "uses extended L2 entries, which the import service is not documented to read"
        } else if h.incompatible & (INCOMPAT_DIRTY | INCOMPAT_CORRUPT) != 0 {
            "is marked dirty or corrupt"
        } else {
            return None;
        };
        Some(format!("the qcow2 image {why}"))
    }

    /// qcow2 does not say whether it holds compressed clusters without reading every L2
    /// table; reading an uncompressed one with more workers costs nothing measurable.
    fn compressed_reads(&self) -> bool {
        true
    }

    fn allocated_bytes(&self) -> Result<u64> {
        self.top.allocated_bytes()
    }

    fn section(&self) -> Result<Section> {
        info::section(self)
    }
}
