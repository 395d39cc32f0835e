//! GPT: header at LBA 1 and entry array, each checked by CRC32; the backup header at the last
//! LBA when the primary is damaged. Tries 512- then 4096-byte sectors.

use super::{EntryKind, Partition, PartitionTable, Role, TableKind, le_u32, le_u64};
use crate::image::VirtualDisk;

pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The header's fixed fields; `header_size` may be larger (zero-padded), never smaller.
pub const HEADER_MIN_SIZE: u32 = 92;
pub const ENTRY_MIN_SIZE: u32 = 128;
/// The entry array is at most this large (the spec's default is 128 x 128 = 16 KiB); a
/// larger count x size is damage or an attempt to make us allocate.
pub const MAX_ENTRY_ARRAY: u64 = 1 << 20;
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];
const ENTRY_NAME_AT: usize = 56;
const ENTRY_NAME_LEN: usize = 72;

pub const TYPE_EFI_SYSTEM: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
pub const TYPE_BIOS_BOOT: &str = "21686148-6449-6E6F-744E-656564454649";

/// A parsed, validated GPT header.
#[derive(Debug, Clone)]
struct Header {
    my_lba: u64,
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: String,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// Format a GUID stored mixed-endian: the first three fields little-endian, the last eight
/// bytes as they are.
pub fn format_guid(b: &[u8]) -> String {
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        le_u32(b, 0),
        super::le_u16(b, 4),
        super::le_u16(b, 6),
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

/// Read the GPT. `expected` says the MBR has a protective entry, so a missing GPT is worth
/// a warning. Returns `None` when no valid GPT is found at either sector size.
pub fn read_gpt(
    disk: &dyn VirtualDisk,
    expected: bool,
    warnings: &mut Vec<String>,
) -> Option<PartitionTable> {
    let mut failures = Vec::new();
    for sector in SECTOR_SIZES {
        if !has_signature(disk, sector) && !has_signature(disk, backup_lba(disk, sector) * sector) {
            continue;
        }
        match read_at_sector_size(disk, sector, warnings) {
            Ok(t) => return Some(t),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        warnings.push(format!("no usable GPT: {}", failures.join("; ")));
    } else if expected {
        warnings.push("MBR has a GPT protective entry but no GPT header was found".into());
    }
    None
}

fn has_signature(disk: &dyn VirtualDisk, at: u64) -> bool {
    let mut sig = [0u8; 8];
    at.checked_add(8).is_some_and(|end| end <= disk.size())
        && disk.read_at(at, &mut sig).is_ok()
        && &sig == SIGNATURE
}

fn backup_lba(disk: &dyn VirtualDisk, sector: u64) -> u64 {
    (disk.size() / sector).saturating_sub(1)
}

/// Primary first, then the backup; both failures are reported when neither works.
fn read_at_sector_size(
    disk: &dyn VirtualDisk,
    sector: u64,
    warnings: &mut Vec<String>,
) -> Result<PartitionTable, String> {
    let primary = read_one(disk, sector, 1);
    let (header, entries, which) = match primary {
        Ok((h, e)) => {
            check_backup_place(&h, backup_lba(disk, sector), warnings);
            (h, e, "primary")
        }
        Err(pe) => {
            let last = backup_lba(disk, sector);
            match read_one(disk, sector, last) {
                Ok((h, e)) => {
                    warnings.push(format!(
                        "primary GPT header is bad ({pe}); using the backup at LBA {last} (offset {})",
                        last * sector
                    ));
                    (h, e, "backup")
                }
                Err(be) => {
                    return Err(format!(
                        "{sector}-byte sectors: primary: {pe}; backup at LBA {last}: {be}"
                    ));
                }
            }
        }
    };
    let partitions = parse_entries(&header, &entries, sector, warnings);
    check_usable_range(&header, &partitions, sector, warnings);
    Ok(PartitionTable {
        kind: TableKind::Gpt,
        sector_size: sector as u32,
        disk_id: Some(header.disk_guid),
        gpt_header: Some(which),
        protective_mbr: false,
        hybrid_mbr: false,
        partitions,
    })
}

/// The primary names where its backup is; anywhere but the last LBA means the disk was
/// grown or cut after partitioning, and the backup a firmware looks for is not there.
fn check_backup_place(h: &Header, last: u64, warnings: &mut Vec<String>) {
    if h.alternate_lba != last {
        warnings.push(format!(
            "primary GPT header (LBA {}) puts the backup at LBA {}, but the last LBA is {last}: \
             the disk was resized after partitioning",
            h.my_lba, h.alternate_lba
        ));
    }
}

/// Partitions must lie between the header's first and last usable LBA.
fn check_usable_range(h: &Header, parts: &[Partition], sector: u64, warnings: &mut Vec<String>) {
    for p in parts {
        let (first, last) = (p.start / sector, (p.end() / sector).saturating_sub(1));
        if first < h.first_usable || last > h.last_usable {
            warnings.push(format!(
                "GPT partition {}: LBAs {first}..={last} are outside the usable range {}..={}",
                p.number, h.first_usable, h.last_usable
            ));
        }
    }
}

/// Read and check the header at `lba` and its entry array.
fn read_one(disk: &dyn VirtualDisk, sector: u64, lba: u64) -> Result<(Header, Vec<u8>), String> {
    let at = lba
        .checked_mul(sector)
        .ok_or_else(|| format!("LBA {lba} overflows"))?;
    let mut buf = vec![0u8; sector as usize];
    disk.read_at(at, &mut buf)
        .map_err(|e| format!("cannot read header at offset {at}: {e}"))?;
    let h = parse_header(&buf, lba, at)?;
    let entries = read_entries(disk, &h, sector)?;
    let crc = crc32fast::hash(&entries);
    if crc != h.entries_crc {
        return Err(format!(
            "entry array at LBA {}: CRC32 is {crc:#010x}, header says {:#010x}",
            h.entries_lba, h.entries_crc
        ));
    }
    Ok((h, entries))
}

fn parse_header(buf: &[u8], lba: u64, at: u64) -> Result<Header, String> {
    if &buf[0..8] != SIGNATURE {
        return Err(format!(
            "offset {at}: signature {:02x?}, expected \"EFI PART\"",
            &buf[0..8]
        ));
    }
    let size = le_u32(buf, 12);
    if size < HEADER_MIN_SIZE || size as usize > buf.len() {
        return Err(format!(
            "offset {}: header size {size}, expected {HEADER_MIN_SIZE}..={}",
            at + 12,
            buf.len()
        ));
    }
    let stored = le_u32(buf, 16);
    let mut copy = buf[..size as usize].to_vec();
    copy[16..20].fill(0);
    let computed = crc32fast::hash(&copy);
    if computed != stored {
        return Err(format!(
            "offset {}: header CRC32 is {stored:#010x}, computed {computed:#010x}",
            at + 16
        ));
    }
    let my_lba = le_u64(buf, 24);
    if my_lba != lba {
        return Err(format!(
            "offset {}: header says it is at LBA {my_lba}, found at LBA {lba}",
            at + 24
        ));
    }
    let h = Header {
        my_lba,
        alternate_lba: le_u64(buf, 32),
        first_usable: le_u64(buf, 40),
        last_usable: le_u64(buf, 48),
        disk_guid: format_guid(&buf[56..72]),
        entries_lba: le_u64(buf, 72),
        entry_count: le_u32(buf, 80),
        entry_size: le_u32(buf, 84),
        entries_crc: le_u32(buf, 88),
    };
    check_entry_geometry(&h, at)?;
    Ok(h)
}

fn check_entry_geometry(h: &Header, at: u64) -> Result<(), String> {
    if h.entry_size < ENTRY_MIN_SIZE || h.entry_size % 8 != 0 {
        return Err(format!(
            "offset {}: entry size {}, expected a multiple of 8 and at least {ENTRY_MIN_SIZE}",
            at + 84,
            h.entry_size
        ));
    }
    let bytes = u64::from(h.entry_count) * u64::from(h.entry_size);
    if bytes > MAX_ENTRY_ARRAY {
        return Err(format!(
            "offset {}: {} entries of {} bytes = {bytes} bytes, more than the {MAX_ENTRY_ARRAY} imgtool reads",
            at + 80,
            h.entry_count,
            h.entry_size
        ));
    }
    Ok(())
}

fn read_entries(disk: &dyn VirtualDisk, h: &Header, sector: u64) -> Result<Vec<u8>, String> {
    // Both factors were capped by check_entry_geometry, so the product fits.
    let len = u64::from(h.entry_count) * u64::from(h.entry_size);
    let at = h
        .entries_lba
        .checked_mul(sector)
        .filter(|a| a.checked_add(len).is_some_and(|end| end <= disk.size()))
        .ok_or_else(|| {
            format!(
                "entry array at LBA {} ({len} bytes) is outside the disk (header at LBA {})",
                h.entries_lba, h.my_lba
            )
        })?;
    let mut entries = vec![0u8; len as usize];
    disk.read_at(at, &mut entries)
        .map_err(|e| format!("cannot read entry array at offset {at}: {e}"))?;
    Ok(entries)
}

fn parse_entries(
    h: &Header,
    array: &[u8],
    sector: u64,
    warnings: &mut Vec<String>,
) -> Vec<Partition> {
    let mut out = Vec::new();
    for (i, e) in array.chunks_exact(h.entry_size as usize).enumerate() {
        if e[0..16].iter().all(|&b| b == 0) {
            continue;
        }
        let number = i as u32 + 1;
        let (first, last) = (le_u64(e, 32), le_u64(e, 40));
        let span = last
            .checked_sub(first)
            .and_then(|d| d.checked_add(1))
            .and_then(|n| n.checked_mul(sector));
        let (Some(size), Some(start)) = (span, first.checked_mul(sector)) else {
            warnings.push(format!(
                "GPT entry {number}: first LBA {first}, last LBA {last}: not a valid range; skipped"
            ));
            continue;
        };
        out.push(entry_partition(number, e, start, size));
    }
    out
}

fn entry_partition(number: u32, e: &[u8], start: u64, size: u64) -> Partition {
    let type_code = format_guid(&e[0..16]);
    let role = match type_code.as_str() {
        TYPE_EFI_SYSTEM => Role::EfiSystem,
        TYPE_BIOS_BOOT => Role::BiosBoot,
        _ => Role::Other,
    };
    Partition {
        number,
        kind: EntryKind::Gpt,
        start,
        size,
        type_name: type_name(&type_code),
        type_code,
        role,
        bootable: false,
        guid: Some(format_guid(&e[16..32])),
        name: Some(entry_name(
            &e[ENTRY_NAME_AT..ENTRY_NAME_AT + ENTRY_NAME_LEN],
        )),
        attributes: Some(le_u64(e, 48)),
    }
}

/// UTF-16LE up to the first NUL; unpaired surrogates become U+FFFD. Not escaped here: the
/// renderers escape it.
fn entry_name(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

pub fn type_name(guid: &str) -> &'static str {
    match guid {
        TYPE_EFI_SYSTEM => "EFI System",
        TYPE_BIOS_BOOT => "BIOS boot",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "A19D880F-05FC-4D3B-A006-743F0F84911E" => "Linux RAID",
        "BC13C2FF-59E6-4262-A352-B275FD6F7172" => "Linux extended boot",
        "44479540-F297-41B2-9AF7-D131D5F0458A" => "Linux root (x86)",
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
        "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" => "Linux root (ARM64)",
        "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" => "Linux home",
        "516E7CB4-6ECF-11D6-8FF8-00022D09712B" => "FreeBSD",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_is_mixed_endian() {
        // The EFI System type as stored on disk.
        let raw = [
            0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
            0xC9, 0x3B,
        ];
        assert_eq!(format_guid(&raw), TYPE_EFI_SYSTEM);
    }

    #[test]
    fn entry_name_stops_at_nul_and_keeps_bad_surrogates_visible() {
        let mut b = [0u8; 72];
        b[..6].copy_from_slice(&[b'E', 0, 0x00, 0xD8, b'x', 0]);
        assert_eq!(entry_name(&b), "E\u{FFFD}x");
    }
}
