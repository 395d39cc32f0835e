//! What an image file says about itself for an import: its ImportImage format, its size,
//! what `inspect` found inside, and what identifies its content.

use std::path::Path;

use crate::cloud::form;
use crate::cloud::plan::{self, Format, ImageFacts};
use crate::error::{Error, Result};
use crate::image::{Image, VirtualDisk};

/// What the image says about itself: its format and size, and what `inspect` found inside
/// (architecture, OS, platform, boot mode, the space its partitions and file systems need),
/// each with its evidence.
pub fn image_facts(path: &Path, img: &Image, format: Option<&str>) -> Result<ImageFacts> {
    image_facts_and_report(path, img, format).map(|(f, _)| f)
}

/// [`image_facts`] and the whole inspection report (its readiness findings and warnings).
pub fn image_facts_and_report(
    path: &Path,
    img: &Image,
    format: Option<&str>,
) -> Result<(ImageFacts, crate::disk::DiskReport)> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let (format, _) = form::import_format(img, format)?;
    if format == Format::Vhd {
        check_vhd_table(path, img)?;
    }
    let disk = crate::disk::inspect_disk(img);
    let f = &disk.import;
    let fact = |x: &crate::disk::report::Fact| plan::Fact::found(x.value.as_deref(), &x.because);
    let facts = ImageFacts {
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
    };
    Ok((facts, disk))
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
    if let Some(more) = img.identity() {
        id.push(';');
        id.push_str(&more);
    }
    id
}

/// The rule behind ImportImage's `InvalidVHDImage.IncorrectSize`: a dynamic VHD's block table
/// (MaxTableEntries x BlockSize) must cover the disk size its footer states. Checked for every
/// file that goes up as it is, before anything is sent.
pub fn check_vhd_table(path: &Path, img: &Image) -> Result<()> {
    img.tables_cover_disk().map_err(|why| {
        Error::Usage(format!(
            "{}: {why}; ImportImage refuses such a VHD (InvalidVHDImage.IncorrectSize). Repair \
             it, or upload it as RAW: --format raw",
            path.display()
        ))
    })
}
