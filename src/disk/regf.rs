//! A small read-only reader of Windows registry hives (regf), enough to read a few values of
//! one key: base block, hive bins, cells, `nk` keys, subkey lists (`lf`, `lh`, `li`, `ri`),
//! `vk` values with inline, ordinary and `db` (big) data. Written from the public format
//! notes (libregf's documentation, "Windows registry file format specification").
//!
//! The hive is read through [`HiveBytes`], one cell at a time: only the cells on the way to
//! the key are read. Every offset and count is checked against the hive's own sizes, and the
//! number of cells visited is capped, so a hostile hive ends in an error.

#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use crate::bytes::{Bytes, le_u16s, le_u32s};

const BASE_BLOCK: u64 = 4096;
const BASE_BLOCK_LEN: usize = 4096;
const REGF: &[u8; 4] = b"regf";
/// The checksum covers the first 508 bytes and is stored at 508.
const CHECKSUM_AT: usize = 508;
const ROOT_CELL_AT: usize = 36;
const BINS_SIZE_AT: usize = 40;
const HBIN: &[u8; 4] = b"hbin";
const HBIN_ALIGN: u64 = 4096;
/// How far back from a cell to look for the start of its bin (bins of big cells span pages).
const MAX_BIN_PAGES: u64 = 256;
/// Hives above this size are refused (SOFTWARE is usually 50-150 MiB).
pub const MAX_HIVE: u64 = 512 << 20;
/// A single cell (data cells of big values are at most 16344 bytes; lists of many keys more).
const MAX_CELL: u64 = 1 << 20;
/// Cells read for one lookup.
const MAX_VISITS: usize = 20_000;
const NK_NAME_AT: usize = 76;
const VK_NAME_AT: usize = 20;
const KEY_COMP_NAME: u16 = 0x20;
const VALUE_COMP_NAME: u16 = 0x1;
const DATA_INLINE: u32 = 0x8000_0000;
/// Value data above this size is stored in `db` segments (hive version 1.4 and later).
const BIG_DATA_MIN: u32 = 16345;
const MAX_VALUE: u32 = 64 << 10;
pub const REG_SZ: u32 = 1;
pub const REG_EXPAND_SZ: u32 = 2;
pub const REG_DWORD: u32 = 4;

type R<T> = Result<T, String>;

/// Positional reads of the hive file.
pub trait HiveBytes {
    /// `len` bytes at `offset` of the file, or `None` past its end or on a read error.
    fn read_at(&mut self, offset: u64, len: usize) -> Option<Vec<u8>>;
}

impl HiveBytes for &[u8] {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let o = usize::try_from(offset).ok()?;
        self.get(o..o.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

fn u16le(b: &[u8], at: usize) -> R<u16> {
    Bytes::new(b, 0, "cell")
        .le_u16(at, "u16")
        .map_err(|_| format!("u16 at cell byte {at} past the {}-byte cell", b.len()))
}
fn u32le(b: &[u8], at: usize) -> R<u32> {
    Bytes::new(b, 0, "cell")
        .le_u32(at, "u32")
        .map_err(|_| format!("u32 at cell byte {at} past the {}-byte cell", b.len()))
}

/// A value's type and raw data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegValue {
    pub kind: u32,
    pub data: Vec<u8>,
}

impl RegValue {
    /// REG_SZ / REG_EXPAND_SZ as text (UTF-16LE up to the first NUL), REG_DWORD in decimal.
    pub fn as_string(&self) -> Option<String> {
        match self.kind {
            REG_SZ | REG_EXPAND_SZ => {
                let units: Vec<u16> = le_u16s(&self.data).take_while(|&u| u != 0).collect();
                Some(String::from_utf16_lossy(&units))
            }
            REG_DWORD => Bytes::new(&self.data, 0, "REG_DWORD")
                .le_u32(0, "value")
                .ok()
                .map(|v| v.to_string()),
            _ => None,
        }
    }
}

pub struct Hive<B: HiveBytes> {
    src: B,
    root: u32,
    bins_size: u64,
    visits: usize,
}

/// The XOR of the first 127 u32s, with 0 and all-ones mapped as Windows does.
pub fn base_checksum(b: &[u8]) -> u32 {
    // Over the first 508 bytes, or what there is of them (the caller checks the length).
    let x = le_u32s(b.get(..CHECKSUM_AT).unwrap_or(b)).fold(0u32, |a, v| a ^ v);
    match x {
        0 => 1,
        u32::MAX => u32::MAX - 1,
        x => x,
    }
}

impl<B: HiveBytes> Hive<B> {
    pub fn open(mut src: B) -> R<Self> {
        let b = src
            .read_at(0, BASE_BLOCK_LEN)
            .ok_or("shorter than its 4096-byte base block")?;
        if b.get(0..4) != Some(&REGF[..]) {
            return Err("base block signature at byte 0 is not regf".into());
        }
        let stored = u32le(&b, CHECKSUM_AT)?;
        let computed = base_checksum(&b);
        if stored != computed {
            return Err(format!(
                "base block checksum at byte 508 is {stored:#010x}, computed {computed:#010x}"
            ));
        }
        let bins_size = u64::from(u32le(&b, BINS_SIZE_AT)?);
        if bins_size == 0 || bins_size % HBIN_ALIGN != 0 || bins_size > MAX_HIVE {
            return Err(format!(
                "hive bins size at byte 40 is {bins_size}, expected a non-zero multiple of 4096 up to {MAX_HIVE}"
            ));
        }
        Ok(Hive {
            src,
            root: u32le(&b, ROOT_CELL_AT)?,
            bins_size,
            visits: 0,
        })
    }

