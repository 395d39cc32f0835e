//! The text form of `imgtool inspect`'s image layer: one table per format (VHD, qcow2, VHDX,
//! VMDK) rendered from the JSON document, every string from the image escaped.

use serde_json::Value;

use super::inspect_table::{Table, quoted, s, size_both, u, yes};
use super::output::escape;
use crate::text::human;

pub(super) fn vhd_text(v: &Value) -> String {
    let mut t = Table::default();
    t.row("disk type", s(&v["disk_type"]));
    t.row(
        "creator",
        format!(
            "{} {} on {}",
            quoted(&v["creator_app"]),
            s(&v["creator_version"]),
            quoted(&v["creator_host_os"])
        ),
    );
    t.row(
        "timestamp",
        format!("{} ({})", s(&v["timestamp_utc"]), u(&v["timestamp"])),
    );
    t.row("current size", size_both(&v["current_size"]));
    t.row("original size", size_both(&v["original_size"]));
    let g = &v["geometry"];
    t.row(
        "geometry (C/H/S)",
        format!(
            "{}/{}/{} ({} bytes)",
            u(&g["cylinders"]),
            u(&g["heads"]),
            u(&g["sectors_per_track"]),
            u(&g["bytes"])
        ),
    );
    t.row("size taken from", s(&v["size_source"]));
    t.row("unique id", s(&v["unique_id"]));
    t.row("checksum", format!("{} (ok)", s(&v["checksum"])));
    t.row(
        "footer",
        format!(
            "at offset {} ({}){}",
            u(&v["footer_offset"]),
            s(&v["footer_source"]),
            match v["footer_copy"]["matches"].as_bool() {
                Some(true) => ", copy at offset 0 matches",
                Some(false) => ", copy at offset 0 DIFFERS",
                None => "",
            }
        ),
    );
    let flags: Vec<&str> = v["feature_flags"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    t.row(
        "features",
        format!("{:#x} ({})", u(&v["features"]), flags.join(", ")),
    );
    t.row("format version", s(&v["format_version"]));
    t.row(
        "data offset",
        v["data_offset"]
            .as_u64()
            .map_or("none (fixed)".into(), |x| x.to_string()),
    );
    t.row(
        "saved state",
        if v["saved_state"].as_bool() == Some(true) {
            "yes"
        } else {
            "no"
        }
        .into(),
    );
    let mut out = String::from("VHD footer:\n");
    out.push_str(&t.render(4));
    if let Some(dy) = v.get("dynamic") {
        out.push_str(&dynamic_text(dy));
    }
    if let Some(chain) = v["chain"].as_array() {
        out.push_str("parent chain:\n");
        for (i, l) in chain.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {} ({}, id {}, {} allocated{})\n",
                i + 1,
                escape(&s(&l["file"])),
                s(&l["disk_type"]),
                s(&l["unique_id"]),
                human(u(&l["allocated_bytes"])),
                l["found_via"]
                    .as_str()
                    .map(|f| format!(", found via {f}"))
                    .unwrap_or_default()
            ));
        }
    }
    out
}

