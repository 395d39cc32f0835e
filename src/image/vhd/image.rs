//! An opened VHD and, for a differencing disk, its parents down to the base: the virtual disk
//! they make together, and how each parent is found.

use std::path::{Path, PathBuf};

use super::file::{Sparse, VhdFile, read_footer};
use super::footer::DiskType;
use super::{footer, parent};
use crate::error::{Error, Result};
use crate::image::chain::{ChainWalk, short_reason, size_warnings};
use crate::image::fit::{min_len, zero_past};
use crate::image::source::SourceFile;
use crate::image::virtual_disk::{check_read, extent_past_end};
use crate::image::{Extent, ExtentKind, VirtualDisk};

/// An opened VHD: the file and, for a differencing disk, its parents down to the base.
#[derive(Debug)]
pub struct VhdImage {
    /// `layers[0]` is the file opened; each next one is the parent of the one before.
    pub layers: Vec<VhdFile>,
    /// How each parent was found: (path tried, where it came from) for every layer but the base.
    pub parent_search: Vec<Vec<(PathBuf, String)>>,
    pub warnings: Vec<String>,
}

impl VhdImage {
    /// Open a VHD and its parents.
    pub fn open(path: impl AsRef<Path>) -> Result<VhdImage> {
        let src = SourceFile::open(path)?;
        Self::from_source(src)
    }

    pub fn from_source(src: SourceFile) -> Result<VhdImage> {
        let mut layers: Vec<VhdFile> = Vec::new();
        let mut parent_search = Vec::new();
        let mut walk = ChainWalk::new("differencing chain");
        let mut next = Some(src);
        while let Some(src) = next.take() {
            walk.enter(src.path())?;
            let layer = VhdFile::open(src)?;
            if layer.footer.kind() == Some(DiskType::Differencing) {
                let (parent, tried) = find_parent(&layer)?;
                parent_search.push(tried);
                next = Some(parent);
            }
            layers.push(layer);
        }
        let sizes: Vec<(&Path, u64)> = layers
            .iter()
            .map(|l| (l.src.path(), l.virtual_size))
            .collect();
        let warnings = size_warnings(&sizes);
        Ok(VhdImage {
            layers,
            parent_search,
            warnings,
        })
    }

    pub fn top(&self) -> &VhdFile {
        &self.layers[0]
    }

    fn read_layer(&self, i: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let Some(layer) = self.layers.get(i) else {
            buf.fill(0);
            return Ok(());
        };
        // A parent smaller than its child reads as zeros past its end.
        let inside = zero_past(buf, offset, layer.virtual_size);
        if inside.is_empty() {
            return Ok(());
        }
        match &layer.sparse {
            None => layer.src.read_exact_at(offset, inside, "fixed VHD data"),
            Some(sp) => self.read_sparse(i, layer, sp, offset, inside),
        }
    }

    fn read_sparse(
        &self,
        i: usize,
        layer: &VhdFile,
        sp: &Sparse,
        mut offset: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let block = offset / sp.block_size;
            let in_block = offset % sp.block_size;
            let n = min_len(buf.len() - done, sp.block_size - in_block);
            let chunk = &mut buf[done..done + n];
            match sp.block_offset(block) {
                None if sp.differencing => self.read_layer(i + 1, offset, chunk)?,
                None => chunk.fill(0),
                Some(at) => {
                    if sp.differencing {
                        self.read_partial(i, layer, sp, block, at, in_block, offset, chunk)?;
                    } else {
                        let data = at + sp.bitmap_size + in_block;
                        layer
                            .src
                            .read_exact_at(data, chunk, "dynamic VHD block data")?;
                    }
                }
            }
            done += n;
            offset += n as u64;
        }
        Ok(())
    }

    /// A block of a differencing disk: sectors whose bitmap bit is set come from this file,
    /// the others from the parent. Runs of equal bits are read in one go.
    #[allow(clippy::too_many_arguments)]
    fn read_partial(
        &self,
        i: usize,
        layer: &VhdFile,
        sp: &Sparse,
        block: u64,
        at: u64,
        in_block: u64,
        offset: u64,
        chunk: &mut [u8],
    ) -> Result<()> {
        let bitmap = layer.bitmap(sp, block, at)?;
        // Bit order is MSB first: sector i is bitmap[i / 8] & (0x80 >> (i % 8)).
        let bit = |byte_in_block: u64| {
            let s = (byte_in_block / 512) as usize;
            bitmap
                .get(s / 8)
                .is_some_and(|b| b & (0x80 >> (s % 8)) != 0)
        };
        let mut pos = 0usize;
        while pos < chunk.len() {
            let here = in_block + pos as u64;
            let mine = bit(here);
            // Extend the run to the end of this sector, then whole sectors with the same bit.
            // here = in_block + pos: the end of its sector is at most pos + 512 past in_block.
            #[allow(clippy::cast_possible_truncation)]
            let mut end = ((here / 512 + 1) * 512 - in_block) as usize;
            while end < chunk.len() && bit(in_block + end as u64) == mine {
                end += 512;
            }
            let end = end.min(chunk.len());
            let part = &mut chunk[pos..end];
            if mine {
                let data = at + sp.bitmap_size + here;
                layer
                    .src
                    .read_exact_at(data, part, "differencing VHD block data")?;
            } else {
                self.read_layer(i + 1, offset + pos as u64, part)?;
            }
            pos = end;
        }
        Ok(())
    }

    /// Might the block holding `offset` hold data in any layer?
    fn block_has_data(&self, offset: u64) -> bool {
        for layer in &self.layers {
            if offset >= layer.virtual_size {
                continue;
            }
            match &layer.sparse {
                None => return true,
                Some(sp) => {
                    if sp.block_offset(offset / sp.block_size).is_some() {
                        return true;
                    }
                    if !sp.differencing {
                        return false;
                    }
                }
            }
        }
        false
    }

    /// The smallest block size in the chain: the granularity of `extent`.
    fn granule(&self) -> Option<u64> {
        self.layers
            .iter()
            .filter_map(|l| l.sparse.as_ref().map(|s| s.block_size))
            .min()
    }
}