    /// The data of the allocated cell at `off` (relative to the first bin).
    fn cell(&mut self, off: u32) -> R<Vec<u8>> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return Err(format!("more than {MAX_VISITS} cells visited (a loop?)"));
        }
        let off64 = u64::from(off);
        if off % 8 != 0 || off64 + 4 > self.bins_size {
            return Err(format!(
                "cell offset {off:#x} is unaligned or outside the {}-byte hive bins",
                self.bins_size
            ));
        }
        let raw = self.read(off64, 4)?;
        let size = Bytes::new(&raw, BASE_BLOCK + off64, "cell")
            .le_i32(0, "size")
            .map_err(String::from)?;
        if size >= 0 {
            return Err(format!(
                "cell at {off:#x} is free (size {size}), expected allocated"
            ));
        }
        let size = u64::from(size.unsigned_abs());
        let bin_end = self.bin_end(off64)?;
        if !(8..=MAX_CELL).contains(&size) || off64 + size > bin_end {
            return Err(format!(
                "cell at {off:#x} has size {size}, running past its bin's end {bin_end:#x} (or over {MAX_CELL})"
            ));
        }
        // At most MAX_CELL.
        let len = usize::try_from(size - 4).map_err(|_| format!("cell size {size}"))?;
        self.read(off64 + 4, len)
    }

    /// The end of the bin holding `off`: bins start on 4 KiB boundaries with `hbin`.
    fn bin_end(&mut self, off: u64) -> R<u64> {
        let page = off - off % HBIN_ALIGN;
        for k in 0..MAX_BIN_PAGES {
            let Some(start) = page.checked_sub(k * HBIN_ALIGN) else {
                break;
            };
            let h = self.read(start, 12)?;
            if h.get(0..4) != Some(&HBIN[..]) {
                continue;
            }
            let size = u64::from(u32le(&h, 8)?);
            if u64::from(u32le(&h, 4)?) != start || size == 0 || size % HBIN_ALIGN != 0 {
                return Err(format!("hive bin at {start:#x}: bad offset or size {size}"));
            }
            return Ok((start + size).min(self.bins_size));
        }
        Err(format!("no hive bin header before cell {off:#x}"))
    }

    fn read(&mut self, rel: u64, len: usize) -> R<Vec<u8>> {
        let at = BASE_BLOCK + rel;
        self.src
            .read_at(at, len)
            .ok_or_else(|| format!("read of {len} bytes at hive byte {at} failed"))
    }

    fn nk(&mut self, off: u32) -> R<Vec<u8>> {
        let c = self.cell(off)?;
        if c.get(0..2) != Some(b"nk".as_slice()) {
            return Err(format!("cell {off:#x} is not a key (nk)"));
        }
        Ok(c)
    }

    /// The value `name` of the key at `path` (`\`-separated, case-insensitive, below the
    /// root key); `Ok(None)` when the key or value does not exist.
    pub fn value(&mut self, path: &str, name: &str) -> R<Option<RegValue>> {
        let mut key = self.root;
        let mut nk = self.nk(key)?;
        for comp in path.split('\\').filter(|c| !c.is_empty()) {
            match self.subkey(&nk, comp)? {
                Some(k) => {
                    key = k;
                    nk = self.nk(key)?;
                }
                None => return Ok(None),
            }
        }
        self.find_value(&nk, name)
    }

    fn subkey(&mut self, nk: &[u8], name: &str) -> R<Option<u32>> {
        let count = u32le(nk, 20)?;
        if count == 0 {
            return Ok(None);
        }
        let list = u32le(nk, 28)?;
        self.search_list(list, name, 0)
    }

    /// Search a subkey list; an `ri` holds further lists, one level deep.
    fn search_list(&mut self, off: u32, name: &str, depth: u8) -> R<Option<u32>> {
        let c = self.cell(off)?;
        let count = usize::from(u16le(&c, 2)?);
        let sig = c.get(0..2).unwrap_or_default();
        let stride = match sig {
            b"lf" | b"lh" => 8,
            b"li" | b"ri" => 4,
            _ => return Err(format!("cell {off:#x}: {sig:?} is not a subkey list")),
        };
        if count.checked_mul(stride).is_none_or(|n| 4 + n > c.len()) {
            return Err(format!(
                "subkey list {off:#x}: {count} entries do not fit its {} bytes",
                c.len()
            ));
        }
        if sig == b"ri" && depth > 0 {
            return Err(format!("subkey list {off:#x}: an ri inside an ri"));
        }
        for i in 0..count {
            let at = 4 + i * stride;
            let target = u32le(&c, at)?;
            if sig == b"ri" {
                if let Some(k) = self.search_list(target, name, depth + 1)? {
                    return Ok(Some(k));
                }
                continue;
            }
            // lh stores a hash of the name, lf its first four characters: skip keys that
            // cannot match without reading them.
            let hint = u32le(&c, at + 4).unwrap_or(0);
            if (sig == b"lh" && hint != name_hash(name))
                || (sig == b"lf" && !hint_matches(hint, name))
            {
                continue;
            }
            let nk = self.nk(target)?;
            if key_name(&nk)?.eq_ignore_ascii_case(name) {
                return Ok(Some(target));
            }
        }
        Ok(None)
    }

    fn find_value(&mut self, nk: &[u8], name: &str) -> R<Option<RegValue>> {
        let count = u32le(nk, 36)?;
        if count == 0 {
            return Ok(None);
        }
        let list = self.cell(u32le(nk, 40)?)?;
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        if n.checked_mul(4).is_none_or(|b| b > list.len()) {
            return Err(format!(
                "value list: {count} values do not fit its {} bytes",
                list.len()
            ));
        }
        for i in 0..n {
            let off = u32le(&list, i * 4)?;
            let vk = self.cell(off)?;
            if vk.get(0..2) != Some(b"vk".as_slice()) {
                return Err(format!("cell {off:#x} is not a value (vk)"));
            }
            if value_name(&vk)?.eq_ignore_ascii_case(name) {
                return self.value_data(&vk).map(Some);
            }
        }
        Ok(None)
    }

    fn value_data(&mut self, vk: &[u8]) -> R<RegValue> {
        let size = u32le(vk, 4)?;
        let data_off = u32le(vk, 8)?;
        let kind = u32le(vk, 12)?;
        let len = size & !DATA_INLINE;
        let data = if size & DATA_INLINE != 0 {
            // Up to four bytes live in the offset field itself.
            if len > 4 {
                return Err(format!("inline value data of {len} bytes (at most 4)"));
            }
            vk[8..8 + len as usize].to_vec()
        } else if len > MAX_VALUE {
            return Err(format!(
                "value data of {len} bytes (at most {MAX_VALUE} read)"
            ));
        } else if len >= BIG_DATA_MIN {
            self.big_data(data_off, len)?
        } else {
            let c = self.cell(data_off)?;
            c.get(..len as usize)
                .ok_or_else(|| format!("value data of {len} bytes in a {}-byte cell", c.len()))?
                .to_vec()
        };
        Ok(RegValue { kind, data })
    }

    /// `db`: segment count, then the offset of a list of segment cells.
    fn big_data(&mut self, off: u32, len: u32) -> R<Vec<u8>> {
        let db = self.cell(off)?;
        if db.get(0..2) != Some(b"db".as_slice()) {
            return Err(format!("cell {off:#x}: big value data is not db"));
        }
        let segs = usize::from(u16le(&db, 2)?);
        let list = self.cell(u32le(&db, 4)?)?;
        let mut out = Vec::new();
        for i in 0..segs {
            let seg = self.cell(u32le(&list, i * 4)?)?;
            let want = (len as usize - out.len()).min(seg.len());
            out.extend_from_slice(&seg[..want]);
            if out.len() == len as usize {
                return Ok(out);
            }
        }
        Err(format!(
            "big value data: {segs} segments hold less than {len} bytes"
        ))
    }
}

