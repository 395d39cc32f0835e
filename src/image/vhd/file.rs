//! One VHD file of a chain: its footer (and the copy at offset 0), the dynamic header, the
//! BAT and the sector bitmaps; the checks made while opening it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::dynamic::{BAT_UNALLOCATED, DynamicHeader, HEADER_SIZE};
use super::footer::{DiskType, FOOTER_SIZE, Footer, OLD_FOOTER_SIZE, VHD_COOKIE};
use super::geometry::SizeSource;
use super::validate::{Finding, Severity};
use super::{dynamic, footer, geometry, validate};
use crate::error::{Error, Result};
use crate::image::finding::fatal_error;
use crate::image::fit::min_len;
use crate::image::source::SourceFile;

/// The largest BAT we hold in memory: 16 Mi entries (64 MiB), 32 TiB with 2 MiB blocks.
pub const MAX_BAT_ENTRIES: u64 = 16 << 20;
/// The most sector-bitmap bytes kept cached per file.
const BITMAP_CACHE_BYTES: usize = 16 << 20;

/// Where the footer in use was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FooterSource {
    /// The last 512 bytes.
    End,
    /// The last 511 bytes (images from before Virtual PC 2004).
    End511,
    /// The copy at offset 0 of a dynamic or differencing disk (the end one is damaged).
    Copy,
}

/// One VHD file of a chain.
#[derive(Debug)]
pub struct VhdFile {
    pub src: SourceFile,
    pub footer: Footer,
    pub footer_offset: u64,
    pub footer_source: FooterSource,
    /// The footer copy at offset 0, when there is one.
    pub footer_copy: Option<Footer>,
    pub virtual_size: u64,
    pub size_source: SizeSource,
    pub sparse: Option<Sparse>,
    /// Non-fatal findings made while opening (damaged end footer, odd fields...).
    pub findings: Vec<Finding>,
}

/// The dynamic part of a dynamic or differencing disk.
#[derive(Debug)]
pub struct Sparse {
    pub header: DynamicHeader,
    pub header_offset: u64,
    /// BAT entries covering the virtual size (never more than the header's max entries).
    pub bat: Vec<u32>,
    pub block_size: u64,
    pub bitmap_size: u64,
    pub(super) differencing: bool,
    bitmaps: RwLock<HashMap<u32, Arc<[u8]>>>,
}

impl Sparse {
    pub fn allocated_blocks(&self) -> u64 {
        self.bat.iter().filter(|&&e| e != BAT_UNALLOCATED).count() as u64
    }

    /// File offset of block `b`'s bitmap, if allocated.
    pub fn block_offset(&self, b: u64) -> Option<u64> {
        let e = *self.bat.get(usize::try_from(b).ok()?)?;
        (e != BAT_UNALLOCATED).then_some(u64::from(e) * 512)
    }
}

/// What the first and last sectors say: is this a VHD at all?
pub fn looks_like_vhd(src: &SourceFile) -> Result<bool> {
    let len = src.len();
    let mut b = [0u8; 8];
    if len >= FOOTER_SIZE as u64 {
        src.read_exact_at(len - FOOTER_SIZE as u64, &mut b, "VHD footer cookie")?;
        if &b == VHD_COOKIE {
            return Ok(true);
        }
        src.read_exact_at(0, &mut b, "VHD footer copy cookie")?;
        if &b == VHD_COOKIE {
            return Ok(true);
        }
    }
    if len >= OLD_FOOTER_SIZE as u64 && len % 512 == OLD_FOOTER_SIZE as u64 {
        src.read_exact_at(len - OLD_FOOTER_SIZE as u64, &mut b, "VHD footer cookie")?;
        if &b == VHD_COOKIE {
            return Ok(true);
        }
    }
    Ok(false)
}

impl VhdFile {
    /// Open one VHD file (not its parent).
    pub fn open(src: SourceFile) -> Result<VhdFile> {
        let mut findings = Vec::new();
        let (footer, footer_offset, footer_source, footer_copy) = read_footer(&src, &mut findings)?;
        let kind = footer.kind().ok_or_else(|| {
            Error::malformed(
                src.path(),
                footer_offset + footer::off::DISK_TYPE as u64,
                "footer disk type",
                footer.disk_type.to_string(),
                "2 (fixed), 3 (dynamic) or 4 (differencing)",
            )
        })?;
        let (virtual_size, size_source) =
            geometry::virtual_size(&footer.creator_app, footer.geometry, footer.current_size);
        let sparse = match kind {
            DiskType::Fixed => {
                check_fixed_length(&src, &footer, footer_offset, virtual_size)?;
                None
            }
            DiskType::Dynamic | DiskType::Differencing => Some(open_sparse(
                &src,
                &footer,
                virtual_size,
                kind == DiskType::Differencing,
                &mut findings,
            )?),
        };
        Ok(VhdFile {
            src,
            footer,
            footer_offset,
            footer_source,
            footer_copy,
            virtual_size,
            size_source,
            sparse,
            findings,
        })
    }

