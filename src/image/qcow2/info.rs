//! The qcow2 section of `inspect`: every header field, the feature bits by name, the header
//! extensions, the snapshots and the backing chain. Typed fields: the JSON (the documented
//! schema, docs/json.md) is their serde derive, the text is rendered from them.

use serde::Serialize;

use super::header::{COMPAT_LAZY_REFCOUNTS, Header, INCOMPAT_CORRUPT, INCOMPAT_DIRTY};
use super::image::Qcow2Image;
use super::snapshot::Snapshot;
use crate::error::Result;
use crate::image::format::{Details, Section};
use crate::image::info::{or_dash, quoted, size_both};
use crate::image::vhd::footer::unix_time;
use crate::text::{Table, escape, human};

pub(super) fn section(q: &Qcow2Image) -> Result<Section> {
    let h = &q.top.header;
    let mut warnings = Vec::new();
    let name = q.top.src.path().display();
    if h.incompatible & INCOMPAT_CORRUPT != 0 {
        warnings.push(format!(
            "{name}: the corrupt bit is set: QEMU found its metadata inconsistent; run `imgtool check`"
        ));
    }
    if h.incompatible & INCOMPAT_DIRTY != 0 {
        let why = if h.compatible & COMPAT_LAZY_REFCOUNTS != 0 {
            "lazy refcounts were not brought up to date"
        } else {
            "it was not closed cleanly"
        };
        warnings.push(format!(
            "{name}: the dirty bit is set ({why}); the data reads as written, but the refcounts may be stale"
        ));
    }
    if !q.top.snapshots.is_empty() {
        warnings.push(format!(
            "{name}: has {} internal snapshot(s); only the active layer is read",
            q.top.snapshots.len()
        ));
    }
    let info = Qcow2Info {
        header: header_info(h),
        snapshots: q.top.snapshots.iter().map(snapshot_info).collect(),
        data_file_path: q
            .top
            .data_file
            .as_ref()
            .map(|f| f.path().display().to_string()),
        backing: q.backing.as_ref().map(|b| BackingInfo {
            file: b.file().path().display().to_string(),
            format: b.kind().name(),
            describe: b.describe(),
            virtual_size: b.size(),
            format_from: q.backing_via,
            files: b
                .files()
                .iter()
                .map(|f| f.path().display().to_string())
                .collect(),
        }),
    };
    if let Some(b) = &q.backing {
        if b.size() < h.size {
            warnings.push(format!(
                "{name}: the backing file is {} bytes, smaller than the {}-byte disk; the rest reads as zeros",
                b.size(),
                h.size
            ));
        }
        warnings.extend(b.section()?.warnings);
    }
    Ok(Section {
        details: Some(Box::new(info)),
        warnings,
    })
}

/// The `qcow2` section: the top file's header, snapshots and external data file, and the
/// backing image as opened.
#[derive(Debug, Serialize)]
pub struct Qcow2Info {
    #[serde(flatten)]
    pub header: HeaderInfo,
    pub snapshots: Vec<SnapshotInfo>,
    pub data_file_path: Option<String>,
    pub backing: Option<BackingInfo>,
}

#[derive(Debug, Serialize)]
pub struct HeaderInfo {
    pub version: u32,
    pub compat: &'static str,
    pub virtual_size: u64,
    pub cluster_bits: u32,
    pub cluster_size: u64,
    pub crypt_method: u32,
    pub encryption: Option<&'static str>,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub l2_entries_per_table: u64,
    pub refcount_table_offset: u64,
    pub refcount_table_clusters: u32,
    pub refcount_order: u32,
    pub refcount_bits: u32,
    pub nb_snapshots: u32,
    pub snapshots_offset: u64,
    pub incompatible_features: u64,
    pub compatible_features: u64,
    pub autoclear_features: u64,
    pub feature_flags: Vec<String>,
    pub dirty: bool,
    pub corrupt: bool,
    pub extended_l2: bool,
    pub lazy_refcounts: bool,
    pub compression_type: &'static str,
    pub header_length: u32,
    pub backing_file_offset: u64,
    pub backing_file_size: u32,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub data_file: Option<String>,
    pub bitmaps: Option<BitmapsInfo>,
    pub extensions: Vec<ExtensionInfo>,
    pub feature_names: Vec<FeatureNameInfo>,
}

#[derive(Debug, Serialize)]
pub struct BitmapsInfo {
    pub count: u32,
    pub directory_size: u64,
    pub directory_offset: u64,
}

#[derive(Debug, Serialize)]
pub struct ExtensionInfo {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: &'static str,
    pub offset: u64,
    pub length: u32,
}

