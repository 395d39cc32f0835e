//! `check` for qcow2: what `qemu-img check` reports, read-only. The refcount of every cluster
//! is rebuilt from every reference (header, L1 and L2 tables of the active layer and of each
//! snapshot, data and compressed clusters, refcount table and blocks, snapshot table, bitmaps)
//! and compared with the stored one; overlapping metadata, references past the end of the
//! file, unaligned tables and clusters, and OFLAG_COPIED flags that disagree with the stored
//! refcount are each a finding. Nothing is ever written.

use std::path::Path;

use super::entry::{self, Cluster, OFLAG_COPIED};
use super::header::{COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT, INCOMPAT_DIRTY, MAX_L1_ENTRIES};
use super::layer::Qcow2File;
use super::refcount::{Counts, Owner, Stored, l1_offset};
use crate::bytes::be_u64s;
use crate::error::Result;
use crate::image::finding::{CheckReport, Finding, Severity};
use crate::image::format::Kind;
use crate::image::source::SourceFile;

/// Findings listed before the rest are summed up in one.
pub const MAX_FINDINGS: usize = 1000;
/// The bitmap directory QEMU accepts at most (64 MiB).
const MAX_BITMAP_DIRECTORY: u64 = 64 << 20;
/// L1 entry bits that must be zero.
const L1_RESERVED: u64 = 0x7f00_0000_0000_01ff;

pub fn check(path: &Path) -> Result<CheckReport> {
    let f = Qcow2File::open(SourceFile::open(path)?)?;
    let h = &f.header;
    let mut r = CheckReport::new(Kind::Qcow2);
    r.disk_type = Some(if h.version == 2 {
        "compat 0.10"
    } else {
        "compat 1.1"
    });
    let mut out = Vec::new();
    if h.incompatible & INCOMPAT_CORRUPT != 0 {
        out.push(
            Finding::new(
                Severity::Error,
                72,
                "incompatible features: corrupt bit",
                "set",
                "clear (QEMU marked the image corrupt)",
            )
            .repair("qemu-img check -r all, on a copy"),
        );
    }
    if h.incompatible & INCOMPAT_DIRTY != 0 {
        let lazy = h.compatible & COMPAT_LAZY_REFCOUNTS != 0;
        out.push(
            Finding::new(
                Severity::Warning,
                72,
                "incompatible features: dirty bit",
                if lazy {
                    "set, with lazy refcounts"
                } else {
                    "set"
                },
                "clear (refcounts may be stale until repaired)",
            )
            .repair("qemu-img check -r all"),
        );
    }
    let mut counts = Counts::new(&f.src, h)?;
    let stored = Stored::new(&f.src, h)?;
    let cs = h.cluster_size();
    counts.add(0, cs, Owner::Header, "header", 0, &mut out);
    let rt_len = u64::from(h.refcount_table_clusters) * cs;
    counts.add(
        h.refcount_table_offset,
        rt_len,
        Owner::RefTable,
        "refcount table",
        48,
        &mut out,
    );
    for (at, b) in stored.blocks() {
        if !stored.block_ok(b) {
            out.push(Finding::new(
                Severity::Error,
                at,
                "refcount table entry",
                format!("a refcount block at {b:#x}"),
                format!(
                    "a cluster-aligned block inside the {}-byte file",
                    f.src.len()
                ),
            ));
            continue;
        }
        counts.add(b, cs, Owner::RefBlock, "refcount table entry", at, &mut out);
    }
    if h.nb_snapshots > 0 {
        counts.add(
            h.snapshots_offset,
            f.snapshot_table_len,
            Owner::Snapshots,
            "snapshot table",
            64,
            &mut out,
        );
    }
    let active = read_l1(&f, h.l1_table_offset, h.l1_size, 36, &mut out);
    if h.l1_size > 0 {
        counts.add(
            h.l1_table_offset,
            u64::from(h.l1_size) * 8,
            Owner::L1,
            "L1 table",
            40,
            &mut out,
        );
    }
    r.blocks_checked = walk_l1(&f, &active, h.l1_table_offset, &mut counts, &mut out);
    for s in &f.snapshots {
        let l1 = read_l1(&f, s.l1_table_offset, s.l1_size, s.offset, &mut out);
        counts.add(
            s.l1_table_offset,
            u64::from(s.l1_size) * 8,
            Owner::L1,
            "snapshot L1 table",
            s.offset,
            &mut out,
        );
        walk_l1(&f, &l1, s.l1_table_offset, &mut counts, &mut out);
    }
    bitmaps(&f, &mut counts, &mut out);
    let mut stored = stored;
    compare(&f, &counts, &mut stored, &mut out);
    copied(&f, &active, &mut stored, &mut out);
    if out.len() > MAX_FINDINGS {
        let more = out.len() - MAX_FINDINGS;
        out.truncate(MAX_FINDINGS);
        out.push(Finding::new(
            Severity::Error,
            0,
            "further findings",
            format!("{more} more"),
            format!("at most {MAX_FINDINGS} listed"),
        ));
    }
    r.findings = out;
    Ok(r)
}

