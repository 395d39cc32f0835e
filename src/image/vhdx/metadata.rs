//! The metadata region (MS-VHDX 2.6): its table and the known items (file parameters, virtual
//! disk size, page 83 data, logical and physical sector sizes, parent locator).

use super::guid::{Guid, utf16};
use super::header::{KIB, Region};
use super::view::View;
use crate::bytes::{Bytes, Short};
use crate::error::{Error, Result};

pub const METADATA_SIGNATURE: &[u8; 8] = b"metadata";
pub const METADATA_TABLE_SIZE: usize = 64 * 1024;
pub const MAX_METADATA_ENTRIES: u16 = 2047;
const ENTRY_SIZE: usize = 32;
/// The largest parent locator item we read.
pub const MAX_LOCATOR_BYTES: u32 = 64 * 1024;
/// The largest virtual disk the spec allows: 64 TiB.
pub const MAX_VIRTUAL_SIZE: u64 = 64 << 40;
pub const MIN_BLOCK_SIZE: u32 = 1 << 20;
pub const MAX_BLOCK_SIZE: u32 = 256 << 20;

pub const FILE_PARAMETERS: Guid = Guid::new(
    0xCAA16737,
    0xFA36,
    0x4D43,
    [0xB3, 0xB6, 0x33, 0xF0, 0xAA, 0x44, 0xE7, 0x6B],
);
pub const VIRTUAL_DISK_SIZE: Guid = Guid::new(
    0x2FA54224,
    0xCD1B,
    0x4876,
    [0xB2, 0x11, 0x5D, 0xBE, 0xD8, 0x3B, 0xF4, 0xB8],
);
pub const PAGE83_DATA: Guid = Guid::new(
    0xBECA12AB,
    0xB2E6,
    0x4523,
    [0x93, 0xEF, 0xC3, 0x09, 0xE0, 0x00, 0xC7, 0x46],
);
pub const LOGICAL_SECTOR_SIZE: Guid = Guid::new(
    0x8141BF1D,
    0xA96F,
    0x4709,
    [0xBA, 0x47, 0xF2, 0x33, 0xA8, 0xFA, 0xAB, 0x5F],
);
pub const PHYSICAL_SECTOR_SIZE: Guid = Guid::new(
    0xCDA348C7,
    0x445D,
    0x4471,
    [0x9C, 0xC9, 0xE9, 0x88, 0x52, 0x51, 0xC5, 0x56],
);
pub const PARENT_LOCATOR: Guid = Guid::new(
    0xA8D35F2D,
    0xB30B,
    0x454D,
    [0xAB, 0xF7, 0xD3, 0xD8, 0x48, 0x34, 0xAB, 0x0C],
);
/// The locator type of a VHDX parent.
pub const VHDX_PARENT_LOCATOR_TYPE: Guid = Guid::new(
    0xB04AEFB7,
    0xD19E,
    0x4A81,
    [0xB7, 0x89, 0x25, 0xB8, 0xE9, 0x44, 0x59, 0x13],
);

pub fn item_name(g: &Guid) -> String {
    match *g {
        FILE_PARAMETERS => "file parameters".into(),
        VIRTUAL_DISK_SIZE => "virtual disk size".into(),
        PAGE83_DATA => "page 83 data".into(),
        LOGICAL_SECTOR_SIZE => "logical sector size".into(),
        PHYSICAL_SECTOR_SIZE => "physical sector size".into(),
        PARENT_LOCATOR => "parent locator".into(),
        _ => format!("unknown item {g}"),
    }
}

#[derive(Debug, Clone)]
pub struct MetaEntry {
    pub item: Guid,
    /// Offset of the item from the start of the metadata region.
    pub offset: u32,
    pub length: u32,
    pub is_user: bool,
    pub is_virtual_disk: bool,
    pub is_required: bool,
    /// Where the entry lies in the file.
    pub entry_offset: u64,
}

