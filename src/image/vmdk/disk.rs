//! A VMDK and its parents: the chain through `parentFileNameHint` (with the CID check), and
//! the virtual disk read through it.

use std::path::Path;

use super::descriptor::CID_NONE;
use super::layer::{Data, Layer};
use super::sparse::Grain;
use crate::error::{Error, Result};
use crate::image::chain::{ChainWalk, size_warnings};
use crate::image::fit::min_len;
use crate::image::source::SourceFile;
use crate::image::virtual_disk::{check_read, extent_past_end};
use crate::image::{Extent, ExtentKind, VirtualDisk};

#[derive(Debug)]
pub struct VmdkImage {
    /// `layers[0]` is the file opened; each next one is the parent of the one before.
    pub layers: Vec<Layer>,
    pub warnings: Vec<String>,
}

fn chain_error(top: &Path, what: String) -> Error {
    Error::Chain {
        path: top.to_path_buf(),
        what,
    }
}

impl VmdkImage {
    pub fn open(path: impl AsRef<Path>) -> Result<VmdkImage> {
        Self::from_source(SourceFile::open(path)?)
    }

    pub fn from_source(src: SourceFile) -> Result<VmdkImage> {
        let mut layers: Vec<Layer> = Vec::new();
        let mut walk = ChainWalk::new("VMDK chain");
        let mut next = Some(src);
        while let Some(src) = next.take() {
            walk.enter(src.path())?;
            let layer = Layer::open(src)?;
            if let Some(prev) = layers.last() {
                check_cid(prev, &layer)?;
            }
            next = parent_of(&layer)?;
            layers.push(layer);
        }
        let sizes: Vec<(&Path, u64)> = layers.iter().map(|l| (l.src().path(), l.size)).collect();
        let warnings = size_warnings(&sizes);
        Ok(VmdkImage { layers, warnings })
    }

    pub fn top(&self) -> &Layer {
        &self.layers[0]
    }