/// An L1 table (active or a snapshot's), checked; an unreadable one is a finding and empty.
fn read_l1(f: &Qcow2File, off: u64, n: u32, at: u64, out: &mut Vec<Finding>) -> Vec<u64> {
    let n = u64::from(n);
    if n == 0 {
        return Vec::new();
    }
    let bytes = n * 8;
    let ok = n <= MAX_L1_ENTRIES
        && f.header
            .table_in_file(&f.src, at, "L1 table", off, bytes)
            .is_ok();
    // ok: n is at most MAX_L1_ENTRIES, so bytes fits.
    #[allow(clippy::cast_possible_truncation)]
    let mut raw = vec![0u8; if ok { bytes as usize } else { 0 }];
    if !ok || f.src.read_exact_at(off, &mut raw, "L1 table").is_err() {
        out.push(Finding::new(
            Severity::Error,
            at,
            "L1 table",
            format!("{n} entries at {off:#x}"),
            format!("at most {MAX_L1_ENTRIES} entries, cluster-aligned, inside the file"),
        ));
        return Vec::new();
    }
    be_u64s(&raw).collect()
}

/// Count every L2 table and cluster an L1 table refers to; returns the allocated entries seen.
fn walk_l1(
    f: &Qcow2File,
    l1: &[u64],
    l1_off: u64,
    counts: &mut Counts,
    out: &mut Vec<Finding>,
) -> u64 {
    let h = &f.header;
    let cs = h.cluster_size();
    let mut seen = 0;
    for (i, &e) in l1.iter().enumerate() {
        let at = l1_off + i as u64 * 8;
        if e & L1_RESERVED != 0 {
            out.push(Finding::new(
                Severity::Error,
                at,
                "L1 entry reserved bits",
                format!("{e:#018x}"),
                "bits 0-8 and 56-62 clear",
            ));
        }
        let l2 = l1_offset(e);
        if l2 == 0 {
            continue;
        }
        counts.add(l2, cs, Owner::L2, "L1 entry", at, out);
        let table = match f.read_l2(l2, "L1 entry", at) {
            Ok(t) => t,
            Err(e) => {
                out.push(Finding::new(
                    Severity::Error,
                    at,
                    "L1 entry",
                    e.to_string(),
                    "an L2 table that can be read",
                ));
                continue;
            }
        };
        // At most a cluster of entries (2 MiB / 8).
        #[allow(clippy::cast_possible_truncation)]
        let entries = h.l2_entries() as usize;
        for j in 0..entries {
            let eat = l2 + j as u64 * h.l2_entry_size();
            let raw = table
                .get(if h.extended_l2() { 2 * j } else { j })
                .copied()
                .unwrap_or(0);
            match f.decode(&table, j) {
                Cluster::Compressed { host, len } => {
                    seen += 1;
                    if raw & OFLAG_COPIED != 0 {
                        out.push(Finding::new(
                            Severity::Error,
                            eat,
                            "compressed L2 entry",
                            "OFLAG_COPIED set",
                            "clear on compressed clusters",
                        ));
                    }
                    if f.data_file.is_some() {
                        out.push(Finding::new(
                            Severity::Error,
                            eat,
                            "compressed L2 entry",
                            "a compressed cluster",
                            "none with an external data file",
                        ));
                        continue;
                    }
                    if h.extended_l2() && table.get(2 * j + 1).copied().unwrap_or(0) != 0 {
                        out.push(Finding::new(
                            Severity::Error,
                            eat,
                            "compressed L2 entry subcluster bitmap",
                            "non-zero",
                            "zero",
                        ));
                    }
                    let start = host & !511;
                    counts.add(
                        start,
                        len + (host & 511),
                        Owner::Data,
                        "compressed L2 entry",
                        eat,
                        out,
                    );
                }
                Cluster::Normal { host }
                | Cluster::Zero { host: Some(host) }
                | Cluster::Sub {
                    host: Some(host), ..
                } => {
                    seen += 1;
                    data_cluster(f, host, eat, counts, out);
                }
                _ => {}
            }
            if let Cluster::Sub { host, bitmap } = f.decode(&table, j) {
                if (0..entry::SUBCLUSTERS)
                    .any(|s| entry::sub(host, bitmap, s) == entry::Sub::Invalid)
                {
                    out.push(Finding::new(Severity::Error, eat + 8, "L2 subcluster bitmap", format!("{bitmap:#018x}"), "no subcluster both allocated and zero, none allocated in an unallocated cluster"));
                }
            }
        }
    }
    seen
}

