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
    let format = target(src, dst, format, &how)?;
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
        (InPlace::No(why), _) => return Err(not_in_place(src, &why)),
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
        stale_removed: Vec::new(),
        stale_found: Vec::new(),
    })
}

/// What the file becomes: `--to`, else what DST's extension names, else the other one of RAW
/// and fixed VHD. The name the result ends up with (DST, or SRC when there is none) must not
/// say otherwise: a `.vhd` holding RAW data, or a `.raw` holding a VHD, is refused, so running
/// the same command twice cannot flip the file back and forth.
fn target(src: &Path, dst: Option<&Path>, to: Option<Format>, how: &InPlace) -> Result<Format> {
    // In place only ever makes a fixed VHD: a `.vhd` name means that.
    let named = |p: &Path| {
        Format::from_extension(p).map(|f| match f {
            Format::VhdDynamic => Format::VhdFixed,
            f => f,
        })
    };
    if let InPlace::No(why) = how {
        return Err(not_in_place(src, why));
    }
    let final_name = dst.unwrap_or(src);
    let format = match (to, dst.and_then(named)) {
        (Some(Format::VhdDynamic), _) => {
            return Err(Error::Usage(
                "--in-place makes a fixed VHD (the RAW bytes and a footer), not a dynamic one: \
                 pass --to vhd-fixed, or convert without --in-place"
                    .into(),
            ));
        }
        (Some(t), Some(n)) if t != n => {
            return Err(Error::Usage(format!(
                "{}: the name says {}, but --to says {}; make them agree",
                final_name.display(),
                n.name(),
                t.name()
            )));
        }
        (Some(t), _) => t,
        (None, Some(n)) => n,
        (None, None) => match how {
            InPlace::Raw => Format::VhdFixed,
            _ => Format::Raw,
        },
    };
    let already = matches!(
        (how, format),
        (InPlace::Raw, Format::Raw) | (InPlace::FixedVhd, Format::VhdFixed)
    );
    if already && dst.is_none() {
        return Err(Error::Usage(format!(
            "{}: is already {}; nothing to do",
            src.display(),
            format.name()
        )));
    }
    if let Some(n) = named(final_name).filter(|&n| n != format) {
        return Err(Error::Usage(format!(
            "{}: would hold {} data under a name that says {}; give a DST named for the result \
             (e.g. {})",
            final_name.display(),
            format.name(),
            n.name(),
            final_name
                .with_extension(if format == Format::Raw { "raw" } else { "vhd" })
                .display()
        )));
    }
    Ok(format)
}

fn not_in_place(src: &Path, why: &str) -> Error {
    Error::Usage(format!(
        "{}: {why}; --in-place works only for a fixed VHD whose footer is its last 512 bytes, \
         or a RAW image (convert without it to copy)",
        src.display()
    ))
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
