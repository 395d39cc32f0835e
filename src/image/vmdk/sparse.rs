//! A hosted sparse extent: its header (or, for a streamOptimized extent whose header says
//! GD_AT_END, the footer's copy), the grain directory and the grain tables, and reading a
//! grain, plain or compressed (a grain marker, then deflate data).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use super::header::{
    self, FOOTER_FROM_END, GD_AT_END, GRAIN_MARKER_SIZE, GTE_UNALLOCATED, GTE_ZERO, HEADER_SIZE,
    SECTOR, SparseHeader,
};
use super::window::Window;
use crate::error::{Error, Result};
use crate::image::finding::{Finding, Severity, fatal_error};
use crate::image::source::SourceFile;

/// The most grain directory entries we read (16 MiB of directory).
pub const MAX_GD_ENTRIES: u64 = 4 << 20;
/// The most grain-table entries held in memory per extent: 32 Mi (128 MiB; 2 TiB of
/// allocated tables with 64 KiB grains).
pub const MAX_GT_ENTRIES: u64 = 32 << 20;
/// Decompressed grains kept per extent, for reads smaller than a grain.
const GRAIN_CACHE: usize = 16;
/// Grain tables read in one go when they lie one after the other.
const GT_BATCH: usize = 256;

/// No grain table loaded for a grain directory entry.
const NO_TABLE: u32 = u32::MAX;

#[derive(Debug)]
pub struct SparseExtent {
    pub win: Window,
    pub header: SparseHeader,
    /// Where the header in use is, in the window (0, or the footer's place).
    pub header_at: u64,
    /// The header at offset 0 when the footer's copy is in use.
    pub first_header: Option<SparseHeader>,
    pub gd: Vec<u32>,
    /// For each grain directory entry, the index of its table in `tables`, or NO_TABLE.
    gt_index: Vec<u32>,
    tables: Vec<u32>,
    pub grain_bytes: u64,
    /// Non-fatal findings made while opening.
    pub findings: Vec<Finding>,
    cache: Mutex<VecDeque<(u64, Arc<[u8]>)>>,
}

/// What a grain table entry says about a grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Unallocated,
    Zero,
    /// At this sector of the extent.
    At(u32),
}

/// Read the header at the start of `win`, and the footer's copy when it says GD_AT_END.
pub fn read_headers(
    src: &SourceFile,
    win: Window,
) -> Result<(SparseHeader, u64, Option<SparseHeader>, Vec<Finding>)> {
    let mut b = [0u8; HEADER_SIZE];
    win.read(src, 0, &mut b, "VMDK sparse header")?;
    let first = SparseHeader::parse(&b);
    let mut findings = header::validate(&first, win.at(0), win.len, false);
    if let Some(e) = fatal_error(src.path(), &findings) {
        return Err(e);
    }
    if first.gd_offset != GD_AT_END {
        return Ok((first, 0, None, findings));
    }
    let at = win.len - FOOTER_FROM_END;
    win.read(src, at, &mut b, "VMDK footer header (GD_AT_END)")?;
    let footer = SparseHeader::parse(&b);
    let ff = header::validate(&footer, win.at(at), win.len, true);
    if let Some(e) = fatal_error(src.path(), &ff) {
        return Err(e);
    }
    if footer.gd_offset == GD_AT_END {
        return Err(Error::malformed(
            src.path(),
            win.at(at + header::off::GD_OFFSET as u64),
            "footer grain directory offset",
            "GD_AT_END",
            "the grain directory's sector",
        ));
    }
    // The footer's unclean-shutdown flag repeats the header's; report it once.
    findings.extend(ff.into_iter().filter(|f| f.severity == Severity::Error));
    Ok((footer, at, Some(first), findings))
}

