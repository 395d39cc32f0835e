//! LVM2: physical volume labels, the metadata area, LVM's text metadata, and each linear
//! logical volume as a [`VirtualDisk`] made of its segments, so the file-system probes and
//! guest inspection see inside LVs as they see inside partitions.
//!
//! Layout from LVM2's public on-disk format notes: a 512-byte label in one of sectors 0..3
//! (`LABELONE`, type `LVM2 001`), then the PV header (UUID, size, data and metadata area
//! lists); each metadata area starts with a header (magic ` LVM2 x[5A%r0N*>`) whose raw
//! location points at the current metadata text in a circular buffer.

use crate::bytes::{Bytes, Fixed};
use crate::error::{Error, Result};
use crate::image::VirtualDisk;

const SECTOR: usize = 512;
/// [`SECTOR`] as a disk offset or size.
const SECTOR_BYTES: u64 = SECTOR as u64;
const LABEL_SECTORS: usize = 4;
const LABEL_ID: &[u8; 8] = b"LABELONE";
const LABEL_TYPE: &[u8; 8] = b"LVM2 001";
const PV_UUID_LEN: usize = 32;
/// A disk-location list entry: offset u64, size u64; a zero entry ends the list.
const DISK_LOCN: usize = 16;
const MAX_AREAS: usize = 8;
const MDA_MAGIC: &[u8; 16] = b"\x20LVM2 x[5A%r0N*>";
const MDA_HEADER: usize = 512;
/// [`MDA_HEADER`] as a disk offset.
const MDA_HEADER_BYTES: u64 = MDA_HEADER as u64;
/// Raw locations start at byte 40 of the metadata area header; 24 bytes each.
const RLOCN_AT: usize = 40;
/// Metadata text larger than this is refused (LVM's own default area is 1 MiB).
pub const MAX_METADATA: u64 = 1 << 20;
const MAX_DEPTH: usize = 16;
const MAX_SEGMENTS: usize = 256;
const MAX_LVS: usize = 256;

type R<T> = std::result::Result<T, String>;

/// A physical volume found on a partition (or whole disk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pv {
    /// The PV UUID as stored (32 characters, no dashes).
    pub uuid: String,
    /// Where this PV starts on the disk.
    pub disk_start: u64,
    pub disk_size: u64,
    /// The metadata text of its first metadata area, if any.
    pub metadata: Option<String>,
}

fn label_at(sector: &[u8]) -> bool {
    sector.get(0..8) == Some(LABEL_ID.as_slice())
        && sector.get(24..32) == Some(LABEL_TYPE.as_slice())
}

/// Read the PV label, header and metadata text of the PV on `part` (disk offset `start`).
pub fn read_pv(part: &dyn VirtualDisk, start: u64) -> R<Pv> {
    let mut head = [0u8; LABEL_SECTORS * SECTOR];
    part.read_at(0, &mut head).map_err(|e| e.to_string())?;
    let label = (0..LABEL_SECTORS)
        .map(|s| s * SECTOR)
        .find(|&at| label_at(&head[at..]))
        .ok_or("no LVM2 label in sectors 0..3")?;
    let pvh = Bytes::new(&head, 0, "LVM2 label").le_u32(label + 20, "PV header offset")?;
    let pvh = usize::try_from(pvh)
        .ok()
        .and_then(|o| label.checked_add(o))
        .filter(|&at| at + PV_UUID_LEN + 8 <= label + SECTOR)
        .ok_or_else(|| {
            format!(
                "PV header offset at byte {} points outside the label sector",
                label + 20
            )
        })?;
    let uuid = String::from_utf8_lossy(&head[pvh..pvh + PV_UUID_LEN]).into_owned();
    let sector = &head[label..label + SECTOR];
    let mut at = pvh - label + PV_UUID_LEN + 8;
    let _data_areas = area_list(sector, &mut at)?;
    let mdas = area_list(sector, &mut at)?;
    let metadata = match mdas.first() {
        Some(&(off, size)) => Some(read_metadata(part, off, size)?),
        None => None,
    };
    Ok(Pv {
        uuid,
        disk_start: start,
        disk_size: part.size(),
        metadata,
    })
}

