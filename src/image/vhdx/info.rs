//! The VHDX section of `inspect`: every header, region, metadata and log field, the BAT's
//! block states, and the parent chain. Built as JSON (the documented schema, docs/json.md).

use serde_json::{Value, json};

use super::bat::PayloadState;
use super::file::VhdxFile;
use super::header::Header;
use super::image::VhdxImage;
use super::metadata::item_name;
use crate::error::Result;
use crate::image::format::Section;

pub(super) fn section(v: &VhdxImage) -> Result<Section> {
    let mut warnings = Vec::new();
    for l in &v.layers {
        for f in &l.findings {
            warnings.push(format!("{}: {}", l.src().path().display(), f.message()));
        }
    }
    warnings.extend(v.warnings.iter().cloned());
    let mut o = layer_json(v.top())?;
    if v.layers.len() > 1 {
        let chain = v
            .layers
            .iter()
            .skip(1)
            .zip(&v.found_via)
            .map(|(l, via)| {
                Ok(json!({
                    "file": l.src().path().display().to_string(),
                    "disk_type": l.disk_type(),
                    "data_write_guid": l.headers.header.data_write_guid.to_string(),
                    "virtual_size": l.virtual_size(),
                    "allocated_bytes": l.allocated_bytes()?,
                    "found_via": via,
                }))
            })
            .collect::<Result<Vec<Value>>>()?;
        o["parent"] = chain.first().cloned().unwrap_or(Value::Null);
        o["chain"] = Value::Array(chain);
    }
    Ok(Section {
        key: Some("vhdx"),
        value: o,
        warnings,
    })
}

fn header_json(h: &Header) -> Value {
    json!({
        "offset": h.offset,
        "sequence_number": h.sequence,
        "checksum": format!("{:#010x}", h.checksum),
        "file_write_guid": h.file_write_guid.to_string(),
        "data_write_guid": h.data_write_guid.to_string(),
        "log_guid": h.log_guid.to_string(),
        "log_version": h.log_version,
        "version": h.version,
        "log_length": h.log_length,
        "log_offset": h.log_offset,
    })
}

fn layer_json(l: &VhdxFile) -> Result<Value> {
    let m = &l.meta;
    let headers: Vec<Value> = l
        .headers
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Ok(h) => {
                json!({ "index": i + 1, "valid": true, "header": header_json(h), "error": null })
            }
            Err(f) => {
                json!({ "index": i + 1, "valid": false, "header": null, "error": f.message() })
            }
        })
        .collect();
    let regions: Vec<Value> = l
        .regions
        .all
        .iter()
        .map(|r| {
            json!({
                "guid": r.guid.to_string(),
                "name": r.name(),
                "file_offset": r.file_offset,
                "length": r.length,
                "required": r.required,
            })
        })
        .collect();
    let items: Vec<Value> = m
        .entries
        .iter()
        .map(|e| {
            json!({
                "item_id": e.item.to_string(),
                "name": if e.is_user { format!("user item {}", e.item) } else { item_name(&e.item) },
                "offset": e.offset,
                "length": e.length,
                "is_user": e.is_user,
                "is_virtual_disk": e.is_virtual_disk,
                "is_required": e.is_required,
            })
        })
        .collect();
    // The counts need every entry: one pass over the BAT, in pieces (see vhdx::bat::Bat).
    let summary = l.bat.summary(&l.view)?;
    let mut states = serde_json::Map::new();
    for (s, n) in PayloadState::ALL.iter().zip(summary.states) {
        states.insert(s.name().into(), json!(n));
    }
    let bitmaps = summary.bitmaps_present;
    let h = &l.headers.header;
    let log = match &l.replay {
        None => json!({
            "offset": h.log_offset,
            "length": h.log_length,
            "guid": h.log_guid.to_string(),
            "empty": true,
            "replayed": null,
        }),
        Some(r) => json!({
            "offset": r.log_offset,
            "length": r.log_length,
            "guid": r.log_guid.to_string(),
            "empty": false,
            "replayed": {
                "entries": r.entries,
                "tail_sequence": r.tail_sequence,
                "head_sequence": r.head_sequence,
                "tail_offset": r.tail,
                "head_offset": r.head,
                "data_sectors": r.data_sectors,
                "zero_bytes": r.zero_bytes,
                "flushed_file_offset": r.flushed_file_offset,
                "last_file_offset": r.last_file_offset,
                "file_length": r.file_length,
            },
        }),
    };
    Ok(json!({
        "disk_type": l.disk_type(),
        "creator": l.creator,
        "current_header": l.headers.current + 1,
        "header": header_json(h),
        "headers": headers,
        "region_table": {
            "copy_used": l.regions.copy + 1,
            "other_copy_problem": l.regions.other.as_ref().map(|f| f.message()),
            "regions": regions,
        },
        "metadata": {
            "offset": l.regions.metadata.file_offset,
            "items": items,
        },
        "block_size": m.block_size,
        "leave_blocks_allocated": m.leave_blocks_allocated,
        "has_parent": m.has_parent,
        "virtual_size": m.virtual_size,
        "logical_sector_size": m.logical_sector_size,
        "physical_sector_size": m.physical_sector_size,
        "page83_data": m.page83.map(|g| g.to_string()),
        "parent_locator": m.parent.as_ref().map(|p| json!({
            "offset": p.offset,
            "locator_type": p.locator_type.to_string(),
            "entries": p.entries.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect::<Vec<_>>(),
        })),
        "bat": {
            "offset": l.bat.offset,
            "entries": l.bat.total,
            "chunk_ratio": l.bat.chunk_ratio,
            "payload_blocks": l.bat.data_blocks,
            "sector_bitmap_blocks": l.bat.bitmap_blocks,
            "sector_bitmaps_present": bitmaps,
            "payload_states": states,
        },
        "log": log,
    }))
}