pub(super) fn qcow2_text(v: &Value) -> String {
    let mut t = Table::default();
    t.row(
        "version",
        format!("{} (compat {})", u(&v["version"]), s(&v["compat"])),
    );
    t.row("cluster size", size_both(&v["cluster_size"]));
    t.row(
        "L1 table",
        format!(
            "{} entries at {}",
            u(&v["l1_size"]),
            u(&v["l1_table_offset"])
        ),
    );
    t.row(
        "refcount table",
        format!(
            "{} cluster(s) at {}, {}-bit refcounts",
            u(&v["refcount_table_clusters"]),
            u(&v["refcount_table_offset"]),
            u(&v["refcount_bits"])
        ),
    );
    let flags: Vec<&str> = v["feature_flags"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    t.row(
        "features",
        format!(
            "incompatible {:#x}, compatible {:#x}, autoclear {:#x} ({})",
            u(&v["incompatible_features"]),
            u(&v["compatible_features"]),
            u(&v["autoclear_features"]),
            if flags.is_empty() {
                "none".to_string()
            } else {
                flags.join(", ")
            }
        ),
    );
    t.row("compression type", s(&v["compression_type"]));
    t.row("header length", u(&v["header_length"]).to_string());
    for e in v["extensions"].as_array().into_iter().flatten() {
        t.row(
            "header extension",
            format!(
                "{} {} ({} bytes at {})",
                s(&e["type"]),
                s(&e["name"]),
                u(&e["length"]),
                u(&e["offset"])
            ),
        );
    }
    if !v["backing_file"].is_null() {
        t.row(
            "backing file",
            format!(
                "{} (format {})",
                quoted(&v["backing_file"]),
                s(&v["backing_format"])
            ),
        );
    }
    if let Some(b) = v["backing"].as_object() {
        t.row(
            "backing opened",
            format!("{} ({})", s(&b["file"]), s(&b["describe"])),
        );
    }
    if !v["data_file"].is_null() {
        t.row("external data file", quoted(&v["data_file"]));
    }
    if let Some(b) = v["bitmaps"].as_object() {
        t.row(
            "bitmaps",
            format!(
                "{} (directory of {} bytes at {})",
                u(&b["count"]),
                u(&b["directory_size"]),
                u(&b["directory_offset"])
            ),
        );
    }
    let mut out = String::from("qcow2 header:\n");
    out.push_str(&t.render(4));
    if let Some(snaps) = v["snapshots"].as_array().filter(|a| !a.is_empty()) {
        out.push_str("snapshots (the active layer is what is read):\n");
        for sn in snaps {
            out.push_str(&format!(
                "    {} {} {} {}\n",
                escape(&s(&sn["id"])),
                escape(&quoted(&sn["name"])),
                sn["virtual_size"].as_u64().map_or("-".into(), human),
                s(&sn["date_utc"]),
            ));
        }
    }
    out
}

fn dynamic_text(dy: &Value) -> String {
    let mut t = Table::default();
    t.row("header offset", u(&dy["header_offset"]).to_string());
    t.row("table offset", u(&dy["table_offset"]).to_string());
    t.row("max table entries", u(&dy["max_table_entries"]).to_string());
    t.row("block size", size_both(&dy["block_size"]));
    t.row(
        "allocated blocks",
        format!("{} of {}", u(&dy["allocated_blocks"]), u(&dy["blocks"])),
    );
    t.row("checksum", format!("{} (ok)", s(&dy["checksum"])));
    t.row("header version", s(&dy["header_version"]));
    if !dy["parent_unique_id"].is_null() {
        t.row("parent unique id", s(&dy["parent_unique_id"]));
        t.row(
            "parent timestamp",
            format!(
                "{} ({})",
                s(&dy["parent_timestamp_utc"]),
                u(&dy["parent_timestamp"])
            ),
        );
        t.row("parent name", s(&dy["parent_name"]));
    }
    for l in dy["parent_locators"].as_array().into_iter().flatten() {
        let what = l["path"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("unusable: {}", s(&l["error"])));
        t.row(
            &format!("parent locator {}", u(&l["index"])),
            format!(
                "{} at {} ({} bytes): {}",
                quoted(&l["code"]),
                u(&l["data_offset"]),
                u(&l["data_length"]),
                what
            ),
        );
    }
    let mut out = String::from("VHD dynamic header:\n");
    out.push_str(&t.render(4));
    out
}

pub(super) fn vhdx_text(v: &Value) -> String {
    let mut t = Table::default();
    t.row("disk type", s(&v["disk_type"]));
    t.row("creator", quoted(&v["creator"]));
    t.row("block size", size_both(&v["block_size"]));
    t.row(
        "sector size",
        format!(
            "{} logical, {} physical",
            u(&v["logical_sector_size"]),
            u(&v["physical_sector_size"])
        ),
    );
    t.row("virtual disk size", size_both(&v["virtual_size"]));
    t.row(
        "flags",
        format!(
            "leave blocks allocated: {}, has parent: {}",
            yes(&v["leave_blocks_allocated"]),
            yes(&v["has_parent"])
        ),
    );
    t.row("page 83 data", s(&v["page83_data"]));
    let h = &v["header"];
    t.row(
        "header in use",
        format!(
            "{} at offset {} (sequence {}, checksum {} ok)",
            u(&v["current_header"]),
            u(&h["offset"]),
            u(&h["sequence_number"]),
            s(&h["checksum"])
        ),
    );
    for x in v["headers"].as_array().into_iter().flatten() {
        if x["valid"].as_bool() != Some(true) {
            t.row(
                &format!("header {}", u(&x["index"])),
                format!("DAMAGED: {}", s(&x["error"])),
            );
        }
    }
    t.row("file write guid", s(&h["file_write_guid"]));
    t.row("data write guid", s(&h["data_write_guid"]));
    t.row(
        "version",
        format!(
            "{} (log version {})",
            u(&h["version"]),
            u(&h["log_version"])
        ),
    );
    let log = &v["log"];
    let state = match log["replayed"].as_object() {
        None => "empty".to_string(),
        Some(r) => format!(
            "NOT EMPTY: {} entries (sequence {} to {}) replayed in memory: {} data sectors, {} bytes zeroed; the file was not closed cleanly",
            r.get("entries").map_or(0, u),
            r.get("tail_sequence").map_or(0, u),
            r.get("head_sequence").map_or(0, u),
            r.get("data_sectors").map_or(0, u),
            r.get("zero_bytes").map_or(0, u)
        ),
    };
    t.row(
        "log",
        format!(
            "{} bytes at offset {}, guid {}: {state}",
            u(&log["length"]),
            u(&log["offset"]),
            s(&log["guid"])
        ),
    );
    let rt = &v["region_table"];
    for r in rt["regions"].as_array().into_iter().flatten() {
        t.row(
            &format!("region {}", s(&r["name"])),
            format!(
                "{} bytes at offset {}{}",
                u(&r["length"]),
                u(&r["file_offset"]),
                if r["required"].as_bool() == Some(true) {
                    ", required"
                } else {
                    ""
                }
            ),
        );
    }
    t.row(
        "region table",
        format!(
            "copy {} used{}",
            u(&rt["copy_used"]),
            rt["other_copy_problem"]
                .as_str()
                .map(|p| format!("; other copy: {p}"))
                .unwrap_or_default()
        ),
    );
    for m in v["metadata"]["items"].as_array().into_iter().flatten() {
        t.row(
            &format!("metadata {}", s(&m["name"])),
            format!("{} bytes at +{}", u(&m["length"]), u(&m["offset"])),
        );
    }
    let bat = &v["bat"];
    let states: Vec<String> = bat["payload_states"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| u(n) > 0)
        .map(|(k, n)| format!("{} {k}", u(n)))
        .collect();
    t.row(
        "BAT",
        format!(
            "{} entries at offset {}, chunk ratio {}, {} payload blocks ({}), {} of {} sector bitmaps present",
            u(&bat["entries"]),
            u(&bat["offset"]),
            u(&bat["chunk_ratio"]),
            u(&bat["payload_blocks"]),
            states.join(", "),
            u(&bat["sector_bitmaps_present"]),
            u(&bat["sector_bitmap_blocks"])
        ),
    );
    if let Some(p) = v["parent_locator"].as_object() {
        for e in p
            .get("entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            t.row(&format!("parent {}", s(&e["key"])), s(&e["value"]));
        }
    }
    let mut out = String::from("VHDX:\n");
    out.push_str(&t.render(4));
    if let Some(chain) = v["chain"].as_array() {
        out.push_str("parent chain:\n");
        for (i, l) in chain.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {} ({}, data write guid {}, {} allocated, found via {})\n",
                i + 1,
                escape(&s(&l["file"])),
                s(&l["disk_type"]),
                s(&l["data_write_guid"]),
                human(u(&l["allocated_bytes"])),
                s(&l["found_via"])
            ));
        }
    }
    out
}