/// A zero-terminated list of (offset, size) pairs, at most [`MAX_AREAS`] long.
fn area_list(sector: &[u8], at: &mut usize) -> R<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    loop {
        if *at + DISK_LOCN > sector.len() {
            return Err(format!(
                "PV area list runs past the label sector at byte {at}"
            ));
        }
        let b = Bytes::new(sector, 0, "PV label sector");
        let (off, size) = (
            b.le_u64(*at, "area offset")?,
            b.le_u64(*at + 8, "area size")?,
        );
        *at += DISK_LOCN;
        if off == 0 {
            return Ok(out);
        }
        if out.len() == MAX_AREAS {
            return Err(format!("more than {MAX_AREAS} areas in the PV header"));
        }
        out.push((off, size));
    }
}

/// The current metadata text of the area at `off` (its `size` bytes are a circular buffer
/// after the 512-byte header).
fn read_metadata(part: &dyn VirtualDisk, off: u64, size: u64) -> R<String> {
    let mut h = [0u8; MDA_HEADER];
    part.read_at(off, &mut h)
        .map_err(|e| format!("metadata area at {off}: {e}"))?;
    if h[4..20] != MDA_MAGIC[..] {
        return Err(format!(
            "metadata area at {off}: magic at byte 4 is not \" LVM2 x[5A%r0N*>\""
        ));
    }
    let (rel, len) = (
        Fixed(&h).le_u64::<RLOCN_AT>(),
        Fixed(&h).le_u64::<{ RLOCN_AT + 8 }>(),
    );
    if len == 0
        || len > MAX_METADATA
        || rel >= size
        || rel < MDA_HEADER_BYTES
        || size <= MDA_HEADER_BYTES
    {
        return Err(format!(
            "metadata area at {off}: text of {len} bytes at {rel} in a {size}-byte area (at most {MAX_METADATA})"
        ));
    }
    // The text may wrap from the end of the area back to just after the header.
    let first = len.min(size - rel);
    // len <= MAX_METADATA, checked above; first <= len.
    let mut text = vec![0u8; usize::try_from(len).map_err(|_| "metadata text too long")?];
    let first_len = crate::image::fit::min_len(text.len(), first);
    let at = off.checked_add(rel).ok_or("offset overflow")?;
    part.read_at(at, &mut text[..first_len])
        .map_err(|e| format!("metadata text at {at}: {e}"))?;
    if first < len {
        if len - first > size - MDA_HEADER_BYTES {
            return Err("metadata text wraps past its area".into());
        }
        part.read_at(off + MDA_HEADER_BYTES, &mut text[first_len..])
            .map_err(|e| format!("metadata text (wrapped) at {}: {e}", off + MDA_HEADER_BYTES))?;
    }
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    text.truncate(end);
    String::from_utf8(text).map_err(|_| format!("metadata text at {at} is not UTF-8"))
}

