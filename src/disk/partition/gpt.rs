//! GPT: header at LBA 1 and entry array, each checked by CRC32; the backup header at the last
//! LBA when the primary is damaged. Tries 512- then 4096-byte sectors.

use super::layout::{gpt_entry, gpt_header, guid};
use super::{EntryKind, Partition, PartitionTable, Role, TableKind};
use crate::bytes::Fixed;
use crate::image::VirtualDisk;

pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The header's fixed fields; `header_size` may be larger (zero-padded), never smaller.
// 92 and 128: constants that fit.
#[allow(clippy::cast_possible_truncation)]
pub const HEADER_MIN_SIZE: u32 = gpt_header::LEN as u32;
#[allow(clippy::cast_possible_truncation)]
pub const ENTRY_MIN_SIZE: u32 = gpt_entry::LEN as u32;
/// The entry array is at most this large (the spec's default is 128 x 128 = 16 KiB); a
/// larger count x size is damage or an attempt to make us allocate.
pub const MAX_ENTRY_ARRAY: u64 = 1 << 20;
pub const SECTOR_SIZES: [u64; 2] = [512, 4096];

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
pub fn format_guid(b: &[u8; guid::LEN]) -> String {
    let g = Fixed(b);
    let d4: [u8; 8] = g.array::<{ guid::DATA4 }, 8>();
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        g.le_u32::<{ guid::DATA1 }>(),
        g.le_u16::<{ guid::DATA2 }>(),
        g.le_u16::<{ guid::DATA3 }>(),
        d4[0],
        d4[1],
        d4[2],
        d4[3],
        d4[4],
        d4[5],
        d4[6],
        d4[7]
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
        // One of SECTOR_SIZES.
        sector_size: u32::try_from(sector).unwrap_or(u32::MAX),
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
    let len = usize::try_from(sector).map_err(|_| format!("sector size {sector} is too large"))?;
    let mut buf = vec![0u8; len];
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
    // The sector buffer is at least 512 bytes; a shorter one is an error, not a panic.
    let Some(fixed) = buf.first_chunk::<{ gpt_header::LEN }>() else {
        return Err(format!(
            "offset {at}: {} bytes read, a GPT header needs {}",
            buf.len(),
            gpt_header::LEN
        ));
    };
    let h = Fixed(fixed);
    let signature: [u8; 8] = h.array::<{ gpt_header::SIGNATURE }, 8>();
    if &signature != SIGNATURE {
        return Err(format!(
            "offset {at}: signature {signature:02x?}, expected \"EFI PART\""
        ));
    }
    let size = h.le_u32::<{ gpt_header::HEADER_SIZE }>();
    let Some(covered) = usize::try_from(size)
        .ok()
        .filter(|&n| size >= HEADER_MIN_SIZE && n <= buf.len())
        .and_then(|n| buf.get(..n))
    else {
        return Err(format!(
            "offset {}: header size {size}, expected {HEADER_MIN_SIZE}..={}",
            at + gpt_header::HEADER_SIZE as u64,
            buf.len()
        ));
    };
    let stored = h.le_u32::<{ gpt_header::HEADER_CRC32 }>();
    let computed = header_crc(covered);
    if computed != stored {
        return Err(format!(
            "offset {}: header CRC32 is {stored:#010x}, computed {computed:#010x}",
            at + gpt_header::HEADER_CRC32 as u64
        ));
    }
    let my_lba = h.le_u64::<{ gpt_header::MY_LBA }>();
    if my_lba != lba {
        return Err(format!(
            "offset {}: header says it is at LBA {my_lba}, found at LBA {lba}",
            at + gpt_header::MY_LBA as u64
        ));
    }
    let h = Header {
        my_lba,
        alternate_lba: h.le_u64::<{ gpt_header::ALTERNATE_LBA }>(),
        first_usable: h.le_u64::<{ gpt_header::FIRST_USABLE_LBA }>(),
        last_usable: h.le_u64::<{ gpt_header::LAST_USABLE_LBA }>(),
        disk_guid: format_guid(&h.array::<{ gpt_header::DISK_GUID }, { guid::LEN }>()),
        entries_lba: h.le_u64::<{ gpt_header::ENTRIES_LBA }>(),
        entry_count: h.le_u32::<{ gpt_header::ENTRY_COUNT }>(),
        entry_size: h.le_u32::<{ gpt_header::ENTRY_SIZE }>(),
        entries_crc: h.le_u32::<{ gpt_header::ENTRIES_CRC32 }>(),
    };
    check_entry_geometry(&h, at)?;
    Ok(h)
}

