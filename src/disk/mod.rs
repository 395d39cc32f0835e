//! What is on a virtual disk: partition table, file systems, and the guest inside (OS root,
//! os-release, ELF/PE machines, EFI loaders, BIOS boot code), each fact with its evidence.
//! What the import makes of them is the caller's reading (see [`inspect_disk`]). Knows only
//! [`VirtualDisk`]; never fails on corrupt content: what cannot be read becomes a warning.
// Every number here comes from a disk: a cast that could cut or flip it must say why it cannot.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod fact;
pub mod fs;
pub mod fs_guard;
pub mod guest;
pub mod guestfs;
pub mod initramfs;
pub mod lvm;
pub mod partition;
pub mod readiness;
pub mod regf;
pub mod report;
pub mod slice;

use crate::image::VirtualDisk;
use fs::{FsInfo, FsKind};
use guest::{EfiLoader, OsFacts};
use partition::{EntryKind, PartitionTable, Role, TableKind};
use slice::{CountingDisk, Slice};

pub use fact::Fact;
pub use partition::check::check_file as check;
pub use report::{DiskReport, ImportFacts, Seen};

/// At most this many file systems are opened to look for an OS or EFI loaders; a disk with
/// more partitions than this is unusual and each open has a read budget.
pub const MAX_FS_OPENED: usize = 16;

/// A region holding (maybe) a file system: a partition or the whole disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The partition number; `None` for a whole-disk file system.
    pub partition: Option<u32>,
    pub start: u64,
    pub size: u64,
    pub role: Role,
    pub fs: Option<FsInfo>,
}

impl Volume {
    /// One past the last byte the file system claims (or the region, if unknown).
    pub fn fs_end(&self) -> Option<u64> {
        self.fs
            .as_ref()
            .and_then(|f| f.size)
            .and_then(|s| self.start.checked_add(s))
    }
}

