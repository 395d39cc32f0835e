//! The inspection report, the import facts derived from it, and its JSON and text forms.

use serde_json::{Value, json};

use super::Volume;
use super::guest::{EfiLoader, OsFacts};
use super::lvm::VolumeGroup;
use super::partition::PartitionTable;
use crate::text::{escape, human};

const GIB: u64 = 1 << 30;

/// A value with what said so, or no value with why not. Never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub value: Option<String>,
    /// The evidence when `value` is set; the reason it is unknown otherwise.
    pub because: String,
}

impl Fact {
    pub fn known(value: impl Into<String>, evidence: impl Into<String>) -> Self {
        Fact {
            value: Some(value.into()),
            because: evidence.into(),
        }
    }
    pub fn unknown(reason: impl Into<String>) -> Self {
        Fact {
            value: None,
            because: reason.into(),
        }
    }
    pub fn to_json(&self) -> Value {
        match &self.value {
            Some(v) => json!({"value": v, "evidence": self.because, "reason": null}),
            None => json!({"value": null, "evidence": null, "reason": self.because}),
        }
    }
}

/// What ImportImage needs, as far as the disk tells (parameter names in the comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFacts {
    /// DiskDeviceMapping.N.Format: set by the caller, which knows the image format.
    pub format: Fact,
    /// Architecture: `x86_64`, `i386` or `arm64`.
    pub architecture: Fact,
    /// OSType: `linux` or `windows`.
    pub os_type: Fact,
    /// Platform: one of the API's exact names.
    pub platform: Fact,
    /// BootMode: `BIOS` or `UEFI`.
    pub boot_mode: Fact,
    /// The smallest disk that holds the virtual disk, every partition and every file system.
    pub min_disk_bytes: u64,
    pub min_disk_evidence: String,
    /// DiskDeviceMapping.N.DiskImageSize: `min_disk_bytes` rounded up to whole GiB.
    pub min_disk_image_size_gib: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskReport {
    pub virtual_size: u64,
    pub table: PartitionTable,
    pub volumes: Vec<Volume>,
    /// LVM2 volume groups found on the PVs among `volumes`.
    pub lvm: Vec<VolumeGroup>,
    /// The operating system root, if one was found.
    pub os: Option<OsFacts>,
    pub efi_loaders: Vec<EfiLoader>,
    /// Why the disk can boot by BIOS (empty: no sign of it).
    pub bios_boot: Vec<String>,
    pub import: ImportFacts,
    /// Will it boot and be reachable on ECS (issue 17).
    pub readiness: super::readiness::finding::Readiness,
    pub warnings: Vec<String>,
    /// Bytes read from the virtual disk during inspection.
    pub bytes_read: u64,
}

impl DiskReport {
    /// Record the image format (`RAW`, `VHD`): only the image layer knows it.
    pub fn set_format(&mut self, format: &str, evidence: &str) {
        self.import.format = Fact::known(format, evidence);
    }
}

/// Derive the import facts; contradictions between witnesses go to `warnings`.
pub fn import_facts(
    virtual_size: u64,
    table: &PartitionTable,
    volumes: &[Volume],
    os: Option<&OsFacts>,
    loaders: &[EfiLoader],
    bios: &[String],
    warnings: &mut Vec<String>,
) -> ImportFacts {
    let architecture = architecture(os, loaders, warnings);
    let boot_mode = boot_mode(architecture.value.as_deref(), loaders, bios, warnings);
    let (min_disk_bytes, min_disk_evidence) = min_disk(virtual_size, table, volumes);
    ImportFacts {
        format: Fact::unknown("set by the image layer"),
        architecture,
        os_type: match os {
            Some(o) => Fact::known(o.os_type.clone(), os_root_evidence(o)),
            None => Fact::unknown("no Linux or Windows root file system found"),
        },
        platform: match os {
            Some(o) => platform(o),
            None => Fact::unknown("no operating system found"),
        },
        boot_mode,
        min_disk_bytes,
        min_disk_evidence,
        min_disk_image_size_gib: min_disk_bytes.div_ceil(GIB),
    }
}