/// A key's name: Latin-1 when the compressed-name flag is set, else UTF-16LE.
fn key_name(nk: &[u8]) -> R<String> {
    let flags = u16le(nk, 2)?;
    let len = usize::from(u16le(nk, 72)?);
    name_at(nk, NK_NAME_AT, len, flags & KEY_COMP_NAME != 0)
}

fn value_name(vk: &[u8]) -> R<String> {
    let len = usize::from(u16le(vk, 2)?);
    let flags = u16le(vk, 16)?;
    name_at(vk, VK_NAME_AT, len, flags & VALUE_COMP_NAME != 0)
}

fn name_at(c: &[u8], at: usize, len: usize, compressed: bool) -> R<String> {
    let b = c
        .get(at..at.saturating_add(len))
        .ok_or_else(|| format!("name of {len} bytes at cell byte {at} past the cell"))?;
    Ok(if compressed {
        b.iter().map(|&x| char::from(x)).collect()
    } else {
        let units: Vec<u16> = le_u16s(b).collect();
        String::from_utf16_lossy(&units)
    })
}

/// The `lh` hash: h = h * 37 + uppercase(c) over the name's characters.
pub fn name_hash(name: &str) -> u32 {
    name.chars().fold(0u32, |h, c| {
        let u = c.to_uppercase().next().unwrap_or(c);
        h.wrapping_mul(37).wrapping_add(u as u32)
    })
}