#[derive(Debug, Serialize)]
pub struct FeatureNameInfo {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub bit: u8,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct BackingInfo {
    pub file: String,
    pub format: &'static str,
    pub describe: String,
    pub virtual_size: u64,
    /// Where the backing format came from (the header's extension, or probing).
    pub format_from: Option<&'static str>,
    pub files: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub name: String,
    pub virtual_size: Option<u64>,
    pub date_sec: u32,
    pub date_nsec: u32,
    pub date_utc: String,
    pub vm_clock_nsec: u64,
    pub vm_state_size: u64,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub entry_offset: u64,
}

fn header_info(h: &Header) -> HeaderInfo {
    HeaderInfo {
        version: h.version,
        compat: if h.version == 2 { "0.10" } else { "1.1" },
        virtual_size: h.size,
        cluster_bits: h.cluster_bits,
        cluster_size: h.cluster_size(),
        crypt_method: h.crypt_method,
        encryption: h.encryption_name(),
        l1_size: h.l1_size,
        l1_table_offset: h.l1_table_offset,
        l2_entries_per_table: h.l2_entries(),
        refcount_table_offset: h.refcount_table_offset,
        refcount_table_clusters: h.refcount_table_clusters,
        refcount_order: h.refcount_order,
        refcount_bits: 1u32 << h.refcount_order,
        nb_snapshots: h.nb_snapshots,
        snapshots_offset: h.snapshots_offset,
        incompatible_features: h.incompatible,
        compatible_features: h.compatible,
        autoclear_features: h.autoclear,
        feature_flags: h.feature_list(),
        dirty: h.incompatible & INCOMPAT_DIRTY != 0,
        corrupt: h.incompatible & INCOMPAT_CORRUPT != 0,
        extended_l2: h.extended_l2(),
        lazy_refcounts: h.compatible & COMPAT_LAZY_REFCOUNTS != 0,
        compression_type: h.compression_name(),
        header_length: h.header_length,
        backing_file_offset: h.backing_file_offset,
        backing_file_size: h.backing_file_size,
        backing_file: h.backing_file.clone(),
        backing_format: h.backing_format.clone(),
        data_file: h.data_file.clone(),
        bitmaps: h.bitmaps.map(|b| BitmapsInfo {
            count: b.count,
            directory_size: b.directory_size,
            directory_offset: b.directory_offset,
        }),
        extensions: h
            .extensions
            .iter()
            .map(|e| ExtensionInfo {
                kind: format!("{:#010x}", e.kind),
                name: e.name(),
                offset: e.offset,
                length: e.length,
            })
            .collect(),
        feature_names: h
            .feature_names
            .iter()
            .map(|f| FeatureNameInfo {
                kind: match f.kind {
                    0 => "incompatible",
                    1 => "compatible",
                    2 => "autoclear",
                    _ => "unknown",
                },
                bit: f.bit,
                name: f.name.clone(),
            })
            .collect(),
    }
}

fn snapshot_info(s: &Snapshot) -> SnapshotInfo {
    SnapshotInfo {
        id: s.id.clone(),
        name: s.name.clone(),
        virtual_size: s.disk_size,
        date_sec: s.date_sec,
        date_nsec: s.date_nsec,
        date_utc: unix_time(u64::from(s.date_sec)),
        vm_clock_nsec: s.vm_clock_nsec,
        vm_state_size: s.vm_state_size,
        l1_size: s.l1_size,
        l1_table_offset: s.l1_table_offset,
        entry_offset: s.offset,
    }
}

impl Details for Qcow2Info {
    fn key(&self) -> &'static str {
        "qcow2"
    }

    fn text(&self) -> String {
        let h = &self.header;
        let mut t = Table::default();
        t.row("version", format!("{} (compat {})", h.version, h.compat));
        t.row("cluster size", size_both(h.cluster_size));
        t.row(
            "L1 table",
            format!("{} entries at {}", h.l1_size, h.l1_table_offset),
        );
        t.row(
            "refcount table",
            format!(
                "{} cluster(s) at {}, {}-bit refcounts",
                h.refcount_table_clusters, h.refcount_table_offset, h.refcount_bits
            ),
        );
        t.row(
            "features",
            format!(
                "incompatible {:#x}, compatible {:#x}, autoclear {:#x} ({})",
                h.incompatible_features,
                h.compatible_features,
                h.autoclear_features,
                if h.feature_flags.is_empty() {
                    "none".to_string()
                } else {
                    h.feature_flags.join(", ")
                }
            ),
        );
        t.row("compression type", h.compression_type.into());
        t.row("header length", h.header_length.to_string());
        for e in &h.extensions {
            t.row(
                "header extension",
                format!("{} {} ({} bytes at {})", e.kind, e.name, e.length, e.offset),
            );
        }
        if let Some(f) = &h.backing_file {
            t.row(
                "backing file",
                format!(
                    "{} (format {})",
                    quoted(f),
                    or_dash(h.backing_format.as_ref())
                ),
            );
        }
        if let Some(b) = &self.backing {
            t.row("backing opened", format!("{} ({})", b.file, b.describe));
        }
        if let Some(f) = &h.data_file {
            t.row("external data file", quoted(f));
        }
        if let Some(b) = &h.bitmaps {
            t.row(
                "bitmaps",
                format!(
                    "{} (directory of {} bytes at {})",
                    b.count, b.directory_size, b.directory_offset
                ),
            );
        }
        let mut out = String::from("qcow2 header:\n");
        out.push_str(&t.render(4));
        if !self.snapshots.is_empty() {
            out.push_str("snapshots (the active layer is what is read):\n");
            for sn in &self.snapshots {
                let line = format!(
                    "{} {} {} {}",
                    sn.id,
                    quoted(&sn.name),
                    sn.virtual_size.map_or("-".into(), human),
                    sn.date_utc,
                );
                out.push_str(&format!("    {}\n", escape(&line)));
            }
        }
        out
    }
}
