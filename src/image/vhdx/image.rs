//! An opened VHDX and, for a differencing disk, its parents down to the base: the virtual disk
//! they make together.

use std::path::PathBuf;

use super::bat::PayloadState;
use super::file::{Source, VhdxFile};
use super::parent::find_parent;
use crate::error::{Error, Result};
use crate::image::fit::min_len;
use crate::image::source::SourceFile;
use crate::image::{Extent, ExtentKind, VirtualDisk};

/// The deepest differencing chain we follow (as for VHD).
pub const MAX_CHAIN_DEPTH: usize = 32;

#[derive(Debug)]
pub struct VhdxImage {
    /// `layers[0]` is the file opened; each next one is the parent of the one before.
    pub layers: Vec<VhdxFile>,
    /// How each parent was found (the locator key), for every layer but the first.
    pub found_via: Vec<String>,
    pub warnings: Vec<String>,
}

impl VhdxImage {
    pub fn from_source(src: SourceFile) -> Result<VhdxImage> {
        let top = VhdxFile::open(src)?;
        let mut seen = vec![canonical(top.src().path())];
        let mut layers = vec![top];
        let mut found_via = Vec::new();
        let mut warnings = Vec::new();
        while let Some(last) = layers.last().filter(|l| l.differencing()) {
            if layers.len() >= MAX_CHAIN_DEPTH {
                return Err(Error::Chain {
                    path: layers[0].src().path().to_path_buf(),
                    what: format!(
                        "differencing chain is deeper than {MAX_CHAIN_DEPTH} files (imgtool's limit, vhdx::MAX_CHAIN_DEPTH)"
                    ),
                });
            }
            let (parent, via, _tried) = find_parent(last)?;
            let canon = canonical(parent.src().path());
            if seen.contains(&canon) {
                let chain: Vec<String> = seen.iter().map(|p| p.display().to_string()).collect();
                return Err(Error::Chain {
                    path: layers[0].src().path().to_path_buf(),
                    what: format!(
                        "differencing chain loops back to a file already in it: {} -> {}",
                        chain.join(" -> "),
                        canon.display()
                    ),
                });
            }
            if parent.virtual_size() != last.virtual_size()
                || parent.meta.logical_sector_size != last.meta.logical_sector_size
            {
                warnings.push(format!(
                    "{}: its parent {} is {} bytes with {}-byte sectors, the child {} bytes with {}-byte sectors",
                    last.src().path().display(),
                    parent.src().path().display(),
                    parent.virtual_size(),
                    parent.meta.logical_sector_size,
                    last.virtual_size(),
                    last.meta.logical_sector_size
                ));
            }
            seen.push(canon);
            found_via.push(via);
            layers.push(parent);
        }
        Ok(VhdxImage {
            layers,
            found_via,
            warnings,
        })
    }

    pub fn top(&self) -> &VhdxFile {
        &self.layers[0]
    }

    fn read_layer(&self, i: usize, offset: u64, buf: &mut [u8]) -> Result<()> {
        let Some(layer) = self.layers.get(i) else {
            buf.fill(0);
            return Ok(());
        };
        // A parent smaller than its child reads as zeros past its end.
        let avail = layer.virtual_size().saturating_sub(offset);
        let n = min_len(buf.len(), avail);
        let (inside, past) = buf.split_at_mut(n);
        past.fill(0);
        let bs = layer.block_size();
        let mut done = 0usize;
        while done < inside.len() {
            let at = offset + done as u64;
            let in_block = at % bs;
            let n = min_len(inside.len() - done, bs - in_block);
            let chunk = &mut inside[done..done + n];
            match layer.block_source(at)? {
                (_, Source::Zero) => chunk.fill(0),
                (_, Source::Parent) => self.read_layer(i + 1, at, chunk)?,
                (PayloadState::PartiallyPresent, Source::File(base)) => {
                    self.read_partial(i, layer, at, base + in_block, chunk)?
                }
                (_, Source::File(base)) => {
                    layer
                        .view
                        .read_exact_at(base + in_block, chunk, "VHDX payload block")?
                }
            }
            done += n;
        }
        Ok(())
    }

    /// Part of a partially present block: sectors whose bitmap bit is set come from this file,
    /// the others from the parent.
    fn read_partial(
        &self,
        i: usize,
        layer: &VhdxFile,
        at: u64,
        file_at: u64,
        chunk: &mut [u8],
    ) -> Result<()> {
        let ss = u64::from(layer.meta.logical_sector_size);
        let first = at / ss;
        let last = (at + chunk.len() as u64).div_ceil(ss);
        for (s, count, present) in layer.bitmap_runs(first, last - first)? {
            let from = (s * ss).max(at);
            let to = ((s + count) * ss).min(at + chunk.len() as u64);
            // from and to are clipped to at..at + chunk.len(): both differences fit a usize.
            #[allow(clippy::cast_possible_truncation)]
            let part = &mut chunk[(from - at) as usize..(to - at) as usize];
            if present {
                layer
                    .view
                    .read_exact_at(file_at + (from - at), part, "VHDX payload block")?;
            } else {
                self.read_layer(i + 1, from, part)?;
            }
        }
        Ok(())
    }

    /// Might the block holding `offset` hold data in any layer?
    fn block_has_data(&self, offset: u64) -> Result<bool> {
        for layer in &self.layers {
            if offset >= layer.virtual_size() {
                return Ok(false);
            }
            match layer.block_source(offset)?.1 {
                Source::File(_) => return Ok(true),
                Source::Zero => return Ok(false),
                Source::Parent => {}
            }
        }
        Ok(false)
    }

    /// The smallest block size in the chain: the granularity of `extent`.
    fn granule(&self) -> u64 {
        self.layers
            .iter()
            .map(VhdxFile::block_size)
            .min()
            .unwrap_or(1 << 20)
    }
}

fn canonical(p: &std::path::Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl VirtualDisk for VhdxImage {
    fn size(&self) -> u64 {
        self.top().virtual_size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.size()) {
            return Err(Error::Usage(format!(
                "{}: read of {} bytes at {offset} runs past the end of the {}-byte virtual disk",
                self.top().src().path().display(),
                buf.len(),
                self.size()
            )));
        }
        self.read_layer(0, offset, buf)
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        if offset >= size {
            return Err(Error::Usage(format!(
                "extent query at {offset} past the end of the disk"
            )));
        }
        let g = self.granule();
        let first = self.block_has_data(offset)?;
        let mut end = (offset / g + 1) * g;
        while end < size && self.block_has_data(end)? == first {
            end += g;
        }
        Ok(Extent {
            kind: if first {
                ExtentKind::Data
            } else {
                ExtentKind::Zero
            },
            len: end.min(size) - offset,
        })
    }
}
