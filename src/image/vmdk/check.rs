//! `imgtool check` for VMDK: the header (and a streamOptimized footer), the descriptor, the
//! grain directory against the redundant one, every grain table entry (inside the file, not
//! overlapping metadata or another grain, aligned, compressed grains' markers naming their
//! own LBA), flat extents' files, and the parent chain; the same for every extent file of a
//! descriptor and every parent, each finding naming the file it is in. Goes on past what it
//! finds.

use std::path::Path;

use super::check_grains::error_finding;
use super::descriptor;
use super::disk::VmdkImage;
use super::header::{
    self, FOOTER_FROM_END, GD_AT_END, HEADER_SIZE, MARKER_EOS, MARKER_FOOTER, SECTOR, SPARSE_MAGIC,
    SparseHeader,
};
use super::layer::{CREATE_TYPES, is_blank, is_descriptor};
use super::ova;
use super::window::Window;
use crate::error::Result;
use crate::image::finding::{CheckReport, Finding, Severity};
use crate::image::kind::Kind;
use crate::image::source::SourceFile;

pub fn check(path: &Path) -> Result<CheckReport> {
    let src = SourceFile::open(path)?;
    let mut r = CheckReport::new(Kind::Vmdk);
    check_file(&src, "", &mut r)?;
    if !r
        .findings
        .iter()
        .any(|f| f.fatal && f.severity == Severity::Error)
    {
        match VmdkImage::open(path) {
            Ok(img) => {
                let ct = img
                    .top()
                    .descriptor
                    .as_ref()
                    .map(|d| d.create_type.as_str());
                r.disk_type = CREATE_TYPES.iter().copied().find(|t| Some(*t) == ct);
                // Each parent's own file and extents, as thoroughly as the file given: a
                // damaged grain in a parent is damage in the disk. Their findings name the
                // parent (and the extent file) they are in.
                for layer in img.layers.iter().skip(1) {
                    let p = format!(
                        "parent {}: ",
                        crate::text::escape(&layer.src().path().display().to_string())
                    );
                    check_file(layer.src(), &p, &mut r)?;
                }
            }
            Err(e) => r.findings.push(error_finding(
                0,
                "VMDK (opened as a whole, with its extents and parents)",
                &e.to_string(),
                "a disk that opens",
            )),
        }
    }
    Ok(r)
}

/// One VMDK file: a sparse extent, a descriptor with its extent files, or an OVA's member.
/// Findings' fields start with `p`, which names the file for a parent.
fn check_file(src: &SourceFile, p: &str, r: &mut CheckReport) -> Result<()> {
    let mut head = [0u8; 512];
    let n = src.len().min(512) as usize;
    src.read_exact_at(0, &mut head[..n], "VMDK header")?;
    let h = &head[..n];
    let whole = Window {
        file: 0,
        base: 0,
        len: src.len(),
    };
    if h.starts_with(SPARSE_MAGIC) {
        check_sparse(src, whole, p, r);
    } else if is_descriptor(h) {
        check_descriptor_file(src, p, r);
    } else if ova::is_tar(h) {
        match ova::find_disk(src) {
            Ok(o) => {
                let win = Window {
                    file: 0,
                    base: o.disk.offset,
                    len: o.disk.size,
                };
                let what = format!("{p}OVA member {}: ", crate::text::escape(&o.disk.name));
                check_sparse(src, win, &what, r);
            }
            Err(e) => r.findings.push(
                error_finding(0, &format!("{p}OVA"), &e.to_string(), "a .vmdk member").fatal(),
            ),
        }
    }
    Ok(())
}

fn check_descriptor_file(src: &SourceFile, p: &str, r: &mut CheckReport) {
    if src.len() > header::MAX_DESCRIPTOR_BYTES {
        r.findings.push(
            error_finding(
                0,
                &format!("{p}descriptor file size"),
                &format!("{} bytes", src.len()),
                "at most 1 MiB",
            )
            .fatal(),
        );
        return;
    }
    #[allow(clippy::cast_possible_truncation)] // at most MAX_DESCRIPTOR_BYTES, checked above
    let mut b = vec![0u8; src.len() as usize];
    if src.read_exact_at(0, &mut b, "VMDK descriptor").is_err() {
        return;
    }
    let Some(d) = check_descriptor(&b, 0, p, r) else {
        return;
    };
    let dir = src.path().parent().unwrap_or(Path::new("."));
    for line in &d.extents {
        let Some(name) = &line.file else { continue };
        let Ok(f) = SourceFile::open(dir.join(name)) else {
            r.findings.push(error_finding(
                line.at as u64,
                &format!("{p}descriptor extent file"),
                &format!("\"{name}\" missing or unreadable"),
                "the extent's file beside the descriptor",
            ));
            continue;
        };
        let prefix = format!("{p}extent file {}: ", crate::text::escape(name));
        match line.kind.as_str() {
            "SPARSE" => {
                let win = Window {
                    file: 0,
                    base: 0,
                    len: f.len(),
                };
                check_sparse(&f, win, &prefix, r);
            }
            "FLAT" | "VMFS" => {
                let need = line
                    .offset
                    .saturating_add(line.sectors)
                    .saturating_mul(SECTOR);
                if need > f.len() {
                    r.findings.push(error_finding(
                        line.at as u64,
                        &format!("{prefix}flat extent"),
                        &format!("a {}-byte file", f.len()),
                        &format!("at least {need} bytes (offset + size)"),
                    ));
                }
            }
            _ => {}
        }
    }
}