fn where_is(partition: Option<u32>) -> String {
    partition.map_or("the whole-disk file system".into(), |n| {
        format!("partition {n}")
    })
}

/// Where an OS root is: an LVM2 logical volume, a partition or the whole disk.
fn os_place(o: &OsFacts) -> String {
    match &o.lv {
        Some(lv) => format!("LVM2 logical volume {}", escape(lv)),
        None => where_is(o.partition),
    }
}

fn os_root_evidence(o: &OsFacts) -> String {
    match o.os_type.as_str() {
        "windows" => format!(
            "Windows/System32/cmd.exe and System32/config on {}",
            os_place(o)
        ),
        _ => format!("/etc, /bin and /etc/fstab or /etc/hosts on {}", os_place(o)),
    }
}

const API_ARCHES: &[&str] = &["x86_64", "i386", "arm64"];

fn architecture(os: Option<&OsFacts>, loaders: &[EfiLoader], warnings: &mut Vec<String>) -> Fact {
    let loader_arches: Vec<&str> = loaders.iter().filter_map(|l| l.arch.as_deref()).collect();
    if let Some(a) = os.and_then(|o| o.arch.as_ref()) {
        if !loader_arches.is_empty() && !loader_arches.contains(&a.arch.as_str()) {
            warnings.push(format!(
                "contradiction: the root file system is {} ({}) but the EFI loaders are {}",
                a.arch,
                a.evidence,
                loaders
                    .iter()
                    .map(|l| format!("{} ({})", l.arch.as_deref().unwrap_or("?"), l.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if API_ARCHES.contains(&a.arch.as_str()) {
            return Fact::known(
                a.arch.clone(),
                format!(
                    "{} on {}",
                    a.evidence,
                    os.map_or_else(|| where_is(None), os_place)
                ),
            );
        }
        return Fact::unknown(format!(
            "the guest is {} ({}); ImportImage accepts only i386, x86_64, arm64",
            a.arch, a.evidence
        ));
    }
    // No userland witness: an EFI loader is still a witness of the machine the disk boots on.
    if let Some(l) = loaders
        .iter()
        .find(|l| l.arch.as_deref().is_some_and(|a| API_ARCHES.contains(&a)))
    {
        let arch = l.arch.clone().unwrap_or_default();
        return Fact::known(
            arch,
            format!(
                "PE header of EFI loader {} on {} (no OS binary read)",
                l.path,
                where_is(l.partition)
            ),
        );
    }
    match os {
        Some(o) => Fact::unknown(
            o.arch_reason
                .clone()
                .unwrap_or_else(|| "no binary read".into()),
        ),
        None => Fact::unknown("no operating system root and no EFI loader found"),
    }
}

fn boot_mode(
    arch: Option<&str>,
    loaders: &[EfiLoader],
    bios: &[String],
    warnings: &mut Vec<String>,
) -> Fact {
    let uefi: Vec<String> = loaders
        .iter()
        .map(|l| format!("{} on {}", l.path, where_is(l.partition)))
        .collect();
    match (uefi.is_empty(), bios.is_empty()) {
        (false, true) => Fact::known("UEFI", format!("EFI loader {}", uefi.join(", "))),
        (true, false) => {
            if arch == Some("arm64") {
                warnings.push("contradiction: arm64 guest with only BIOS boot evidence; ECS boots arm64 by UEFI only".into());
            }
            Fact::known("BIOS", bios.join(", "))
        }
        (false, false) => {
            // The disk boots either way; arm64 allows only UEFI, otherwise BIOS is the API's
            // default. Both witnesses are listed so the user can choose otherwise.
            let pick = if arch == Some("arm64") {
                "UEFI"
            } else {
                "BIOS"
            };
            Fact::known(
                pick,
                format!(
                    "both: UEFI ({}) and BIOS ({}); {pick} chosen as the {}",
                    uefi.join(", "),
                    bios.join(", "),
                    if pick == "UEFI" {
                        "only mode arm64 allows"
                    } else {
                        "API default"
                    }
                ),
            )
        }
        (true, true) => Fact::unknown(
            "no EFI loader on a FAT file system, no MBR boot code, no BIOS boot partition",
        ),
    }
}

fn min_disk(virtual_size: u64, table: &PartitionTable, volumes: &[Volume]) -> (u64, String) {
    let mut best = (virtual_size, "virtual size".to_string());
    for p in &table.partitions {
        if p.end() > best.0 {
            best = (p.end(), format!("end of partition {}", p.number));
        }
    }
    for v in volumes {
        if let Some(end) = v.fs_end().filter(|&e| e > best.0) {
            let kind = v.fs.as_ref().map_or("", |f| f.kind.name());
            best = (
                end,
                format!("end of the {kind} file system on {}", where_is(v.partition)),
            );
        }
    }
    best
}

/// Map os-release facts to the API's Platform names (docs/aliyun-import.md section 2).
pub fn platform(o: &OsFacts) -> Fact {
    if o.os_type == "windows" {
        return windows_platform(o.windows.as_ref());
    }
    let Some(id) = o.id.as_deref() else {
        return Fact::known(
            "Others Linux",
            "Linux root without a readable os-release, lsb-release or release file",
        );
    };
    let src = o.release_file.as_deref().unwrap_or("release file");
    let stream = [&o.name, &o.version, &o.pretty_name]
        .iter()
        .any(|s| s.as_deref().is_some_and(|s| s.contains("Stream")));
    let name = match id {
        "centos" if stream => "CentOS Stream",
        "centos" => "CentOS",
        "rhel" => "RedHat",
        "sles" | "sled" | "sles_sap" => "SUSE",
        i if i.starts_with("opensuse") => "OpenSUSE",
        "alinux" => "Aliyun",
        "anolis" => "Anolis",
        "ubuntu" => "Ubuntu",
        "debian" => "Debian",
        "fedora" if o.variant_id.as_deref() == Some("coreos") => "Fedora CoreOS",
        "fedora-coreos" => "Fedora CoreOS",
        "fedora" => "Fedora",
        // Container Linux (the original CoreOS) says ID=coreos; the API names it CoreOS.
        "coreos" => "CoreOS",
        "rocky" => "Rocky Linux",
        "almalinux" => "AlmaLinux",
        "kylin" => "Kylin",
        "uos" => "UOS",
        "gentoo" => "Gentoo",
        "freebsd" => "FreeBSD",
        _ => {
            return Fact::known(
                "Others Linux",
                format!("ID={id} in {src} has no Platform of its own"),
            );
        }
    };
    Fact::known(name, format!("ID={id} in {src}"))
}

/// Windows Server releases by CurrentBuildNumber (docs/aliyun-import.md's Platform names).
const SERVER_BUILDS: &[(&str, &str)] = &[
    ("20348", "2022"),
    ("17763", "2019"),
    ("14393", "2016"),
    ("9600", "2012"),
    ("9200", "2012"),
    ("7601", "2008"),
    ("7600", "2008"),
    ("6002", "2008"),
    ("6001", "2008"),
    ("3790", "2003"),
];
const SERVER_YEARS: &[&str] = &["2022", "2019", "2016", "2012", "2008", "2003"];
const NEWEST_SERVER: &str = "2022";

/// A server (InstallationType Server or Server Core, or "Server" in ProductName) of a year the
/// API names is `Windows Server <year>`. The current Platform list has no generic Windows
/// value (the old `Other Windows` is gone), so any other Windows (a client release, Server
/// 2025, a build we do not know) takes the closest listed value: the Windows Server whose
/// build is the newest at or below its own (Windows 10 -> 2019, Windows 11 and Server 2025 ->
/// 2022, Windows 7 -> 2008), and with no build at all the newest listed, 2022. The evidence
/// says so; `--platform` chooses otherwise.
fn windows_platform(v: Option<&super::guest::WindowsVersion>) -> Fact {
    let Some(v) = v else {
        return Fact::known(
            format!("Windows Server {NEWEST_SERVER}"),
            "Windows root found, but no version in its SOFTWARE hive: the newest listed \
             Windows Server (the Platform list has no generic Windows value)",
        );
    };
    let product = v.product_name.as_deref().unwrap_or("");
    let build = v.current_build.as_deref().unwrap_or("");
    let itype = v.installation_type.as_deref().unwrap_or("");
    let evidence = format!(
        "SOFTWARE hive, Microsoft\\Windows NT\\CurrentVersion: ProductName={product:?}, CurrentBuildNumber={build:?}, InstallationType={itype:?}"
    );
    let server = itype.starts_with("Server") || product.contains("Server");
    let by_name = SERVER_YEARS
        .iter()
        .find(|y| server && product.contains(*y))
        .copied();
    let by_build = SERVER_BUILDS
        .iter()
        .find(|(b, _)| server && *b == build)
        .map(|(_, y)| *y);
    if let Some(year) = by_name.or(by_build) {
        return Fact::known(format!("Windows Server {year}"), evidence);
    }
    let n: Option<u32> = build.trim().parse().ok();
    let year = n
        .and_then(|n| {
            SERVER_BUILDS
                .iter()
                .filter_map(|(b, y)| b.parse::<u32>().ok().map(|b| (b, *y)))
                .filter(|(b, _)| *b <= n)
                .max_by_key(|(b, _)| *b)
                .map(|(_, y)| y)
        })
        .unwrap_or(NEWEST_SERVER);
    Fact::known(
        format!("Windows Server {year}"),
        format!(
            "{evidence}: a release the Platform list has no name for; the closest listed \
             (the Windows Server of the newest build at or below this one)"
        ),
    )
}

// ---------------------------------------------------------------------------------------
// JSON

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

// ---------------------------------------------------------------------------------------
// Text

/// `Some(s)` escaped for a terminal, or `-`.
fn opt(s: Option<&str>) -> String {
    s.map_or("-".into(), escape)
}

impl DiskReport {
    /// A human-readable report, `key: value` aligned like `qemu-img info`; every string from
    /// the disk is escaped.
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "{:<22}{} ({} bytes)\n",
            "virtual size:",
            human(self.virtual_size),
            self.virtual_size
        );
        s.push_str(&self.render_body());
        if !self.warnings.is_empty() {
            s.push_str("warnings:\n");
            for w in &self.warnings {
                s.push_str(&format!("    {}\n", escape(w)));
            }
        }
        s.push_str(&format!("{:<22}{}\n", "bytes read:", self.bytes_read));
        s
    }

    /// The partition table, file systems, guest and import sections, for a caller that prints
    /// the size and the warnings itself (`imgtool inspect`).
    pub fn render_body(&self) -> String {
        let mut s = format!("{:<22}{}\n", "partition table:", table_summary(&self.table));
        s.push_str(&partitions_text(&self.table));
        s.push_str(&volumes_text(&self.volumes));
        s.push_str(&lvm_text(&self.lvm));
        s.push_str(&guest_text(self));
        s.push_str(&import_text(&self.import));
        s.push_str(&self.readiness.render());
        s
    }
}

fn table_summary(t: &PartitionTable) -> String {
    let mut s = format!("{} ({}-byte sectors", t.kind.as_str(), t.sector_size);
    if let Some(h) = t.gpt_header {
        s.push_str(&format!(", {h} header"));
    }
    if t.hybrid_mbr {
        s.push_str(", hybrid MBR");
    }
    if let Some(id) = &t.disk_id {
        s.push_str(&format!(", disk id {}", escape(id)));
    }
    s + ")"
}

fn partitions_text(t: &PartitionTable) -> String {
    if t.partitions.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "partitions:\n    {:>3} {:>12} {:>12} {:>12}  {:<10} {}\n",
        "#", "start", "end", "size", "kind", "type"
    );
    for p in &t.partitions {
        let mut ty = format!("{} {}", p.type_code, p.type_name);
        if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
            ty.push_str(&format!(" \"{}\"", escape(n)));
        }
        if p.bootable {
            ty.push_str(" (boot)");
        }
        s.push_str(&format!(
            "    {:>3} {:>12} {:>12} {:>12}  {:<10} {ty}\n",
            p.number,
            p.start,
            p.end(),
            p.size,
            p.kind.as_str()
        ));
    }
    s
}

fn volumes_text(vs: &[Volume]) -> String {
    let mut s = String::from("file systems:\n");
    for v in vs {
        let place = v.partition.map_or("disk".into(), |n| n.to_string());
        let desc = match &v.fs {
            None => "(none recognised)".to_string(),
            Some(f) => format!(
                "{} label {} uuid {} block {} size {}{}",
                f.kind,
                opt(f.label.as_deref()),
                opt(f.uuid.as_deref()),
                f.block_size.map_or("-".into(), |b| b.to_string()),
                f.size.map_or("-".into(), |b| b.to_string()),
                if f.features.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", f.features.join(","))
                }
            ),
        };
        s.push_str(&format!("    {place:>4}  {desc}\n"));
    }
    s
}