impl VirtualDisk for VhdImage {
    fn size(&self) -> u64 {
        self.top().virtual_size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_read(self.top().src.path(), self.size(), offset, buf.len())?;
        self.read_layer(0, offset, buf)
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        if offset >= size {
            return Err(extent_past_end(offset));
        }
        let Some(g) = self.granule() else {
            return Ok(Extent {
                kind: ExtentKind::Data,
                len: size - offset,
            });
        };
        let first = self.block_has_data(offset);
        let mut end = (offset / g + 1) * g;
        while end < size && self.block_has_data(end) == first {
            end += g;
        }
        let kind = if first {
            ExtentKind::Data
        } else {
            ExtentKind::Zero
        };
        Ok(Extent {
            kind,
            len: end.min(size) - offset,
        })
    }
}
/// Find, open and verify the parent of a differencing disk.
fn find_parent(child: &VhdFile) -> Result<(SourceFile, Vec<(PathBuf, String)>)> {
    let Some(sp) = &child.sparse else {
        return Err(Error::Chain {
            path: child.src.path().to_path_buf(),
            what: "differencing disk without a dynamic header".into(),
        });
    };
    let locators = parent::decode_locators(&child.src, &sp.header);
    let tried = parent::parent_paths(child.src.path(), &locators, &sp.header.parent_name_string());
    let mut attempts = Vec::new();
    for (path, from) in &tried {
        match SourceFile::open(path) {
            Ok(src) => {
                let id = parent_unique_id(&src)?;
                if id != sp.header.parent_unique_id {
                    return Err(Error::Chain {
                        path: child.src.path().to_path_buf(),
                        what: format!(
                            "parent {} (from {from}) has unique id {}, but the child's header expects {}",
                            path.display(),
                            footer::uuid_string(&id),
                            footer::uuid_string(&sp.header.parent_unique_id)
                        ),
                    });
                }
                return Ok((src, tried));
            }
            Err(e) => attempts.push(format!(
                "{} (from {from}): {}",
                path.display(),
                short_reason(&e)
            )),
        }
    }
    let bad: Vec<String> = locators
        .iter()
        .filter_map(|l| {
            l.path
                .as_ref()
                .err()
                .map(|e| format!("locator {} ({}): {e}", l.index, l.code))
        })
        .collect();
    let mut what = format!(
        "differencing disk's parent \"{}\" (unique id {}) not found",
        crate::text::escape(&sp.header.parent_name_string()),
        footer::uuid_string(&sp.header.parent_unique_id)
    );
    if attempts.is_empty() {
        what.push_str("; no locator gives a usable path");
    } else {
        what.push_str(&format!("; tried: {}", attempts.join("; ")));
    }
    let named: Vec<String> = locators
        .iter()
        .filter_map(|l| {
            l.path
                .as_ref()
                .ok()
                .map(|p| format!("{} \"{}\"", l.code, crate::text::escape(p)))
        })
        .collect();
    if !named.is_empty() {
        what.push_str(&format!("; the locators say: {}", named.join(", ")));
    }
    if !bad.is_empty() {
        what.push_str(&format!("; unusable locators: {}", bad.join("; ")));
    }
    Err(Error::Chain {
        path: child.src.path().to_path_buf(),
        what,
    })
}

/// The unique id of a would-be parent, from whichever of its footers is valid.
fn parent_unique_id(src: &SourceFile) -> Result<[u8; 16]> {
    let mut findings = Vec::new();
    let (footer, ..) = read_footer(src, &mut findings)?;
    Ok(footer.unique_id)
}
