//! `imgtool check` for VHDX: everything `open` validates, each problem with its offset, plus
//! the file's layout (no two structures or blocks sharing bytes) and the log's state. Read-only.

use std::path::Path;

use super::bat::{PayloadState, Slot};
use super::file::VhdxFile;
use super::header::MIB;
use super::image::VhdxImage;
use crate::error::{Error, Result};
use crate::image::finding::{CheckReport, Finding, Severity};
use crate::image::format::Kind;
use crate::image::source::SourceFile;

/// Overlaps reported one by one before the rest are counted in one finding.
const MAX_OVERLAP_FINDINGS: usize = 100;

pub fn check(path: &Path) -> Result<CheckReport> {
    let src = SourceFile::open(path)?;
    let mut r = CheckReport::new(Kind::Vhdx);
    let img = match VhdxImage::from_source(src) {
        Ok(img) => img,
        Err(e) => {
            r.findings.push(fatal(e)?);
            // A damaged header beside the fatal problem is worth saying too.
            if let Ok(src) = SourceFile::open(path) {
                if let Ok(h) = super::header::read_headers(&src) {
                    for f in h.slots.iter().filter_map(|s| s.as_ref().err()) {
                        r.findings.push(f.clone());
                    }
                }
            }
            return Ok(r);
        }
    };
    let top = img.top();
    r.disk_type = Some(top.disk_type());
    for (i, l) in img.layers.iter().enumerate() {
        let name = |f: Finding| {
            if i == 0 {
                f
            } else {
                Finding {
                    field: format!("{} (parent {}): {}", f.field, l.src().path().display(), ""),
                    ..f
                }
            }
        };
        for f in &l.findings {
            r.findings.push(name(f.clone()));
        }
    }
    for w in &img.warnings {
        r.findings.push(Finding::new(
            Severity::Warning,
            0,
            "parent chain",
            w.clone(),
            "a parent of the same size and sector size",
        ));
    }
    // Every entry of every BAT (opening reads them only as reads need them).
    match check_layout(top, &mut r.findings) {
        Ok(present) => r.blocks_checked = present,
        Err(e) => r.findings.push(fatal(e)?),
    }
    for l in img.layers.iter().skip(1) {
        if let Err(e) = l.bat.summary(&l.view) {
            r.findings.push(fatal(e)?);
        }
    }
    Ok(r)
}

/// An error that stops `open` as a fatal finding; I/O errors stay errors (exit 2).
fn fatal(e: Error) -> Result<Finding> {
    let f = match e {
        Error::Malformed {
            offset,
            field,
            found,
            expected,
            ..
        } => Finding::new(Severity::Error, offset, field, found, expected),
        Error::Chain { what, .. } => Finding::new(
            Severity::Error,
            0,
            "parent chain",
            what,
            "a parent that can be found and whose data write GUID is the child's parent_linkage",
        ),
        Error::Unsupported { what, .. } => Finding::new(
            Severity::Error,
            0,
            "VHDX structure",
            what,
            "only structures the VHDX specification defines as required",
        ),
        other => return Err(other),
    };
    Ok(f.fatal())
}

/// Every structure and allocated block of the file as a byte range, then any two that share
/// bytes. The number of present payload blocks; `Err` for a BAT entry that cannot be followed.
fn check_layout(l: &VhdxFile, out: &mut Vec<Finding>) -> Result<u64> {
    let mut ranges: Vec<(u64, u64, String, u64)> = vec![(0, MIB, "header section".into(), 0)];
    for reg in &l.regions.all {
        ranges.push((
            reg.file_offset,
            reg.file_offset.saturating_add(u64::from(reg.length)),
            format!("{} region", reg.name()),
            reg.entry_offset,
        ));
    }
    let h = &l.headers.header;
    if h.log_length != 0 {
        ranges.push((
            h.log_offset,
            h.log_offset.saturating_add(u64::from(h.log_length)),
            "log".into(),
            h.offset + 72,
        ));
    }
    let bat = &l.bat;
    let mut present = 0u64;
    bat.scan(&l.view, |slot| match slot {
        Slot::Payload {
            block: b,
            state: PayloadState::FullyPresent | PayloadState::PartiallyPresent,
            at,
        } => {
            present += 1;
            let start = b * bat.block_size;
            let need = bat.block_size.min(l.virtual_size() - start);
            ranges.push((
                at,
                at.saturating_add(need),
                format!("payload block {b}"),
                bat.offset + bat.payload_index(b) * 8,
            ));
        }
        Slot::Payload { .. } => {}
        Slot::Bitmap { chunk: c, at } => ranges.push((
            at,
            at.saturating_add(MIB),
            format!("sector bitmap of chunk {c}"),
            bat.offset + bat.bitmap_index(c) * 8,
        )),
    })?;
    ranges.sort_by_key(|r| (r.0, r.1));
    let mut reported = 0usize;
    let mut more = 0u64;
    // The range reaching furthest so far: anything starting before its end overlaps it.
    let mut reach: Option<&(u64, u64, String, u64)> = None;
    for r in &ranges {
        if let Some(p) = reach {
            if r.0 < p.1 {
                if reported < MAX_OVERLAP_FINDINGS {
                    out.push(Finding::new(
                        Severity::Error,
                        r.3,
                        format!("{} position", r.2),
                        format!(
                            "{}..{}, overlapping the {} at {}..{}",
                            r.0, r.1, p.2, p.0, p.1
                        ),
                        "structures and blocks that share no bytes",
                    ));
                    reported += 1;
                } else {
                    more += 1;
                }
            }
        }
        if reach.is_none_or(|p| r.1 > p.1) {
            reach = Some(r);
        }
    }
    if more > 0 {
        out.push(Finding::new(
            Severity::Error,
            bat.offset,
            "BAT",
            format!("{more} more overlapping ranges"),
            "structures and blocks that share no bytes",
        ));
    }
    Ok(present)
}
