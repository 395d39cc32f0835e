//! What an image file says about itself for an import: its ImportImage format, its size,
//! what `inspect` found inside, and what identifies its content.

use std::path::Path;

use crate::cloud::plan::{self, Format, ImageFacts};
use crate::error::{Error, Result};
use crate::image::{Image, VirtualDisk};

/// What the image says about itself: its format and size, and what `inspect` found inside
/// (architecture, OS, platform, boot mode, the space its partitions and file systems need),
/// each with its evidence.
pub fn image_facts(path: &Path, img: &Image, format: Option<&str>) -> Result<ImageFacts> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let format = format_of(path, img, format)?;
    if format == Format::Vhd {
        check_vhd_table(path, img)?;
    }
    let disk = crate::disk::inspect_disk(img);
    let f = &disk.import;
    let fact = |x: &crate::disk::report::Fact| plan::Fact::found(x.value.as_deref(), &x.because);
    Ok(ImageFacts {
        path: path.to_path_buf(),
        format,
        virtual_size: img.size(),
        min_size: Some(plan::Fact {
            value: f.min_disk_bytes,
            evidence: f.min_disk_evidence.clone(),
        }),
        architecture: fact(&f.architecture),
        os_type: fact(&f.os_type),
        platform: fact(&f.platform),
        boot_mode: fact(&f.boot_mode),
        identity: identity(&meta, img),
    })
}

/// The format ImportImage is told. A differencing VHD cannot go up as it is (only its chain
/// as a whole is a disk), so it goes up as RAW, read through the chain while uploading.
pub fn format_of(path: &Path, img: &Image, asked: Option<&str>) -> Result<Format> {
    match (img, asked) {
        (Image::Raw(_), Some("vhd")) => Err(Error::Usage(format!(
            "{}: --format vhd, but the file is RAW; leave out --format",
            path.display()
        ))),
        (Image::Raw(_), _) => Ok(Format::Raw),
        (Image::Vhd(v), Some("vhd")) if v.layers.len() > 1 => Err(Error::Usage(format!(
            "{}: a differencing VHD holds only the changes to its parent, and ECS cannot import it \
             as it is; leave out --format (or pass --format raw) to upload the whole chain as RAW",
            path.display()
        ))),
        (Image::Vhd(v), None) if v.layers.len() > 1 => Ok(Format::Raw),
        (Image::Vhd(_), Some("raw")) => Ok(Format::Raw),
        (Image::Vhd(_), _) => Ok(Format::Vhd),
    }
}

/// What identifies this image's content for the ClientToken: size and mtime, and for a VHD
/// its unique id.
fn identity(meta: &std::fs::Metadata, img: &Image) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut id = format!("size={};mtime={mtime}", meta.len());
    if let Image::Vhd(v) = img {
        id.push_str(&format!(
            ";vhd={}",
            crate::image::vhd::footer::uuid_string(&v.top().footer.unique_id)
        ));
    }
    id
}

/// The rule behind ImportImage's `InvalidVHDImage.IncorrectSize`: a dynamic VHD's block table
/// (MaxTableEntries x BlockSize) must cover the disk size its footer states. Checked for every
/// VHD that goes up as a VHD, before anything is sent.
pub fn check_vhd_table(path: &Path, img: &Image) -> Result<()> {
    let Image::Vhd(v) = img else { return Ok(()) };
    let top = v.top();
    let Some(sparse) = &top.sparse else {
        return Ok(());
    };
    let h = &sparse.header;
    let covered = u64::from(h.max_table_entries).saturating_mul(u64::from(h.block_size));
    let size = top.footer.current_size;
    if covered < size {
        return Err(Error::Usage(format!(
            "{}: the dynamic header's MaxTableEntries {} x BlockSize {} = {covered} bytes is less \
             than the disk size {size} bytes in the footer; ImportImage refuses such a VHD \
             (InvalidVHDImage.IncorrectSize). Repair it, or upload it as RAW: --format raw",
            path.display(),
            h.max_table_entries,
            h.block_size
        )));
    }
    Ok(())
}
