//! The VHDX reader behind the [`Format`] interface: its registry entry and what the rest of
//! the program may ask of an opened VHDX.

use super::bat::PayloadState;
use super::file::Source;
use super::header::FILE_ID_SIGNATURE;
use super::image::VhdxImage;
use super::{check, info};
use crate::error::Result;
use crate::image::format::{Entry, Format, Kind, Section};
use crate::image::source::SourceFile;

pub const ENTRY: Entry = Entry {
    kind: Kind::Vhdx,
    extensions: &["vhdx"],
    probe,
    open,
    check: check::check,
};

/// The file identifier "vhdxfile" at offset 0.
fn probe(src: &SourceFile) -> Result<bool> {
    if src.len() < 8 {
        return Ok(false);
    }
    let mut b = [0u8; 8];
    src.read_exact_at(0, &mut b, "VHDX file identifier")?;
    Ok(&b == FILE_ID_SIGNATURE)
}

fn open(src: SourceFile) -> Result<Box<dyn Format>> {
    Ok(Box::new(VhdxImage::from_source(src)?))
}

impl Format for VhdxImage {
    fn kind(&self) -> Kind {
        Kind::Vhdx
    }

    fn describe(&self) -> String {
        if self.layers.len() > 1 {
            "a differencing VHDX chain".into()
        } else {
            format!("a {} VHDX", self.top().disk_type())
        }
    }

    fn file(&self) -> &SourceFile {
        self.top().src()
    }

    fn files(&self) -> Vec<&SourceFile> {
        self.layers.iter().map(|l| l.src()).collect()
    }

    /// A run inside one fully present block of a lone file, untouched by the replayed log.
    fn file_range(&self, offset: u64, len: u64) -> Option<(&SourceFile, u64)> {
        if self.layers.len() != 1 {
            return None;
        }
        let top = self.top();
        let bs = top.block_size();
        let in_block = offset % bs;
        if in_block.checked_add(len)? > bs {
            return None;
        }
        let Ok((PayloadState::FullyPresent, Source::File(base))) = top.block_source(offset) else {
            return None;
        };
        let at = base + in_block;
        let inside = at.checked_add(len)? <= top.src().len();
        (inside && !top.view.touched(at, len)).then_some((top.src(), at))
    }

    fn mapped_file(&self) -> Option<&SourceFile> {
        (self.layers.len() == 1).then(|| self.top().src())
    }

    fn identity(&self) -> Option<String> {
        Some(format!(
            "vhdx={}",
            self.top().headers.header.data_write_guid
        ))
    }

    fn allocated_bytes(&self) -> Result<u64> {
        self.top().allocated_bytes()
    }

    fn section(&self) -> Result<Section> {
        info::section(self)
    }
}
