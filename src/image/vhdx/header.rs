//! The header section (MS-VHDX 2.2): the file identifier, the two headers, and the two copies
//! of the region table.

use super::guid::{Guid, crc32c_without, utf16};
use super::view::View;
use crate::bytes::{Bytes, Short};
use crate::error::{Error, Result};
use crate::image::finding::{Finding, Severity};
use crate::image::source::SourceFile;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;

pub const FILE_ID_SIGNATURE: &[u8; 8] = b"vhdxfile";
/// The creator field of the file identifier: 256 UTF-16 characters at offset 8.
const CREATOR_OFFSET: usize = 8;
const CREATOR_BYTES: usize = 512;

pub const HEADER_OFFSETS: [u64; 2] = [64 * KIB, 128 * KIB];
pub const HEADER_SIZE: usize = 4096;
pub const HEADER_SIGNATURE: &[u8; 4] = b"head";
pub const HEADER_VERSION: u16 = 1;
pub const LOG_VERSION: u16 = 0;

pub const REGION_TABLE_OFFSETS: [u64; 2] = [192 * KIB, 256 * KIB];
pub const REGION_TABLE_SIZE: usize = 64 * 1024;
pub const REGION_SIGNATURE: &[u8; 4] = b"regi";
/// The spec's bound on region table entries (what fits in 64 KiB after the 16-byte header).
pub const MAX_REGION_ENTRIES: u32 = 2047;
const REGION_ENTRY_SIZE: usize = 32;