    pub fn disk_type(&self) -> DiskType {
        // `open` refused every other value.
        self.footer.kind().unwrap_or(DiskType::Fixed)
    }

    /// Bytes of the virtual disk this file itself stores: the whole disk for a fixed one, the
    /// allocated blocks (clipped to the disk) for a dynamic or differencing one.
    pub fn allocated_bytes(&self) -> u64 {
        match &self.sparse {
            None => self.virtual_size,
            Some(sp) => sp
                .bat
                .iter()
                .enumerate()
                .filter(|(_, e)| **e != BAT_UNALLOCATED)
                .map(|(b, _)| {
                    let start = b as u64 * sp.block_size;
                    sp.block_size.min(self.virtual_size.saturating_sub(start))
                })
                .sum(),
        }
    }

    /// For a differencing disk: the bytes whose sector bitmap bit is set in this file (the
    /// sectors it defines itself), from the bitmaps of its allocated blocks.
    pub fn sector_allocated_bytes(&self) -> Result<u64> {
        let Some(sp) = &self.sparse else {
            return Ok(self.virtual_size);
        };
        let mut total = 0u64;
        // The block size is a u32 field: its bitmap is at most 1 MiB, its sectors fit a u32.
        #[allow(clippy::cast_possible_truncation)]
        let mut buf = vec![0u8; sp.bitmap_size as usize];
        #[allow(clippy::cast_possible_truncation)]
        let sectors_per_block = (sp.block_size / 512) as usize;
        for (b, &e) in sp.bat.iter().enumerate() {
            if e == BAT_UNALLOCATED {
                continue;
            }
            self.src
                .read_exact_at(u64::from(e) * 512, &mut buf, "sector bitmap")?;
            let block_start = b as u64 * sp.block_size;
            let in_disk = self.virtual_size.saturating_sub(block_start) / 512;
            let n = min_len(sectors_per_block, in_disk);
            let full = n / 8;
            let mut set: u64 = buf[..full].iter().map(|x| u64::from(x.count_ones())).sum();
            for s in full * 8..n {
                if buf[s / 8] & (0x80 >> (s % 8)) != 0 {
                    set += 1;
                }
            }
            total += set * 512;
        }
        Ok(total)
    }

    // `block` indexes the BAT (at most MAX_BAT_ENTRIES = 16 Mi entries, checked at open): it
    // fits a u32. The bitmap is at most 1 MiB (the block size is a u32 field).
    #[allow(clippy::cast_possible_truncation)]
    pub(super) fn bitmap(&self, sp: &Sparse, block: u64, at: u64) -> Result<Arc<[u8]>> {
        let key = block as u32;
        if let Ok(cache) = sp.bitmaps.read() {
            if let Some(b) = cache.get(&key) {
                return Ok(b.clone());
            }
        }
        let mut buf = vec![0u8; sp.bitmap_size as usize];
        self.src
            .read_exact_at(at, &mut buf, "differencing VHD sector bitmap")?;
        let arc: Arc<[u8]> = buf.into();
        if let Ok(mut cache) = sp.bitmaps.write() {
            if cache.len() * sp.bitmap_size as usize >= BITMAP_CACHE_BYTES {
                cache.clear();
            }
            cache.insert(key, arc.clone());
        }
        Ok(arc)
    }
}

type FooterRead = (Footer, u64, FooterSource, Option<Footer>);

