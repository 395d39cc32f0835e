//! The disk report as JSON (schema: docs/json.md).

use serde::Serialize;
use serde_json::Value;

use super::{DiskReport, Fact};
use crate::disk::Volume;
use crate::disk::fs::FsInfo;
use crate::disk::guest::{EfiLoader, Machine, OsFacts, WindowsVersion};
use crate::disk::lvm::{LogicalVolume, PvRef, Segment, VolumeGroup};
use crate::disk::partition::{Partition, PartitionTable};
use crate::disk::readiness::finding::Readiness;

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
        let i = &self.import;
        let doc = Doc {
            virtual_size: self.virtual_size,
            partition_table: Table::of(&self.table),
            file_systems: self.volumes.iter().map(FileSystem::of).collect(),
            guest: Guest {
                os: self.os.as_ref().map(Os::of),
                efi_loaders: &self.efi_loaders,
                bios_boot: &self.bios_boot,
            },
            import: Import {
                format: &i.format,
                architecture: &i.architecture,
                os_type: &i.os_type,
                platform: &i.platform,
                boot_mode: &i.boot_mode,
                min_disk_bytes: Fact::known(i.min_disk_bytes, i.min_disk_evidence.as_str()),
                min_disk_image_size_gib: i.min_disk_image_size_gib,
            },
            lvm: (!self.lvm.is_empty()).then(|| Lvm {
                volume_groups: self.lvm.iter().map(Vg::of).collect(),
            }),
            readiness: &self.readiness,
            warnings: &self.warnings,
            bytes_read: self.bytes_read,
        };
        // Serialising borrowed plain data cannot fail; Null would show it, never a panic.
        serde_json::to_value(doc).unwrap_or(Value::Null)
    }
}

// The document's shape, field by field (docs/json.md). serde_json's maps keep keys sorted, so
// the order here is for the reader only.

#[derive(Serialize)]
struct Doc<'a> {
    virtual_size: u64,
    partition_table: Table<'a>,
    file_systems: Vec<FileSystem<'a>>,
    guest: Guest<'a>,
    import: Import<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lvm: Option<Lvm<'a>>,
    readiness: &'a Readiness,
    warnings: &'a [String],
    bytes_read: u64,
}

#[derive(Serialize)]
struct Table<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sector_size: u32,
    disk_id: &'a Option<String>,
    gpt_header: Option<&'static str>,
    protective_mbr: bool,
    hybrid_mbr: bool,
    partitions: Vec<PartitionJson<'a>>,
}

impl<'a> Table<'a> {
    fn of(t: &'a PartitionTable) -> Self {
        Table {
            kind: t.kind.as_str(),
            sector_size: t.sector_size,
            disk_id: &t.disk_id,
            gpt_header: t.gpt_header,
            protective_mbr: t.protective_mbr,
            hybrid_mbr: t.hybrid_mbr,
            partitions: t.partitions.iter().map(PartitionJson::of).collect(),
        }
    }
}

#[derive(Serialize)]
struct PartitionJson<'a> {
    number: u32,
    kind: &'static str,
    start: u64,
    end: u64,
    size: u64,
    type_code: &'a str,
    type_name: &'static str,
    bootable: bool,
    guid: &'a Option<String>,
    name: &'a Option<String>,
    attributes: Option<u64>,
}

impl<'a> PartitionJson<'a> {
    fn of(p: &'a Partition) -> Self {
        PartitionJson {
            number: p.number,
            kind: p.kind.as_str(),
            start: p.start,
            end: p.end(),
            size: p.size,
            type_code: &p.type_code,
            type_name: p.type_name,
            bootable: p.bootable,
            guid: &p.guid,
            name: &p.name,
            attributes: p.attributes,
        }
    }
}

#[derive(Serialize)]
struct FileSystem<'a> {
    partition: Option<u32>,
    start: u64,
    size: u64,
    #[serde(rename = "type")]
    kind: Option<&'static str>,
    label: Option<&'a str>,
    uuid: Option<&'a str>,
    block_size: Option<u64>,
    fs_size: Option<u64>,
    features: &'a [&'static str],
}

impl<'a> FileSystem<'a> {
    fn of(v: &'a Volume) -> Self {
        let f = v.fs.as_ref();
        FileSystem {
            partition: v.partition,
            start: v.start,
            size: v.size,
            kind: f.map(|f| f.kind.name()),
            label: f.and_then(|f| f.label.as_deref()),
            uuid: f.and_then(|f| f.uuid.as_deref()),
            block_size: f.and_then(|f| f.block_size),
            fs_size: f.and_then(|f| f.size),
            features: f.map_or(&[], |f| f.features.as_slice()),
        }
    }
}

#[derive(Serialize)]
struct Guest<'a> {
    os: Option<Os<'a>>,
    efi_loaders: &'a [EfiLoader],
    bios_boot: &'a [String],
}