#[derive(Debug, Clone)]
pub struct ParentLocator {
    pub locator_type: Guid,
    /// Key/value pairs in file order.
    pub entries: Vec<(String, String)>,
    /// Where the item lies in the file.
    pub offset: u64,
}

impl ParentLocator {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Metadata {
    pub entries: Vec<MetaEntry>,
    pub block_size: u32,
    pub leave_blocks_allocated: bool,
    pub has_parent: bool,
    pub virtual_size: u64,
    pub logical_sector_size: u32,
    pub physical_sector_size: u32,
    pub page83: Option<Guid>,
    pub parent: Option<ParentLocator>,
    /// Non-fatal oddities (a missing page 83 item...).
    pub notes: Vec<(u64, String, String, String)>,
}

/// Read and validate the metadata table and its known items.
pub fn read_metadata(view: &View, region: &Region) -> Result<Metadata> {
    let path = view.src.path();
    let base = region.file_offset;
    let mut t = vec![0u8; METADATA_TABLE_SIZE];
    view.read_exact_at(base, &mut t, "VHDX metadata table")?;
    if &t[..8] != METADATA_SIGNATURE {
        return Err(Error::malformed(
            path,
            base,
            "metadata table signature",
            format!("{:02x?}", &t[..8]),
            "\"metadata\"",
        ));
    }
    let short = |e: Short| e.in_file(path);
    let tb = Bytes::new(&t, base, "metadata table");
    let count = tb.le_u16(10, "entry count").map_err(short)?;
    if count > MAX_METADATA_ENTRIES {
        return Err(Error::malformed(
            path,
            base + 10,
            "metadata entry count",
            count.to_string(),
            format!("at most {MAX_METADATA_ENTRIES}"),
        ));
    }
    let mut entries = Vec::new();
    for i in 0..usize::from(count) {
        let o = ENTRY_SIZE + i * ENTRY_SIZE;
        let eb = tb.sub(o, ENTRY_SIZE, "entry").map_err(short)?;
        let flags = eb.le_u32(24, "flags").map_err(short)?;
        let e = MetaEntry {
            item: Guid::read(&eb, 0, "item GUID").map_err(short)?,
            offset: eb.le_u32(16, "offset").map_err(short)?,
            length: eb.le_u32(20, "length").map_err(short)?,
            is_user: flags & 1 != 0,
            is_virtual_disk: flags & 2 != 0,
            is_required: flags & 4 != 0,
            entry_offset: eb.offset_of(0),
        };
        validate_entry(view, region, &e)?;
        if entries
            .iter()
            .any(|x: &MetaEntry| x.item == e.item && x.is_user == e.is_user)
        {
            return Err(Error::malformed(
                path,
                e.entry_offset,
                "metadata entry",
                format!("a second {} item", item_name(&e.item)),
                "each item once",
            ));
        }
        let known = [
            FILE_PARAMETERS,
            VIRTUAL_DISK_SIZE,
            PAGE83_DATA,
            LOGICAL_SECTOR_SIZE,
            PHYSICAL_SECTOR_SIZE,
            PARENT_LOCATOR,
        ];
        if e.is_required && (e.is_user || !known.contains(&e.item)) {
            return Err(Error::Unsupported {
                path: path.to_path_buf(),
                what: format!(
                    "the VHDX metadata (entry at offset {}) has a required item {} that imgtool \
                     does not know; reading the disk without it would be a guess",
                    e.entry_offset, e.item
                ),
            });
        }
        entries.push(e);
    }
    parse_items(view, region, entries)
}

fn validate_entry(view: &View, region: &Region, e: &MetaEntry) -> Result<()> {
    let path = view.src.path();
    if e.length == 0 {
        return Ok(());
    }
    let end = u64::from(e.offset) + u64::from(e.length);
    if u64::from(e.offset) < 64 * KIB || end > u64::from(region.length) {
        return Err(Error::malformed(
            path,
            e.entry_offset + 16,
            format!("{} item offset", item_name(&e.item)),
            format!("{}..{end} of the region", e.offset),
            format!(
                "to lie after the 64 KiB table and inside the {}-byte metadata region",
                region.length
            ),
        ));
    }
    Ok(())
}

fn find(entries: &[MetaEntry], g: Guid) -> Option<&MetaEntry> {
    entries.iter().find(|e| e.item == g && !e.is_user)
}

/// Read a system item of at least `need` bytes (a missing one is an error: these are required).
fn item(
    view: &View,
    region: &Region,
    entries: &[MetaEntry],
    g: Guid,
    need: u32,
) -> Result<Vec<u8>> {
    let path = view.src.path();
    let Some(e) = find(entries, g) else {
        return Err(Error::malformed(
            path,
            region.file_offset,
            "metadata table",
            format!("no {} item", item_name(&g)),
            "the file parameters, virtual disk size and sector size items",
        ));
    };
    if e.length < need {
        return Err(Error::malformed(
            path,
            e.entry_offset + 20,
            format!("{} item length", item_name(&g)),
            e.length.to_string(),
            format!("at least {need}"),
        ));
    }
    let mut b = vec![0u8; need as usize];
    let at = region.file_offset + u64::from(e.offset);
    view.read_exact_at(at, &mut b, &format!("VHDX {} item", item_name(&g)))?;
    Ok(b)
}

fn parse_items(view: &View, region: &Region, entries: Vec<MetaEntry>) -> Result<Metadata> {
    let path = view.src.path();
    let at = |g: Guid| {
        find(&entries, g).map_or(region.file_offset, |e| {
            region.file_offset + u64::from(e.offset)
        })
    };
    let short = |e: Short| e.in_file(path);
    let fp = item(view, region, &entries, FILE_PARAMETERS, 8)?;
    let fp = Bytes::new(&fp, at(FILE_PARAMETERS), "file parameters item");
    let block_size = fp.le_u32(0, "block size").map_err(short)?;
    let flags = fp.le_u32(4, "flags").map_err(short)?;
    if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) || !block_size.is_power_of_two() {
        return Err(Error::malformed(
            path,
            at(FILE_PARAMETERS),
            "block size",
            block_size.to_string(),
            "a power of two from 1 MiB to 256 MiB",
        ));
    }
    let vs = item(view, region, &entries, VIRTUAL_DISK_SIZE, 8)?;
    let virtual_size = Bytes::new(&vs, at(VIRTUAL_DISK_SIZE), "virtual disk size item")
        .le_u64(0, "size")
        .map_err(short)?;
    let ls = item(view, region, &entries, LOGICAL_SECTOR_SIZE, 4)?;
    let logical_sector_size = Bytes::new(&ls, at(LOGICAL_SECTOR_SIZE), "logical sector size item")
        .le_u32(0, "size")
        .map_err(short)?;
    let ps = item(view, region, &entries, PHYSICAL_SECTOR_SIZE, 4)?;
    let physical_sector_size =
        Bytes::new(&ps, at(PHYSICAL_SECTOR_SIZE), "physical sector size item")
            .le_u32(0, "size")
            .map_err(short)?;
    for (g, v) in [
        (LOGICAL_SECTOR_SIZE, logical_sector_size),
        (PHYSICAL_SECTOR_SIZE, physical_sector_size),
    ] {
        if v != 512 && v != 4096 {
            return Err(Error::malformed(
                path,
                at(g),
                item_name(&g),
                v.to_string(),
                "512 or 4096",
            ));
        }
    }
    if virtual_size == 0
        || virtual_size > MAX_VIRTUAL_SIZE
        || virtual_size % u64::from(logical_sector_size) != 0
    {
        return Err(Error::malformed(
            path,
            at(VIRTUAL_DISK_SIZE),
            "virtual disk size",
            virtual_size.to_string(),
            format!(
                "a multiple of the {logical_sector_size}-byte logical sector, from one sector to 64 TiB"
            ),
        ));
    }
    let mut notes = Vec::new();
    let page83 = match find(&entries, PAGE83_DATA) {
        Some(_) => {
            let b = item(view, region, &entries, PAGE83_DATA, 16)?;
            let b = Bytes::new(&b, at(PAGE83_DATA), "page 83 data item");
            Some(Guid::read(&b, 0, "GUID").map_err(short)?)
        }
        None => {
            notes.push((
                region.file_offset,
                "metadata table".to_string(),
                "no page 83 data item".to_string(),
                "a page 83 data item (the disk's SCSI identity)".to_string(),
            ));
            None
        }
    };
    let has_parent = flags & 2 != 0;
    if flags & !3 != 0 {
        notes.push((
            at(FILE_PARAMETERS) + 4,
            "file parameters flags".into(),
            format!("{flags:#x}"),
            "only bits 0 (leave blocks allocated) and 1 (has parent) set".into(),
        ));
    }
    let parent = match find(&entries, PARENT_LOCATOR) {
        Some(e) if has_parent => Some(read_locator(view, region, e)?),
        None if has_parent => {
            return Err(Error::malformed(
                path,
                region.file_offset,
                "metadata table",
                "the has-parent flag but no parent locator item",
                "a parent locator for a differencing VHDX",
            ));
        }
        _ => None,
    };
    Ok(Metadata {
        entries,
        block_size,
        leave_blocks_allocated: flags & 1 != 0,
        has_parent,
        virtual_size,
        logical_sector_size,
        physical_sector_size,
        page83,
        parent,
        notes,
    })
}

