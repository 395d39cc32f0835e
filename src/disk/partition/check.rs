//! `check` for a RAW disk: the partition table is its only structure. GPT: both headers'
//! CRC32s, both entry arrays' CRC32s, the backup where the primary says and agreeing with
//! it, partitions inside the usable range; MBR and GPT: partitions past the end of the disk
//! or overlapping. Each finding names the byte offset, what was found and what was expected.
//!
//! The reader (`read_table`) turns the same damage into warnings and goes on with what it can
//! trust; this is the strict view of the same bytes.

use super::gpt::{ENTRY_MIN_SIZE, HEADER_MIN_SIZE, MAX_ENTRY_ARRAY, SECTOR_SIZES, SIGNATURE};
use super::layout::{gpt_entry, gpt_header, guid, mbr, mbr_entry};
use super::{EntryKind, Partition, PartitionTable, TableKind};
use crate::bytes::Fixed;
use crate::error::Result;
use crate::image::finding::{CheckReport, Finding, Severity};
use crate::image::{Kind, VirtualDisk};

/// Header fields a backup must repeat (offset in the header, name, value); `my_lba`,
/// `alternate_lba` and the entry array's LBA are expected to differ.
fn mirrored(h: &Header) -> [(usize, &'static str, u64); 5] {
    use gpt_header::*;
    [
        (FIRST_USABLE_LBA, "first usable LBA", h.first_usable()),
        (LAST_USABLE_LBA, "last usable LBA", h.last_usable()),
        (ENTRY_COUNT, "number of entries", h.entry_count()),
        (ENTRY_SIZE, "entry size", h.entry_size()),
        (
            ENTRIES_CRC32,
            "entry array CRC32",
            u64::from(h.entries_crc()),
        ),
    ]
}

/// `check` for any image: the format's own checker, and for a RAW disk (which has no format
/// structure) its partition table.
pub fn check_file(path: &std::path::Path) -> Result<CheckReport> {
    let mut r = crate::image::check::check(path)?;
    if r.kind != Kind::Raw || r.note.is_none() {
        return Ok(r);
    }
    let img = crate::image::open(path)?;
    let table = super::read_table(&img, &mut Vec::new());
    if table.kind == TableKind::None && gpt_sector(&img).is_none() {
        r.note = Some(format!(
            "a RAW image of {} bytes with no partition table (no MBR, no GPT): nothing to check",
            img.size()
        ));
        return Ok(r);
    }
    r.note = None;
    r.disk_type = Some(match table.kind {
        TableKind::None => TableKind::Gpt.as_str(), // a GPT too damaged to read
        k => k.as_str(),
    });
    r.findings = check_table(&img, &table);
    Ok(r)
}

/// Findings about `table` (as `read_table` read it) on `disk`.
pub fn check_table(disk: &dyn VirtualDisk, table: &PartitionTable) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(sector) = gpt_sector(disk) {
        check_gpt(disk, sector, &mut out);
    }
    if table.kind != TableKind::None {
        check_layout(disk.size(), table, &mut out);
    }
    out
}

fn err(offset: u64, field: &str, found: String, expected: String) -> Finding {
    Finding::new(Severity::Error, offset, field, found, expected)
}

/// The sector size at which either GPT header carries its signature.
fn gpt_sector(disk: &dyn VirtualDisk) -> Option<u64> {
    SECTOR_SIZES.into_iter().find(|&s| {
        let last = (disk.size() / s).saturating_sub(1);
        signature_at(disk, s) || signature_at(disk, last.saturating_mul(s))
    })
}

fn signature_at(disk: &dyn VirtualDisk, at: u64) -> bool {
    let mut sig = [0u8; 8];
    at.checked_add(8).is_some_and(|e| e <= disk.size())
        && disk.read_at(at, &mut sig).is_ok()
        && &sig == SIGNATURE
}

/// A header whose CRC was checked, with its position: its fixed fields.
struct Header {
    at: u64,
    fields: [u8; gpt_header::LEN],
}

