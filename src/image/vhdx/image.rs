//! An opened VHDX and, for a differencing disk, its parents down to the base: the virtual disk
//! they make together.

use super::bat::PayloadState;
use super::file::{Source, VhdxFile};
use super::parent::find_parent;
use crate::error::Result;
use crate::image::chain::ChainWalk;
use crate::image::fit::{min_len, zero_past};
use crate::image::source::SourceFile;
use crate::image::virtual_disk::{check_read, extent_past_end};
use crate::image::{Extent, ExtentKind, VirtualDisk};

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
        let mut walk = ChainWalk::new("differencing chain");
        walk.enter(src.path())?;
        let mut layers = vec![VhdxFile::open(src)?];
        let mut found_via = Vec::new();
        let mut warnings = Vec::new();
        while let Some(last) = layers.last().filter(|l| l.differencing()) {
            let (parent, via, _tried) = find_parent(last)?;
            walk.enter(parent.src().path())?;
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
        let inside = zero_past(buf, offset, layer.virtual_size());
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

impl VirtualDisk for VhdxImage {
    fn size(&self) -> u64 {
        self.top().virtual_size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_read(self.top().src().path(), self.size(), offset, buf.len())?;
        self.read_layer(0, offset, buf)
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        if offset >= size {
            return Err(extent_past_end(offset));
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
