//! What `inspect` says about the image layer: format, every VHD field, sizes, allocation.
//! Built as JSON (the documented schema, docs/json.md) and rendered as text from the same data.

use serde_json::{Value, json};

use super::vhd::dynamic::ParentLocator;
use super::vhd::footer::{self, FEATURE_RESERVED, FEATURE_TEMPORARY, Footer};
use super::vhd::validate;
use super::vhd::{FooterSource, VhdFile, VhdImage, parent};
use super::{Image, VirtualDisk};
use crate::error::Result;

/// The image part of `inspect --json`.
pub fn image_json(image: &Image) -> Result<Value> {
    let mut warnings: Vec<String> = Vec::new();
    let (file, file_size, allocated, vhd) = match image {
        Image::Raw(r) => {
            let src = r.source();
            if src.len() % 512 != 0 {
                warnings.push(format!(
                    "the file is {} bytes, not a whole number of 512-byte sectors; ECS may refuse it",
                    src.len()
                ));
            }
            (
                src.path().display().to_string(),
                src.len(),
                allocated_raw(r)?,
                Value::Null,
            )
        }
        Image::Vhd(v) => {
            let top = v.top();
            for l in &v.layers {
                for f in &l.findings {
                    warnings.push(format!("{}: {}", l.src.path().display(), f.message()));
                }
                if let Some(w) = validate::size_disagreement(&l.footer, l.virtual_size) {
                    warnings.push(format!("{}: {w}", l.src.path().display()));
                }
            }
            warnings.extend(v.warnings.iter().cloned());
            let alloc = layer_allocated(top)?;
            (
                top.src.path().display().to_string(),
                top.src.len(),
                alloc,
                vhd_json(v)?,
            )
        }
    };
    let mut doc = json!({
        "file": file,
        "format": image.format_name(),
        "virtual_size": image.size(),
        "file_size": file_size,
        "disk_size": host_allocated(image),
        "allocated_bytes": allocated,
        "warnings": warnings,
    });
    if !vhd.is_null() {
        doc["vhd"] = vhd;
    }
    Ok(doc)
}

/// For RAW, allocated means what is not a hole (SEEK_DATA/SEEK_HOLE), never more than the size.
fn allocated_raw(r: &super::raw::RawImage) -> Result<u64> {
    let size = r.size();
    let mut off = 0;
    let mut data = 0;
    // Bounded: each step advances by at least one byte, and file systems report few extents
    // for images; cap the walk anyway and fall back to the host's count.
    for _ in 0..1_000_000 {
        if off >= size {
            return Ok(data);
        }
        let e = r.extent(off)?;
        if e.kind == super::ExtentKind::Data {
            data += e.len;
        }
        off += e.len;
    }
    Ok(r.allocated_bytes().min(size))
}

fn layer_allocated(l: &VhdFile) -> Result<u64> {
    if l.disk_type() == footer::DiskType::Differencing {
        l.sector_allocated_bytes()
    } else {
        Ok(l.allocated_bytes())
    }
}

fn host_allocated(image: &Image) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let f = match image {
        Image::Raw(r) => r.source().file(),
        Image::Vhd(v) => v.top().src.file(),
    };
    f.metadata().map(|m| m.blocks() * 512).unwrap_or(0)
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
            "data_offset": h.data_offset,
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

/// Human sizes like qemu-img's: "1 GiB", "2.5 MiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if (v - v.round()).abs() < 0.005 {
        format!("{} {}", v.round(), UNITS[u])
    } else {
        let n = format!("{v:.3}");
        format!(
            "{} {}",
            n.trim_end_matches('0').trim_end_matches('.'),
            UNITS[u]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1 << 30), "1 GiB");
        assert_eq!(human(1536 << 10), "1.5 MiB");
        assert_eq!(human(24064), "23.5 KiB");
        assert_eq!(human(1_073_479_680), "1023.75 MiB");
    }
}
