//! The inspection report: what was seen on the disk, each fact with its evidence, and its
//! JSON ([`json`]) and text ([`text`]) forms. What the import makes of the facts (ImportImage's
//! Architecture, OSType, Platform, BootMode, DiskImageSize) is not decided here: the caller
//! of [`super::inspect_disk`] passes a reading (the import plan's, `crate::plan::reading`),
//! and the report shows its answer in [`ImportFacts`]: the API's values by name, as the JSON
//! and text show them. The plan keeps the typed values the reading returned alongside.

mod json;
mod text;

use super::Volume;
use super::guest::{EfiLoader, Machine, OsFacts};
use super::lvm::VolumeGroup;
use super::partition::PartitionTable;
pub use crate::disk::fact::Fact;
use crate::text::escape;

/// What the import makes of the disk, in ImportImage's words (parameter names in the
/// comments), as the report shows it: each value by its API name. Filled by the reading given
/// to [`super::inspect_disk`], which hands its typed values to the plan directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFacts {
    /// DiskDeviceMapping.N.Format: set by the caller, which knows the image format.
    pub format: Fact,
    /// Architecture.
    pub architecture: Fact,
    /// The same Architecture as the machine the disk names it by, for the readiness checks
    /// (not shown: `architecture` is).
    pub machine: Option<Machine>,
    /// OSType.
    pub os_type: Fact,
    /// Platform.
    pub platform: Fact,
    /// BootMode.
    pub boot_mode: Fact,
    /// The smallest disk that holds the virtual disk, every partition and every file system
    /// ([`Seen::min_disk`]).
    pub min_disk_bytes: u64,
    pub min_disk_evidence: String,
    /// DiskDeviceMapping.N.DiskImageSize: `min_disk_bytes` in whole GiB.
    pub min_disk_image_size_gib: u64,
    /// Why the import docs require cloud-init, CONFIG_FW_CFG_SYSFS and growpart of this
    /// guest (e.g. "arm64 images"); `None` where they are only recommended. The caller's
    /// reading decides it: the rule is the cloud's, not the disk's.
    pub cloud_init_required: Option<String>,
}

/// What was seen that the import's reading needs: the OS root, the EFI loaders (with their
/// PE machines), the BIOS boot evidence, and the smallest disk that holds everything.
pub struct Seen<'a> {
    pub os: Option<&'a OsFacts>,
    pub efi_loaders: &'a [EfiLoader],
    pub bios_boot: &'a [String],
    pub min_disk: &'a Fact<u64>,
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

/// `partition N`, or the whole-disk file system.
pub fn where_is(partition: Option<u32>) -> String {
    partition.map_or("the whole-disk file system".into(), |n| {
        format!("partition {n}")
    })
}

/// Where an OS root is: an LVM2 logical volume, a partition or the whole disk.
pub fn os_place(o: &OsFacts) -> String {
    match &o.lv {
        Some(lv) => format!("LVM2 logical volume {}", escape(lv)),
        None => where_is(o.partition),
    }
}

/// What showed the OS root to be one: libguestfs' tests for a Linux and a Windows root.
pub fn os_root_evidence(o: &OsFacts) -> String {
    match o.os_type {
        super::guest::OsFamily::Windows => format!(
            "Windows/System32/cmd.exe and System32/config on {}",
            os_place(o)
        ),
        super::guest::OsFamily::Linux => {
            format!("/etc, /bin and /etc/fstab or /etc/hosts on {}", os_place(o))
        }
    }
}

/// Two witnesses of the machine that disagree (the root's binaries and the EFI loaders) are
/// a warning: the report shows both, the reader decides.
pub fn arch_contradiction(os: Option<&OsFacts>, loaders: &[EfiLoader], warnings: &mut Vec<String>) {
    let Some(a) = os.and_then(|o| o.arch.as_ref()) else {
        return;
    };
    let loader_arches: Vec<Machine> = loaders.iter().filter_map(|l| l.arch).collect();
    if !loader_arches.is_empty() && !loader_arches.contains(&a.arch) {
        warnings.push(format!(
            "contradiction: the root file system is {} ({}) but the EFI loaders are {}",
            a.arch,
            a.evidence,
            loaders
                .iter()
                .map(|l| match l.arch {
                    Some(m) => format!("{m} ({})", l.path),
                    None => format!("? ({})", l.path),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// The smallest disk that holds the virtual disk, every partition and every file system,
/// and what ends last.
pub fn min_disk(virtual_size: u64, table: &PartitionTable, volumes: &[Volume]) -> Fact<u64> {
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
    Fact::known(best.0, best.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::guest::{ArchFact, OsFamily};

    #[test]
    fn arm64_root_with_x86_64_loader_is_a_contradiction() {
        let mut w = Vec::new();
        let os = OsFacts {
            os_type: OsFamily::Linux,
            arch: Some(ArchFact {
                arch: Machine::Arm64,
                evidence: "ELF header of /bin/bash".into(),
            }),
            ..OsFacts::default()
        };
        let loader = EfiLoader {
            partition: Some(1),
            path: "/EFI/BOOT/BOOTX64.EFI".into(),
            arch: Some(Machine::X86_64),
        };
        arch_contradiction(Some(&os), std::slice::from_ref(&loader), &mut w);
        assert!(
            w[0].starts_with("contradiction: the root file system is arm64"),
            "{w:?}"
        );
        let same = EfiLoader {
            arch: Some(Machine::Arm64),
            ..loader
        };
        let mut w = Vec::new();
        arch_contradiction(Some(&os), &[same], &mut w);
        assert!(w.is_empty(), "{w:?}");
    }
}
