//! A qcow2 image with its backing chain: the top file's active layer, then whatever lies
//! behind it (qcow2, RAW or VHD), each opened by its own reader.

use super::header::has_magic;
use super::layer::{Qcow2File, Run, resolve};
use crate::error::{Error, Result};
use crate::image::chain::ChainWalk;
use crate::image::fit::{min_len, zero_past};
use crate::image::foreign;
use crate::image::format::{Format, Kind};
use crate::image::raw::RawImage;
use crate::image::source::SourceFile;
use crate::image::vhd::{VhdImage, looks_like_vhd};
use crate::image::virtual_disk::{Extent, ExtentKind, VirtualDisk, check_read, extent_past_end};
use crate::image::{vhdx, vmdk};

/// How many runs one `extent` call looks at before answering with what it has.
const MAX_EXTENT_STEPS: usize = 4096;

#[derive(Debug)]
pub struct Qcow2Image {
    pub top: Qcow2File,
    /// The backing file, opened by its own reader, and how its format was decided.
    pub backing: Option<Box<dyn Format>>,
    pub backing_via: Option<&'static str>,
}

impl Qcow2Image {
    pub fn open(src: SourceFile) -> Result<Qcow2Image> {
        Self::open_chain(src, &mut ChainWalk::new("qcow2 backing chain"))
    }

    fn open_chain(src: SourceFile, walk: &mut ChainWalk) -> Result<Qcow2Image> {
        walk.enter(src.path())?;
        let top = Qcow2File::open(src)?;
        let (backing, backing_via) = match top.header.backing_file.clone() {
            None => (None, None),
            Some(name) => {
                let (b, via) = open_backing(&top, &name, walk)?;
                (Some(b), Some(via))
            }
        };
        Ok(Qcow2Image {
            top,
            backing,
            backing_via,
        })
    }

    /// Read from behind the top file: the backing file where it reaches, zeros past it.
    fn read_backing(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let Some(b) = &self.backing else {
            buf.fill(0);
            return Ok(());
        };
        let inside = zero_past(buf, offset, b.size());
        if inside.is_empty() {
            return Ok(());
        }
        b.read_at(offset, inside)
    }

    /// Whether the run at `offset` (`len` bytes at most) is data or zeros, and how long.
    fn kind_at(&self, offset: u64) -> Result<(ExtentKind, u64)> {
        let (run, len) = self.top.run(offset)?;
        Ok(match run {
            Run::Zero => (ExtentKind::Zero, len),
            Run::Data { .. } | Run::Compressed { .. } => (ExtentKind::Data, len),
            Run::Backing => match &self.backing {
                Some(b) if offset < b.size() => {
                    let e = b.extent(offset)?;
                    (e.kind, e.len.min(len))
                }
                _ => (ExtentKind::Zero, len),
            },
        })
    }
}

/// Open the backing file named `name` by `top`: the format `backing_fmt` names, or the one its
/// contents show (qcow2, VHD, else RAW; foreign formats refused by name).
fn open_backing(
    top: &Qcow2File,
    name: &str,
    walk: &mut ChainWalk,
) -> Result<(Box<dyn Format>, &'static str)> {
    let path = top.src.path();
    if name.starts_with("json:") || name.contains("://") {
        return Err(Error::Chain {
            path: path.to_path_buf(),
            what: format!("backing file {name:?} is not a file name; imgtool follows files only"),
        });
    }
    let src = SourceFile::open(resolve(path, name)).map_err(|e| Error::Chain {
        path: path.to_path_buf(),
        what: format!("cannot open its backing file {name:?}: {e}"),
    })?;
    let fmt = top.header.backing_format.as_deref();
    let kind = match fmt {
        Some("qcow2") => Kind::Qcow2,
        Some("raw") => Kind::Raw,
        Some("vpc") | Some("vhd") => Kind::Vhd,
        Some("vhdx") => Kind::Vhdx,
        Some("vmdk") => Kind::Vmdk,
        Some(other) => {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                what: format!(
                    "its backing file {name:?} has format {other:?}; imgtool reads qcow2, raw, vpc (VHD), vhdx and vmdk backing files"
                ),
            });
        }
        None if has_magic(&src)? => Kind::Qcow2,
        None => {
            if let Some(f) = foreign::detect(&src)? {
                return Err(foreign::refuse(&src, f));
            }
            if (vhdx::ENTRY.probe)(&src)? {
                Kind::Vhdx
            } else if (vmdk::ENTRY.probe)(&src)? {
                Kind::Vmdk
            } else if looks_like_vhd(&src)? {
                Kind::Vhd
            } else {
                Kind::Raw
            }
        }
    };
    let via = if fmt.is_some() {
        "backing format extension"
    } else {
        "contents"
    };
    let b: Box<dyn Format> = match kind {
        Kind::Qcow2 => Box::new(Qcow2Image::open_chain(src, walk)?),
        Kind::Vhd => Box::new(VhdImage::from_source(src)?),
        Kind::Raw => Box::new(RawImage::from_source(src)),
        Kind::Vhdx => (vhdx::ENTRY.open)(src)?,
        Kind::Vmdk => (vmdk::ENTRY.open)(src)?,
    };
    Ok((b, via))
}

impl VirtualDisk for Qcow2Image {
    fn size(&self) -> u64 {
        self.top.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_read(self.top.src.path(), self.size(), offset, buf.len())?;
        // Metadata first, in order; whole compressed clusters are set aside and inflated
        // afterwards on rayon's threads, each straight into its part of `buf`.
        let mut whole: Vec<(u64, u64, &mut [u8])> = Vec::new();
        let mut rest: &mut [u8] = buf;
        let mut off = offset;
        while !rest.is_empty() {
            let (run, len) = self.top.run(off)?;
            let n = min_len(rest.len(), len);
            let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            match run {
                Run::Backing => self.read_backing(off, chunk)?,
                Run::Zero => chunk.fill(0),
                Run::Data { host } => self.top.read_data(host, chunk)?,
                Run::Compressed { host, len, at }
                    if at == 0 && n as u64 == self.top.cluster_size() =>
                {
                    whole.push((host, len, chunk));
                }
                Run::Compressed { host, len, at } => {
                    let c = self.top.cluster(host, len)?;
                    // An offset inside one cluster (at most 2 MiB).
                    #[allow(clippy::cast_possible_truncation)]
                    let at = at as usize;
                    let src = c.get(at..at + n).ok_or_else(|| {
                        Error::Usage(format!(
                            "compressed cluster at {host:#x}: read past its end"
                        ))
                    })?;
                    chunk.copy_from_slice(src);
                }
            }
            off += n as u64;
        }
        if whole.len() < 2 {
            for (host, len, chunk) in whole {
                self.top.decompress(host, len, chunk)?;
            }
            return Ok(());
        }
        use rayon::prelude::*;
        whole
            .into_par_iter()
            .try_for_each(|(host, len, chunk)| self.top.decompress(host, len, chunk))
    }

    fn extent(&self, offset: u64) -> Result<Extent> {
        let size = self.size();
        if offset >= size {
            return Err(extent_past_end(offset));
        }
        let (kind, mut len) = self.kind_at(offset)?;
        for _ in 0..MAX_EXTENT_STEPS {
            let next = offset + len;
            if next >= size {
                break;
            }
            let (k, more) = self.kind_at(next)?;
            if k != kind {
                break;
            }
            len += more;
        }
        Ok(Extent {
            kind,
            len: len.min(size - offset).max(1),
        })
    }
}