pub const BAT_REGION: Guid = Guid::new(
    0x2DC27766,
    0xF623,
    0x4200,
    [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
);
pub const METADATA_REGION: Guid = Guid::new(
    0x8B7CA206,
    0x4790,
    0x4B9A,
    [0xB8, 0xFE, 0x57, 0x5F, 0x05, 0x0F, 0x88, 0x6E],
);

/// Header field offsets.
pub mod off {
    pub const CHECKSUM: usize = 4;
    pub const SEQUENCE: usize = 8;
    pub const FILE_WRITE_GUID: usize = 16;
    pub const DATA_WRITE_GUID: usize = 32;
    pub const LOG_GUID: usize = 48;
    pub const LOG_VERSION: usize = 64;
    pub const VERSION: usize = 66;
    pub const LOG_LENGTH: usize = 68;
    pub const LOG_OFFSET: usize = 72;
}

/// The file identifier at offset 0.
pub fn read_creator(src: &SourceFile) -> Result<String> {
    let mut b = [0u8; CREATOR_OFFSET + CREATOR_BYTES];
    src.read_exact_at(0, &mut b, "VHDX file identifier")?;
    if &b[..8] != FILE_ID_SIGNATURE {
        return Err(Error::malformed(
            src.path(),
            0,
            "VHDX file identifier",
            format!("{:02x?}", &b[..8]),
            "\"vhdxfile\"",
        ));
    }
    Ok(utf16(&b[CREATOR_OFFSET..]))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Where it was read.
    pub offset: u64,
    pub checksum: u32,
    pub sequence: u64,
    pub file_write_guid: Guid,
    pub data_write_guid: Guid,
    pub log_guid: Guid,
    pub log_version: u16,
    pub version: u16,
    pub log_length: u32,
    pub log_offset: u64,
}

fn bad(at: u64, field: &str, found: String, expected: &str) -> Finding {
    Finding::new(Severity::Error, at, field, found, expected)
}

/// A field past the end of the bytes given: a finding at its offset.
fn short(s: Short) -> Finding {
    bad(
        s.offset,
        &format!("{} {}", s.what, s.field),
        format!("{} bytes before the end of the {}", s.have, s.what),
        &format!("{} bytes", s.need),
    )
}

/// Parse and validate one 4 KiB header read at `at`.
pub fn parse_header(b: &[u8], at: u64) -> std::result::Result<Header, Finding> {
    if b.get(..4) != Some(&HEADER_SIGNATURE[..]) {
        let sig = b.get(..4).unwrap_or(&[]);
        return Err(bad(
            at,
            "header signature",
            format!("{sig:02x?}"),
            "\"head\"",
        ));
    }
    let r = Bytes::new(b, at, "header");
    let checksum = r.le_u32(off::CHECKSUM, "checksum").map_err(short)?;
    let computed = crc32c_without(b, off::CHECKSUM);
    if checksum != computed {
        return Err(bad(
            at + off::CHECKSUM as u64,
            "header checksum",
            format!("{checksum:#010x}"),
            &format!("{computed:#010x} (CRC-32C of the 4 KiB header)"),
        ));
    }
    let h = Header {
        offset: at,
        checksum,
        sequence: r.le_u64(off::SEQUENCE, "sequence number").map_err(short)?,
        file_write_guid: Guid::read(&r, off::FILE_WRITE_GUID, "file write GUID").map_err(short)?,
        data_write_guid: Guid::read(&r, off::DATA_WRITE_GUID, "data write GUID").map_err(short)?,
        log_guid: Guid::read(&r, off::LOG_GUID, "log GUID").map_err(short)?,
        log_version: r.le_u16(off::LOG_VERSION, "log version").map_err(short)?,
        version: r.le_u16(off::VERSION, "version").map_err(short)?,
        log_length: r.le_u32(off::LOG_LENGTH, "log length").map_err(short)?,
        log_offset: r.le_u64(off::LOG_OFFSET, "log offset").map_err(short)?,
    };
    if h.version != HEADER_VERSION {
        return Err(bad(
            at + off::VERSION as u64,
            "header version",
            h.version.to_string(),
            "1",
        ));
    }
    Ok(h)
}

/// Both headers, and which one is in use.
#[derive(Debug)]
pub struct Headers {
    pub slots: [std::result::Result<Header, Finding>; 2],
    /// 0 or 1: the valid header with the higher sequence number.
    pub current: usize,
    /// That header.
    pub header: Header,
}

/// Read both headers; use the valid one with the higher sequence number. Both damaged is an
/// error naming both problems.
pub fn read_headers(src: &SourceFile) -> Result<Headers> {
    let mut slots = Vec::with_capacity(2);
    for at in HEADER_OFFSETS {
        let mut b = vec![0u8; HEADER_SIZE];
        src.read_exact_at(at, &mut b, "VHDX header")?;
        slots.push(parse_header(&b, at));
    }
    let h2 = slots
        .pop()
        .unwrap_or_else(|| Err(bad(0, "", String::new(), "")));
    let h1 = slots
        .pop()
        .unwrap_or_else(|| Err(bad(0, "", String::new(), "")));
    let current = match (&h1, &h2) {
        (Ok(a), Ok(b)) => usize::from(b.sequence > a.sequence),
        (Ok(_), Err(_)) => 0,
        (Err(_), Ok(_)) => 1,
        (Err(a), Err(b)) => {
            return Err(Error::malformed(
                src.path(),
                a.offset,
                "VHDX headers",
                format!(
                    "both damaged: header 1: {}; header 2: {}",
                    a.message(),
                    b.message()
                ),
                "at least one valid header (signature \"head\", CRC-32C, version 1)",
            ));
        }
    };
    let header = match if current == 0 { &h1 } else { &h2 } {
        Ok(h) => h.clone(),
        Err(f) => return Err(f.to_error(src.path())),
    };
    Ok(Headers {
        slots: [h1, h2],
        current,
        header,
    })
}

/// One region table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub guid: Guid,
    pub file_offset: u64,
    pub length: u32,
    pub required: bool,
    /// Where the entry itself lies in the file.
    pub entry_offset: u64,
}

impl Region {
    pub fn name(&self) -> String {
        if self.guid == BAT_REGION {
            "BAT".into()
        } else if self.guid == METADATA_REGION {
            "metadata".into()
        } else {
            format!("unknown region {}", self.guid)
        }
    }
}

