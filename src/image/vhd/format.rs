//! The VHD reader behind the [`Format`] interface: its registry entry (signature, then open),
//! and what the rest of the program may ask of an opened VHD.

use super::dynamic::DYNAMIC_COOKIE;
use super::footer::{self, DiskType, FOOTER_SIZE};
use super::{FooterSource, VhdImage, info, looks_like_vhd};
use std::path::Path;

use crate::error::{Error, Result};
use crate::image::finding::CheckReport;
use crate::image::format::{Entry, Format, InPlace, Kind, Section};
use crate::image::source::SourceFile;

pub const ENTRY: Entry = Entry {
    kind: Kind::Vhd,
    extensions: &["vhd", "vpc"],
    probe,
    open,
    check,
};

/// A footer at the end or at offset 0. A dynamic header at 512 with no footer anywhere is a
/// dynamic VHD whose footers are both destroyed: an error, never RAW.
fn probe(src: &SourceFile) -> Result<bool> {
    if looks_like_vhd(src)? {
        return Ok(true);
    }
    if src.len() >= 1024 {
        let mut b = [0u8; 8];
        src.read_exact_at(512, &mut b, "dynamic header cookie")?;
        if &b == DYNAMIC_COOKIE {
            return Err(Error::malformed(
                src.path(),
                512,
                "VHD footer",
                "a dynamic header (\"cxsparse\") at offset 512 but no footer at the start or the end",
                "a VHD footer (\"conectix\"): this looks like a dynamic VHD whose footers are both destroyed",
            ));
        }
    }
    Ok(false)
}

fn check(path: &Path) -> Result<CheckReport> {
    let r = super::check::check(path)?;
    let mut out = CheckReport::new(Kind::Vhd);
    out.disk_type = r.disk_type.map(DiskType::name);
    out.findings = r.findings;
    out.blocks_checked = r.blocks_checked;
    Ok(out)
}

fn open(src: SourceFile) -> Result<Box<dyn Format>> {
    Ok(Box::new(VhdImage::from_source(src)?))
}

impl Format for VhdImage {
    fn kind(&self) -> Kind {
        Kind::Vhd
    }

    fn describe(&self) -> String {
        if self.layers.len() > 1 {
            "a differencing VHD chain".into()
        } else {
            format!("a {} VHD", self.top().disk_type().name())
        }
    }

    fn file(&self) -> &SourceFile {
        &self.top().src
    }

    fn files(&self) -> Vec<&SourceFile> {
        self.layers.iter().map(|l| &l.src).collect()
    }

    fn flat_file(&self) -> Option<&SourceFile> {
        (self.layers.len() == 1 && self.top().sparse.is_none()).then(|| &self.top().src)
    }

    fn file_range(&self, offset: u64, len: u64) -> Option<(&SourceFile, u64)> {
        if let Some(f) = self.flat_file() {
            return Some((f, offset));
        }
        let layer = self.top();
        let sp = layer.sparse.as_ref().filter(|_| self.layers.len() == 1)?;
        let in_block = offset % sp.block_size;
        if in_block + len > sp.block_size {
            return None;
        }
        let at = sp.block_offset(offset / sp.block_size)?;
        Some((&layer.src, at + sp.bitmap_size + in_block))
    }

    fn mapped_file(&self) -> Option<&SourceFile> {
        (self.layers.len() == 1).then(|| &self.top().src)
    }

    /// A fixed VHD whose data area is exactly its virtual size and whose only footer is the
    /// last 512 bytes: dropping that footer leaves the RAW disk.
    fn in_place(&self) -> InPlace {
        let top = self.top();
        if self.layers.len() > 1 || top.disk_type() != DiskType::Fixed {
            return InPlace::No(format!("is {}", self.describe()));
        }
        let file_len = top.src.len();
        let exact = top.footer_source == FooterSource::End
            && top.footer_offset == top.virtual_size
            && file_len == top.virtual_size + FOOTER_SIZE as u64;
        if exact {
            InPlace::FixedVhd
        } else {
            InPlace::No(format!(
                "is a fixed VHD whose data area is {} bytes (file {file_len} bytes) but whose \
                 virtual size is {} bytes; truncating would not give the same disk",
                top.footer_offset, top.virtual_size
            ))
        }
    }

    fn tables_cover_disk(&self) -> std::result::Result<(), String> {
        let top = self.top();
        let Some(sparse) = &top.sparse else {
            return Ok(());
        };
        let h = &sparse.header;
        let covered = u64::from(h.max_table_entries).saturating_mul(u64::from(h.block_size));
        let size = top.footer.current_size;
        if covered < size {
            return Err(format!(
                "the dynamic header's MaxTableEntries {} x BlockSize {} = {covered} bytes is \
                 less than the disk size {size} bytes in the footer",
                h.max_table_entries, h.block_size
            ));
        }
        Ok(())
    }

    fn identity(&self) -> Option<String> {
        Some(format!(
            "vhd={}",
            footer::uuid_string(&self.top().footer.unique_id)
        ))
    }

    fn allocated_bytes(&self) -> Result<u64> {
        info::layer_allocated(self.top())
    }

    fn section(&self) -> Result<Section> {
        info::section(self)
    }
}
