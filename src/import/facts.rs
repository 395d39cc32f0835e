//! What an image file says about itself for an import: its ImportImage format, its size,
//! what `inspect` found inside, and what identifies its content.

use std::path::Path;

use crate::error::{Error, Result};
use crate::image::{Image, VirtualDisk};
use crate::plan::form;
use crate::plan::sent::Bytes;
use crate::plan::{self, Detected, ImageFacts, ImageFormat};

/// What the image says about itself: its format and size, and what `inspect` found inside
/// (architecture, OS, platform, boot mode, the space its partitions and file systems need),
/// each with its evidence.
pub fn image_facts(path: &Path, img: &Image, format: Option<ImageFormat>) -> Result<ImageFacts> {
    image_facts_and_report(path, img, format).map(|(f, _)| f)
}

/// [`image_facts`] and the whole inspection report (its readiness findings and warnings).
pub fn image_facts_and_report(
    path: &Path,
    img: &Image,
    format: Option<ImageFormat>,
) -> Result<(ImageFacts, crate::disk::DiskReport)> {
    // fstat of the open file: the identity is the file whose bytes are read and uploaded.
    let meta = img
        .file()
        .file()
        .metadata()
        .map_err(|e| Error::io(path, e))?;
    let fingerprint = identity(&meta, img);
    let (format, sending) = form::sending(img, format, meta.len(), &fingerprint, vhd_time(&meta))?;
    if format == ImageFormat::Vhd && sending.bytes == Bytes::File {
        check_vhd_table(path, img)?;
    }
    // The typed values the report shows by name: nothing is parsed back from its text.
    let (disk, guest) = plan::reading::inspect(img);
    let f = &disk.import;
    let facts = ImageFacts {
        path: path.to_path_buf(),
        format,
        virtual_size: img.size(),
        min_size: plan::Fact::known(f.min_disk_bytes, f.min_disk_evidence.clone()),
        architecture: guest.architecture_seen(),
        os_type: guest.os_type.map(Detected::Api),
        platform: guest.platform.map(Detected::Api),
        boot_mode: guest.boot_mode.map(Detected::Api),
        identity: fingerprint,
        sending,
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

/// The file's modification time in VHD seconds (since 2000-01-01 UTC), 0 before then: the
/// streamed VHD's timestamp, the same on every run of the same file.
fn vhd_time(meta: &std::fs::Metadata) -> u32 {
    const VHD_EPOCH: u64 = 946_684_800;
    let secs = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs.saturating_sub(VHD_EPOCH)).unwrap_or(u32::MAX)
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
