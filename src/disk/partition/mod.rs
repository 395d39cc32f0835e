//! Partition tables: MBR (with extended/logical chains) and GPT (primary, then backup).
//! Reading never fails: what cannot be trusted becomes a warning and is left out.

#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod check;
pub mod gpt;
pub mod layout;
pub mod mbr;

use crate::image::VirtualDisk;

/// Which partition table the disk has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    Mbr,
    Gpt,
    /// No partition table: the disk is one file system (a "superfloppy") or unknown.
    None,
}

impl TableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Mbr => "mbr",
            TableKind::Gpt => "gpt",
            TableKind::None => "none",
        }
    }
}

/// Where a partition entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Primary,
    Extended,
    Logical,
    Gpt,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Primary => "primary",
            EntryKind::Extended => "extended",
            EntryKind::Logical => "logical",
            EntryKind::Gpt => "gpt",
        }
    }
}

/// What a partition type says the partition is for, as far as inspection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    EfiSystem,
    BiosBoot,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based; MBR logical partitions start at 5, as Linux numbers them.
    pub number: u32,
    pub kind: EntryKind,
    /// Byte offset of the first byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// MBR type as `0x83`, or the GPT type GUID in upper case.
    pub type_code: String,
    pub type_name: &'static str,
    pub role: Role,
    /// MBR: the boot flag (status 0x80).
    pub bootable: bool,
    /// GPT only: unique partition GUID, name (raw, not escaped) and attribute bits.
    pub guid: Option<String>,
    pub name: Option<String>,
    pub attributes: Option<u64>,
}

impl Partition {
    /// One past the last byte (saturating: a hostile table cannot overflow it).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    pub kind: TableKind,
    pub sector_size: u32,
    /// MBR disk signature (`0x1234abcd`) or GPT disk GUID.
    pub disk_id: Option<String>,
    /// GPT: which header was used ("primary" or "backup").
    pub gpt_header: Option<&'static str>,
    /// MBR: true when the MBR is GPT's protective MBR; hybrid when it also lists others.
    pub protective_mbr: bool,
    pub hybrid_mbr: bool,
    pub partitions: Vec<Partition>,
}

/// MBR sector size. MBR has no field for it; 4Kn disks with MBR are rare enough to ignore.
pub const MBR_SECTOR: u64 = 512;
const MBR_SECTOR_U32: u32 = 512;

/// Read the partition table of `disk`, adding what is wrong to `warnings`.
pub fn read_table(disk: &dyn VirtualDisk, warnings: &mut Vec<String>) -> PartitionTable {
    let mbr = mbr::read_mbr(disk, warnings);
    let gpt_wanted = mbr.as_ref().is_some_and(|m| m.has_protective_entry());
    if let Some(table) = gpt::read_gpt(disk, gpt_wanted, warnings) {
        let mut table = table;
        if let Some(m) = &mbr {
            table.protective_mbr = m.has_protective_entry();
            table.hybrid_mbr = m.is_hybrid();
            if !table.protective_mbr {
                warnings.push(
                    "GPT found but the MBR at offset 0 has no protective (0xEE) entry".into(),
                );
            }
        } else {
            warnings.push("GPT found but there is no MBR signature 55 AA at offset 510".into());
        }
        check_layout(disk.size(), &table.partitions, warnings);
        return table;
    }
    let mut table = match mbr {
        Some(m) if !m.has_protective_entry() => m.into_table(disk, warnings),
        _ => PartitionTable {
            kind: TableKind::None,
            sector_size: MBR_SECTOR_U32,
            disk_id: None,
            gpt_header: None,
            protective_mbr: false,
            hybrid_mbr: false,
            partitions: Vec::new(),
        },
    };
    if table.kind == TableKind::Mbr {
        check_layout(disk.size(), &table.partitions, warnings);
    }
    table.partitions.sort_by_key(|p| p.number);
    table
}

/// Partitions past the end of the disk or overlapping each other are worth a warning: the
/// import would lose data or the table is damaged. Extended containers overlap their
/// logical partitions by design and are skipped.
fn check_layout(disk_size: u64, parts: &[Partition], warnings: &mut Vec<String>) {
    for p in parts {
        if p.end() > disk_size {
            warnings.push(format!(
                "partition {} ends at byte {} ({:#x}), past the end of the disk ({} bytes)",
                p.number,
                p.end(),
                p.end(),
                disk_size
            ));
        }
    }
    let mut data: Vec<&Partition> = parts
        .iter()
        .filter(|p| p.kind != EntryKind::Extended)
        .collect();
    data.sort_by_key(|p| p.start);
    for pair in data.windows(2) {
        if pair[1].start < pair[0].end() {
            warnings.push(format!(
                "partitions {} (bytes {}..{}) and {} (bytes {}..{}) overlap",
                pair[0].number,
                pair[0].start,
                pair[0].end(),
                pair[1].number,
                pair[1].start,
                pair[1].end()
            ));
        }
    }
}