fn data_cluster(f: &Qcow2File, host: u64, eat: u64, counts: &mut Counts, out: &mut Vec<Finding>) {
    let cs = f.header.cluster_size();
    if host % cs != 0 {
        out.push(Finding::new(
            Severity::Error,
            eat,
            "L2 entry",
            format!("a cluster at {host:#x}"),
            format!("an offset aligned to the {cs}-byte cluster"),
        ));
        return;
    }
    if f.data_file.is_some() {
        return; // clusters of an external data file have no refcounts
    }
    if host >= f.src.len() {
        out.push(Finding::new(
            Severity::Error,
            eat,
            "L2 entry past the end of the file",
            format!("a cluster at {host:#x}"),
            format!("a cluster inside the {}-byte file", f.src.len()),
        ));
        return;
    }
    counts.add(host, cs, Owner::Data, "L2 entry", eat, out);
}

/// The bitmap directory and each bitmap's table and data clusters.
fn bitmaps(f: &Qcow2File, counts: &mut Counts, out: &mut Vec<Finding>) {
    let Some(b) = f.header.bitmaps else { return };
    let ext_at = f
        .header
        .extensions
        .iter()
        .find(|e| e.kind == super::header::EXT_BITMAPS)
        .map_or(0, |e| e.offset);
    if b.directory_size > MAX_BITMAP_DIRECTORY {
        out.push(Finding::new(
            Severity::Error,
            ext_at,
            "bitmap directory size",
            b.directory_size.to_string(),
            "at most 64 MiB",
        ));
        return;
    }
    counts.add(
        b.directory_offset,
        b.directory_size,
        Owner::Bitmap,
        "bitmap directory",
        ext_at,
        out,
    );
    // At most MAX_BITMAP_DIRECTORY, checked above.
    #[allow(clippy::cast_possible_truncation)]
    let mut dir = vec![0u8; b.directory_size as usize];
    if f.src
        .read_exact_at(b.directory_offset, &mut dir, "bitmap directory")
        .is_err()
    {
        return;
    }
    let mut at = 0usize;
    for _ in 0..b.count {
        let Some(e) = dir.get(at..at + 24) else { break };
        let be = |o: usize, n: usize| e[o..o + n].iter().fold(0u64, |v, &x| v << 8 | u64::from(x));
        let (table, size) = (be(0, 8), be(8, 4));
        let (name, extra) = (be(18, 2), be(20, 4));
        let eat = b.directory_offset + at as u64;
        counts.add(table, size * 8, Owner::Bitmap, "bitmap table", eat, out);
        // A table longer than the address space is left unread, as one that cannot be read.
        let mut raw = vec![0u8; usize::try_from((size * 8).min(f.src.len())).unwrap_or(0)];
        if f.src.read_exact_at(table, &mut raw, "bitmap table").is_ok() {
            for (k, e) in be_u64s(&raw).enumerate() {
                let off = e & 0x00ff_ffff_ffff_fe00;
                if off != 0 {
                    counts.add(
                        off,
                        f.header.cluster_size(),
                        Owner::Bitmap,
                        "bitmap table entry",
                        table + k as u64 * 8,
                        out,
                    );
                }
            }
        }
        // A u32 and a u16 field: fits.
        #[allow(clippy::cast_possible_truncation)]
        let step = (24 + extra + name).div_ceil(8) as usize * 8;
        at += step;
    }
}