    fn read_layer(&self, i: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let Some(layer) = self.layers.get(i) else {
            buf.fill(0);
            return Ok(());
        };
        let mut done = 0usize;
        while done < buf.len() {
            let off = offset + done as u64;
            let rest = &mut buf[done..];
            let Some(p) = layer.piece_at(off) else {
                rest.fill(0); // past this parent's end
                return Ok(());
            };
            let rel = off - p.start;
            let n = min_len(rest.len(), p.len - rel);
            let chunk = &mut rest[..n];
            match &p.data {
                Data::Zero => chunk.fill(0),
                Data::Flat { file, offset } => layer.files[*file].read_exact_at(
                    offset + rel,
                    chunk,
                    "VMDK flat extent data",
                )?,
                Data::Sparse(x) => {
                    let mut pos = 0usize;
                    while pos < n {
                        let r = rel + pos as u64;
                        let (g, in_g) = (r / x.grain_bytes, r % x.grain_bytes);
                        let m = min_len(n - pos, x.grain_bytes - in_g);
                        let part = &mut chunk[pos..pos + m];
                        match x.grain(g) {
                            Grain::Unallocated => self.read_layer(i + 1, off + pos as u64, part)?,
                            Grain::Zero => part.fill(0),
                            Grain::At(s) => {
                                x.read_grain(&layer.files[x.win.file], g, s, in_g, part)?
                            }
                        }
                        pos += m;
                    }
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Whether `offset..offset + len` of layer `i` (or what shows through it) may hold data.
    fn may_have_data(&self, i: usize, offset: u64, len: u64) -> bool {
        let Some(layer) = self.layers.get(i) else {
            return false;
        };
        let end = offset.saturating_add(len).min(layer.size);
        let mut off = offset;
        while off < end {
            let Some(p) = layer.piece_at(off) else {
                return false;
            };
            let pend = (p.start + p.len).min(end);
            match &p.data {
                Data::Zero => {}
                Data::Flat { .. } => return true,
                Data::Sparse(x) => {
                    let mut o = off;
                    while o < pend {
                        let g = (o - p.start) / x.grain_bytes;
                        let gend = (p.start + (g + 1) * x.grain_bytes).min(pend);
                        match x.grain(g) {
                            Grain::At(_) => return true,
                            Grain::Zero => {}
                            Grain::Unallocated => {
                                if self.may_have_data(i + 1, o, gend - o) {
                                    return true;
                                }
                            }
                        }
                        o = gend;
                    }
                }
            }
            off = pend;
        }
        false
    }
}

/// The parent a layer's descriptor names, opened; `None` for a base disk.
fn parent_of(layer: &Layer) -> Result<Option<SourceFile>> {
    let Some(d) = &layer.descriptor else {
        return Ok(None);
    };
    if !d.has_parent() {
        return Ok(None);
    }
    let path = layer.src().path();
    let hint = d.parent_hint.as_deref().filter(|h| !h.is_empty()).ok_or_else(|| {
        chain_error(
            path,
            format!(
                "parentCID is {:08x} but the descriptor has no parentFileNameHint to find the parent by",
                d.parent_cid.unwrap_or(CID_NONE)
            ),
        )
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let p = dir.join(hint.replace('\\', "/"));
    SourceFile::open(&p).map(Some).map_err(|e| {
        chain_error(
            path,
            format!(
                "parent \"{}\" (parentFileNameHint, relative to the descriptor's folder) cannot be opened: {e}",
                crate::text::escape(hint)
            ),
        )
    })
}

fn check_cid(child: &Layer, parent: &Layer) -> Result<()> {
    let want = child.descriptor.as_ref().and_then(|d| d.parent_cid);
    let have = parent.descriptor.as_ref().and_then(|d| d.cid);
    if want != have {
        let hex = |c: Option<u32>| c.map_or("none".into(), |c| format!("{c:08x}"));
        return Err(chain_error(
            child.src().path(),
            format!(
                "parentCID {} does not match the CID {} of its parent {}: the parent was changed after the child was made",
                hex(want),
                hex(have),
                parent.src().path().display()
            ),
        ));
    }
    Ok(())
}

impl VirtualDisk for VmdkImage {
    fn size(&self) -> u64 {
        self.top().size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_read(self.top().src().path(), self.size(), offset, buf.len())?;
        self.read_layer(0, offset, buf)
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        let top = self.top();
        let p = top
            .piece_at(offset)
            .ok_or_else(|| extent_past_end(offset))?;
        let pend = p.start + p.len;
        let (kind, end) = match &p.data {
            Data::Zero => (ExtentKind::Zero, pend),
            Data::Flat { file, offset: fo } => {
                // The flat file's own holes are the disk's (a split flat disk is mostly holes).
                let at = fo + (offset - p.start);
                let back = |file_at: u64| (p.start + (file_at - fo)).clamp(offset + 1, pend);
                match top.files[*file].data_region(at) {
                    Some((data, _)) if data > at => (ExtentKind::Zero, back(data)),
                    Some((_, hole)) => (ExtentKind::Data, back(hole)),
                    None => (ExtentKind::Data, pend),
                }
            }
            Data::Sparse(x) => {
                // A grain at a time, or a whole grain table's span when the table is missing
                // (so a huge empty extent is not walked grain by grain).
                let g = x.grain_bytes;
                let span = g * u64::from(super::header::GTES_PER_GT);
                let step = |o: u64| {
                    let rel = o - p.start;
                    let unit = if x.table_missing(rel / g) { span } else { g };
                    (p.start + (rel / unit + 1) * unit).min(pend)
                };
                let first = self.may_have_data(0, offset, step(offset) - offset);
                let mut end = step(offset);
                while end < pend && self.may_have_data(0, end, step(end) - end) == first {
                    end = step(end);
                }
                let kind = if first {
                    ExtentKind::Data
                } else {
                    ExtentKind::Zero
                };
                (kind, end)
            }
        };
        Ok(Extent {
            kind,
            len: end.min(size) - offset,
        })
    }
}