impl SparseExtent {
    pub fn open(src: &SourceFile, win: Window) -> Result<SparseExtent> {
        let (header, header_at, first_header, findings) = read_headers(src, win)?;
        let n = header.gd_entries();
        if n > MAX_GD_ENTRIES {
            return Err(Error::malformed(
                src.path(),
                win.at(header_at + header::off::CAPACITY as u64),
                "grain directory entries",
                format!("{n} for {} sectors", header.capacity),
                format!("at most {MAX_GD_ENTRIES} (imgtool's limit)"),
            ));
        }
        #[allow(clippy::cast_possible_truncation)] // at most MAX_GD_ENTRIES, checked above
        let gd = read_entries(src, win, header.gd_offset, n as usize, "grain directory")?;
        let mut x = SparseExtent {
            win,
            grain_bytes: header.grain_bytes(),
            header,
            header_at,
            first_header,
            gt_index: vec![NO_TABLE; gd.len()],
            gd,
            tables: Vec::new(),
            findings,
            cache: Mutex::new(VecDeque::new()),
        };
        x.load_tables(src)?;
        Ok(x)
    }

    /// Read every grain table the directory points to, runs of adjacent tables at once.
    fn load_tables(&mut self, src: &SourceFile) -> Result<()> {
        let per = header::GTES_PER_GT as usize;
        let mut i = 0;
        while i < self.gd.len() {
            let first = self.gd[i];
            if first == 0 {
                i += 1;
                continue;
            }
            let mut run = 1;
            while run < GT_BATCH
                && self
                    .gd
                    .get(i + run)
                    .is_some_and(|&e| u64::from(e) == u64::from(first) + 4 * run as u64)
            {
                run += 1;
            }
            let loaded = self.tables.len() as u64 + (run * per) as u64;
            if loaded > MAX_GT_ENTRIES {
                return Err(Error::malformed(
                    src.path(),
                    self.win
                        .at(self.header.gd_offset.saturating_mul(SECTOR) + i as u64 * 4),
                    "grain tables",
                    format!("more than {MAX_GT_ENTRIES} entries"),
                    format!("at most {MAX_GT_ENTRIES} (imgtool's limit)"),
                ));
            }
            let what = format!("grain table of directory entry {i}");
            let t = read_entries(src, self.win, u64::from(first), run * per, &what)?;
            for k in 0..run {
                // The tables hold at most MAX_GT_ENTRIES (32 Mi): their count fits a u32.
                #[allow(clippy::cast_possible_truncation)]
                let index = (self.tables.len() / per) as u32;
                self.gt_index[i + k] = index;
                self.tables.extend_from_slice(&t[k * per..(k + 1) * per]);
            }
            i += run;
        }
        Ok(())
    }

    /// The grain table entry of grain `g` (0 when its table is not allocated).
    pub fn gte(&self, g: u64) -> u32 {
        let per = u64::from(header::GTES_PER_GT);
        let Some(&t) = usize::try_from(g / per)
            .ok()
            .and_then(|i| self.gt_index.get(i))
        else {
            return GTE_UNALLOCATED;
        };
        if t == NO_TABLE {
            return GTE_UNALLOCATED;
        }
        // t is a u32 table number and per is 512: the entry's index fits.
        #[allow(clippy::cast_possible_truncation)]
        let at = t as usize * per as usize + (g % per) as usize;
        self.tables.get(at).copied().unwrap_or(GTE_UNALLOCATED)
    }

    /// Whether grain `g`'s grain table is not allocated (all its grains unallocated).
    pub fn table_missing(&self, g: u64) -> bool {
        let per = u64::from(header::GTES_PER_GT);
        usize::try_from(g / per)
            .ok()
            .and_then(|i| self.gt_index.get(i))
            .is_none_or(|&t| t == NO_TABLE)
    }

    pub fn grain(&self, g: u64) -> Grain {
        match self.gte(g) {
            GTE_UNALLOCATED => Grain::Unallocated,
            GTE_ZERO => Grain::Zero,
            s => Grain::At(s),
        }
    }

    /// Grains the extent covers.
    pub fn grains(&self) -> u64 {
        self.header.capacity.div_ceil(self.header.grain_size.max(1))
    }

    /// (allocated, zeroed) grains.
    pub fn grain_counts(&self) -> (u64, u64) {
        let mut c = (0, 0);
        for g in 0..self.grains() {
            match self.grain(g) {
                Grain::At(_) => c.0 += 1,
                Grain::Zero => c.1 += 1,
                Grain::Unallocated => {}
            }
        }
        c
    }

    /// The number of grain tables allocated.
    pub fn tables_loaded(&self) -> usize {
        self.tables.len() / header::GTES_PER_GT as usize
    }