/// Parse a descriptor's bytes at file offset `at`; its problems become findings.
fn check_descriptor(
    b: &[u8],
    at: u64,
    prefix: &str,
    r: &mut CheckReport,
) -> Option<descriptor::Descriptor> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let text = String::from_utf8_lossy(&b[..end]);
    let d = match descriptor::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            r.findings.push(
                Finding::new(
                    Severity::Error,
                    at + e.at as u64,
                    format!("{prefix}descriptor {}", e.field),
                    e.found,
                    e.expected,
                )
                .fatal(),
            );
            return None;
        }
    };
    if !CREATE_TYPES.contains(&d.create_type.as_str()) {
        r.findings.push(
            error_finding(
                at,
                &format!("{prefix}descriptor createType"),
                &d.create_type,
                "a type imgtool reads (monolithicSparse, streamOptimized, twoGbMaxExtentSparse, ...)",
            )
            .fatal(),
        );
    }
    for l in &d.extents {
        if !matches!(l.kind.as_str(), "SPARSE" | "FLAT" | "VMFS" | "ZERO") {
            r.findings.push(error_finding(
                at + l.at as u64,
                &format!("{prefix}descriptor extent type"),
                &l.kind,
                "SPARSE, FLAT, VMFS or ZERO",
            ));
        }
    }
    Some(d)
}

/// The header in use and where: the one at the start, or the footer's for GD_AT_END.
fn check_headers(
    src: &SourceFile,
    win: Window,
    p: &str,
    r: &mut CheckReport,
) -> Option<(SparseHeader, SparseHeader)> {
    let mut b = [0u8; HEADER_SIZE];
    if win.len < HEADER_SIZE as u64 || win.read(src, 0, &mut b, "sparse header").is_err() {
        r.findings.push(
            error_finding(
                win.at(0),
                &format!("{p}sparse header"),
                &format!("{} bytes", win.len),
                "at least 512 bytes",
            )
            .fatal(),
        );
        return None;
    }
    let first = SparseHeader::parse(&b);
    let mut fatal = false;
    for mut f in header::validate(&first, win.at(0), win.len, false) {
        fatal |= f.fatal;
        f.field = format!("{p}{}", f.field);
        r.findings.push(f);
    }
    if fatal {
        return None;
    }
    if first.gd_offset != GD_AT_END {
        return Some((first.clone(), first));
    }
    let at = win.len - FOOTER_FROM_END;
    let mut m = [0u8; 512];
    if win.read(src, at - SECTOR, &mut m, "footer marker").is_ok() {
        let (_, size, ty) = header::parse_marker(&m);
        if size != 0 || ty != MARKER_FOOTER {
            r.findings.push(error_finding(
                win.at(at - SECTOR),
                &format!("{p}footer marker"),
                &format!("size {size}, type {ty} ({})", header::marker_name(ty)),
                "size 0, type 3 (footer)",
            ));
        }
    }
    if win
        .read(src, win.len - SECTOR, &mut m, "end-of-stream marker")
        .is_ok()
    {
        let (v, size, ty) = header::parse_marker(&m);
        if v != 0 || size != 0 || ty != MARKER_EOS {
            r.findings.push(error_finding(
                win.at(win.len - SECTOR),
                &format!("{p}end-of-stream marker"),
                &format!("value {v}, size {size}, type {ty}"),
                "all zero (end of stream)",
            ));
        }
    }
    if win.read(src, at, &mut b, "footer header").is_err() {
        return None;
    }
    let footer = SparseHeader::parse(&b);
    for mut f in header::validate(&footer, win.at(at), win.len, true) {
        if f.severity == Severity::Warning {
            continue; // repeats the header's
        }
        fatal |= f.fatal;
        f.field = format!("{p}footer {}", f.field);
        r.findings.push(f);
    }
    if footer.gd_offset == GD_AT_END {
        r.findings.push(
            error_finding(
                win.at(at + 56),
                &format!("{p}footer grain directory offset"),
                "GD_AT_END",
                "the directory's sector",
            )
            .fatal(),
        );
        return None;
    }
    if footer.capacity != first.capacity || footer.grain_size != first.grain_size {
        r.findings.push(error_finding(
            win.at(at + 12),
            &format!("{p}footer capacity / grain size"),
            &format!("{} / {}", footer.capacity, footer.grain_size),
            &format!("the header's {} / {}", first.capacity, first.grain_size),
        ));
    }
    (!fatal).then_some((footer, first))
}

fn check_sparse(src: &SourceFile, win: Window, p: &str, r: &mut CheckReport) {
    let Some((h, first)) = check_headers(src, win, p, r) else {
        return;
    };
    if first.descriptor_offset != 0 && first.descriptor_size != 0 {
        let at = first.descriptor_offset * SECTOR;
        // At most MAX_DESCRIPTOR_BYTES: check_headers refuses a larger one (header.rs).
        #[allow(clippy::cast_possible_truncation)]
        let mut b = vec![0u8; (first.descriptor_size * SECTOR) as usize];
        if win.read(src, at, &mut b, "embedded descriptor").is_ok() && !is_blank(&b) {
            if let Some(d) = check_descriptor(&b, win.at(at), p, r) {
                if d.extents_bytes() != Some(first.capacity * SECTOR) {
                    r.findings.push(Finding::new(
                        Severity::Warning,
                        win.at(at),
                        format!("{p}descriptor extents"),
                        format!("{:?} bytes", d.extents_bytes()),
                        format!("the header's capacity, {} bytes", first.capacity * SECTOR),
                    ));
                }
            }
        }
    }
    super::check_grains::tables(src, win, &h, first.gd_offset == GD_AT_END, p, r);
}