/// The header's CRC32 over the `HeaderSize` bytes it covers, its own CRC field taken as zero.
pub(super) fn header_crc(covered: &[u8]) -> u32 {
    let mut c = crc32fast::Hasher::new();
    let crc_end = gpt_header::HEADER_CRC32 + 4;
    c.update(covered.get(..gpt_header::HEADER_CRC32).unwrap_or(covered));
    c.update(&[0u8; 4]);
    c.update(covered.get(crc_end..).unwrap_or(&[]));
    c.finalize()
}

fn check_entry_geometry(h: &Header, at: u64) -> Result<(), String> {
    if h.entry_size < ENTRY_MIN_SIZE || h.entry_size % 8 != 0 {
        return Err(format!(
            "offset {}: entry size {}, expected a multiple of 8 and at least {ENTRY_MIN_SIZE}",
            at + gpt_header::ENTRY_SIZE as u64,
            h.entry_size
        ));
    }
    let bytes = u64::from(h.entry_count) * u64::from(h.entry_size);
    if bytes > MAX_ENTRY_ARRAY {
        return Err(format!(
            "offset {}: {} entries of {} bytes = {bytes} bytes, more than the {MAX_ENTRY_ARRAY} imgtool reads",
            at + gpt_header::ENTRY_COUNT as u64,
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
    let len = usize::try_from(len).map_err(|_| format!("entry array of {len} bytes"))?;
    let mut entries = vec![0u8; len];
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
    // check_entry_geometry made the size at least gpt_entry::LEN, so each chunk holds an
    // entry's fields.
    let size = usize::try_from(h.entry_size).unwrap_or(usize::MAX);
    let entries = array
        .chunks_exact(size)
        .filter_map(|c| c.first_chunk::<{ gpt_entry::LEN }>());
    for (number, e) in (1u32..).zip(entries) {
        let f = Fixed(e);
        if f.array::<{ gpt_entry::TYPE_GUID }, { guid::LEN }>() == [0u8; guid::LEN] {
            continue;
        }
        let first = f.le_u64::<{ gpt_entry::FIRST_LBA }>();
        let last = f.le_u64::<{ gpt_entry::LAST_LBA }>();
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
        out.push(entry_partition(number, f, start, size));
    }
    out
}

fn entry_partition(
    number: u32,
    e: Fixed<'_, { gpt_entry::LEN }>,
    start: u64,
    size: u64,
) -> Partition {
    let type_code = format_guid(&e.array::<{ gpt_entry::TYPE_GUID }, { guid::LEN }>());
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
        guid: Some(format_guid(
            &e.array::<{ gpt_entry::UNIQUE_GUID }, { guid::LEN }>(),
        )),
        name: Some(entry_name(
            &e.array::<{ gpt_entry::NAME }, { gpt_entry::NAME_LEN }>(),
        )),
        attributes: Some(e.le_u64::<{ gpt_entry::ATTRIBUTES }>()),
    }
}

/// UTF-16LE up to the first NUL; unpaired surrogates become U+FFFD. Not escaped here: the
/// renderers escape it.
fn entry_name(b: &[u8]) -> String {
    let units: Vec<u16> = crate::bytes::le_u16s(b).take_while(|&u| u != 0).collect();
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

    /// The old reader sliced the buffer by hand and panicked on fewer than 16 bytes; a
    /// short buffer is now an error naming the offset.
    #[test]
    fn a_short_header_buffer_is_an_error_with_its_offset_not_a_panic() {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(SIGNATURE);
        let e = parse_header(&b, 1, 512).unwrap_err();
        assert_eq!(e, "offset 512: 10 bytes read, a GPT header needs 92");
        assert!(
            parse_header(&[], 1, 4096)
                .unwrap_err()
                .contains("offset 4096")
        );
    }

    #[test]
    fn header_crc_treats_its_own_field_as_zero() {
        let mut b = [0u8; 92];
        b[..8].copy_from_slice(SIGNATURE);
        let zeroed = crc32fast::hash(&b);
        b[16..20].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(header_crc(&b), zeroed);
        assert_ne!(crc32fast::hash(&b), zeroed);
    }

    #[test]
    fn entry_name_stops_at_nul_and_keeps_bad_surrogates_visible() {
        let mut b = [0u8; 72];
        b[..6].copy_from_slice(&[b'E', 0, 0x00, 0xD8, b'x', 0]);
        assert_eq!(entry_name(&b), "E\u{FFFD}x");
    }
}