// ---------------------------------------------------------------------------------------
// The config format: `key = value`, `name { ... }`, values are numbers, "strings" or
// [arrays]; `#` starts a comment.

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Str(String),
    Array(Vec<Value>),
    Section(Vec<(String, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Section(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Value)> {
        let items: &[(String, Value)] = match self {
            Value::Section(i) => i,
            _ => &[],
        };
        items
            .iter()
            .filter(|(_, v)| matches!(v, Value::Section(_)))
            .map(|(k, v)| (k.as_str(), v))
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(&c) = self.s.get(self.at) {
            if c == b'#' {
                while self.s.get(self.at).is_some_and(|&c| c != b'\n') {
                    self.at += 1;
                }
            } else if c.is_ascii_whitespace() {
                self.at += 1;
            } else {
                break;
            }
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.s.get(self.at).copied()
    }
    fn err(&self, what: &str) -> String {
        format!("LVM metadata byte {}: {what}", self.at)
    }
    fn word(&mut self) -> R<String> {
        self.skip_space();
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|&c| c.is_ascii_alphanumeric() || b"_.-+".contains(&c))
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(self.err("expected a name"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.at]).into_owned())
    }
    /// Section body until `}` (or the end of the text at depth 0).
    fn section(&mut self, depth: usize) -> R<Value> {
        if depth > MAX_DEPTH {
            return Err(self.err(&format!("sections nested deeper than {MAX_DEPTH}")));
        }
        let mut items = Vec::new();
        loop {
            match self.peek() {
                None if depth == 0 => return Ok(Value::Section(items)),
                None => return Err(self.err("unterminated section")),
                Some(b'}') if depth > 0 => {
                    self.at += 1;
                    return Ok(Value::Section(items));
                }
                _ => {}
            }
            let key = self.word()?;
            let value = match self.peek() {
                Some(b'=') => {
                    self.at += 1;
                    self.value(depth)?
                }
                Some(b'{') => {
                    self.at += 1;
                    self.section(depth + 1)?
                }
                _ => return Err(self.err("expected = or {")),
            };
            items.push((key, value));
        }
    }
    fn value(&mut self, depth: usize) -> R<Value> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::Str),
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.err("arrays nested too deep"));
                }
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek() {
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Array(items));
                        }
                        Some(b',') => self.at += 1,
                        None => return Err(self.err("unterminated array")),
                        _ => items.push(self.value(depth + 1)?),
                    }
                }
            }
            _ => {
                let w = self.word()?;
                w.parse::<i64>()
                    .map(Value::Int)
                    .map_err(|_| self.err(&format!("{w:?} is not a number")))
            }
        }
    }
    fn string(&mut self) -> R<String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.at) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(b'\\') => {
                    self.at += 1;
                    out.extend(self.s.get(self.at));
                }
                Some(&c) => out.push(c),
            }
            self.at += 1;
        }
    }
}

/// Parse LVM metadata text (at most [`MAX_METADATA`] bytes, [`MAX_DEPTH`] levels).
pub fn parse(text: &str) -> R<Value> {
    if text.len() as u64 > MAX_METADATA {
        return Err(format!(
            "metadata text of {} bytes is over {MAX_METADATA}",
            text.len()
        ));
    }
    Parser {
        s: text.as_bytes(),
        at: 0,
    }
    .section(0)
}