/// Stored refcounts against rebuilt ones: leaks (stored > 0, no reference) and mismatches.
fn compare(f: &Qcow2File, counts: &Counts, stored: &mut Stored, out: &mut Vec<Finding>) {
    let cs = f.header.cluster_size();
    for (c, &want) in counts.counts.iter().enumerate() {
        let have = stored.get(c as u64);
        if have == u64::from(want) {
            continue;
        }
        let off = c as u64 * cs;
        if want == 0 {
            out.push(
                Finding::new(
                    Severity::Warning,
                    off,
                    "leaked cluster",
                    format!("refcount {have}"),
                    "refcount 0 (nothing refers to it)",
                )
                .repair("qemu-img check -r leaks"),
            );
        } else {
            out.push(
                Finding::new(
                    Severity::Error,
                    off,
                    "cluster refcount",
                    format!("refcount {have}"),
                    format!("refcount {want} (its references)"),
                )
                .repair("qemu-img check -r all"),
            );
        }
    }
}

/// OFLAG_COPIED on the active layer's L1 and L2 entries: set exactly when the stored refcount
/// is 1.
fn copied(f: &Qcow2File, l1: &[u64], stored: &mut Stored, out: &mut Vec<Finding>) {
    let h = &f.header;
    let bits = h.cluster_bits;
    let mut one = |what: &str, at: u64, e: u64, host: u64, out: &mut Vec<Finding>| {
        let rc = stored.get(host >> bits);
        let flag = e & OFLAG_COPIED != 0;
        if flag != (rc == 1) {
            out.push(
                Finding::new(
                    Severity::Error,
                    at,
                    format!("{what} OFLAG_COPIED"),
                    format!("{} with refcount {rc}", if flag { "set" } else { "clear" }),
                    if rc == 1 {
                        "set (refcount 1)"
                    } else {
                        "clear (refcount is not 1)"
                    },
                )
                .repair("qemu-img check -r all"),
            );
        }
    };
    for (i, &e) in l1.iter().enumerate() {
        let l2 = l1_offset(e);
        if l2 == 0 {
            continue;
        }
        let at = h.l1_table_offset + i as u64 * 8;
        one("L1 entry", at, e, l2, out);
        let Ok(table) = f.read_l2(l2, "L1 entry", at) else {
            continue;
        };
        if f.data_file.is_some() {
            continue;
        }
        // At most a cluster of entries (2 MiB / 8).
        #[allow(clippy::cast_possible_truncation)]
        let entries = h.l2_entries() as usize;
        for j in 0..entries {
            let raw = table
                .get(if h.extended_l2() { 2 * j } else { j })
                .copied()
                .unwrap_or(0);
            let eat = l2 + j as u64 * h.l2_entry_size();
            match f.decode(&table, j) {
                Cluster::Normal { host }
                | Cluster::Zero { host: Some(host) }
                | Cluster::Sub {
                    host: Some(host), ..
                } if host % h.cluster_size() == 0 && host < f.src.len() => {
                    one("L2 entry", eat, raw, host, out)
                }
                _ => {}
            }
        }
    }
}