    /// Fill `buf` from grain `g` (stored at sector `sector`), starting `in_grain` bytes in.
    pub fn read_grain(
        &self,
        src: &SourceFile,
        g: u64,
        sector: u32,
        in_grain: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let at = u64::from(sector) * SECTOR;
        if !self.header.compressed() {
            return self.win.read(src, at + in_grain, buf, "VMDK grain data");
        }
        if in_grain == 0 && buf.len() as u64 == self.grain_bytes {
            // A whole grain (what convert reads): inflate straight into the caller's buffer.
            return self.inflate_into(src, g, at, buf);
        }
        let data = self.decompressed(src, g, at)?;
        // A grain is at most MAX_GRAIN_SECTORS (64 KiB), checked when the header was read.
        #[allow(clippy::cast_possible_truncation)]
        let start = in_grain as usize;
        let have = data.get(start..start + buf.len()).ok_or_else(|| {
            Error::malformed(
                src.path(),
                self.win.at(at),
                format!("compressed grain {g}"),
                format!("{} bytes after decompression", data.len()),
                format!("at least {} bytes", start + buf.len()),
            )
        })?;
        buf.copy_from_slice(have);
        Ok(())
    }

    fn decompressed(&self, src: &SourceFile, g: u64, at: u64) -> Result<Arc<[u8]>> {
        let lock = || self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, d)) = lock().iter().find(|(k, _)| *k == g) {
            return Ok(d.clone());
        }
        let d: Arc<[u8]> = self.inflate_grain(src, g, at)?.into();
        let mut c = lock();
        if c.len() >= GRAIN_CACHE {
            c.pop_front();
        }
        c.push_back((g, d.clone()));
        Ok(d)
    }

    /// The largest compressed grain we accept: the grain size plus deflate's worst-case growth.
    pub fn max_compressed(&self) -> u64 {
        self.grain_bytes + self.grain_bytes / 256 + 1024
    }

    /// The compressed bytes of grain `g` stored at byte `at`: after its marker (whose LBA must
    /// be the grain's), or up to the bound when the extent has no markers.
    pub fn compressed_bytes(&self, src: &SourceFile, g: u64, at: u64) -> Result<Vec<u8>> {
        let max = self.max_compressed();
        if !self.header.markers() {
            let n = max.min(self.win.len.saturating_sub(at));
            // At most max_compressed(): a grain (64 KiB at most) and deflate's growth.
            #[allow(clippy::cast_possible_truncation)]
            let mut b = vec![0u8; n as usize];
            self.win.read(src, at, &mut b, "VMDK compressed grain")?;
            return Ok(b);
        }
        let mut m = [0u8; GRAIN_MARKER_SIZE];
        self.win.read(src, at, &mut m, "VMDK grain marker")?;
        let (lba, size) = header::parse_grain_marker(&m);
        let size = u64::from(size);
        let want = g.saturating_mul(self.header.grain_size);
        if lba != want {
            return Err(Error::malformed(
                src.path(),
                self.win.at(at),
                format!("grain marker of grain {g}"),
                format!("LBA {lba}"),
                format!("LBA {want} (the grain the table maps here)"),
            ));
        }
        if size == 0 || size > max {
            return Err(Error::malformed(
                src.path(),
                self.win.at(at + 8),
                format!("grain marker of grain {g}: compressed size"),
                format!("{size} bytes"),
                format!("1 to {max} bytes for a {}-byte grain", self.grain_bytes),
            ));
        }
        #[allow(clippy::cast_possible_truncation)] // at most max_compressed(), checked above
        let mut b = vec![0u8; size as usize];
        self.win.read(
            src,
            at + GRAIN_MARKER_SIZE as u64,
            &mut b,
            "VMDK compressed grain",
        )?;
        Ok(b)
    }

    fn inflate_into(&self, src: &SourceFile, g: u64, at: u64, buf: &mut [u8]) -> Result<()> {
        let data = self.compressed_bytes(src, g, at)?;
        let n = inflate_to(&data, buf).map_err(|why| {
            Error::malformed(
                src.path(),
                self.win.at(at),
                format!("compressed grain {g}"),
                why,
                format!("deflate data of exactly {} bytes", buf.len()),
            )
        })?;
        if n != buf.len() {
            return Err(Error::malformed(
                src.path(),
                self.win.at(at),
                format!("compressed grain {g}"),
                format!("{n} bytes after decompression"),
                format!("{} bytes", buf.len()),
            ));
        }
        Ok(())
    }

    // A grain is at most MAX_GRAIN_SECTORS (64 KiB), checked when the header was read.
    #[allow(clippy::cast_possible_truncation)]
    fn inflate_grain(&self, src: &SourceFile, g: u64, at: u64) -> Result<Vec<u8>> {
        let data = self.compressed_bytes(src, g, at)?;
        let out = inflate(&data, self.grain_bytes as usize).map_err(|why| {
            Error::malformed(
                src.path(),
                self.win.at(at),
                format!("compressed grain {g}"),
                why,
                format!("deflate data of at most {} bytes", self.grain_bytes),
            )
        })?;
        // A grain's data is the grain; only the last grain of the extent may be shorter.
        let left = (self.header.capacity * SECTOR).saturating_sub(g * self.grain_bytes);
        #[allow(clippy::cast_possible_truncation)] // at most a grain (64 KiB)
        let need = self.grain_bytes.min(left) as usize;
        if out.len() < need {
            return Err(Error::malformed(
                src.path(),
                self.win.at(at),
                format!("compressed grain {g}"),
                format!("{} bytes after decompression", out.len()),
                format!("{need} bytes"),
            ));
        }
        Ok(out)
    }
}