// ---------------------------------------------------------------------------------------
// Volume groups

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// First LV extent and extent count.
    pub start_extent: u64,
    pub extent_count: u64,
    /// `striped` (one stripe: linear), `raid1`, `thin`, ...
    pub kind: String,
    /// For a linear segment: the PV (its id) and the first PV extent.
    pub pv: Option<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalVolume {
    pub name: String,
    /// The file system found inside, when the LV is readable.
    pub fs: Option<crate::disk::fs::FsInfo>,
    pub size: u64,
    pub segments: Vec<Segment>,
    /// Why it cannot be read here (`None`: every segment is linear on a PV in the image).
    pub unsupported: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvRef {
    pub name: String,
    pub id: String,
    pub pe_start: u64,
    /// Where the PV is on the disk, if it is in this image.
    pub disk_start: Option<u64>,
    pub disk_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeGroup {
    pub name: String,
    pub uuid: String,
    /// Bytes per extent.
    pub extent_size: u64,
    pub pvs: Vec<PvRef>,
    pub lvs: Vec<LogicalVolume>,
}

fn need<T>(v: Option<T>, what: &str) -> R<T> {
    v.ok_or_else(|| format!("LVM metadata: {what} missing or of the wrong type"))
}

fn nonneg(n: i64, what: &str) -> R<u64> {
    u64::try_from(n).map_err(|_| format!("LVM metadata: {what} is {n}"))
}

/// The volume group in parsed metadata, with PVs matched to those found in the image by id.
pub fn volume_group(meta: &Value, found: &[Pv]) -> R<VolumeGroup> {
    let (name, vg) = need(meta.sections().next(), "volume group section")?;
    let sectors = nonneg(need(vg.int("extent_size"), "extent_size")?, "extent_size")?;
    let extent_size = sectors
        .checked_mul(SECTOR_BYTES)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("LVM metadata: extent_size {sectors} sectors"))?;
    let mut pvs = Vec::new();
    for (pv_name, pv) in vg
        .get("physical_volumes")
        .map(|p| p.sections())
        .into_iter()
        .flatten()
    {
        let id = need(pv.str("id"), "pv id")?.replace('-', "");
        let here = found.iter().find(|p| p.uuid == id);
        let pe_start = nonneg(need(pv.int("pe_start"), "pe_start")?, "pe_start")?;
        pvs.push(PvRef {
            name: pv_name.to_string(),
            id,
            pe_start: pe_start
                .checked_mul(SECTOR_BYTES)
                .ok_or("pe_start overflows")?,
            disk_start: here.map(|p| p.disk_start),
            disk_size: here.map_or(0, |p| p.disk_size),
        });
    }
    let mut lvs = Vec::new();
    for (lv_name, lv) in vg
        .get("logical_volumes")
        .map(|l| l.sections())
        .into_iter()
        .flatten()
        .take(MAX_LVS)
    {
        lvs.push(logical_volume(lv_name, lv, extent_size, &pvs)?);
    }
    Ok(VolumeGroup {
        name: name.to_string(),
        uuid: vg.str("id").unwrap_or("").to_string(),
        extent_size,
        pvs,
        lvs,
    })
}

fn logical_volume(name: &str, lv: &Value, extent_size: u64, pvs: &[PvRef]) -> R<LogicalVolume> {
    let mut segments = Vec::new();
    let mut unsupported = None;
    for (_, s) in lv.sections().take(MAX_SEGMENTS) {
        let seg = segment(s)?;
        if unsupported.is_none() {
            unsupported = check_segment(&seg, extent_size, pvs).err();
        }
        segments.push(seg);
    }
    let extents = segments
        .iter()
        .try_fold(0u64, |a, s| a.checked_add(s.extent_count));
    let size = extents.and_then(|e| e.checked_mul(extent_size));
    if size.is_none() {
        unsupported = Some(format!("its {} segments' size overflows", segments.len()));
    }
    let size = size.unwrap_or(0);
    if segments.is_empty() {
        unsupported = Some("no segments".into());
    }
    Ok(LogicalVolume {
        name: name.to_string(),
        fs: None,
        size,
        segments,
        unsupported,
    })
}

fn segment(s: &Value) -> R<Segment> {
    let kind = need(s.str("type"), "segment type")?.to_string();
    let mut seg = Segment {
        start_extent: nonneg(need(s.int("start_extent"), "start_extent")?, "start_extent")?,
        extent_count: nonneg(need(s.int("extent_count"), "extent_count")?, "extent_count")?,
        kind,
        pv: None,
    };
    if seg.kind == "striped" && s.int("stripe_count") == Some(1) {
        if let Some(Value::Array(a)) = s.get("stripes") {
            if let [Value::Str(pv), Value::Int(pe)] = a.as_slice() {
                seg.pv = Some((pv.clone(), nonneg(*pe, "stripe start")?));
            }
        }
    }
    Ok(seg)
}

/// A segment is readable when it is linear and lies inside a PV found in this image.
fn check_segment(seg: &Segment, extent_size: u64, pvs: &[PvRef]) -> R<()> {
    let Some((pv_name, pe)) = &seg.pv else {
        return Err(format!(
            "segment type {} is not supported (only linear)",
            seg.kind
        ));
    };
    let pv = pvs
        .iter()
        .find(|p| &p.name == pv_name)
        .ok_or_else(|| format!("segment on unknown PV {pv_name}"))?;
    if pv.disk_start.is_none() {
        return Err(format!("PV {pv_name} ({}) is not in this image", pv.id));
    }
    let end = pe
        .checked_add(seg.extent_count)
        .and_then(|e| e.checked_mul(extent_size))
        .and_then(|b| b.checked_add(pv.pe_start));
    match end {
        Some(end) if end <= pv.disk_size => Ok(()),
        _ => Err(format!(
            "segment at PV extent {pe} for {} extents runs past the end of PV {pv_name} ({} bytes)",
            seg.extent_count, pv.disk_size
        )),
    }
}

/// A readable LV as a disk: its segments mapped to byte ranges of the underlying disk.
pub struct LvDisk<'a> {
    disk: &'a dyn VirtualDisk,
    /// (LV byte offset, length, disk byte offset), sorted by LV offset.
    map: Vec<(u64, u64, u64)>,
    size: u64,
}