/// Find the footer to trust. The end one is preferred; the copy at offset 0 stands in when the
/// end one is missing or fails its checksum (dynamic and differencing disks only).
pub(super) fn read_footer(src: &SourceFile, findings: &mut Vec<Finding>) -> Result<FooterRead> {
    let len = src.len();
    let now = validate::now_vhd();
    let end = read_end_footer(src)?;
    let copy = if len >= FOOTER_SIZE as u64 * 2 {
        let mut b = [0u8; FOOTER_SIZE];
        src.read_exact_at(0, &mut b, "VHD footer copy")?;
        (&b[0..8] == VHD_COOKIE).then_some(b)
    } else {
        None
    };
    let end_problems = end
        .as_ref()
        .map(|(raw, at, _)| validate::footer(raw, *at, len, now));
    let copy_problems = copy.as_ref().map(|raw| validate::footer(raw, 0, len, now));
    let is_fatal = |p: &Option<Vec<Finding>>| p.as_ref().is_none_or(|v| v.iter().any(|f| f.fatal));

    if let (Some((raw, at, source)), false) = (&end, is_fatal(&end_problems)) {
        findings.extend(end_problems.clone().unwrap_or_default());
        let footer = Footer::parse(raw);
        let copy_footer = copy.as_ref().map(Footer::parse);
        if let Some(c) = &copy_footer {
            if c != &footer {
                findings.push(Finding::new(
                    Severity::Error,
                    0,
                    "footer copy at offset 0",
                    "differs from the footer at the end",
                    "an identical copy",
                ));
            }
        }
        return Ok((footer, *at, *source, copy_footer));
    }
    if let (Some(raw), false) = (&copy, is_fatal(&copy_problems)) {
        let footer = Footer::parse(raw);
        if footer.kind().is_some_and(|k| k != DiskType::Fixed) {
            let why = match &end_problems {
                None => "no footer at the end of the file".to_string(),
                Some(v) => v
                    .iter()
                    .filter(|f| f.fatal)
                    .map(Finding::message)
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            findings.push(
                Finding::new(
                    Severity::Error,
                    len.saturating_sub(FOOTER_SIZE as u64),
                    "footer at the end of the file",
                    why,
                    "a valid footer",
                )
                .repair("the copy at offset 0 is valid and was used; write it back over the last 512 bytes"),
            );
            findings.extend(copy_problems.unwrap_or_default());
            let copy = Some(footer.clone());
            return Ok((footer, 0, FooterSource::Copy, copy));
        }
    }
    Err(footer_error(src, end_problems, copy_problems))
}

/// The footer at the end: the last 512 bytes, or the last 511 of an old image.
fn read_end_footer(src: &SourceFile) -> Result<Option<([u8; FOOTER_SIZE], u64, FooterSource)>> {
    let len = src.len();
    let mut raw = [0u8; FOOTER_SIZE];
    if len >= FOOTER_SIZE as u64 {
        let at = len - FOOTER_SIZE as u64;
        src.read_exact_at(at, &mut raw, "VHD footer")?;
        if &raw[0..8] == VHD_COOKIE {
            return Ok(Some((raw, at, FooterSource::End)));
        }
    }
    if len >= OLD_FOOTER_SIZE as u64 && len % 512 == OLD_FOOTER_SIZE as u64 {
        let at = len - OLD_FOOTER_SIZE as u64;
        let mut old = [0u8; FOOTER_SIZE];
        src.read_exact_at(at, &mut old[..OLD_FOOTER_SIZE], "VHD 511-byte footer")?;
        if &old[0..8] == VHD_COOKIE {
            return Ok(Some((old, at, FooterSource::End511)));
        }
    }
    if len >= FOOTER_SIZE as u64 {
        // Damaged cookie: report what was found there.
        return Ok(Some((raw, len - FOOTER_SIZE as u64, FooterSource::End)));
    }
    Ok(None)
}

fn footer_error(src: &SourceFile, end: Option<Vec<Finding>>, copy: Option<Vec<Finding>>) -> Error {
    let first_fatal =
        |v: &Option<Vec<Finding>>| v.as_ref().and_then(|v| v.iter().find(|f| f.fatal).cloned());
    let f = first_fatal(&end)
        .or_else(|| first_fatal(&copy))
        .unwrap_or_else(|| {
            Finding::new(Severity::Error, 0, "VHD footer", "none", "a footer").fatal()
        });
    let mut expected = f.expected.clone();
    match first_fatal(&copy) {
        Some(c) if end.is_some() => expected.push_str(&format!(
            "; the footer copy at offset 0 is no better: {}",
            c.message()
        )),
        None if copy.is_some() => expected.push_str(
            "; the footer copy at offset 0 is valid but belongs to a fixed disk, which has no copy",
        ),
        _ => {}
    }
    Error::malformed(src.path(), f.offset, f.field, f.found, expected)
}

fn check_fixed_length(
    src: &SourceFile,
    footer: &Footer,
    footer_offset: u64,
    virtual_size: u64,
) -> Result<()> {
    if virtual_size > footer_offset {
        return Err(Error::malformed(
            src.path(),
            footer_offset,
            "fixed VHD data area (everything before the footer)",
            format!("{footer_offset} bytes"),
            format!(
                "at least the virtual size, {virtual_size} bytes (current size {}): the file is truncated",
                footer.current_size
            ),
        ));
    }
    Ok(())
}

fn open_sparse(
    src: &SourceFile,
    footer: &Footer,
    virtual_size: u64,
    differencing: bool,
    findings: &mut Vec<Finding>,
) -> Result<Sparse> {
    let at = footer.data_offset;
    let mut raw = [0u8; HEADER_SIZE];
    src.read_exact_at(at, &mut raw, "VHD dynamic header")?;
    let problems = validate::header(&raw, at, src.len());
    if let Some(e) = fatal_error(src.path(), &problems) {
        return Err(e);
    }
    findings.extend(problems);
    let header = DynamicHeader::parse(&raw);
    let block_size = u64::from(header.block_size);
    let needed = virtual_size.div_ceil(block_size);
    if needed > u64::from(header.max_table_entries) {
        return Err(Error::malformed(
            src.path(),
            at + dynamic::off::MAX_TABLE_ENTRIES as u64,
            "dynamic header max table entries",
            format!("{} blocks of {block_size} bytes", header.max_table_entries),
            format!("at least {needed} blocks to cover the virtual size of {virtual_size} bytes"),
        ));
    }
    if needed > MAX_BAT_ENTRIES {
        return Err(Error::malformed(
            src.path(),
            at + dynamic::off::MAX_TABLE_ENTRIES as u64,
            "block allocation table size",
            format!("{needed} entries needed for {virtual_size} bytes in {block_size}-byte blocks"),
            format!("at most {MAX_BAT_ENTRIES} entries (imgtool's limit)"),
        ));
    }
    // At most MAX_BAT_ENTRIES (16 Mi), checked just above.
    #[allow(clippy::cast_possible_truncation)]
    let bat = read_bat(src, header.table_offset, needed as usize)?;
    let bitmap_size = dynamic::bitmap_size(header.block_size);
    check_blocks(src, footer, &header, &bat, bitmap_size + block_size)?;
    Ok(Sparse {
        header,
        header_offset: at,
        bat,
        block_size,
        bitmap_size,
        differencing,
        bitmaps: RwLock::new(HashMap::new()),
    })
}

/// Read `entries` BAT entries through a small reused buffer (the BAT of a 2 TiB disk is 4 MiB;
/// reading it in one piece would fault in a second 4 MiB for nothing).
fn read_bat(src: &SourceFile, table_offset: u64, entries: usize) -> Result<Vec<u32>> {
    const CHUNK: usize = 64 * 1024;
    let mut bat = Vec::with_capacity(entries);
    let mut buf = vec![0u8; CHUNK.min(entries * 4)];
    let mut at = table_offset;
    while bat.len() < entries {
        let n = ((entries - bat.len()) * 4).min(CHUNK);
        src.read_exact_at(at, &mut buf[..n], "block allocation table")?;
        bat.extend(crate::bytes::be_u32s(&buf[..n]));
        at += n as u64;
    }
    Ok(bat)
}

/// Every allocated block must lie inside the file (QEMU refuses an image truncated below its
/// highest block) and overlap neither the footer copy, the dynamic header, the BAT nor another
/// block: reads of such an image depend on which copy a writer last touched.
fn check_blocks(
    src: &SourceFile,
    footer: &Footer,
    header: &DynamicHeader,
    bat: &[u32],
    span: u64,
) -> Result<()> {
    let table_end =
        header.table_offset + u64::from(header.max_table_entries) * dynamic::BAT_ENTRY_SIZE;
    let meta = [
        (0, FOOTER_SIZE as u64, "the footer copy"),
        (
            footer.data_offset,
            footer.data_offset + HEADER_SIZE as u64,
            "the dynamic header",
        ),
        (header.table_offset, table_end, "the block allocation table"),
    ];
    let entry_at = |i: usize| header.table_offset + i as u64 * 4;
    let mut blocks: Vec<(u64, u32)> = Vec::new();
    for (i, &e) in bat.iter().enumerate() {
        if e == BAT_UNALLOCATED {
            continue;
        }
        let start = u64::from(e) * 512;
        let end = start + span;
        if end > src.len() {
            return Err(Error::malformed(
                src.path(),
                entry_at(i),
                format!("BAT entry {i}"),
                format!("a block ending at byte {end}"),
                format!(
                    "blocks inside the {}-byte file: the image is truncated",
                    src.len()
                ),
            ));
        }
        if let Some((ms, me, what)) = meta.iter().find(|(ms, me, _)| start < *me && *ms < end) {
            return Err(Error::malformed(
                src.path(),
                entry_at(i),
                format!("BAT entry {i}"),
                format!("a block at bytes {start}..{end}"),
                format!("no overlap with {what} at bytes {ms}..{me}"),
            ));
        }
        // `i` indexes the BAT, at most MAX_BAT_ENTRIES (16 Mi) entries long.
        #[allow(clippy::cast_possible_truncation)]
        let index = i as u32;
        blocks.push((start, index));
    }
    blocks.sort_unstable();
    for w in blocks.windows(2) {
        if w[1].0 < w[0].0 + span {
            let (i, j) = (w[1].1 as usize, w[0].1 as usize);
            return Err(Error::malformed(
                src.path(),
                entry_at(i),
                format!("BAT entry {i}"),
                format!("a block at bytes {}..{}", w[1].0, w[1].0 + span),
                format!(
                    "no overlap with the block of BAT entry {j} at bytes {}..{}",
                    w[0].0,
                    w[0].0 + span
                ),
            ));
        }
    }
    Ok(())
}
