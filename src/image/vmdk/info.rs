//! The VMDK section of `inspect`: the descriptor (every key and `ddb.*` entry), each extent
//! with its sparse header's fields, the OVA member read, and the parent chain. Built as JSON
//! (the documented schema, docs/json.md).

use serde_json::{Map, Value, json};

use super::descriptor::Descriptor;
use super::disk::VmdkImage;
use super::header::{GD_AT_END, SparseHeader};
use super::layer::{Container, Data, Layer};
use super::sparse::SparseExtent;
use crate::image::format::Section;

pub(super) fn section(v: &VmdkImage) -> Section {
    let mut warnings = Vec::new();
    for l in &v.layers {
        warnings.extend(l.warning_texts());
    }
    warnings.extend(v.warnings.iter().cloned());
    let mut o = layer_json(v.top());
    if v.layers.len() > 1 {
        let chain: Vec<Value> = v
            .layers
            .iter()
            .skip(1)
            .map(|l| {
                json!({
                    "file": l.src().path().display().to_string(),
                    "create_type": l.descriptor.as_ref().map(|d| d.create_type.clone()),
                    "cid": l.descriptor.as_ref().and_then(|d| d.cid).map(cid),
                    "virtual_size": l.size,
                    "allocated_bytes": l.allocated_bytes(),
                })
            })
            .collect();
        o["parent"] = chain[0].clone();
        o["chain"] = Value::Array(chain);
    }
    Section {
        key: Some("vmdk"),
        value: o,
        warnings,
    }
}

fn cid(c: u32) -> String {
    format!("{c:08x}")
}

fn layer_json(l: &Layer) -> Value {
    let container = match &l.container {
        Container::Sparse => "sparse-extent",
        Container::Descriptor => "descriptor",
        Container::Ova(_) => "ova",
    };
    let mut o = json!({
        "container": container,
        "create_type": l.descriptor.as_ref().map(|d| d.create_type.clone()),
        "descriptor": l.descriptor.as_ref().map(|d| descriptor_json(d, l.descriptor_at)),
        "extents": l.pieces.iter().map(|p| {
            let line = p.line.as_ref();
            let mut e = json!({
                "start": p.start,
                "size": p.len,
                "access": line.map(|x| x.access.clone()),
                "type": line.map_or_else(|| "SPARSE".to_string(), |x| x.kind.clone()),
                "file": match &p.data {
                    Data::Zero => Value::Null,
                    Data::Flat { file, .. } => json!(l.files[*file].path().display().to_string()),
                    Data::Sparse(x) => json!(l.files[x.win.file].path().display().to_string()),
                },
                "offset": match &p.data {
                    Data::Flat { offset, .. } => json!(offset),
                    _ => json!(line.map_or(0, |x| x.offset * 512)),
                },
            });
            if let Data::Sparse(x) = &p.data {
                e["sparse"] = sparse_json(x);
            }
            e
        }).collect::<Vec<_>>(),
    });
    if let Container::Ova(ova) = &l.container {
        o["ova"] = json!({
            "member": ova.disk.name,
            "member_offset": ova.disk.offset,
            "member_size": ova.disk.size,
            "ovf": ova.ovf.as_ref().map(|m| m.name.clone()),
            "disks": ova.disks,
            "ovf_files": ova.ovf_files,
        });
    }
    o
}

fn descriptor_json(d: &Descriptor, at: Option<(u64, u64)>) -> Value {
    let ddb: Map<String, Value> = d.ddb.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let other: Map<String, Value> = d.other.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let num = |k: &str| d.ddb(k).and_then(|v| v.trim().parse::<u64>().ok());
    json!({
        "offset": at.map(|a| a.0),
        "size": at.map(|a| a.1),
        "version": d.version,
        "cid": d.cid.map(cid),
        "parent_cid": d.parent_cid.map(cid),
        "has_parent": d.has_parent(),
        "parent_file_name_hint": d.parent_hint,
        "encoding": d.encoding,
        "geometry": {
            "cylinders": num("ddb.geometry.cylinders"),
            "heads": num("ddb.geometry.heads"),
            "sectors": num("ddb.geometry.sectors"),
        },
        "adapter_type": d.ddb("ddb.adapterType"),
        "virtual_hw_version": d.ddb("ddb.virtualHWVersion"),
        "uuid": d.ddb("ddb.uuid.image").or(d.ddb("ddb.uuid")),
        "ddb": ddb,
        "other": other,
    })
}

fn header_json(h: &SparseHeader, at: u64) -> Value {
    json!({
        "offset": at,
        "magic": String::from_utf8_lossy(&h.magic),
        "version": h.version,
        "flags": format!("{:#010x}", h.flags),
        "flag_names": h.flag_names(),
        "capacity": h.capacity,
        "grain_size": h.grain_size,
        "descriptor_offset": h.descriptor_offset,
        "descriptor_size": h.descriptor_size,
        "num_gtes_per_gt": h.num_gtes_per_gt,
        "rgd_offset": h.rgd_offset,
        "gd_offset": if h.gd_offset == GD_AT_END { json!("GD_AT_END") } else { json!(h.gd_offset) },
        "overhead": h.overhead,
        "unclean_shutdown": h.unclean_shutdown != 0,
        "compress_algorithm": match h.compress_algorithm {
            0 => "none".to_string(),
            1 => "deflate".to_string(),
            n => n.to_string(),
        },
    })
}

fn sparse_json(x: &SparseExtent) -> Value {
    let (allocated, zeroed) = x.grain_counts();
    let mut o = header_json(&x.header, x.win.at(x.header_at));
    o["header_source"] = json!(if x.first_header.is_some() {
        "footer"
    } else {
        "start"
    });
    if let Some(first) = &x.first_header {
        o["first_header"] = header_json(first, x.win.at(0));
    }
    o["grain_bytes"] = json!(x.grain_bytes);
    o["gd_entries"] = json!(x.gd.len());
    o["grain_tables"] = json!(x.tables_loaded());
    o["grains"] = json!(x.grains());
    o["allocated_grains"] = json!(allocated);
    o["zeroed_grains"] = json!(zeroed);
    o
}
