//! `check` for any image: find the format as `open` does, then run that format's checker,
//! which goes on past what it finds so one run lists every problem.

use std::path::Path;

pub use super::finding::CheckReport;
use super::foreign;
use super::registry::{FORMATS, named_format, open};
use super::source::SourceFile;
use crate::error::Result;
use crate::text::human;

/// Check the image at `path`. `Err` only when the file cannot be read as an image at all.
pub fn check(path: &Path) -> Result<CheckReport> {
    let src = SourceFile::open(path)?;
    if let Some(f) = foreign::detect(&src)? {
        return Err(foreign::refuse(&src, f));
    }
    for entry in FORMATS {
        // A probe's error is a damaged file of its format: its checker lists what is wrong.
        if (entry.probe)(&src).unwrap_or(true) {
            return (entry.check)(path);
        }
    }
    // Nothing claimed the file, but its name says what it should be (a `.vhd` that lost its
    // footer in a partial download): check it as that, so the damage is reported (exit 1)
    // instead of a clean RAW.
    if let Some(entry) = named_format(path) {
        return (entry.check)(path);
    }
    // Let `open` say why a file that is not RAW either cannot be read.
    let img = open(path)?;
    let mut r = CheckReport::new(img.kind());
    r.note = Some(format!(
        "a RAW image of {} has no format structure to check",
        human(src.len())
    ));
    Ok(r)
}
