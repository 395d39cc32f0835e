//! `--in-place`: a fixed VHD is its RAW bytes plus a 512-byte footer, so the conversion
//! either way is one truncate or one 512-byte write, whatever the size. Refused unless the
//! file is exactly what it claims to be.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use super::{Format, Options, Summary, atomic, vhd_meta};
use crate::error::{Error, Result};
use crate::image::vhd::footer::{DATA_OFFSET_NONE, DiskType, FOOTER_SIZE};
use crate::image::{self, InPlace, VirtualDisk};

pub(crate) fn run(
    src: &Path,
    dst: Option<&Path>,
    format: Option<Format>,
    opts: &Options,
) -> Result<Summary> {
    let started = Instant::now();
    let img = image::open(src)?;
    let how = img.in_place();
    let format = format.unwrap_or(match how {
        InPlace::Raw => Format::VhdFixed,
        _ => Format::Raw,
    });
    let rename_to = dst.filter(|d| !is_same_file(src, d));
    if let Some(d) = rename_to {
        atomic::check_destination(&[src.to_path_buf()], d, opts.force)?;
        check_same_file_system(src, d)?;
    }
    let size = img.size();
    let written = match (how, format) {
        (InPlace::FixedVhd, Format::Raw) => {
            drop(img);
            truncate(src, size)?;
            0
        }
        (InPlace::Raw, Format::VhdFixed) => {
            vhd_meta::check_size(src, size, Format::VhdFixed)?;
            drop(img);
            append_footer(src, size)?;
            FOOTER_SIZE as u64
        }
        (InPlace::No(why), _) => {
            return Err(Error::Usage(format!(
                "{}: {why}; --in-place works only for a fixed VHD whose footer is its last 512 \
                 bytes, or a RAW image (convert without it to copy)",
                src.display()
            )));
        }
        (_, f) => {
            return Err(Error::Usage(format!(
                "{}: is {}; --in-place converts only a fixed VHD to raw or a RAW image to \
                 vhd-fixed, not to {}",
                src.display(),
                img.describe(),
                f.name()
            )));
        }
    };
    if let Some(d) = rename_to {
        std::fs::rename(src, d).map_err(|e| Error::io(d, e))?;
        atomic::sync_dir(d)?;
    }
    Ok(Summary {
        source: src.to_path_buf(),
        destination: rename_to.unwrap_or(src).to_path_buf(),
        format: format.name(),
        virtual_size: size,
        bytes_read: 0,
        bytes_written: written,
        holes: 0,
        seconds: started.elapsed().as_secs_f64(),
        verified: false,
        in_place: true,
    })
}

/// The rename at the end cannot cross file systems; find out before the file is changed.
fn check_same_file_system(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let a = std::fs::metadata(src).map_err(|e| Error::io(src, e))?;
    let b = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if a.dev() != b.dev() {
        return Err(Error::Usage(format!(
            "{}: is on another file system than {}; --in-place can only rename within one",
            dst.display(),
            src.display()
        )));
    }
    Ok(())
}

fn is_same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn truncate(src: &Path, size: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(src)
        .map_err(|e| Error::io(src, e))?;
    f.set_len(size).map_err(|e| Error::io(src, e))?;
    f.sync_all().map_err(|e| Error::io(src, e))
}

fn append_footer(src: &Path, size: u64) -> Result<()> {
    let id = vhd_meta::Identity::new()?;
    let footer = vhd_meta::footer(DiskType::Fixed, size, DATA_OFFSET_NONE, &id).to_bytes();
    let f = OpenOptions::new()
        .write(true)
        .open(src)
        .map_err(|e| Error::io(src, e))?;
    let now = f.metadata().map_err(|e| Error::io(src, e))?.len();
    if now != size {
        return Err(Error::Failed(format!(
            "{}: changed size while being converted ({size} -> {now} bytes)",
            src.display()
        )));
    }
    f.write_all_at(&footer, size)
        .map_err(|e| Error::io(src, e))?;
    f.sync_all().map_err(|e| Error::io(src, e))
}