impl<'a> LvDisk<'a> {
    /// `None` if the LV is not readable (see [`LogicalVolume::unsupported`]).
    pub fn new(disk: &'a dyn VirtualDisk, vg: &VolumeGroup, lv: &LogicalVolume) -> Option<Self> {
        if lv.unsupported.is_some() {
            return None;
        }
        let mut map = Vec::new();
        for s in &lv.segments {
            let (pv_name, pe) = s.pv.as_ref()?;
            let pv = vg.pvs.iter().find(|p| &p.name == pv_name)?;
            let at = pe
                .checked_mul(vg.extent_size)?
                .checked_add(pv.pe_start)?
                .checked_add(pv.disk_start?)?;
            let from = s.start_extent.checked_mul(vg.extent_size)?;
            map.push((from, s.extent_count.checked_mul(vg.extent_size)?, at));
        }
        map.sort_unstable();
        Some(LvDisk {
            disk,
            map,
            size: lv.size,
        })
    }
}

impl VirtualDisk for LvDisk<'_> {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        // Each pass consumes a positive number of bytes from one segment.
        while done < buf.len() {
            let pos = offset
                .checked_add(done as u64)
                .ok_or_else(|| Error::Usage(format!("LV read at {offset} overflows")))?;
            let Some(&(from, len, at)) = self
                .map
                .iter()
                .find(|(from, len, _)| pos >= *from && pos - from < *len)
            else {
                return Err(Error::Usage(format!(
                    "LV read at {pos} falls outside its segments"
                )));
            };
            let n = crate::image::fit::min_len(buf.len() - done, len - (pos - from));
            self.disk
                .read_at(at + (pos - from), &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
// Test fixtures cast small lengths and offsets they build themselves.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
mod tests {
    use super::*;

    /// VG metadata as LVM writes it, with one PV of `pe_count` 4 MiB extents and LV `lv`
    /// whose segment is `seg`.
    fn meta(seg: &str) -> String {
        format!(
            "# Generated by LVM2\nvg {{\n id = \"vg-uuid\"\n seqno = 3\n status = [\"RESIZEABLE\", \"READ\"]\n \
             extent_size = 8192 # 4 MiB\n physical_volumes {{\n pv0 {{\n id = \"abcdef-0123\"\n \
             pe_start = 2048\n pe_count = 4\n }}\n }}\n logical_volumes {{\n lv {{\n id = \"x\"\n \
             segment_count = 1\n segment1 {{\n start_extent = 0\n {seg}\n }}\n }}\n }}\n}}\ncontents = \"Text\"\nversion = 1\n"
        )
    }

    fn pv(size: u64) -> Pv {
        Pv {
            uuid: "abcdef0123".into(),
            disk_start: 1 << 20,
            disk_size: size,
            metadata: None,
        }
    }

    fn vg(seg: &str, size: u64) -> VolumeGroup {
        volume_group(&parse(&meta(seg)).unwrap(), &[pv(size)]).unwrap()
    }

    #[test]
    fn linear_segment_maps_to_the_pv() {
        let v = vg(
            "extent_count = 2\n type = \"striped\"\n stripe_count = 1\n stripes = [\n\"pv0\", 1\n]",
            20 << 20,
        );
        assert_eq!((v.name.as_str(), v.extent_size), ("vg", 4 << 20));
        let lv = &v.lvs[0];
        assert_eq!(lv.size, 8 << 20);
        assert_eq!(lv.unsupported, None);
        assert_eq!(lv.segments[0].pv, Some(("pv0".into(), 1)));
    }

    #[test]
    fn segment_past_the_pv_is_unsupported() {
        let v = vg(
            "extent_count = 4\n type = \"striped\"\n stripe_count = 1\n stripes = [\"pv0\", 2]",
            20 << 20,
        );
        assert!(
            v.lvs[0]
                .unsupported
                .as_deref()
                .unwrap()
                .contains("past the end")
        );
        // A huge extent count overflows instead of wrapping.
        let v = vg(
            "extent_count = 9223372036854775807\n type = \"striped\"\n stripe_count = 1\n stripes = [\"pv0\", 2]",
            20 << 20,
        );
        assert!(v.lvs[0].unsupported.is_some());
    }

    #[test]
    fn striped_raid_and_thin_are_unsupported() {
        for seg in [
            "extent_count = 2\n type = \"striped\"\n stripe_count = 2\n stripes = [\"pv0\", 0, \"pv1\", 0]",
            "extent_count = 2\n type = \"raid1\"",
            "extent_count = 2\n type = \"thin\"",
        ] {
            let v = vg(seg, 20 << 20);
            assert!(
                v.lvs[0]
                    .unsupported
                    .as_deref()
                    .unwrap()
                    .contains("not supported"),
                "{seg}"
            );
        }
    }

    #[test]
    fn hostile_text_is_an_error() {
        assert!(
            parse("a = \"unterminated")
                .unwrap_err()
                .contains("unterminated string")
        );
        assert!(
            parse("a { b = 1")
                .unwrap_err()
                .contains("unterminated section")
        );
        assert!(
            parse("a = [1, 2")
                .unwrap_err()
                .contains("unterminated array")
        );
        let deep = "a {".repeat(100);
        assert!(parse(&deep).unwrap_err().contains("deeper"));
        let deep = format!("a = {}", "[".repeat(100));
        assert!(parse(&deep).unwrap_err().contains("too deep"));
        assert!(parse("a = 99999999999999999999").is_err());
        assert!(parse("= 1").is_err());
        let big = "#".repeat(MAX_METADATA as usize + 1);
        assert!(parse(&big).is_err());
        // A negative extent size is refused, not wrapped.
        let m = parse("vg { extent_size = -1 }").unwrap();
        assert!(volume_group(&m, &[]).is_err());
    }

    use crate::image::mem::MemDisk as Mem;

    /// A label in sector 1: LABELONE, sector, crc, offset 32 to the PV header, LVM2 001;
    /// then the PV UUID, the device size, data areas and metadata areas.
    fn label(areas: &[(u64, u64)]) -> Mem {
        let mut d = vec![0u8; 64 << 10];
        let l = 512;
        d[l..l + 8].copy_from_slice(LABEL_ID);
        d[l + 8..l + 16].copy_from_slice(&1u64.to_le_bytes()); // sector_xl
        d[l + 20..l + 24].copy_from_slice(&32u32.to_le_bytes()); // offset_xl
        d[l + 24..l + 32].copy_from_slice(LABEL_TYPE);
        d[l + 32..l + 64].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345");
        let mut at = l + 72; // after the device size
        for &(o, s) in areas {
            d[at..at + 8].copy_from_slice(&o.to_le_bytes());
            d[at + 8..at + 16].copy_from_slice(&s.to_le_bytes());
            at += 16;
        }
        Mem(d)
    }

    #[test]
    fn pv_label_and_wrapping_metadata() {
        // Data area list (empty), then one metadata area at 4096 of 4096 bytes.
        let mut d = label(&[(0, 0), (4096, 4096)]);
        let m = 4096;
        d.0[m + 4..m + 20].copy_from_slice(MDA_MAGIC);
        // The text starts 8 bytes before the area's end and wraps to just after the header.
        d.0[m + RLOCN_AT..m + RLOCN_AT + 8].copy_from_slice(&4088u64.to_le_bytes());
        d.0[m + RLOCN_AT + 8..m + RLOCN_AT + 16].copy_from_slice(&12u64.to_le_bytes());
        d.0[m + 4088..m + 4096].copy_from_slice(b"vg { a =");
        d.0[m + 512..m + 516].copy_from_slice(b" 1 }");
        let pv = read_pv(&d, 0).unwrap();
        assert_eq!(pv.uuid, "abcdefghijklmnopqrstuvwxyz012345");
        assert_eq!(pv.metadata.as_deref(), Some("vg { a = 1 }"));
        // A text longer than the cap is refused before anything is allocated.
        d.0[m + RLOCN_AT + 8..m + RLOCN_AT + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read_pv(&d, 0).unwrap_err().contains("at most"));
    }

    #[test]
    fn area_list_without_terminator_is_an_error() {
        let d = label(&[(1, 1); 30]);
        assert!(read_pv(&d, 0).is_err());
        let mut d = label(&[]);
        d.0[512 + 20..512 + 24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_pv(&d, 0).unwrap_err().contains("outside"));
    }
}