impl Serialize for EfiLoader {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Loader<'a> {
            partition: Option<u32>,
            path: &'a str,
            arch: Option<Machine>,
        }
        Loader {
            partition: self.partition,
            path: &self.path,
            arch: self.arch,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct Os<'a> {
    os_type: crate::disk::guest::OsFamily,
    partition: Option<u32>,
    id: &'a Option<String>,
    version_id: &'a Option<String>,
    pretty_name: &'a Option<String>,
    release_file: &'a Option<String>,
    arch: Arch<'a>,
    /// Only when the root is in a logical volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    lv: Option<&'a str>,
    /// Only when a Windows SOFTWARE hive gave a version.
    #[serde(skip_serializing_if = "Option::is_none")]
    windows: Option<Windows<'a>>,
}

impl<'a> Os<'a> {
    fn of(o: &'a OsFacts) -> Self {
        Os {
            os_type: o.os_type,
            partition: o.partition,
            id: &o.id,
            version_id: &o.version_id,
            pretty_name: &o.pretty_name,
            release_file: &o.release_file,
            arch: match &o.arch {
                Some(a) => Arch {
                    value: Some(a.arch),
                    evidence: Some(&a.evidence),
                    reason: None,
                },
                None => Arch {
                    value: None,
                    evidence: None,
                    reason: o.arch_reason.as_deref(),
                },
            },
            lv: o.lv.as_deref(),
            windows: o.windows.as_ref().map(Windows),
        }
    }
}

/// The root's machine: like a [`Fact`], but the reason may be missing (`null`).
#[derive(Serialize)]
struct Arch<'a> {
    value: Option<Machine>,
    evidence: Option<&'a str>,
    reason: Option<&'a str>,
}

/// `{product_name, current_build, installation_type, edition_id}`.
struct Windows<'a>(&'a WindowsVersion);

impl Serialize for Windows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct W<'a> {
            product_name: &'a Option<String>,
            current_build: &'a Option<String>,
            installation_type: &'a Option<String>,
            edition_id: &'a Option<String>,
        }
        let w = self.0;
        W {
            product_name: &w.product_name,
            current_build: &w.current_build,
            installation_type: &w.installation_type,
            edition_id: &w.edition_id,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct Import<'a> {
    format: &'a Fact,
    architecture: &'a Fact,
    os_type: &'a Fact,
    platform: &'a Fact,
    boot_mode: &'a Fact,
    min_disk_bytes: Fact<u64>,
    min_disk_image_size_gib: u64,
}

#[derive(Serialize)]
struct Lvm<'a> {
    volume_groups: Vec<Vg<'a>>,
}

#[derive(Serialize)]
struct Vg<'a> {
    name: &'a str,
    uuid: &'a str,
    extent_size: u64,
    pvs: Vec<Pv<'a>>,
    lvs: Vec<Lv<'a>>,
}

impl<'a> Vg<'a> {
    fn of(vg: &'a VolumeGroup) -> Self {
        Vg {
            name: &vg.name,
            uuid: &vg.uuid,
            extent_size: vg.extent_size,
            pvs: vg.pvs.iter().map(Pv).collect(),
            lvs: vg.lvs.iter().map(Lv::of).collect(),
        }
    }
}

/// `{name, id, pe_start, disk_start}`.
struct Pv<'a>(&'a PvRef);

impl Serialize for Pv<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct P<'a> {
            name: &'a str,
            id: &'a str,
            pe_start: u64,
            disk_start: Option<u64>,
        }
        let p = self.0;
        P {
            name: &p.name,
            id: &p.id,
            pe_start: p.pe_start,
            disk_start: p.disk_start,
        }
        .serialize(s)
    }
}

#[derive(Serialize)]
struct Lv<'a> {
    name: &'a str,
    size: u64,
    segments: Vec<Seg<'a>>,
    supported: bool,
    unsupported_reason: &'a Option<String>,
    file_system: Option<LvFs<'a>>,
}

impl<'a> Lv<'a> {
    fn of(lv: &'a LogicalVolume) -> Self {
        Lv {
            name: &lv.name,
            size: lv.size,
            segments: lv.segments.iter().map(Seg::of).collect(),
            supported: lv.unsupported.is_none(),
            unsupported_reason: &lv.unsupported,
            file_system: lv.fs.as_ref().map(LvFs::of),
        }
    }
}

#[derive(Serialize)]
struct Seg<'a> {
    start_extent: u64,
    extent_count: u64,
    #[serde(rename = "type")]
    kind: &'a str,
    pv: Option<&'a str>,
    pv_start_extent: Option<u64>,
}

impl<'a> Seg<'a> {
    fn of(s: &'a Segment) -> Self {
        Seg {
            start_extent: s.start_extent,
            extent_count: s.extent_count,
            kind: &s.kind,
            pv: s.pv.as_ref().map(|p| p.0.as_str()),
            pv_start_extent: s.pv.as_ref().map(|p| p.1),
        }
    }
}

#[derive(Serialize)]
struct LvFs<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    label: &'a Option<String>,
    uuid: &'a Option<String>,
    block_size: Option<u64>,
    fs_size: Option<u64>,
}

impl<'a> LvFs<'a> {
    fn of(f: &'a FsInfo) -> Self {
        LvFs {
            kind: f.kind.name(),
            label: &f.label,
            uuid: &f.uuid,
            block_size: f.block_size,
            fs_size: f.size,
        }
    }
}