/// The `lf` hint: the first four characters of the name (zero-padded), compared ignoring
/// ASCII case.
fn hint_matches(hint: u32, name: &str) -> bool {
    let h = hint.to_le_bytes();
    let n = name.as_bytes();
    (0..4).all(|i| {
        let want = n.get(i).copied().unwrap_or(0);
        h[i].eq_ignore_ascii_case(&want) || !n.is_ascii()
    })
}

/// Hive bytes read from a file in the guest, in cached 64 KiB pages (a lookup revisits the
/// same few pages: the root, the key's list and its values).
pub struct GuestHive<'f> {
    pub fs: &'f mut dyn crate::disk::guestfs::GuestFs,
    pub path: String,
    pages: std::collections::HashMap<u64, Vec<u8>>,
}

const PAGE: u64 = 64 << 10;
const PAGE_LEN: usize = 64 << 10;
const MAX_PAGES: usize = 256;

impl<'f> GuestHive<'f> {
    pub fn new(fs: &'f mut dyn crate::disk::guestfs::GuestFs, path: &str) -> Self {
        GuestHive {
            fs,
            path: path.to_string(),
            pages: std::collections::HashMap::new(),
        }
    }

    fn page(&mut self, n: u64) -> Option<&Vec<u8>> {
        if !self.pages.contains_key(&n) {
            if self.pages.len() >= MAX_PAGES {
                return None;
            }
            let p = self
                .fs
                .read_range(&self.path, n.checked_mul(PAGE)?, PAGE_LEN)?;
            self.pages.insert(n, p);
        }
        self.pages.get(&n)
    }
}

