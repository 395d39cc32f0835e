//! `check` of a sparse extent's tables: the grain directory against the redundant one, every
//! grain table entry (inside the extent, aligned, not overlapping metadata or another grain,
//! a compressed grain's marker naming its own LBA).

use super::header::{
    self, FOOTER_FROM_END, GRAIN_MARKER_SIZE, GTE_UNALLOCATED, GTE_ZERO, GTES_PER_GT, SECTOR,
    SparseHeader,
};
use super::sparse::{MAX_GD_ENTRIES, read_entries};
use super::window::Window;
use crate::image::finding::{CheckReport, Finding, Severity};
use crate::image::source::SourceFile;

/// The most regions (metadata and grains) one extent's overlap check holds (64 MiB).
pub const MAX_CHECKED_REGIONS: usize = 2 << 20;
/// Grain-table differences reported one by one before a summary.
const MAX_GT_DIFFS: usize = 16;

pub(super) fn error_finding(at: u64, field: &str, found: &str, expected: &str) -> Finding {
    Finding::new(
        Severity::Error,
        at,
        field,
        crate::text::escape(found),
        expected,
    )
}

/// A named byte range of the extent, for the overlap check.
#[derive(Clone, Copy)]
enum Tag {
    Meta(&'static str),
    Table(usize),
    Grain(u64),
}

fn tag_name(t: Tag) -> String {
    match t {
        Tag::Meta(m) => m.to_string(),
        Tag::Table(i) => format!("the grain table of directory entry {i}"),
        Tag::Grain(g) => format!("grain {g}"),
    }
}

/// The tables of the extent whose header in use is `h` (`at_end`: a stream with GD_AT_END).
pub(super) fn tables(
    src: &SourceFile,
    win: Window,
    h: &SparseHeader,
    at_end: bool,
    p: &str,
    r: &mut CheckReport,
) {
    let n = h.gd_entries();
    if n > MAX_GD_ENTRIES {
        r.findings.push(
            error_finding(
                win.at(12),
                &format!("{p}grain directory entries"),
                &n.to_string(),
                "at most 4 Mi (imgtool's limit)",
            )
            .fatal(),
        );
        return;
    }
    #[allow(clippy::cast_possible_truncation)] // at most MAX_GD_ENTRIES, checked above
    let gd = match read_entries(src, win, h.gd_offset, n as usize, "grain directory") {
        Ok(gd) => gd,
        Err(e) => {
            r.findings.push(
                error_finding(
                    win.at(56),
                    &format!("{p}grain directory"),
                    &e.to_string(),
                    "a directory inside the file",
                )
                .fatal(),
            );
            return;
        }
    };
    let mut regions: Vec<(u64, u64, Tag)> = vec![(0, SECTOR, Tag::Meta("the header"))];
    if h.descriptor_offset != 0 {
        regions.push((
            h.descriptor_offset * SECTOR,
            (h.descriptor_offset + h.descriptor_size) * SECTOR,
            Tag::Meta("the embedded descriptor"),
        ));
    }
    regions.push((
        h.gd_offset * SECTOR,
        h.gd_offset * SECTOR + n * 4,
        Tag::Meta("the grain directory"),
    ));
    if at_end {
        regions.push((
            win.len - FOOTER_FROM_END - SECTOR,
            win.len,
            Tag::Meta("the footer"),
        ));
    }
    if h.redundant_gd() {
        regions.push((
            h.rgd_offset * SECTOR,
            h.rgd_offset * SECTOR + n * 4,
            Tag::Meta("the redundant grain directory"),
        ));
        compare_rgd(src, win, h, &gd, p, &mut regions, r);
    }
    let gt_bytes = u64::from(GTES_PER_GT) * 4;
    let mut truncated = false;
    for (i, &e) in gd.iter().enumerate() {
        if e == 0 {
            continue;
        }
        let gd_at = win.at(h.gd_offset * SECTOR + i as u64 * 4);
        let gt_at = u64::from(e) * SECTOR;
        let t = match read_entries(src, win, u64::from(e), GTES_PER_GT as usize, "grain table") {
            Ok(t) => t,
            Err(_) => {
                r.findings.push(error_finding(
                    gd_at,
                    &format!("{p}grain directory entry {i}"),
                    &format!("a table at byte {gt_at}"),
                    &format!("a table inside the {}-byte extent", win.len),
                ));
                continue;
            }
        };
        regions.push((gt_at, gt_at + gt_bytes, Tag::Table(i)));
        for (j, &s) in t.iter().enumerate() {
            let g = i as u64 * u64::from(GTES_PER_GT) + j as u64;
            let gte_at = win.at(gt_at + j as u64 * 4);
            match s {
                GTE_UNALLOCATED => continue,
                GTE_ZERO => {
                    if !h.zeroed_gtes() {
                        r.findings.push(Finding::new(Severity::Warning, gte_at, format!("{p}grain table entry of grain {g}"), "1 (a zeroed grain)", "the zeroed-grain flag (0x4) set in the header when entries of 1 are used"));
                    }
                    continue;
                }
                _ => {}
            }
            r.blocks_checked += 1;
            if g.saturating_mul(h.grain_size) >= h.capacity {
                r.findings.push(Finding::new(
                    Severity::Warning,
                    gte_at,
                    format!("{p}grain table entry of grain {g}"),
                    format!("sector {s}"),
                    format!("no grain past the capacity ({} sectors)", h.capacity),
                ));
            }
            let start = u64::from(s) * SECTOR;
            let end = if h.compressed() {
                match marker_end(src, win, h, g, start, gte_at, p, r) {
                    Some(end) => end,
                    None => continue,
                }
            } else {
                if start % h.grain_bytes() != 0 {
                    r.findings.push(Finding::new(
                        Severity::Warning,
                        gte_at,
                        format!("{p}grain table entry of grain {g}"),
                        format!("sector {s}"),
                        format!("a multiple of the grain size ({} sectors)", h.grain_size),
                    ));
                }
                start + h.grain_bytes()
            };
            if end > win.len {
                r.findings.push(error_finding(
                    gte_at,
                    &format!("{p}grain table entry of grain {g}"),
                    &format!("grain at bytes {start}..{end}"),
                    &format!("inside the {}-byte extent", win.len),
                ));
                continue;
            }
            if regions.len() < MAX_CHECKED_REGIONS {
                regions.push((start, end, Tag::Grain(g)));
            } else {
                truncated = true;
            }
        }
    }
    if truncated {
        r.findings.push(Finding::new(
            Severity::Warning,
            win.at(0),
            format!("{p}overlap check"),
            format!("more than {MAX_CHECKED_REGIONS} grains"),
            "the first ones checked for overlaps (imgtool's limit)",
        ));
    }
    overlaps(&mut regions, win, p, r);
}

/// For a compressed grain at byte `start`: its marker's LBA and size, and where it ends.
#[allow(clippy::too_many_arguments)]
fn marker_end(
    src: &SourceFile,
    win: Window,
    h: &SparseHeader,
    g: u64,
    start: u64,
    gte_at: u64,
    p: &str,
    r: &mut CheckReport,
) -> Option<u64> {
    if !h.markers() {
        return Some(start + SECTOR);
    }
    let mut m = [0u8; GRAIN_MARKER_SIZE];
    if win.read(src, start, &mut m, "grain marker").is_err() {
        r.findings.push(error_finding(
            gte_at,
            &format!("{p}grain table entry of grain {g}"),
            &format!("a grain marker at byte {start}"),
            &format!("inside the {}-byte extent", win.len),
        ));
        return None;
    }
    let (lba, size) = header::parse_grain_marker(&m);
    let size = u64::from(size);
    let want = g * h.grain_size;
    if lba != want {
        r.findings.push(error_finding(
            win.at(start),
            &format!("{p}grain marker of grain {g}"),
            &format!("LBA {lba}"),
            &format!("LBA {want} (the grain whose table entry points here)"),
        ));
    }
    let max = h.grain_bytes() + h.grain_bytes() / 256 + 1024;
    if size == 0 || size > max {
        r.findings.push(error_finding(
            win.at(start + 8),
            &format!("{p}grain marker of grain {g}: compressed size"),
            &format!("{size} bytes"),
            &format!("1 to {max} bytes"),
        ));
        return None;
    }
    Some((start + GRAIN_MARKER_SIZE as u64 + size).div_ceil(SECTOR) * SECTOR)
}

fn overlaps(regions: &mut [(u64, u64, Tag)], win: Window, p: &str, r: &mut CheckReport) {
    regions.sort_unstable_by_key(|x| (x.0, x.1));
    let mut reported = 0;
    let mut prev: Option<(u64, u64, Tag)> = None;
    for &(s, e, t) in regions.iter() {
        if let Some((ps, pe, pt)) = prev {
            if s < pe && s < e {
                reported += 1;
                if reported <= MAX_GT_DIFFS {
                    r.findings.push(error_finding(
                        win.at(s),
                        &format!("{p}{}", tag_name(t)),
                        &format!("bytes {s}..{e}"),
                        &format!("no overlap with {} at bytes {ps}..{pe}", tag_name(pt)),
                    ));
                }
            }
        }
        if prev.is_none_or(|(_, pe, _)| e > pe) {
            prev = Some((s, e, t));
        }
    }
    if reported > MAX_GT_DIFFS {
        r.findings.push(error_finding(
            win.at(0),
            &format!("{p}overlapping regions"),
            &format!("{reported} in all"),
            "none",
        ));
    }
}

/// The redundant grain directory's tables must hold what the primary ones hold.
fn compare_rgd(
    src: &SourceFile,
    win: Window,
    h: &SparseHeader,
    gd: &[u32],
    p: &str,
    regions: &mut Vec<(u64, u64, Tag)>,
    r: &mut CheckReport,
) {
    let rgd = match read_entries(
        src,
        win,
        h.rgd_offset,
        gd.len(),
        "redundant grain directory",
    ) {
        Ok(x) => x,
        Err(e) => {
            r.findings.push(error_finding(
                win.at(48),
                &format!("{p}redundant grain directory"),
                &e.to_string(),
                "a directory inside the file",
            ));
            return;
        }
    };
    let mut diffs = 0;
    for (i, (&a, &b)) in gd.iter().zip(&rgd).enumerate() {
        let at = win.at(h.rgd_offset * SECTOR + i as u64 * 4);
        if b != 0 {
            regions.push((
                u64::from(b) * SECTOR,
                u64::from(b) * SECTOR + 2048,
                Tag::Meta("a redundant grain table"),
            ));
        }
        let read =
            |e: u32| read_entries(src, win, u64::from(e), GTES_PER_GT as usize, "grain table").ok();
        let (ta, tb) = match (a, b) {
            (0, 0) => continue,
            (0, _) | (_, 0) => {
                diffs += 1;
                if diffs <= MAX_GT_DIFFS {
                    r.findings.push(error_finding(
                        at,
                        &format!("{p}redundant grain directory entry {i}"),
                        &format!("sector {b}"),
                        &format!("a table exactly when the primary has one (primary: sector {a})"),
                    ));
                }
                continue;
            }
            _ => (read(a), read(b)),
        };
        let (Some(ta), Some(tb)) = (ta, tb) else {
            r.findings.push(error_finding(
                at,
                &format!("{p}redundant grain directory entry {i}"),
                &format!("sector {b}"),
                "a table inside the file",
            ));
            continue;
        };
        if let Some(j) = ta.iter().zip(&tb).position(|(x, y)| x != y) {
            diffs += 1;
            if diffs <= MAX_GT_DIFFS {
                r.findings.push(error_finding(
                    win.at(u64::from(b) * SECTOR + j as u64 * 4),
                    &format!("{p}redundant grain table {i}, entry {j}"),
                    &tb[j].to_string(),
                    &format!("{} (the primary grain table's entry)", ta[j]),
                ));
            }
        }
    }
    if diffs > MAX_GT_DIFFS {
        r.findings.push(error_finding(
            win.at(h.rgd_offset * SECTOR),
            &format!("{p}redundant grain directory"),
            &format!("{diffs} differing tables"),
            "the same entries as the primary",
        ));
    }
}