impl Header {
    fn f(&self) -> Fixed<'_, { gpt_header::LEN }> {
        Fixed(&self.fields)
    }
    fn alternate_lba(&self) -> u64 {
        self.f().le_u64::<{ gpt_header::ALTERNATE_LBA }>()
    }
    fn first_usable(&self) -> u64 {
        self.f().le_u64::<{ gpt_header::FIRST_USABLE_LBA }>()
    }
    fn last_usable(&self) -> u64 {
        self.f().le_u64::<{ gpt_header::LAST_USABLE_LBA }>()
    }
    fn disk_guid(&self) -> [u8; guid::LEN] {
        self.f().array::<{ gpt_header::DISK_GUID }, { guid::LEN }>()
    }
    fn entries_lba(&self) -> u64 {
        self.f().le_u64::<{ gpt_header::ENTRIES_LBA }>()
    }
    fn entry_count(&self) -> u64 {
        u64::from(self.f().le_u32::<{ gpt_header::ENTRY_COUNT }>())
    }
    fn entry_size(&self) -> u64 {
        u64::from(self.f().le_u32::<{ gpt_header::ENTRY_SIZE }>())
    }
    fn entries_crc(&self) -> u32 {
        self.f().le_u32::<{ gpt_header::ENTRIES_CRC32 }>()
    }
    /// Absolute offset of a header field.
    fn offset(&self, field: usize) -> u64 {
        self.at.saturating_add(field as u64)
    }
}

fn check_gpt(disk: &dyn VirtualDisk, sector: u64, out: &mut Vec<Finding>) {
    let last = (disk.size() / sector).saturating_sub(1);
    let primary = header(disk, sector, 1, "primary", out);
    if let Some(p) = &primary {
        entry_array(disk, sector, p, "primary", out);
    }
    // Where the backup should be: where the primary says, which must be the last LBA.
    let backup_lba = primary.as_ref().map_or(last, Header::alternate_lba);
    if backup_lba != last {
        out.push(err(
            sector + gpt_header::ALTERNATE_LBA as u64,
            "GPT primary header: backup header LBA",
            format!("{backup_lba}"),
            format!("{last}, the last LBA of a {}-byte disk", disk.size()),
        ));
    }
    let backup = header(disk, sector, last, "backup", out);
    if let Some(b) = &backup {
        entry_array(disk, sector, b, "backup", out);
    }
    if let (Some(p), Some(b)) = (&primary, &backup) {
        compare(p, b, out);
    }
    // The backup whole (header and array) while the primary is damaged: the primary can be
    // rebuilt from it.
    let backup_sound = backup.is_some() && !out.iter().any(|f| f.field.starts_with("GPT backup"));
    if backup_sound {
        for f in out
            .iter_mut()
            .filter(|f| f.field.starts_with("GPT primary"))
        {
            f.repair = Some(
                "rebuild the primary header and entries from the backup (gdisk: r, b, w)".into(),
            );
        }
    }
    if let Some(h) = primary.as_ref().or(backup.as_ref()) {
        usable_range(disk, sector, h, out);
    }
}