impl HiveBytes for GuestHive<'_> {
    fn read_at(&mut self, offset: u64, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut pos = offset;
        // Each pass takes at least one byte of a page, or fails.
        while out.len() < len {
            let page = self.page(pos / PAGE)?;
            let from = usize::try_from(pos % PAGE).ok()?;
            let avail = page.get(from..).filter(|a| !a.is_empty())?;
            let n = avail.len().min(len - out.len());
            out.extend_from_slice(&avail[..n]);
            pos += n as u64;
        }
        Some(out)
    }
}

#[cfg(test)]
// The fixture builders cast lengths of a few bytes.
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
mod tests {
    use super::*;

    /// It sliced `b[..508]` and panicked on a shorter slice.
    #[test]
    fn base_checksum_of_a_short_slice_does_not_panic() {
        assert_eq!(base_checksum(&[0x10, 0, 0, 0, 0x01, 0, 0, 0, 0xff]), 0x11);
        assert_eq!(base_checksum(&[]), 1);
    }

    /// Write an allocated cell holding `data` at `off` (relative to the first bin).
    fn put(h: &mut [u8], off: usize, data: &[u8]) {
        let size = (4 + data.len()).next_multiple_of(8);
        let at = BASE_BLOCK as usize + off;
        h[at..at + 4].copy_from_slice(&(-(size as i32)).to_le_bytes());
        h[at + 4..at + 4 + data.len()].copy_from_slice(data);
    }

    /// Key node: signature, compressed-name flag, subkey count and list, value count and list.
    fn nk(name: &str, subkeys: u32, list: u32, values: u32, vlist: u32) -> Vec<u8> {
        let mut d = vec![0u8; NK_NAME_AT + name.len()];
        d[0..2].copy_from_slice(b"nk");
        d[2..4].copy_from_slice(&KEY_COMP_NAME.to_le_bytes());
        d[20..24].copy_from_slice(&subkeys.to_le_bytes()); // subkey count
        d[28..32].copy_from_slice(&list.to_le_bytes()); // subkey list cell
        d[36..40].copy_from_slice(&values.to_le_bytes()); // value count
        d[40..44].copy_from_slice(&vlist.to_le_bytes()); // value list cell
        d[72..74].copy_from_slice(&(name.len() as u16).to_le_bytes()); // name length
        d[NK_NAME_AT..].copy_from_slice(name.as_bytes());
        d
    }