/// The parent locator item: a type GUID and key/value pairs of UTF-16 strings.
fn read_locator(view: &View, region: &Region, e: &MetaEntry) -> Result<ParentLocator> {
    let path = view.src.path();
    let at = region.file_offset + u64::from(e.offset);
    if e.length < 20 || e.length > MAX_LOCATOR_BYTES {
        return Err(Error::malformed(
            path,
            e.entry_offset + 20,
            "parent locator length",
            e.length.to_string(),
            format!("20 to {MAX_LOCATOR_BYTES} bytes"),
        ));
    }
    let mut b = vec![0u8; e.length as usize];
    view.read_exact_at(at, &mut b, "VHDX parent locator")?;
    let short = |e: Short| e.in_file(path);
    let lb = Bytes::new(&b, at, "parent locator");
    let locator_type = Guid::read(&lb, 0, "locator type").map_err(short)?;
    let count = usize::from(lb.le_u16(18, "key-value count").map_err(short)?);
    if 20 + count * 12 > b.len() {
        return Err(Error::malformed(
            path,
            at + 18,
            "parent locator key-value count",
            count.to_string(),
            format!(
                "at most {} entries in its {} bytes",
                (b.len() - 20) / 12,
                b.len()
            ),
        ));
    }
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let o = 20 + i * 12;
        let eb = lb.sub(o, 12, "entry").map_err(short)?;
        // A key or value offset past usize is past the locator, as is any past its length.
        let ko = usize::try_from(eb.le_u32(0, "key offset").map_err(short)?).unwrap_or(usize::MAX);
        let vo =
            usize::try_from(eb.le_u32(4, "value offset").map_err(short)?).unwrap_or(usize::MAX);
        let kl = usize::from(eb.le_u16(8, "key length").map_err(short)?);
        let vl = usize::from(eb.le_u16(10, "value length").map_err(short)?);
        let (Some(k), Some(v)) = (
            b.get(ko..ko.saturating_add(kl)),
            b.get(vo..vo.saturating_add(vl)),
        ) else {
            return Err(Error::malformed(
                path,
                at + o as u64,
                "parent locator entry",
                format!("key {ko}+{kl}, value {vo}+{vl}"),
                format!("to lie inside the {}-byte locator", b.len()),
            ));
        };
        entries.push((utf16(k), utf16(v)));
    }
    Ok(ParentLocator {
        locator_type,
        entries,
        offset: at,
    })
}