/// Parse and validate one 64 KiB region table read at `at`.
pub fn parse_region_table(b: &[u8], at: u64) -> std::result::Result<Vec<Region>, Finding> {
    if b.get(..4) != Some(&REGION_SIGNATURE[..]) {
        let sig = b.get(..4).unwrap_or(&[]);
        return Err(bad(
            at,
            "region table signature",
            format!("{sig:02x?}"),
            "\"regi\"",
        ));
    }
    let r = Bytes::new(b, at, "region table");
    let checksum = r.le_u32(4, "checksum").map_err(short)?;
    let computed = crc32c_without(b, 4);
    if checksum != computed {
        return Err(bad(
            at + 4,
            "region table checksum",
            format!("{checksum:#010x}"),
            &format!("{computed:#010x} (CRC-32C of the 64 KiB table)"),
        ));
    }
    let count = r.le_u32(8, "entry count").map_err(short)?;
    if count > MAX_REGION_ENTRIES {
        return Err(bad(
            at + 8,
            "region table entry count",
            count.to_string(),
            &format!("at most {MAX_REGION_ENTRIES}"),
        ));
    }
    let mut out = Vec::new();
    // At most MAX_REGION_ENTRIES entries of 32 bytes: the offsets fit.
    let entries = (0..count).filter_map(|i| usize::try_from(i).ok());
    for o in entries.map(|i| 16 + i * REGION_ENTRY_SIZE) {
        let e = r.sub(o, REGION_ENTRY_SIZE, "entry").map_err(short)?;
        out.push(Region {
            guid: Guid::read(&e, 0, "GUID").map_err(short)?,
            file_offset: e.le_u64(16, "file offset").map_err(short)?,
            length: e.le_u32(24, "length").map_err(short)?,
            required: e.le_u32(28, "required").map_err(short)? & 1 != 0,
            entry_offset: e.offset_of(0),
        });
    }
    Ok(out)
}

/// The region table in use and what the reader needs from it.
#[derive(Debug)]
pub struct Regions {
    pub all: Vec<Region>,
    pub bat: Region,
    pub metadata: Region,
    /// Which copy was used: 0 (at 192 KiB) or 1 (at 256 KiB).
    pub copy: usize,
    /// The other copy's problem, or its difference from the one used.
    pub other: Option<Finding>,
}

/// Read both copies of the region table (through the replayed view), use the first valid one,
/// and validate its entries: the BAT and metadata regions once each, 1 MiB aligned, inside the
/// file, not overlapping each other or the header section; an unknown region marked required
/// is refused.
pub fn read_regions(view: &View) -> Result<Regions> {
    let path = view.src.path();
    let mut copies = Vec::with_capacity(2);
    for at in REGION_TABLE_OFFSETS {
        let mut b = vec![0u8; REGION_TABLE_SIZE];
        view.read_exact_at(at, &mut b, "VHDX region table")?;
        copies.push(parse_region_table(&b, at));
    }
    let (copy, table) = match copies.iter().position(|c| c.is_ok()) {
        Some(i) => (i, copies[i].clone().unwrap_or_default()),
        None => {
            let msg: Vec<String> = copies
                .iter()
                .filter_map(|c| c.as_ref().err().map(Finding::message))
                .collect();
            return Err(Error::malformed(
                path,
                REGION_TABLE_OFFSETS[0],
                "VHDX region tables",
                format!("both damaged: {}", msg.join("; ")),
                "at least one valid region table (signature \"regi\", CRC-32C)",
            ));
        }
    };
    let other = match &copies[1 - copy] {
        Err(f) => Some(f.clone()),
        Ok(t) if !same_entries(t, &table) => Some(Finding::new(
            Severity::Warning,
            REGION_TABLE_OFFSETS[1 - copy],
            "region table copy",
            format!("{} entries that differ from the copy in use", t.len()),
            "the two copies to be identical",
        )),
        Ok(_) => None,
    };
    let mut bat = None;
    let mut metadata = None;
    for r in &table {
        let known = r.guid == BAT_REGION || r.guid == METADATA_REGION;
        if !known {
            if r.required {
                return Err(Error::Unsupported {
                    path: path.to_path_buf(),
                    what: format!(
                        "the VHDX region table (entry at offset {}) has a required region {} that \
                         imgtool does not know; reading the disk without it would be a guess",
                        r.entry_offset, r.guid
                    ),
                });
            }
            continue;
        }
        validate_region(view, r)?;
        let slot = if r.guid == BAT_REGION {
            &mut bat
        } else {
            &mut metadata
        };
        if slot.is_some() {
            return Err(Error::malformed(
                path,
                r.entry_offset,
                "region table entry",
                format!("a second {} region", r.name()),
                "each region once",
            ));
        }
        *slot = Some(r.clone());
    }
    let missing = |name: &str| {
        Error::malformed(
            path,
            REGION_TABLE_OFFSETS[copy],
            "region table",
            format!("no {name} region"),
            "a BAT region and a metadata region",
        )
    };
    let bat = bat.ok_or_else(|| missing("BAT"))?;
    let metadata = metadata.ok_or_else(|| missing("metadata"))?;
    let (a, b) = (&bat, &metadata);
    if a.file_offset < b.file_offset + u64::from(b.length)
        && b.file_offset < a.file_offset + u64::from(a.length)
    {
        return Err(Error::malformed(
            path,
            a.entry_offset,
            "BAT region",
            format!(
                "{}..{} overlapping the metadata region {}..{}",
                a.file_offset,
                a.file_offset + u64::from(a.length),
                b.file_offset,
                b.file_offset + u64::from(b.length)
            ),
            "regions that do not overlap",
        ));
    }
    Ok(Regions {
        all: table,
        bat,
        metadata,
        copy,
        other,
    })
}

