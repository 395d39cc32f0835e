//! The disk report as JSON (schema: docs/json.md).

use serde_json::{Value, json};

use super::DiskReport;
use crate::disk::Volume;
use crate::disk::guest::OsFacts;
use crate::disk::lvm::VolumeGroup;
use crate::disk::partition::PartitionTable;

impl DiskReport {
    /// The report as JSON. Strings from the disk are JSON-escaped, not terminal-escaped.
    /// Sizes and offsets are bytes; `null` means unknown.
    ///
    /// ```text
    /// { "virtual_size": u64,
    ///   "partition_table": { "type": "mbr"|"gpt"|"none", "sector_size": 512|4096,
    ///       "disk_id": str|null, "gpt_header": "primary"|"backup"|null,
    ///       "protective_mbr": bool, "hybrid_mbr": bool,
    ///       "partitions": [ { "number", "kind": "primary"|"extended"|"logical"|"gpt",
    ///           "start", "end" (exclusive), "size", "type_code" ("0x83" or GUID),
    ///           "type_name", "bootable", "guid", "name", "attributes" } ] },
    ///   "file_systems": [ { "partition": n|null (whole disk), "start", "size" (region),
    ///       "type": "ext4"|...|null, "label", "uuid", "block_size", "fs_size"
    ///       (what the superblock claims), "features": [str] } ],
    ///   "guest": { "os": null | { "os_type", "partition", "id", "version_id",
    ///           "pretty_name", "release_file", "arch": {"value", "evidence", "reason"} },
    ///       "efi_loaders": [ { "partition", "path", "arch" } ], "bios_boot": [str] },
    ///   "import": { "format"|"architecture"|"os_type"|"platform"|"boot_mode":
    ///           {"value": str, "evidence": str, "reason": null}
    ///           | {"value": null, "evidence": null, "reason": str},
    ///       "min_disk_bytes": {"value": u64, "evidence": str, "reason": null},
    ///       "min_disk_image_size_gib": u64 },
    ///   "lvm" (only when LVM2 PVs were found): { "volume_groups": [ { "name", "uuid",
    ///       "extent_size", "pvs": [ { "name", "id", "pe_start", "disk_start"|null } ],
    ///       "lvs": [ { "name", "size", "segments": [ { "start_extent", "extent_count",
    ///           "type", "pv"|null, "pv_start_extent"|null } ], "supported": bool,
    ///           "unsupported_reason"|null, "file_system": {"type","label","uuid",
    ///           "block_size","fs_size"}|null } ] } ] },
    ///   "warnings": [str], "bytes_read": u64 }
    /// ```
    /// `guest.os.lv` ("vg/lv") is present only when the root is in a logical volume;
    /// `guest.os.windows` ({product_name, current_build, installation_type, edition_id})
    /// only when a Windows SOFTWARE hive gave a version.
    pub fn to_json(&self) -> Value {
        let mut v = self.base_json();
        v["readiness"] = self.readiness.to_json();
        if !self.lvm.is_empty() {
            v["lvm"] = json!({"volume_groups": self.lvm.iter().map(vg_json).collect::<Vec<_>>()});
        }
        if let Some(lv) = self.os.as_ref().and_then(|o| o.lv.as_ref()) {
            v["guest"]["os"]["lv"] = json!(lv);
        }
        if let Some(w) = self.os.as_ref().and_then(|o| o.windows.as_ref()) {
            v["guest"]["os"]["windows"] = json!({
                "product_name": w.product_name, "current_build": w.current_build,
                "installation_type": w.installation_type, "edition_id": w.edition_id,
            });
        }
        v
    }

    fn base_json(&self) -> Value {
        json!({
            "virtual_size": self.virtual_size,
            "partition_table": table_json(&self.table),
            "file_systems": self.volumes.iter().map(volume_json).collect::<Vec<_>>(),
            "guest": {
                "os": self.os.as_ref().map(os_json),
                "efi_loaders": self.efi_loaders.iter().map(|l| json!({
                    "partition": l.partition, "path": l.path, "arch": l.arch,
                })).collect::<Vec<_>>(),
                "bios_boot": self.bios_boot,
            },
            "import": {
                "format": self.import.format.to_json(),
                "architecture": self.import.architecture.to_json(),
                "os_type": self.import.os_type.to_json(),
                "platform": self.import.platform.to_json(),
                "boot_mode": self.import.boot_mode.to_json(),
                "min_disk_bytes": {"value": self.import.min_disk_bytes, "evidence": self.import.min_disk_evidence, "reason": null},
                "min_disk_image_size_gib": self.import.min_disk_image_size_gib,
            },
            "warnings": self.warnings,
            "bytes_read": self.bytes_read,
        })
    }
}

fn table_json(t: &PartitionTable) -> Value {
    json!({
        "type": t.kind.as_str(),
        "sector_size": t.sector_size,
        "disk_id": t.disk_id,
        "gpt_header": t.gpt_header,
        "protective_mbr": t.protective_mbr,
        "hybrid_mbr": t.hybrid_mbr,
        "partitions": t.partitions.iter().map(|p| json!({
            "number": p.number,
            "kind": p.kind.as_str(),
            "start": p.start,
            "end": p.end(),
            "size": p.size,
            "type_code": p.type_code,
            "type_name": p.type_name,
            "bootable": p.bootable,
            "guid": p.guid,
            "name": p.name,
            "attributes": p.attributes,
        })).collect::<Vec<_>>(),
    })
}

fn volume_json(v: &Volume) -> Value {
    let f = v.fs.as_ref();
    json!({
        "partition": v.partition,
        "start": v.start,
        "size": v.size,
        "type": f.map(|f| f.kind),
        "label": f.and_then(|f| f.label.clone()),
        "uuid": f.and_then(|f| f.uuid.clone()),
        "block_size": f.and_then(|f| f.block_size),
        "fs_size": f.and_then(|f| f.size),
        "features": f.map(|f| f.features.clone()).unwrap_or_default(),
    })
}

fn vg_json(vg: &VolumeGroup) -> Value {
    json!({
        "name": vg.name,
        "uuid": vg.uuid,
        "extent_size": vg.extent_size,
        "pvs": vg.pvs.iter().map(|p| json!({
            "name": p.name, "id": p.id, "pe_start": p.pe_start, "disk_start": p.disk_start,
        })).collect::<Vec<_>>(),
        "lvs": vg.lvs.iter().map(|lv| json!({
            "name": lv.name,
            "size": lv.size,
            "segments": lv.segments.iter().map(|s| json!({
                "start_extent": s.start_extent,
                "extent_count": s.extent_count,
                "type": s.kind,
                "pv": s.pv.as_ref().map(|p| &p.0),
                "pv_start_extent": s.pv.as_ref().map(|p| p.1),
            })).collect::<Vec<_>>(),
            "supported": lv.unsupported.is_none(),
            "unsupported_reason": lv.unsupported,
            "file_system": lv.fs.as_ref().map(|f| json!({
                "type": f.kind, "label": f.label, "uuid": f.uuid,
                "block_size": f.block_size, "fs_size": f.size,
            })),
        })).collect::<Vec<_>>(),
    })
}

fn os_json(o: &OsFacts) -> Value {
    json!({
        "os_type": o.os_type,
        "partition": o.partition,
        "id": o.id,
        "version_id": o.version_id,
        "pretty_name": o.pretty_name,
        "release_file": o.release_file,
        "arch": match &o.arch {
            Some(a) => json!({"value": a.arch, "evidence": a.evidence, "reason": null}),
            None => json!({"value": null, "evidence": null, "reason": o.arch_reason}),
        },
    })
}