/// Everything imgtool can tell from the contents of `disk`, and what `reading` (the import
/// plan's, `crate::plan::reading::inspect_disk`) makes of it for ImportImage: the report
/// shows its [`ImportFacts`], the caller gets back the rest of its answer (`R`: the plan's
/// typed values, which this layer cannot name).
pub fn inspect_disk<R>(
    disk: &dyn VirtualDisk,
    reading: impl FnOnce(&Seen<'_>, &mut Vec<String>) -> (ImportFacts, R),
) -> (DiskReport, R) {
    let counting = CountingDisk::new(disk);
    let d: &dyn VirtualDisk = &counting;
    let mut warnings = Vec::new();
    let table = partition::read_table(d, &mut warnings);
    let mut volumes = probe_volumes(d, &table, &mut warnings);
    let mut os_found = Vec::new();
    let mut loaders = Vec::new();
    look_inside(d, &mut volumes, &mut os_found, &mut loaders, &mut warnings);
    let lvm = inspect_lvm(d, &volumes, &mut os_found, &mut loaders, &mut warnings);
    let bios = bios_evidence(d, &table);
    let os = pick_os(os_found, &mut warnings);
    let min_disk = report::min_disk(d.size(), &table, &volumes);
    report::arch_contradiction(os.as_ref(), &loaders, &mut warnings);
    let seen = Seen {
        os: os.as_ref(),
        efi_loaders: &loaders,
        bios_boot: &bios,
        min_disk: &min_disk,
    };
    let (import, read) = reading(&seen, &mut warnings);
    let readiness = readiness::assess(
        &readiness::Inputs {
            disk: d,
            table: &table,
            volumes: &volumes,
            lvm: &lvm,
            os: os.as_ref(),
            arch: import.machine,
            cloud_init_required: import.cloud_init_required.as_deref(),
        },
        &mut warnings,
    );
    let report = DiskReport {
        virtual_size: d.size(),
        table,
        volumes,
        lvm,
        os,
        efi_loaders: loaders,
        bios_boot: bios,
        import,
        readiness,
        warnings,
        bytes_read: counting.bytes_read(),
    };
    (report, read)
}

/// Probe each data partition (not extended containers), or the whole disk when there is no
/// partition table.
fn probe_volumes(
    disk: &dyn VirtualDisk,
    table: &PartitionTable,
    warnings: &mut Vec<String>,
) -> Vec<Volume> {
    if table.kind == TableKind::None {
        let fs = fs::probe(disk, warnings);
        return vec![Volume {
            partition: None,
            start: 0,
            size: disk.size(),
            role: Role::Other,
            fs,
        }];
    }
    let mut out = Vec::new();
    for p in table
        .partitions
        .iter()
        .filter(|p| p.kind != EntryKind::Extended)
    {
        let slice = Slice::new(disk, p.start, p.size);
        let fs = fs::probe(&slice, warnings);
        if let Some(size) = fs.as_ref().and_then(|f| f.size).filter(|&s| s > p.size) {
            warnings.push(format!(
                "partition {}: the {} file system claims {size} bytes, more than the partition's {}",
                p.number,
                fs.as_ref().map_or("", |f| f.kind.name()),
                p.size
            ));
        }
        out.push(Volume {
            partition: Some(p.number),
            start: p.start,
            size: p.size,
            role: p.role,
            fs,
        });
    }
    out
}

fn volume_name(v: &Volume) -> String {
    match v.partition {
        Some(n) => format!("partition {n}"),
        None => "whole disk".into(),
    }
}

/// Open the readable file systems: Linux and Windows roots, and EFI loaders on FAT.
fn look_inside(
    disk: &dyn VirtualDisk,
    volumes: &mut [Volume],
    os_found: &mut Vec<OsFacts>,
    loaders: &mut Vec<EfiLoader>,
    warnings: &mut Vec<String>,
) {
    let readable = volumes
        .iter_mut()
        .filter(|v| v.fs.as_ref().is_some_and(|f| f.kind.is_readable()));
    for (i, v) in readable.enumerate() {
        if i == MAX_FS_OPENED {
            warnings.push(format!(
                "more than {MAX_FS_OPENED} file systems; the rest were not opened"
            ));
            break;
        }
        let Some(kind) = v.fs.as_ref().map(|f| f.kind) else {
            continue;
        };
        let what = format!("{} ({kind})", volume_name(v));
        let Some(found) = open_and_look(disk, v, kind, &what, warnings) else {
            continue;
        };
        if let Some(mut os) = found.os {
            os.partition = v.partition;
            os_found.push(os);
        }
        if !found.efi.is_empty() && v.role != Role::EfiSystem && v.partition.is_some() {
            warnings.push(format!(
                "{what} holds EFI loaders but its partition type is not EFI System"
            ));
        }
        loaders.extend(found.efi);
        if let (Some(fs), Some(label)) = (v.fs.as_mut(), found.label) {
            fs.label.get_or_insert(label);
        }
    }
}

/// What one file system holds.
struct Inside {
    os: Option<OsFacts>,
    efi: Vec<EfiLoader>,
    label: Option<String>,
}

/// Open one volume's file system and look for an OS root and EFI loaders.
fn open_and_look(
    disk: &dyn VirtualDisk,
    v: &Volume,
    kind: FsKind,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<Inside> {
    look_in(
        Slice::new(disk, v.start, v.size),
        kind,
        v.partition,
        what,
        warnings,
    )
}

/// Look for an OS root and EFI loaders in the `kind` file system on `region`. The crates
/// are written not to panic on bad data; should one still do so, that volume becomes a
/// warning instead of ending the whole inspection.
fn look_in(
    region: Slice<'_>,
    kind: FsKind,
    part: Option<u32>,
    what: &str,
    warnings: &mut Vec<String>,
) -> Option<Inside> {
    let run = || {
        guest::with_guest_fs(region, kind, what, warnings, |g, w| {
            let os = if guest::is_linux_root(g) {
                Some(guest::linux_facts(g, w))
            } else {
                guest::windows_facts(g, w)
            };
            let efi = if kind.is_fat() {
                guest::efi_loaders(g, part)
            } else {
                Vec::new()
            };
            Inside {
                os,
                efi,
                label: g.volume_label(),
            }
        })
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(found) => found,
        Err(_) => {
            warnings.push(format!(
                "{what}: the {kind} reader panicked; its contents were not inspected"
            ));
            None
        }
    }
}

/// Read the LVM2 PVs among `volumes`, map their volume groups, and probe and look inside
/// each linear LV as if it were a partition.
fn inspect_lvm(
    disk: &dyn VirtualDisk,
    volumes: &[Volume],
    os_found: &mut Vec<OsFacts>,
    loaders: &mut Vec<EfiLoader>,
    warnings: &mut Vec<String>,
) -> Vec<lvm::VolumeGroup> {
    let mut pvs = Vec::new();
    for v in volumes
        .iter()
        .filter(|v| v.fs.as_ref().is_some_and(|f| f.kind == FsKind::Lvm2Pv))
    {
        match lvm::read_pv(&Slice::new(disk, v.start, v.size), v.start) {
            Ok(pv) => pvs.push(pv),
            Err(e) => warnings.push(format!("{}: LVM2 PV: {e}", volume_name(v))),
        }
    }
    let mut groups: Vec<lvm::VolumeGroup> = Vec::new();
    for text in pvs.iter().filter_map(|p| p.metadata.as_deref()) {
        match lvm::parse(text).and_then(|m| lvm::volume_group(&m, &pvs)) {
            // Every PV of a VG carries the same metadata; map each VG once.
            Ok(vg) if groups.iter().any(|g| g.uuid == vg.uuid) => {}
            Ok(vg) => groups.push(vg),
            Err(e) => warnings.push(format!("LVM2 metadata: {e}")),
        }
    }
    let mut opened = 0;
    for vg in &mut groups {
        let snapshot = vg.clone();
        for lv in &mut vg.lvs {
            let Some(lv_disk) = lvm::LvDisk::new(disk, &snapshot, lv) else {
                continue;
            };
            // Each LV opened has its own read budget, so their number is capped as for
            // partitions.
            if opened == MAX_FS_OPENED {
                warnings.push(format!(
                    "more than {MAX_FS_OPENED} logical volumes; the rest were not opened"
                ));
                return groups;
            }
            opened += 1;
            lv.fs = fs::probe(&lv_disk, warnings);
            let Some(kind) = lv.fs.as_ref().map(|f| f.kind).filter(|k| k.is_readable()) else {
                continue;
            };
            let what = format!("LV {}/{} ({kind})", snapshot.name, lv.name);
            let Some(found) = look_in(Slice::whole(&lv_disk), kind, None, &what, warnings) else {
                continue;
            };
            if let Some(mut os) = found.os {
                os.lv = Some(format!("{}/{}", snapshot.name, lv.name));
                os_found.push(os);
            }
            loaders.extend(found.efi);
        }
    }
    groups
}

/// The signs of BIOS booting: boot code in the MBR, or a GPT BIOS boot partition (GRUB's
/// core image lives there).
fn bios_evidence(disk: &dyn VirtualDisk, table: &PartitionTable) -> Vec<String> {
    let mut out = Vec::new();
    // Without a partition table, sector 0 is a file system's boot sector (FAT and NTFS put
    // code there even when they cannot boot), so it says nothing about BIOS booting.
    if table.kind != TableKind::None && partition::mbr::has_boot_code(disk) {
        out.push("non-zero boot code in MBR bytes 0..440".to_string());
    }
    for p in table.partitions.iter().filter(|p| p.role == Role::BiosBoot) {
        out.push(format!("GPT BIOS boot partition {}", p.number));
    }
    out
}

/// One OS is the import's OS; more than one root is worth a warning (the first is used).
fn pick_os(mut found: Vec<OsFacts>, warnings: &mut Vec<String>) -> Option<OsFacts> {
    if found.len() > 1 {
        let list: Vec<String> = found
            .iter()
            .map(|o| {
                format!(
                    "{} on {}",
                    o.os_type,
                    o.partition
                        .map_or("whole disk".into(), |n| format!("partition {n}"))
                )
            })
            .collect();
        warnings.push(format!(
            "more than one operating system root: {}; using the first",
            list.join(", ")
        ));
    }
    if found.is_empty() {
        None
    } else {
        Some(found.swap_remove(0))
    }
}
