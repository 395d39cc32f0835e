//! `imgtool check` for VHD: every check `vhd-util check` makes, plus QEMU's truncation check.
//! Unlike `open`, this goes on past what it finds, so one run lists every problem.

use std::path::Path;

use super::dynamic::{self, BAT_UNALLOCATED, DynamicHeader, HEADER_SIZE, LOCATOR_SIZE};
use super::footer::{self, DiskType, FOOTER_SIZE, Footer, OLD_FOOTER_SIZE, VHD_COOKIE};
use super::validate::{self, Finding, Severity};
use super::{MAX_BAT_ENTRIES, VhdImage, geometry, parent};
use crate::error::Result;
use crate::image::source::SourceFile;

/// What `check` found in one file (and, for a differencing disk, about its chain).
#[derive(Debug, Default)]
pub struct CheckReport {
    pub disk_type: Option<DiskType>,
    pub findings: Vec<Finding>,
    /// Allocated blocks examined.
    pub blocks_checked: u64,
}

impl CheckReport {
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// Check the VHD at `path`. `Err` only when the file cannot be read at all.
pub fn check(path: &Path) -> Result<CheckReport> {
    let src = SourceFile::open(path)?;
    let mut r = CheckReport::default();
    let Some((footer, footer_at)) = check_footers(&src, &mut r) else {
        return Ok(r);
    };
    r.disk_type = footer.kind();
    let (vsize, _) =
        geometry::virtual_size(&footer.creator_app, footer.geometry, footer.current_size);
    if let Some(w) = validate::size_disagreement(&footer, vsize) {
        r.findings.push(Finding::new(
            Severity::Warning,
            footer_at + footer::off::GEOMETRY as u64,
            "sizes",
            w,
            "geometry, current and original size to agree",
        ));
    }
    match footer.kind() {
        Some(DiskType::Fixed) if vsize > footer_at => r.findings.push(Finding::new(
            Severity::Error,
            footer_at,
            "fixed VHD data area",
            format!("{footer_at} bytes before the footer"),
            format!("the virtual size, {vsize} bytes: the file is truncated"),
        )),
        Some(DiskType::Fixed) => {}
        Some(kind) => check_sparse(&src, &footer, footer_at, vsize, kind, &mut r),
        None => {}
    }
    Ok(r)
}

/// Validate the end footer and the copy at offset 0; return the footer to go on with.
fn check_footers(src: &SourceFile, r: &mut CheckReport) -> Option<(Footer, u64)> {
    let len = src.len();
    let now = validate::now_vhd();
    let mut end: Option<([u8; FOOTER_SIZE], u64)> = None;
    if len >= FOOTER_SIZE as u64 {
        let mut b = [0u8; FOOTER_SIZE];
        let at = len - FOOTER_SIZE as u64;
        if src.read_exact_at(at, &mut b, "VHD footer").is_ok() {
            end = Some((b, at));
        }
        if len % 512 == OLD_FOOTER_SIZE as u64 && &b[0..8] != VHD_COOKIE {
            let mut old = [0u8; FOOTER_SIZE];
            let at = len - OLD_FOOTER_SIZE as u64;
            if src
                .read_exact_at(at, &mut old[..OLD_FOOTER_SIZE], "VHD footer")
                .is_ok()
                && &old[0..8] == VHD_COOKIE
            {
                end = Some((old, at));
            }
        }
    } else {
        r.findings.push(
            Finding::new(
                Severity::Error,
                0,
                "file size",
                format!("{len} bytes"),
                "at least one 512-byte footer",
            )
            .fatal(),
        );
        return None;
    }
    let mut copy: Option<[u8; FOOTER_SIZE]> = None;
    let mut b = [0u8; FOOTER_SIZE];
    if len >= 2 * FOOTER_SIZE as u64
        && src.read_exact_at(0, &mut b, "VHD footer copy").is_ok()
        && &b[0..8] == VHD_COOKIE
    {
        copy = Some(b);
    }
    let end_findings = end
        .map(|(raw, at)| validate::footer(&raw, at, len, now))
        .unwrap_or_default();
    let end_ok = end.is_some()
        && !end_findings
            .iter()
            .any(|f| f.fatal && f.field == "footer cookie");
    let copy_footer = copy.map(|raw| Footer::parse(&raw));
    let end_fatal = end_findings.iter().any(|f| f.fatal);
    let mut findings = end_findings;
    if let Some(raw) = copy {
        let cf = validate::footer(&raw, 0, len, now);
        let copy_fatal = cf.iter().any(|f| f.fatal);
        for mut f in cf {
            f.field = format!("{} (copy at offset 0)", f.field);
            findings.push(f);
        }
        if let (Some((eraw, _)), Some(c)) = (end, &copy_footer) {
            if end_ok && &Footer::parse(&eraw) != c {
                findings.push(Finding::new(
                    Severity::Error,
                    0,
                    "footer copy at offset 0",
                    "differs from the footer at the end",
                    "an identical copy",
                ));
            }
        }
        if end_fatal && !copy_fatal {
            if let Some(f) = findings
                .iter_mut()
                .find(|f| f.fatal && !f.field.contains("copy"))
            {
                f.repair = Some(
                    "the copy at offset 0 is valid; write it back over the last 512 bytes".into(),
                );
            }
        }
    }
    if let Some(c) = &copy_footer {
        if c.kind() == Some(DiskType::Fixed) {
            findings.push(Finding::new(
                Severity::Error,
                0,
                "footer copy at offset 0",
                "a fixed disk's footer",
                "no copy: a fixed disk keeps its data from offset 0",
            ));
        }
    }
    if end.is_none_or(|_| !end_ok) && copy.is_none() {
        // No footer anywhere: one finding that says so, instead of the bytes that happen to
        // sit where the footer should be.
        findings.retain(|f| !(f.fatal && f.field == "footer cookie"));
        let header = if len >= 1024 {
            let mut h = [0u8; 8];
            src.read_exact_at(512, &mut h, "dynamic header cookie")
                .is_ok()
                && &h == dynamic::DYNAMIC_COOKIE
        } else {
            false
        };
        findings.push(
            Finding::new(
                Severity::Error,
                len.saturating_sub(FOOTER_SIZE as u64),
                "VHD footer",
                format!(
                    "none: no \"conectix\" footer in the last 512 bytes nor a copy at offset 0{}",
                    if header {
                        " (a dynamic header is at offset 512)"
                    } else {
                        ""
                    }
                ),
                "a footer at the end of the file: the file is truncated (a partial download \
                 or copy?) and must be fetched again, or it is not a VHD",
            )
            .fatal(),
        );
    }
    r.findings.extend(findings);
    // Go on with the end footer when its cookie is there, else with the copy.
    let chosen = match (end, copy) {
        (Some((raw, at)), _) if end_ok => Some((Footer::parse(&raw), at)),
        (_, Some(raw)) => Some((Footer::parse(&raw), 0)),
        _ => None,
    };
    let (footer, at) = chosen?;
    footer.kind()?;
    Some((footer, at))
}

fn check_sparse(
    src: &SourceFile,
    footer: &Footer,
    footer_at: u64,
    vsize: u64,
    kind: DiskType,
    r: &mut CheckReport,
) {
    let len = src.len();
    let hdr_at = footer.data_offset;
    let mut raw = [0u8; HEADER_SIZE];
    if hdr_at
        .checked_add(HEADER_SIZE as u64)
        .is_none_or(|e| e > len)
        || src
            .read_exact_at(hdr_at, &mut raw, "dynamic header")
            .is_err()
    {
        return; // already reported by the footer's data-offset check
    }
    let hf = validate::header(&raw, hdr_at, len);
    let stop = hf
        .iter()
        .any(|f| f.fatal && f.field != "dynamic header checksum");
    r.findings.extend(hf);
    if stop {
        return;
    }
    let h = DynamicHeader::parse(&raw);
    let block = u64::from(h.block_size);
    let covered = u64::from(h.max_table_entries).saturating_mul(block);
    if covered < vsize {
        r.findings.push(Finding::new(
            Severity::Error,
            hdr_at + dynamic::off::MAX_TABLE_ENTRIES as u64,
            "dynamic header max table entries",
            format!(
                "{} entries x {block} bytes = {covered} bytes",
                h.max_table_entries
            ),
            format!("enough blocks to cover the virtual size, {vsize} bytes"),
        ));
    }
    let entries = u64::from(h.max_table_entries).min(MAX_BAT_ENTRIES);
    let mut bat_raw = vec![0u8; entries as usize * 4];
    if src
        .read_exact_at(h.table_offset, &mut bat_raw, "BAT")
        .is_err()
    {
        return;
    }
    let bat: Vec<u32> = crate::bytes::be_u32s(&bat_raw).collect();
    let bitmap = dynamic::bitmap_size(h.block_size);
    let table_end = h.table_offset + entries * 4;
    // The copy at offset 0 stands in for a missing end footer: then there is no footer region
    // in the file, and blocks running past its end mean the file was cut short.
    let end_footer = footer_at != 0;
    if !end_footer {
        truncation(&bat, h.table_offset, bitmap + block, len, r);
    }
    // Metadata regions no block may overlap: the footer copy, the header, the BAT, the footer.
    let regions: Vec<(u64, u64, String)> = vec![
        (0, FOOTER_SIZE as u64, "the footer copy".into()),
        (
            hdr_at,
            hdr_at + HEADER_SIZE as u64,
            "the dynamic header".into(),
        ),
        (h.table_offset, table_end, "the BAT".into()),
    ]
    .into_iter()
    .chain(end_footer.then(|| (footer_at, len, "the footer".into())))
    .collect();
    let mut blocks: Vec<(u64, u64, usize)> = Vec::new();
    for (i, &e) in bat.iter().enumerate() {
        if e == BAT_UNALLOCATED {
            continue;
        }
        r.blocks_checked += 1;
        let start = u64::from(e) * 512;
        let end = start + bitmap + block;
        let entry_at = h.table_offset + i as u64 * 4;
        if (i as u64) * block >= vsize {
            r.findings.push(Finding::new(
                Severity::Warning,
                entry_at,
                format!("BAT entry {i}"),
                format!("allocated block at sector {e}"),
                format!("no block past the virtual size ({vsize} bytes)"),
            ));
        }
        if end > len && !end_footer {
            continue; // counted once by `truncation`
        }
        if end > len {
            r.findings.push(Finding::new(
                Severity::Error,
                entry_at,
                format!("BAT entry {i}"),
                format!("block at byte {start} ending at {end}"),
                format!("inside the {len}-byte file (QEMU refuses such a truncated image)"),
            ));
            continue;
        }
        for (rs, re, what) in &regions {
            if start < *re && *rs < end {
                r.findings.push(Finding::new(
                    Severity::Error,
                    entry_at,
                    format!("BAT entry {i}"),
                    format!("block at bytes {start}..{end}"),
                    format!("no overlap with {what} at {rs}..{re}"),
                ));
            }
        }
        blocks.push((start, end, i));
    }
    blocks.sort_unstable();
    for w in blocks.windows(2) {
        if w[1].0 < w[0].1 {
            r.findings.push(Finding::new(
                Severity::Error,
                h.table_offset + w[1].2 as u64 * 4,
                format!("BAT entry {}", w[1].2),
                format!("block at bytes {}..{}", w[1].0, w[1].1),
                format!("no overlap with block {} at {}..{}", w[0].2, w[0].0, w[0].1),
            ));
        }
    }
    check_locators(src, &h, hdr_at, kind, &blocks, r);
    if kind == DiskType::Differencing {
        if let Err(e) = VhdImage::open(src.path()) {
            r.findings.push(Finding::new(
                Severity::Error,
                hdr_at + dynamic::off::PARENT_LOCATORS as u64,
                "differencing chain",
                crate::text::escape(&e.to_string()),
                "the parent found, with the unique id the header names",
            ));
        }
    }
}

/// A dynamic VHD whose end footer is missing: say whether blocks were lost with it (the file
/// was cut short) and what repair is safe. Writing the footer copy over the last 512 bytes is
/// safe only when no block reaches into them.
fn truncation(bat: &[u32], table_at: u64, slot: u64, len: u64, r: &mut CheckReport) {
    let ends = bat
        .iter()
        .filter(|&&e| e != BAT_UNALLOCATED)
        .map(|&e| u64::from(e) * 512 + slot);
    let data_end = ends.clone().max().unwrap_or(0);
    let cut: Vec<u64> = ends.filter(|&e| e > len).collect();
    let repair = if !cut.is_empty() {
        None
    } else if len >= data_end + FOOTER_SIZE as u64 {
        Some(
            "the copy at offset 0 is valid; write it over the last 512 bytes (no block is there)"
                .to_string(),
        )
    } else {
        Some(format!(
            "the copy at offset 0 is valid; append it at the end of the file (offset {len}): \
             the last block ends at {data_end}, so writing over the last 512 bytes would \
             destroy data"
        ))
    };
    for f in r
        .findings
        .iter_mut()
        .filter(|f| f.fatal && f.repair.is_some())
    {
        f.repair.clone_from(&repair);
    }
    if cut.is_empty() {
        return;
    }
    let lost = cut.iter().filter(|&&e| e - slot >= len).count();
    r.findings.push(Finding::new(
        Severity::Error,
        len,
        "file length",
        format!(
            "{len} bytes: the file is truncated; the end footer is missing and {} of the BAT's \
             blocks reach past the end ({lost} lost entirely, {} cut short)",
            cut.len(),
            cut.len() - lost
        ),
        format!(
            "at least {} bytes (the last block ends at {data_end}, then the footer); fetch the \
             file again: no repair can restore lost blocks (BAT at {table_at})",
            data_end + FOOTER_SIZE as u64
        ),
    ));
}

fn check_locators(
    src: &SourceFile,
    h: &DynamicHeader,
    hdr_at: u64,
    kind: DiskType,
    blocks: &[(u64, u64, usize)],
    r: &mut CheckReport,
) {
    let len = src.len();
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    for (i, l) in h.locators.iter().enumerate() {
        if l.is_empty() {
            continue;
        }
        let at = hdr_at + dynamic::off::PARENT_LOCATORS as u64 + (i * LOCATOR_SIZE) as u64;
        let field = format!("parent locator {i}");
        if kind == DiskType::Dynamic {
            r.findings.push(Finding::new(
                Severity::Warning,
                at,
                field.clone(),
                l.code_str(),
                "no locators in a dynamic (non-differencing) disk",
            ));
        }
        if !l.code_known() {
            r.findings.push(Finding::new(
                Severity::Error,
                at,
                format!("{field} platform code"),
                validate::bytes_str(&l.code),
                "W2ru, W2ku, MacX, Wi2r, Wi2k or \"Mac \"",
            ));
        }
        let end = l.data_offset.checked_add(u64::from(l.data_length));
        if end.is_none_or(|e| e > len) || l.data_offset < HEADER_SIZE as u64 {
            r.findings.push(Finding::new(
                Severity::Error,
                at + 16,
                format!("{field} data offset"),
                format!("{:#x} + {} bytes", l.data_offset, l.data_length),
                format!("data inside the {len}-byte file, after the headers"),
            ));
            continue;
        }
        let space_bytes = u64::from(l.data_space)
            .saturating_mul(512)
            .max(u64::from(l.data_space));
        if u64::from(l.data_length) > space_bytes {
            r.findings.push(Finding::new(
                Severity::Error,
                at + 8,
                format!("{field} data length"),
                l.data_length.to_string(),
                format!("at most the data space ({} sectors)", l.data_space),
            ));
        }
        let e = end.unwrap_or(len);
        let overlaps = |start: u64, stop: u64| l.data_offset < stop && start < e;
        let overlap = |with: String| {
            Finding::new(
                Severity::Error,
                at + 16,
                format!("{field} data"),
                format!("bytes {}..{e}", l.data_offset),
                format!("no overlap with {with}"),
            )
        };
        for s in spans.iter().filter(|s| overlaps(s.0, s.1)) {
            r.findings.push(overlap(format!("locator {} data", s.2)));
        }
        for b in blocks.iter().filter(|b| overlaps(b.0, b.1)) {
            r.findings
                .push(overlap(format!("the block of BAT entry {}", b.2)));
        }
        spans.push((l.data_offset, e, i));
    }
    if kind == DiskType::Differencing {
        let decoded = parent::decode_locators(src, h);
        if decoded.is_empty() {
            r.findings.push(Finding::new(
                Severity::Error,
                hdr_at + dynamic::off::PARENT_LOCATORS as u64,
                "parent locators",
                "none",
                "at least one locator naming the parent",
            ));
        }
        for d in decoded {
            if let Err(e) = d.path {
                r.findings.push(Finding::new(
                    Severity::Error,
                    d.data_offset,
                    format!("parent locator {} ({}) data", d.index, d.code),
                    e,
                    "a path",
                ));
            }
        }
    }
}
