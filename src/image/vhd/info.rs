//! The VHD section of `inspect`: every footer and dynamic-header field, the parent locators
//! and, for a differencing disk, the chain. Built as JSON (the documented schema, docs/json.md).

use serde_json::{Value, json};

use super::dynamic::ParentLocator;
use super::footer::{self, FEATURE_RESERVED, FEATURE_TEMPORARY, Footer};
use super::{FooterSource, VhdFile, VhdImage, parent, validate};
use crate::error::Result;
use crate::image::format::Section;

/// The `vhd` section and the warnings found while opening the chain.
pub(super) fn section(v: &VhdImage) -> Result<Section> {
    let mut warnings = Vec::new();
    for l in &v.layers {
        for f in &l.findings {
            warnings.push(format!("{}: {}", l.src.path().display(), f.message()));
        }
        if let Some(w) = validate::size_disagreement(&l.footer, l.virtual_size) {
            warnings.push(format!("{}: {w}", l.src.path().display()));
        }
    }
    warnings.extend(v.warnings.iter().cloned());
    Ok(Section {
        key: Some("vhd"),
        value: vhd_json(v)?,
        warnings,
    })
}

pub(super) fn layer_allocated(l: &VhdFile) -> Result<u64> {
    if l.disk_type() == footer::DiskType::Differencing {
        l.sector_allocated_bytes()
    } else {
        Ok(l.allocated_bytes())
    }
}

fn vhd_json(v: &VhdImage) -> Result<Value> {
    let top = v.top();
    let mut o = layer_json(top)?;
    if v.layers.len() > 1 {
        let mut chain = Vec::new();
        for (i, l) in v.layers.iter().enumerate().skip(1) {
            let via = v.parent_search.get(i - 1).and_then(|tried| {
                tried
                    .iter()
                    .find(|(p, _)| p == l.src.path())
                    .map(|(_, from)| from.clone())
            });
            chain.push(json!({
                "file": l.src.path().display().to_string(),
                "disk_type": l.disk_type().name(),
                "unique_id": footer::uuid_string(&l.footer.unique_id),
                "virtual_size": l.virtual_size,
                "allocated_bytes": layer_allocated(l)?,
                "found_via": via,
            }));
        }
        o["parent"] = chain[0].clone();
        o["chain"] = Value::Array(chain);
    }
    Ok(o)
}

fn layer_json(l: &VhdFile) -> Result<Value> {
    let f = &l.footer;
    let mut o = footer_json(f);
    o["footer_offset"] = json!(l.footer_offset);
    o["footer_source"] = json!(match l.footer_source {
        FooterSource::End => "end",
        FooterSource::End511 => "end-511",
        FooterSource::Copy => "copy-at-0",
    });
    o["footer_checksum_ok"] = json!(true);
    o["end_footer_ok"] = json!(l.footer_source != FooterSource::Copy);
    o["footer_copy"] = match &l.footer_copy {
        None => Value::Null,
        Some(c) => json!({ "present": true, "matches": c == f }),
    };
    o["virtual_size"] = json!(l.virtual_size);
    o["size_source"] = json!(l.size_source.name());
    if let Some(sp) = &l.sparse {
        let h = &sp.header;
        let locs: Vec<Value> = parent::decode_locators(&l.src, h)
            .into_iter()
            .map(|d| {
                let loc: &ParentLocator = &h.locators[d.index];
                json!({
                    "index": d.index,
                    "code": d.code,
                    "data_space": loc.data_space,
                    "data_length": loc.data_length,
                    "data_offset": loc.data_offset,
                    "path": d.path.as_ref().ok(),
                    "error": d.path.as_ref().err(),
                })
            })
            .collect();
        let differencing = l.disk_type() == footer::DiskType::Differencing;
        o["dynamic"] = json!({
            "header_offset": sp.header_offset,
            "data_offset": if h.data_offset == u64::MAX { Value::Null } else { json!(h.data_offset) },
            "table_offset": h.table_offset,
            "header_version": version(h.header_version),
            "max_table_entries": h.max_table_entries,
            "block_size": sp.block_size,
            "bitmap_size": sp.bitmap_size,
            "checksum": format!("{:#010x}", h.checksum),
            "header_checksum_ok": true,
            "blocks": sp.bat.len(),
            "allocated_blocks": sp.allocated_blocks(),
            "parent_unique_id": if differencing { json!(footer::uuid_string(&h.parent_unique_id)) } else { Value::Null },
            "parent_timestamp": if differencing { json!(h.parent_timestamp) } else { Value::Null },
            "parent_timestamp_utc": if differencing { json!(footer::vhd_time(h.parent_timestamp)) } else { Value::Null },
            "parent_name": if differencing { json!(h.parent_name_string()) } else { Value::Null },
            "parent_locators": locs,
        });
    }
    Ok(o)
}

fn footer_json(f: &Footer) -> Value {
    let mut flags = Vec::new();
    if f.features & FEATURE_TEMPORARY != 0 {
        flags.push("temporary");
    }
    if f.features & FEATURE_RESERVED != 0 {
        flags.push("reserved");
    }
    json!({
        "disk_type": f.kind().map(|k| k.name()).unwrap_or("unknown"),
        "cookie": String::from_utf8_lossy(&f.cookie),
        "features": f.features,
        "feature_flags": flags,
        "format_version": version(f.format_version),
        "data_offset": if f.data_offset == u64::MAX { Value::Null } else { json!(f.data_offset) },
        "timestamp": f.timestamp,
        "timestamp_utc": footer::vhd_time(f.timestamp),
        "creator_app": f.creator_app_str(),
        "creator_version": version(f.creator_version),
        "creator_host_os": f.creator_host_os_str(),
        "original_size": f.original_size,
        "current_size": f.current_size,
        "geometry": {
            "cylinders": f.geometry.cylinders,
            "heads": f.geometry.heads,
            "sectors_per_track": f.geometry.sectors,
            "bytes": f.geometry.bytes(),
        },
        "checksum": format!("{:#010x}", f.checksum),
        "unique_id": footer::uuid_string(&f.unique_id),
        "saved_state": f.saved_state != 0,
    })
}

/// A major.minor version word as text.
fn version(v: u32) -> String {
    format!("{}.{}", v >> 16, v & 0xffff)
}