pub(super) fn vmdk_text(v: &Value) -> String {
    let mut out = String::new();
    let d = &v["descriptor"];
    if d.is_object() {
        let mut t = Table::default();
        t.row("create type", s(&v["create_type"]));
        t.row("container", s(&v["container"]));
        t.row(
            "at",
            format!("offset {} ({} bytes)", u(&d["offset"]), u(&d["size"])),
        );
        t.row("version", s(&d["version"]));
        t.row("CID", s(&d["cid"]));
        t.row("parent CID", s(&d["parent_cid"]));
        if !d["parent_file_name_hint"].is_null() {
            t.row("parent file name hint", quoted(&d["parent_file_name_hint"]));
        }
        let g = &d["geometry"];
        t.row(
            "geometry (C/H/S)",
            format!(
                "{}/{}/{}",
                s(&g["cylinders"]),
                s(&g["heads"]),
                s(&g["sectors"])
            ),
        );
        t.row("adapter type", s(&d["adapter_type"]));
        t.row("virtual HW version", s(&d["virtual_hw_version"]));
        for (k, x) in d["ddb"].as_object().into_iter().flatten() {
            if !k.starts_with("ddb.geometry.")
                && k != "ddb.adapterType"
                && k != "ddb.virtualHWVersion"
            {
                t.row(k, s(x));
            }
        }
        for (k, x) in d["other"].as_object().into_iter().flatten() {
            t.row(k, s(x));
        }
        out.push_str("VMDK descriptor:\n");
        out.push_str(&t.render(4));
    }
    if let Some(o) = v.get("ova") {
        let mut t = Table::default();
        t.row(
            "disk member",
            format!(
                "{} at offset {} ({} bytes)",
                quoted(&o["member"]),
                u(&o["member_offset"]),
                u(&o["member_size"])
            ),
        );
        t.row("OVF", s(&o["ovf"]));
        t.row("disks in the archive", o["disks"].to_string());
        out.push_str("OVA:\n");
        out.push_str(&t.render(4));
    }
    for (i, e) in v["extents"].as_array().into_iter().flatten().enumerate() {
        let mut t = Table::default();
        t.row(
            "extent",
            format!(
                "{} {} at {} ({}), {}",
                s(&e["access"]),
                s(&e["type"]),
                u(&e["start"]),
                size_both(&e["size"]),
                e["file"]
                    .as_str()
                    .map(|f| format!("file {f} offset {}", u(&e["offset"])))
                    .unwrap_or_else(|| "no file".into())
            ),
        );
        if let Some(x) = e.get("sparse") {
            t.row(
                "header",
                format!(
                    "version {} at offset {} (from the {}), flags {} ({})",
                    u(&x["version"]),
                    u(&x["offset"]),
                    s(&x["header_source"]),
                    s(&x["flags"]),
                    x["flag_names"]
                        .as_array()
                        .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
            );
            t.row("capacity", format!("{} sectors", u(&x["capacity"])));
            t.row(
                "grain size",
                format!(
                    "{} sectors ({} bytes)",
                    u(&x["grain_size"]),
                    u(&x["grain_bytes"])
                ),
            );
            t.row(
                "grain directory",
                format!(
                    "sector {}, {} entries, {} tables of {} entries; redundant at sector {}",
                    s(&x["gd_offset"]),
                    u(&x["gd_entries"]),
                    u(&x["grain_tables"]),
                    u(&x["num_gtes_per_gt"]),
                    u(&x["rgd_offset"])
                ),
            );
            t.row(
                "grains",
                format!(
                    "{} allocated, {} zeroed, of {}",
                    u(&x["allocated_grains"]),
                    u(&x["zeroed_grains"]),
                    u(&x["grains"])
                ),
            );
            t.row(
                "embedded descriptor",
                format!(
                    "sector {} ({} sectors)",
                    u(&x["descriptor_offset"]),
                    u(&x["descriptor_size"])
                ),
            );
            t.row("overhead", format!("{} sectors", u(&x["overhead"])));
            t.row("compression", s(&x["compress_algorithm"]));
            t.row(
                "unclean shutdown",
                if x["unclean_shutdown"].as_bool() == Some(true) {
                    "YES"
                } else {
                    "no"
                }
                .into(),
            );
        }
        out.push_str(&format!("VMDK extent {i}:\n"));
        out.push_str(&t.render(4));
    }
    if let Some(chain) = v["chain"].as_array() {
        out.push_str("parent chain:\n");
        for (i, l) in chain.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {} ({}, CID {}, {} allocated)\n",
                i + 1,
                escape(&s(&l["file"])),
                s(&l["create_type"]),
                s(&l["cid"]),
                human(u(&l["allocated_bytes"])),
            ));
        }
    }
    out
}
