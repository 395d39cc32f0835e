//! MBR: four primary entries at 446, extended partitions chained through EBRs.

use super::layout::{boot_sector, mbr, mbr_entry};
use super::{EntryKind, MBR_SECTOR, Partition, PartitionTable, Role, TableKind};
use crate::bytes::Fixed;
use crate::image::VirtualDisk;

pub const MBR_SIZE: usize = mbr::LEN;
/// Boot code occupies bytes 0..440; non-zero bytes there mean a BIOS boot loader.
pub const BOOT_CODE_LEN: usize = mbr::BOOT_CODE_LEN;
const SIGNATURE: [u8; 2] = [0x55, 0xAA];
/// Linux stops following EBR chains long before this; a longer chain is damage or a trap.
pub const MAX_LOGICAL: usize = 128;

pub const TYPE_GPT_PROTECTIVE: u8 = 0xEE;
pub const TYPE_EFI: u8 = 0xEF;

#[derive(Debug, Clone, Copy)]
struct Entry {
    status: u8,
    kind: u8,
    start_lba: u32,
    sectors: u32,
}

/// Entry `i` (0..4) of an MBR or EBR.
fn entry(sector: &[u8; MBR_SIZE], i: Slot) -> Entry {
    let at = mbr::ENTRIES + i as usize * mbr_entry::LEN;
    let e = sector
        .get(at..)
        .and_then(|s| s.first_chunk::<{ mbr_entry::LEN }>())
        .map_or([0u8; mbr_entry::LEN], |e| *e);
    let e = Fixed(&e);
    Entry {
        status: e.u8::<{ mbr_entry::STATUS }>(),
        kind: e.u8::<{ mbr_entry::TYPE }>(),
        start_lba: e.le_u32::<{ mbr_entry::FIRST_LBA }>(),
        sectors: e.le_u32::<{ mbr_entry::SECTORS }>(),
    }
}

/// The four entry slots of an MBR or EBR: the index cannot be out of range.
#[derive(Debug, Clone, Copy)]
enum Slot {
    First = 0,
    Second = 1,
    Third = 2,
    Fourth = 3,
}

const SLOTS: [Slot; 4] = [Slot::First, Slot::Second, Slot::Third, Slot::Fourth];

