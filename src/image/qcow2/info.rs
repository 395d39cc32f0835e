//! The qcow2 section of `inspect`: every header field, the feature bits by name, the header
//! extensions, the snapshots and the backing chain. Built as JSON (docs/json.md); the text is
//! rendered from it by cli/inspect.rs.

use serde_json::{Value, json};

use super::header::{COMPAT_LAZY_REFCOUNTS, Header, INCOMPAT_CORRUPT, INCOMPAT_DIRTY};
use super::image::Qcow2Image;
use super::snapshot::Snapshot;
use crate::error::Result;
use crate::image::format::Section;
use crate::image::vhd::footer::unix_time;

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
    let mut o = header_json(h);
    o["snapshots"] = Value::Array(q.top.snapshots.iter().map(snapshot_json).collect());
    o["data_file_path"] = json!(
        q.top
            .data_file
            .as_ref()
            .map(|f| f.path().display().to_string())
    );
    o["backing"] = match &q.backing {
        None => Value::Null,
        Some(b) => json!({
            "file": b.file().path().display().to_string(),
            "format": b.kind().name(),
            "describe": b.describe(),
            "virtual_size": b.size(),
            "format_from": q.backing_via,
            "files": b.files().iter().map(|f| f.path().display().to_string()).collect::<Vec<_>>(),
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
        key: Some("qcow2"),
        value: o,
        warnings,
    })
}

fn header_json(h: &Header) -> Value {
    let exts: Vec<Value> = h
        .extensions
        .iter()
        .map(|e| json!({ "type": format!("{:#010x}", e.kind), "name": e.name(), "offset": e.offset, "length": e.length }))
        .collect();
    let names: Vec<Value> = h
        .feature_names
        .iter()
        .map(|f| {
            let kind = match f.kind {
                0 => "incompatible",
                1 => "compatible",
                2 => "autoclear",
                _ => "unknown",
            };
            json!({ "type": kind, "bit": f.bit, "name": f.name })
        })
        .collect();
    json!({
        "version": h.version,
        "compat": if h.version == 2 { "0.10" } else { "1.1" },
        "virtual_size": h.size,
        "cluster_bits": h.cluster_bits,
        "cluster_size": h.cluster_size(),
        "crypt_method": h.crypt_method,
        "encryption": h.encryption_name(),
        "l1_size": h.l1_size,
        "l1_table_offset": h.l1_table_offset,
        "l2_entries_per_table": h.l2_entries(),
        "refcount_table_offset": h.refcount_table_offset,
        "refcount_table_clusters": h.refcount_table_clusters,
        "refcount_order": h.refcount_order,
        "refcount_bits": 1u32 << h.refcount_order,
        "nb_snapshots": h.nb_snapshots,
        "snapshots_offset": h.snapshots_offset,
        "incompatible_features": h.incompatible,
        "compatible_features": h.compatible,
        "autoclear_features": h.autoclear,
        "feature_flags": h.feature_list(),
        "dirty": h.incompatible & INCOMPAT_DIRTY != 0,
        "corrupt": h.incompatible & INCOMPAT_CORRUPT != 0,
        "extended_l2": h.extended_l2(),
        "lazy_refcounts": h.compatible & COMPAT_LAZY_REFCOUNTS != 0,
        "compression_type": h.compression_name(),
        "header_length": h.header_length,
        "backing_file_offset": h.backing_file_offset,
        "backing_file_size": h.backing_file_size,
        "backing_file": h.backing_file,
        "backing_format": h.backing_format,
        "data_file": h.data_file,
        "bitmaps": h.bitmaps.map(|b| json!({
            "count": b.count,
            "directory_size": b.directory_size,
            "directory_offset": b.directory_offset,
        })),
        "extensions": exts,
        "feature_names": names,
    })
}

fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "virtual_size": s.disk_size,
        "date_sec": s.date_sec,
        "date_nsec": s.date_nsec,
        "date_utc": unix_time(u64::from(s.date_sec)),
        "vm_clock_nsec": s.vm_clock_nsec,
        "vm_state_size": s.vm_state_size,
        "l1_size": s.l1_size,
        "l1_table_offset": s.l1_table_offset,
        "entry_offset": s.offset,
    })
}