/// One line per VG and per LV; nothing when there is no LVM.
fn lvm_text(vgs: &[VolumeGroup]) -> String {
    let mut s = String::new();
    for vg in vgs {
        s.push_str(&format!(
            "lvm vg: {} uuid {} extent {} pvs {}\n",
            escape(&vg.name),
            escape(&vg.uuid),
            vg.extent_size,
            vg.pvs.len()
        ));
        for lv in &vg.lvs {
            let fs = lv.fs.as_ref().map_or("-".to_string(), |f| {
                format!("{} label {}", f.kind, opt(f.label.as_deref()))
            });
            let state = lv.unsupported.as_deref().map_or("linear".to_string(), |r| {
                format!("unsupported: {}", escape(r))
            });
            s.push_str(&format!(
                "    lv {}  size {}  segments {}  {state}  fs {fs}\n",
                escape(&lv.name),
                lv.size,
                lv.segments.len()
            ));
        }
    }
    s
}

fn guest_text(r: &DiskReport) -> String {
    let mut s = String::from("guest:\n");
    match &r.os {
        Some(o) => {
            s.push_str(&format!(
                "    os: {} {} {} ({}) on {}, from {}\n",
                o.os_type,
                opt(o.id.as_deref()),
                opt(o.version_id.as_deref()),
                opt(o.pretty_name.as_deref()),
                os_place(o),
                opt(o.release_file.as_deref())
            ));
            match &o.arch {
                Some(a) => s.push_str(&format!("    arch: {} ({})\n", a.arch, escape(&a.evidence))),
                None => s.push_str(&format!(
                    "    arch: unknown ({})\n",
                    opt(o.arch_reason.as_deref())
                )),
            }
        }
        None => s.push_str("    os: none found\n"),
    }
    for l in &r.efi_loaders {
        s.push_str(&format!(
            "    efi loader: {} on {} ({})\n",
            escape(&l.path),
            where_is(l.partition),
            opt(l.arch.as_deref())
        ));
    }
    for b in &r.bios_boot {
        s.push_str(&format!("    bios boot: {b}\n"));
    }
    s
}