fn boot_signature(sector: &[u8; MBR_SIZE]) -> [u8; 2] {
    Fixed(sector).array::<{ mbr::BOOT_SIGNATURE }, 2>()
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

/// The MBR at sector 0, if there is one.
pub struct Mbr {
    sector: [u8; MBR_SIZE],
    entries: [Entry; 4],
}

/// True when sector 0 is the boot sector of a file system (FAT, NTFS, exFAT) rather than
/// an MBR: they carry 55 AA too.
fn is_fs_boot_sector(s: &[u8; MBR_SIZE]) -> bool {
    let s = Fixed(s);
    let oem: [u8; 8] = s.array::<{ boot_sector::OEM_NAME }, 8>();
    let fat16: [u8; 5] = s.array::<{ boot_sector::FAT16_TYPE }, 5>();
    &oem == b"NTFS    "
        || &oem == b"EXFAT   "
        || &fat16 == b"FAT12"
        || &fat16 == b"FAT16"
        || &s.array::<{ boot_sector::FAT32_TYPE }, 5>() == b"FAT32"
}

pub fn read_mbr(disk: &dyn VirtualDisk, warnings: &mut Vec<String>) -> Option<Mbr> {
    let mut sector = [0u8; MBR_SIZE];
    if disk.size() < MBR_SIZE as u64 {
        return None;
    }
    if let Err(e) = disk.read_at(0, &mut sector) {
        warnings.push(format!("cannot read the MBR at offset 0: {e}"));
        return None;
    }
    if boot_signature(&sector) != SIGNATURE || is_fs_boot_sector(&sector) {
        return None;
    }
    let entries = SLOTS.map(|i| entry(&sector, i));
    if let Some((i, e)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.status != 0 && e.status != 0x80)
    {
        warnings.push(format!(
            "MBR entry {} at offset {}: status {:#04x}, expected 0x00 or 0x80; not an MBR",
            i + 1,
            mbr::ENTRIES + i * mbr_entry::LEN,
            e.status
        ));
        return None;
    }
    Some(Mbr { sector, entries })
}

impl Mbr {
    pub fn has_protective_entry(&self) -> bool {
        self.entries.iter().any(|e| e.kind == TYPE_GPT_PROTECTIVE)
    }

    /// A hybrid MBR lists real partitions beside the protective entry.
    pub fn is_hybrid(&self) -> bool {
        self.has_protective_entry()
            && self
                .entries
                .iter()
                .any(|e| e.kind != 0 && e.kind != TYPE_GPT_PROTECTIVE)
    }

    pub fn into_table(self, disk: &dyn VirtualDisk, warnings: &mut Vec<String>) -> PartitionTable {
        let mut partitions = Vec::new();
        for (number, e) in (1u32..).zip(&self.entries) {
            if e.kind == 0 || e.sectors == 0 {
                continue;
            }
            let kind = if is_extended(e.kind) {
                EntryKind::Extended
            } else {
                EntryKind::Primary
            };
            partitions.push(make(number, kind, e, u64::from(e.start_lba)));
            if kind == EntryKind::Extended {
                read_logicals(disk, u64::from(e.start_lba), &mut partitions, warnings);
            }
        }
        let sig = Fixed(&self.sector).le_u32::<{ mbr::DISK_SIGNATURE }>();
        PartitionTable {
            kind: TableKind::Mbr,
            sector_size: super::MBR_SECTOR_U32,
            disk_id: Some(format!("{sig:#010x}")),
            gpt_header: None,
            protective_mbr: false,
            hybrid_mbr: false,
            partitions,
        }
    }
}

/// True when any of the first 440 bytes of the disk are non-zero: BIOS boot code.
pub fn has_boot_code(disk: &dyn VirtualDisk) -> bool {
    let mut code = [0u8; BOOT_CODE_LEN];
    disk.size() >= MBR_SIZE as u64
        && disk.read_at(0, &mut code).is_ok()
        && code.iter().any(|&b| b != 0)
}

fn make(number: u32, kind: EntryKind, e: &Entry, start_lba: u64) -> Partition {
    Partition {
        number,
        kind,
        start: start_lba * MBR_SECTOR,
        size: u64::from(e.sectors) * MBR_SECTOR,
        type_code: format!("{:#04x}", e.kind),
        type_name: type_name(e.kind),
        role: if e.kind == TYPE_EFI {
            Role::EfiSystem
        } else {
            Role::Other
        },
        bootable: e.status == 0x80,
        guid: None,
        name: None,
        attributes: None,
    }
}

/// Follow the EBR chain of the extended partition at `ext_lba`. Each EBR's first entry is
/// a logical partition relative to that EBR; its second points at the next EBR relative to
/// the extended partition. Stops on a loop, after [`MAX_LOGICAL`], or on damage.
fn read_logicals(
    disk: &dyn VirtualDisk,
    ext_lba: u64,
    out: &mut Vec<Partition>,
    warnings: &mut Vec<String>,
) {
    let mut seen = std::collections::HashSet::new();
    let mut ebr_lba = ext_lba;
    let mut number = 5u32;
    for _ in 0..MAX_LOGICAL {
        if !seen.insert(ebr_lba) {
            warnings.push(format!(
                "EBR chain loops back to sector {ebr_lba} (offset {}); stopped",
                ebr_lba * MBR_SECTOR
            ));
            return;
        }
        let Some(sector) = read_ebr(disk, ebr_lba, warnings) else {
            return;
        };
        let logical = entry(&sector, Slot::First);
        if logical.kind != 0 && logical.sectors != 0 {
            let start = ebr_lba + u64::from(logical.start_lba);
            out.push(make(number, EntryKind::Logical, &logical, start));
            number += 1;
        }
        let next = entry(&sector, Slot::Second);
        if next.kind == 0 || next.sectors == 0 {
            return;
        }
        ebr_lba = ext_lba + u64::from(next.start_lba);
    }
    warnings.push(format!(
        "extended partition at sector {ext_lba} chains more than {MAX_LOGICAL} EBRs; stopped"
    ));
}

fn read_ebr(disk: &dyn VirtualDisk, lba: u64, warnings: &mut Vec<String>) -> Option<[u8; 512]> {
    let mut sector = [0u8; MBR_SIZE];
    let at = lba * MBR_SECTOR;
    if let Err(e) = disk.read_at(at, &mut sector) {
        warnings.push(format!("cannot read the EBR at offset {at}: {e}"));
        return None;
    }
    let found = boot_signature(&sector);
    if found != SIGNATURE {
        warnings.push(format!(
            "EBR at offset {at}: signature {:02x} {:02x} at +510, expected 55 aa; chain stopped",
            found[0], found[1]
        ));
        return None;
    }
    Some(sector)
}

pub fn type_name(kind: u8) -> &'static str {
    match kind {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0E => "FAT16",
        0x05 | 0x0F | 0x85 => "Extended",
        0x07 => "NTFS/exFAT",
        0x0B | 0x0C => "FAT32",
        0x27 => "Windows recovery",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x8E => "Linux LVM",
        0xA5 => "FreeBSD",
        0xEE => "GPT protective",
        0xEF => "EFI System",
        0xFD => "Linux RAID",
        _ => "unknown",
    }
}