/// Inflate zlib (RFC 1950, what VMware and QEMU write) or raw deflate data into at most `max`
/// bytes.
pub fn inflate(data: &[u8], max: usize) -> std::result::Result<Vec<u8>, String> {
    let mut out = vec![0u8; max];
    let n = inflate_to(data, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Inflate into `out`, returning the bytes written; a stream that would write more than
/// `out.len()` bytes is an error.
// total_out is at most out.len() and total_in at most data.len(): both fit a usize.
#[allow(clippy::cast_possible_truncation)]
pub fn inflate_to(data: &[u8], out: &mut [u8]) -> std::result::Result<usize, String> {
    use flate2::{Decompress, FlushDecompress, Status};
    let zlib = data.len() >= 2
        && data[0] & 0x0f == 8
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0;
    let max = out.len();
    let mut d = Decompress::new(zlib);
    match d.decompress(data, out, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) => Ok(d.total_out() as usize),
        // Output full before the end of the stream: is there more than fits?
        Ok(_) if d.total_out() as usize == max => {
            let mut one = [0u8; 1];
            match d.decompress(
                &data[d.total_in() as usize..],
                &mut one,
                FlushDecompress::Finish,
            ) {
                Ok(Status::StreamEnd) if d.total_out() as usize == max => Ok(max),
                _ => Err(format!("more than {max} bytes")),
            }
        }
        Ok(_) => Err("a deflate stream cut short".into()),
        Err(e) => Err(format!("invalid deflate data ({e})")),
    }
}

/// `n` little-endian u32 entries (of a grain directory or table) at sector `sector` of the
/// window; `check` reads the redundant ones through it too.
pub fn read_entries(
    src: &SourceFile,
    win: Window,
    sector: u64,
    n: usize,
    what: &str,
) -> Result<Vec<u32>> {
    let at = sector.checked_mul(SECTOR).ok_or_else(|| {
        Error::malformed(
            src.path(),
            win.base,
            what,
            format!("sector {sector}"),
            "a sector inside the file",
        )
    })?;
    let mut b = vec![0u8; n * 4];
    win.read(src, at, &mut b, what)?;
    Ok(crate::bytes::le_u32s(&b).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn inflates_zlib_and_raw_deflate_and_bounds_the_output() {
        let data = vec![7u8; 4096];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&data).unwrap();
        let z = z.finish().unwrap();
        assert_eq!(inflate(&z, 4096).unwrap(), data);
        assert!(inflate(&z, 4095).is_err());
        let mut r = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        r.write_all(&data).unwrap();
        assert_eq!(inflate(&r.finish().unwrap(), 4096).unwrap(), data);
        assert!(inflate(&z[..z.len() / 2], 4096).is_err());
        assert!(inflate(b"\x78\x9cgarbage", 4096).is_err());
    }
}