/// Read the header at `lba`: signature, size, CRC32 and its own LBA. Findings for what is
/// wrong; `None` when it cannot be used.
fn header(
    disk: &dyn VirtualDisk,
    sector: u64,
    lba: u64,
    which: &str,
    out: &mut Vec<Finding>,
) -> Option<Header> {
    let at = lba.checked_mul(sector)?;
    let field = format!("GPT {which} header");
    let mut bytes = vec![0u8; usize::try_from(sector).ok()?];
    let read = disk.read_at(at, &mut bytes).is_ok();
    // The sector is 512 or 4096 bytes: it holds the fixed fields.
    let fields = *bytes.first_chunk::<{ gpt_header::LEN }>()?;
    let h = Fixed(&fields);
    let signature: [u8; 8] = h.array::<{ gpt_header::SIGNATURE }, 8>();
    if !read || &signature != SIGNATURE {
        let found = if which == "backup" {
            "no header (no \"EFI PART\" signature)".to_string()
        } else {
            format!("signature {signature:02x?}")
        };
        out.push(err(at, &field, found, format!("\"EFI PART\" at LBA {lba}")));
        return None;
    }
    let size = h.le_u32::<{ gpt_header::HEADER_SIZE }>();
    let covered = usize::try_from(size)
        .ok()
        .filter(|_| size >= HEADER_MIN_SIZE && u64::from(size) <= sector)
        .and_then(|n| bytes.get(..n));
    let Some(covered) = covered else {
        out.push(err(
            at + gpt_header::HEADER_SIZE as u64,
            &format!("{field} size"),
            size.to_string(),
            format!("{HEADER_MIN_SIZE}..={sector}"),
        ));
        return None;
    };
    let stored = h.le_u32::<{ gpt_header::HEADER_CRC32 }>();
    let computed = super::gpt::header_crc(covered);
    if computed != stored {
        out.push(err(
            at + gpt_header::HEADER_CRC32 as u64,
            &format!("{field} CRC32"),
            format!("{stored:#010x}"),
            format!("{computed:#010x} (computed over its {size} bytes)"),
        ));
        return None;
    }
    let my_lba = h.le_u64::<{ gpt_header::MY_LBA }>();
    if my_lba != lba {
        out.push(err(
            at + gpt_header::MY_LBA as u64,
            &format!("{field} own LBA"),
            my_lba.to_string(),
            lba.to_string(),
        ));
    }
    Some(Header { at, fields })
}

fn entry_array(
    disk: &dyn VirtualDisk,
    sector: u64,
    h: &Header,
    which: &str,
    out: &mut Vec<Finding>,
) {
    let (count, size) = (h.entry_count(), h.entry_size());
    let len = count * size;
    if size < u64::from(ENTRY_MIN_SIZE) || size % 8 != 0 || len > MAX_ENTRY_ARRAY {
        out.push(err(
            h.offset(gpt_header::ENTRY_COUNT),
            &format!("GPT {which} header entry count x size"),
            format!("{count} x {size}"),
            format!("entries of a multiple of 8 bytes, at least {ENTRY_MIN_SIZE}, at most {MAX_ENTRY_ARRAY} bytes in all"),
        ));
        return;
    }
    let lba = h.entries_lba();
    let Some(at) = lba
        .checked_mul(sector)
        .filter(|a| a.checked_add(len).is_some_and(|e| e <= disk.size()))
    else {
        out.push(err(
            h.offset(gpt_header::ENTRIES_LBA),
            &format!("GPT {which} entry array LBA"),
            lba.to_string(),
            format!(
                "an array of {len} bytes inside the {}-byte disk",
                disk.size()
            ),
        ));
        return;
    };
    // At most MAX_ENTRY_ARRAY bytes.
    let Ok(len) = usize::try_from(len) else {
        return;
    };
    let mut buf = vec![0u8; len];
    if disk.read_at(at, &mut buf).is_err() {
        return;
    }
    let computed = crc32fast::hash(&buf);
    if computed != h.entries_crc() {
        out.push(err(
            at,
            &format!("GPT {which} entry array CRC32"),
            format!("{computed:#010x} computed over {count} entries"),
            format!(
                "{:#010x} (header at offset {} says)",
                h.entries_crc(),
                h.offset(gpt_header::ENTRIES_CRC32)
            ),
        ));
    }
}