    /// Value: name length, data size (high bit: inline), data offset or data, type, flags.
    fn vk(name: &str, size: u32, data: u32, kind: u32) -> Vec<u8> {
        let mut d = vec![0u8; VK_NAME_AT + name.len()];
        d[0..2].copy_from_slice(b"vk");
        d[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
        d[4..8].copy_from_slice(&size.to_le_bytes());
        d[8..12].copy_from_slice(&data.to_le_bytes());
        d[12..16].copy_from_slice(&kind.to_le_bytes());
        d[16..18].copy_from_slice(&VALUE_COMP_NAME.to_le_bytes());
        d[VK_NAME_AT..].copy_from_slice(name.as_bytes());
        d
    }

    fn list(sig: &[u8; 2], entries: &[(u32, u32)]) -> Vec<u8> {
        let mut d = sig.to_vec();
        d.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for &(off, hint) in entries {
            d.extend_from_slice(&off.to_le_bytes());
            if sig == b"lf" || sig == b"lh" {
                d.extend_from_slice(&hint.to_le_bytes());
            }
        }
        d
    }

    fn seal(h: &mut [u8]) {
        let c = base_checksum(h);
        h[CHECKSUM_AT..CHECKSUM_AT + 4].copy_from_slice(&c.to_le_bytes());
    }

    /// ROOT (0x20) -> lh list (0x100) -> Sub (0x200) with values ProductName (REG_SZ in a
    /// data cell) and Build (REG_DWORD inline).
    fn hive() -> Vec<u8> {
        let mut h = vec![0u8; 8192];
        h[0..4].copy_from_slice(REGF);
        h[ROOT_CELL_AT..ROOT_CELL_AT + 4].copy_from_slice(&0x20u32.to_le_bytes());
        h[BINS_SIZE_AT..BINS_SIZE_AT + 4].copy_from_slice(&4096u32.to_le_bytes());
        let bin = BASE_BLOCK as usize;
        h[bin..bin + 4].copy_from_slice(HBIN);
        h[bin + 8..bin + 12].copy_from_slice(&4096u32.to_le_bytes()); // bin size
        put(&mut h, 0x20, &nk("ROOT", 1, 0x100, 0, u32::MAX));
        put(&mut h, 0x100, &list(b"lh", &[(0x200, name_hash("Sub"))]));
        put(&mut h, 0x200, &nk("Sub", 0, u32::MAX, 2, 0x300));
        put(&mut h, 0x300, &[0x10, 3, 0, 0, 0x40, 3, 0, 0]); // value list: 0x310, 0x340
        put(&mut h, 0x310, &vk("ProductName", 8, 0x380, REG_SZ));
        put(
            &mut h,
            0x340,
            &vk("Build", DATA_INLINE | 4, 17763, REG_DWORD),
        );
        let text: Vec<u8> = "Win\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
        put(&mut h, 0x380, &text);
        seal(&mut h);
        h
    }

    fn lookup(h: &[u8], key: &str, value: &str) -> R<Option<String>> {
        let mut hive = Hive::open(h)?;
        Ok(hive.value(key, value)?.and_then(|v| v.as_string()))
    }

    #[test]
    fn values_by_case_insensitive_path() {
        let h = hive();
        assert_eq!(
            lookup(&h, "sub", "productname").unwrap().as_deref(),
            Some("Win")
        );
        assert_eq!(
            lookup(&h, "Sub", "Build").unwrap().as_deref(),
            Some("17763")
        );
        assert_eq!(lookup(&h, "Sub", "Missing").unwrap(), None);
        assert_eq!(lookup(&h, "Other", "Build").unwrap(), None);
    }

    #[test]
    fn checksum_and_signature_are_checked() {
        let mut h = hive();
        h[100] ^= 1;
        assert!(Hive::open(&h[..]).err().unwrap().contains("checksum"));
        let mut h = hive();
        h[0] = b'x';
        assert!(Hive::open(&h[..]).err().unwrap().contains("regf"));
        assert!(Hive::open(&h[..100]).is_err());
    }

    #[test]
    fn cell_running_past_its_bin_is_refused() {
        let mut h = hive();
        let at = BASE_BLOCK as usize + 0x200;
        h[at..at + 4].copy_from_slice(&(-0x2000i32).to_le_bytes());
        assert!(
            lookup(&h, "Sub", "Build")
                .unwrap_err()
                .contains("past its bin")
        );
        // A free (positive-size) cell where a key should be.
        h[at..at + 4].copy_from_slice(&0x58i32.to_le_bytes());
        assert!(lookup(&h, "Sub", "Build").unwrap_err().contains("free"));
    }

    #[test]
    fn subkey_list_loops_and_huge_counts_end() {
        // An ri whose only entry is itself.
        let mut h = hive();
        put(&mut h, 0x100, &list(b"ri", &[(0x100, 0)]));
        assert!(
            lookup(&h, "Sub", "Build")
                .unwrap_err()
                .contains("ri inside an ri")
        );
        // An lf claiming 65535 entries in a 16-byte cell.
        let mut h = hive();
        let mut l = list(b"lf", &[(0x200, 0)]);
        l[2..4].copy_from_slice(&u16::MAX.to_le_bytes());
        put(&mut h, 0x100, &l);
        assert!(
            lookup(&h, "Sub", "Build")
                .unwrap_err()
                .contains("do not fit")
        );
        // A key whose value count is huge.
        let mut h = hive();
        put(&mut h, 0x200, &nk("Sub", 0, u32::MAX, u32::MAX, 0x300));
        assert!(
            lookup(&h, "Sub", "Build")
                .unwrap_err()
                .contains("do not fit")
        );
        // An unaligned or out-of-range cell offset.
        let mut h = hive();
        put(&mut h, 0x100, &list(b"li", &[(0x7FFF_FFF8, 0)]));
        assert!(lookup(&h, "Sub", "Build").unwrap_err().contains("outside"));
    }

    #[test]
    fn inline_data_over_four_bytes_is_refused() {
        let mut h = hive();
        put(&mut h, 0x340, &vk("Build", DATA_INLINE | 9, 1, REG_DWORD));
        assert!(lookup(&h, "Sub", "Build").unwrap_err().contains("inline"));
    }
}