fn same_entries(a: &[Region], b: &[Region]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.guid == y.guid
                && x.file_offset == y.file_offset
                && x.length == y.length
                && x.required == y.required
        })
}

fn validate_region(view: &View, r: &Region) -> Result<()> {
    let path = view.src.path();
    let name = format!("{} region", r.name());
    if r.file_offset < MIB || r.file_offset % MIB != 0 {
        return Err(Error::malformed(
            path,
            r.entry_offset + 16,
            format!("{name} file offset"),
            r.file_offset.to_string(),
            "a multiple of 1 MiB, at least 1 MiB",
        ));
    }
    if r.length == 0 || u64::from(r.length) % MIB != 0 {
        return Err(Error::malformed(
            path,
            r.entry_offset + 24,
            format!("{name} length"),
            r.length.to_string(),
            "a non-zero multiple of 1 MiB",
        ));
    }
    let end = r.file_offset.saturating_add(u64::from(r.length));
    if end > view.len() {
        return Err(Error::malformed(
            path,
            r.entry_offset + 16,
            name,
            format!("{}..{end}", r.file_offset),
            format!(
                "to lie inside the file ({} bytes): the file is truncated",
                view.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A region table cut after its 16-byte header but claiming one entry: the old reader
    /// made up an all-zero region from the missing bytes; now it is a finding at the entry's
    /// offset.
    #[test]
    fn a_cut_region_table_is_a_finding_at_the_entry_not_a_zero_region() {
        let mut b = vec![0u8; 16];
        b[..4].copy_from_slice(REGION_SIGNATURE);
        b[8..12].copy_from_slice(&1u32.to_le_bytes()); // entry count
        let crc = crc32c_without(&b, 4);
        b[4..8].copy_from_slice(&crc.to_le_bytes()); // checksum
        let f = parse_region_table(&b, 192 * KIB).unwrap_err();
        assert_eq!(f.offset, 192 * KIB + 16);
        assert_eq!(f.field, "region table entry");
    }

    /// A header cut inside its fields is a finding naming the field, not zeros.
    #[test]
    fn a_cut_header_is_a_finding_naming_the_field() {
        let f = parse_header(b"head\0\0", 64 * KIB).unwrap_err();
        assert_eq!(f.offset, 64 * KIB + off::CHECKSUM as u64);
        assert_eq!(f.field, "header checksum");
    }
}