/// The backup must describe the same disk as the primary.
fn compare(p: &Header, b: &Header, out: &mut Vec<Finding>) {
    for ((at, name, pv), (_, _, bv)) in mirrored(p).into_iter().zip(mirrored(b)) {
        if pv != bv {
            out.push(err(
                b.offset(at),
                &format!("GPT backup header {name}"),
                bv.to_string(),
                format!("{pv}, as in the primary header"),
            ));
        }
    }
    if p.disk_guid() != b.disk_guid() {
        out.push(err(
            b.offset(gpt_header::DISK_GUID),
            "GPT backup header disk GUID",
            super::gpt::format_guid(&b.disk_guid()),
            format!(
                "{}, as in the primary header",
                super::gpt::format_guid(&p.disk_guid())
            ),
        ));
    }
    if b.alternate_lba() != 1 {
        out.push(err(
            b.offset(gpt_header::ALTERNATE_LBA),
            "GPT backup header alternate LBA",
            b.alternate_lba().to_string(),
            "1, the primary header".into(),
        ));
    }
}

/// Each used entry between the header's first and last usable LBA.
fn usable_range(disk: &dyn VirtualDisk, sector: u64, h: &Header, out: &mut Vec<Finding>) {
    let (first, last) = (h.first_usable(), h.last_usable());
    let (count, size) = (h.entry_count(), h.entry_size());
    if size < u64::from(ENTRY_MIN_SIZE) || count * size > MAX_ENTRY_ARRAY {
        return;
    }
    let Some(base) = h.entries_lba().checked_mul(sector) else {
        return;
    };
    // At least gpt_entry::LEN, at most MAX_ENTRY_ARRAY bytes.
    let Ok(len) = usize::try_from(size) else {
        return;
    };
    let mut e = vec![0u8; len];
    for i in 0..count {
        let at = base.saturating_add(i * size);
        if disk.read_at(at, &mut e).is_err() {
            continue;
        }
        let Some(f) = e.first_chunk::<{ gpt_entry::LEN }>().map(Fixed) else {
            return;
        };
        if f.array::<{ gpt_entry::TYPE_GUID }, { guid::LEN }>() == [0u8; guid::LEN] {
            continue;
        }
        let a = f.le_u64::<{ gpt_entry::FIRST_LBA }>();
        let b = f.le_u64::<{ gpt_entry::LAST_LBA }>();
        if a < first || b > last || a > b {
            out.push(err(
                at + gpt_entry::FIRST_LBA as u64,
                &format!("GPT partition {} LBAs", i + 1),
                format!("{a}..={b}"),
                format!("a range within the usable LBAs {first}..={last}"),
            ));
        }
    }
}

/// Partitions past the end of the disk, and data partitions overlapping each other
/// (an extended partition contains its logical ones by design).
fn check_layout(disk_size: u64, t: &PartitionTable, out: &mut Vec<Finding>) {
    for p in &t.partitions {
        if p.end() > disk_size {
            out.push(err(
                entry_offset(p),
                &format!("partition {} end", p.number),
                format!("byte {}", p.end()),
                format!("at most {disk_size}, the size of the disk"),
            ));
        }
    }
    let mut data: Vec<&Partition> = t
        .partitions
        .iter()
        .filter(|p| p.kind != EntryKind::Extended)
        .collect();
    data.sort_by_key(|p| p.start);
    for (i, a) in data.iter().enumerate() {
        for b in data.iter().skip(i + 1).take_while(|b| b.start < a.end()) {
            out.push(err(
                entry_offset(b),
                &format!("partition {} start", b.number),
                format!(
                    "byte {}, inside partition {} (bytes {}..{})",
                    b.start,
                    a.number,
                    a.start,
                    a.end()
                ),
                format!("at least byte {}: partitions must not overlap", a.end()),
            ));
        }
    }
}

/// Where a partition's entry is: an MBR primary's slot at 446; otherwise (logical, GPT) the
/// partition's first byte, which is what the entry points to.
fn entry_offset(p: &Partition) -> u64 {
    match p.kind {
        EntryKind::Primary | EntryKind::Extended => {
            mbr::ENTRIES as u64 + mbr_entry::LEN as u64 * u64::from(p.number.saturating_sub(1))
        }
        _ => p.start,
    }
}
