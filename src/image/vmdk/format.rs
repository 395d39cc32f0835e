//! The VMDK reader behind the [`Format`] interface: its registry entry (signature, then open),
//! and what the rest of the program may ask of an opened VMDK.

use std::path::Path;

use super::disk::VmdkImage;
use super::header::SPARSE_MAGIC;
use super::layer::{Container, Data, is_descriptor};
use super::{check, info, ova};
use crate::error::Result;
use crate::image::finding::CheckReport;
use crate::image::format::{Entry, Format, Kind, Section};
use crate::image::source::SourceFile;

pub const ENTRY: Entry = Entry {
    kind: Kind::Vmdk,
    extensions: &["vmdk", "ova"],
    probe,
    open,
    check: check_entry,
};

/// "KDMV" (a sparse extent), "# Disk DescriptorFile" (a descriptor), or a tar archive
/// holding an `.ovf` or a `.vmdk` (an OVA).
fn probe(src: &SourceFile) -> Result<bool> {
    let mut head = [0u8; 512];
    let n = src.len().min(512) as usize;
    src.read_exact_at(0, &mut head[..n], "file header")?;
    let h = &head[..n];
    if h.starts_with(SPARSE_MAGIC) || is_descriptor(h) {
        return Ok(true);
    }
    if ova::is_tar(h) {
        return ova::looks_like_ova(src);
    }
    Ok(false)
}

fn open(src: SourceFile) -> Result<Box<dyn Format>> {
    Ok(Box::new(VmdkImage::from_source(src)?))
}

fn check_entry(path: &Path) -> Result<CheckReport> {
    check::check(path)
}

impl VmdkImage {
    /// The one file every extent of a parentless disk reads from, when there is one and it
    /// holds no compressed grains (whose bytes are not the disk's).
    fn single_file(&self) -> Option<usize> {
        if self.layers.len() != 1 {
            return None;
        }
        let mut file = None;
        for p in &self.top().pieces {
            let f = match &p.data {
                Data::Zero => continue,
                Data::Flat { file, .. } => *file,
                Data::Sparse(x) if x.header.compressed() => return None,
                Data::Sparse(x) => x.win.file,
            };
            if file.is_some_and(|g| g != f) {
                return None;
            }
            file = Some(f);
        }
        file
    }
}

impl Format for VmdkImage {
    fn kind(&self) -> Kind {
        Kind::Vmdk
    }

    fn describe(&self) -> String {
        let top = self.top();
        let ct = top
            .descriptor
            .as_ref()
            .map_or("sparse", |d| d.create_type.as_str());
        let mut s = format!("a {ct} VMDK");
        if matches!(top.container, Container::Ova(_)) {
            s.push_str(" inside an OVA");
        }
        if self.layers.len() > 1 {
            s.push_str(&format!(" with {} parents", self.layers.len() - 1));
        }
        s
    }

    fn file(&self) -> &SourceFile {
        self.top().src()
    }

    fn files(&self) -> Vec<&SourceFile> {
        self.layers.iter().flat_map(|l| l.files.iter()).collect()
    }

    fn flat_file(&self) -> Option<&SourceFile> {
        let top = self.top();
        match (self.layers.len(), top.pieces.as_slice()) {
            (1, [p]) => match p.data {
                Data::Flat { file, offset: 0 } => Some(&top.files[file]),
                _ => None,
            },
            _ => None,
        }
    }

    fn file_range(&self, offset: u64, len: u64) -> Option<(&SourceFile, u64)> {
        let f = self.single_file()?;
        let top = self.top();
        let p = top.piece_at(offset)?;
        let rel = offset - p.start;
        if rel.checked_add(len)? > p.len {
            return None;
        }
        match &p.data {
            Data::Flat { file, offset } if *file == f => Some((&top.files[f], offset + rel)),
            Data::Sparse(x) => {
                let (g, in_g) = (rel / x.grain_bytes, rel % x.grain_bytes);
                if in_g + len > x.grain_bytes {
                    return None;
                }
                match x.grain(g) {
                    super::sparse::Grain::At(s) => Some((
                        &top.files[f],
                        x.win.at(u64::from(s) * super::header::SECTOR + in_g),
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn mapped_file(&self) -> Option<&SourceFile> {
        self.single_file().map(|f| &self.top().files[f])
    }

    fn identity(&self) -> Option<String> {
        let d = self.top().descriptor.as_ref()?;
        Some(format!(
            "vmdk-cid={}",
            d.cid.map_or("none".into(), |c| format!("{c:08x}"))
        ))
    }

    /// Any layer with compressed grains (streamOptimized).
    fn compressed_reads(&self) -> bool {
        self.layers.iter().any(|l| {
            l.pieces
                .iter()
                .any(|p| matches!(&p.data, Data::Sparse(x) if x.header.compressed()))
        })
    }

    fn allocated_bytes(&self) -> Result<u64> {
        Ok(self.top().allocated_bytes())
    }

    fn section(&self) -> Result<Section> {
        Ok(info::section(self))
    }
}