fn import_text(i: &ImportFacts) -> String {
    let mut s = String::from("import:\n");
    let mut fact = |k: &str, f: &Fact| {
        let v = f.value.as_deref().map_or("unknown".to_string(), escape);
        s.push_str(&format!("    {k:<18}{v:<13} ({})\n", escape(&f.because)));
    };
    fact("Format", &i.format);
    fact("Architecture", &i.architecture);
    fact("OSType", &i.os_type);
    fact("Platform", &i.platform);
    fact("BootMode", &i.boot_mode);
    s.push_str(&format!(
        "    {:<18}{:<14}({} bytes: {})\n",
        "DiskImageSize",
        format!("{} GiB", i.min_disk_image_size_gib),
        i.min_disk_bytes,
        i.min_disk_evidence
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::guest::ArchFact;

    fn linux(id: &str, arch: &str) -> OsFacts {
        OsFacts {
            os_type: "linux".into(),
            partition: Some(2),
            id: Some(id.into()),
            release_file: Some("/etc/os-release".into()),
            arch: Some(ArchFact {
                arch: arch.into(),
                evidence: "ELF header of /bin/bash".into(),
            }),
            ..OsFacts::default()
        }
    }

    fn loader(arch: &str) -> EfiLoader {
        EfiLoader {
            partition: Some(1),
            path: "/EFI/BOOT/BOOTX64.EFI".into(),
            arch: Some(arch.into()),
        }
    }

    #[test]
    fn windows_platform_from_the_hive() {
        use crate::disk::guest::WindowsVersion;
        let v = |p: &str, b: &str, t: &str| WindowsVersion {
            product_name: Some(p.into()),
            current_build: Some(b.into()),
            installation_type: Some(t.into()),
            edition_id: None,
        };
        let p = |w: WindowsVersion| windows_platform(Some(&w)).value.unwrap();
        assert_eq!(
            p(v("Windows Server 2022 Standard", "20348", "Server")),
            "Windows Server 2022"
        );
        // No year in the name: the build number decides.
        assert_eq!(
            p(v("Windows Server Datacenter", "14393", "Server Core")),
            "Windows Server 2016"
        );
        assert_eq!(
            p(v("Windows Server 2008 R2 Enterprise", "7601", "Server")),
            "Windows Server 2008"
        );
        // The current list has no generic Windows: the closest listed server.
        assert_eq!(
            p(v("Windows 10 Pro", "19045", "Client")),
            "Windows Server 2019"
        );
        assert_eq!(
            p(v("Windows 11 Pro", "22631", "Client")),
            "Windows Server 2022"
        );
        assert_eq!(
            p(v("Windows 7 Ultimate", "7601", "Client")),
            "Windows Server 2008"
        );
        // Server 2025 has no Platform of its own.
        assert_eq!(
            p(v("Windows Server 2025 Datacenter", "26100", "Server")),
            "Windows Server 2022"
        );
        assert_eq!(
            windows_platform(None).value.as_deref(),
            Some("Windows Server 2022")
        );
    }

    #[test]
    fn platform_names_are_the_apis() {
        let cases = [
            ("centos", "CentOS"),
            ("rhel", "RedHat"),
            ("sles", "SUSE"),
            ("opensuse-leap", "OpenSUSE"),
            ("alinux", "Aliyun"),
            ("rocky", "Rocky Linux"),
            ("almalinux", "AlmaLinux"),
            ("fedora-coreos", "Fedora CoreOS"),
            ("arch", "Others Linux"),
        ];
        for (id, want) in cases {
            assert_eq!(
                platform(&linux(id, "x86_64")).value.as_deref(),
                Some(want),
                "{id}"
            );
        }
        let mut stream = linux("centos", "x86_64");
        stream.name = Some("CentOS Stream".into());
        assert_eq!(platform(&stream).value.as_deref(), Some("CentOS Stream"));
        let mut fcos = linux("fedora", "x86_64");
        fcos.variant_id = Some("coreos".into());
        assert_eq!(platform(&fcos).value.as_deref(), Some("Fedora CoreOS"));
    }

    #[test]
    fn arm64_root_with_x86_64_loader_is_a_contradiction() {
        let mut w = Vec::new();
        let os = linux("debian", "arm64");
        let a = architecture(Some(&os), &[loader("x86_64")], &mut w);
        assert_eq!(a.value.as_deref(), Some("arm64"));
        assert!(
            w[0].starts_with("contradiction: the root file system is arm64"),
            "{w:?}"
        );
    }

    #[test]
    fn unsupported_arch_is_unknown_with_a_reason() {
        let mut w = Vec::new();
        let a = architecture(Some(&linux("debian", "riscv64")), &[], &mut w);
        assert_eq!(a.value, None);
        assert!(a.because.contains("accepts only"));
    }

    #[test]
    fn both_boot_modes_are_reported() {
        let mut w = Vec::new();
        let bios = ["non-zero boot code in MBR bytes 0..440".to_string()];
        let f = boot_mode(Some("x86_64"), &[loader("x86_64")], &bios, &mut w);
        assert_eq!(f.value.as_deref(), Some("BIOS"));
        assert!(f.because.starts_with("both: UEFI"), "{}", f.because);
        let f = boot_mode(Some("arm64"), &[loader("arm64")], &bios, &mut w);
        assert_eq!(f.value.as_deref(), Some("UEFI"));
    }
}
