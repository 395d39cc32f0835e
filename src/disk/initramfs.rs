//! Which kernel modules an initramfs holds (issue 17: `no-virtio-blk`, `no-virtio-net`,
//! `no-nvme`). An initramfs is one or more concatenated newc cpio archives, each stored or
//! compressed (gzip, xz, zstd, lz4, ...), often after an uncompressed early-microcode archive
//! (Debian's initramfs-tools and dracut both make them so). It is read as a stream: only the
//! entry names are kept, the scan stops as soon as every wanted module is found, and both the
//! bytes read and the bytes decompressed are capped (no decompression bomb).
//!
//! Each archive's compression is told by its magic, as the kernel does (init/initramfs.c and
//! lib/decompress.c); NUL bytes between archives are skipped. The decompressors are crates:
//! flate2 (gzip), liblzma (xz and the old lzma format), zstd, lz4_flex (the lz4 frame format,
//! and the blocks of the legacy format the kernel uses, framed in `lz4.rs`), bzip2.

#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod cpio;
mod lz4;
#[cfg(test)]
// The fixture builders cast lengths of a few bytes.
#[allow(clippy::cast_possible_truncation)]
mod tests;

use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read};

/// How an archive in the initramfs was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Lzma,
    Zstd,
    Lz4,
    Bzip2,
}

/// Caps for one scan.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes read from the initramfs file at most.
    pub max_input: u64,
    /// Bytes produced by decompression at most (all archives together).
    pub max_output: u64,
}

/// What a scan found.
#[derive(Debug, Clone, Default)]
pub struct ModuleScan {
    /// The wanted module names (as given in `wanted`) that the initramfs holds, as `<name>.ko`
    /// with or without a `.xz`/`.zst`/`.gz` suffix, `-` and `_` taken as the same.
    pub found: BTreeSet<String>,
    /// Each archive met, in order: how it was stored.
    pub archives: Vec<Compression>,
    /// True when the scan read to the end of the initramfs (false when it stopped early
    /// because every wanted module was found).
    pub complete: bool,
    /// Bytes of cpio data produced (after decompression), for the budget and the report.
    pub decompressed: u64,
}

impl Compression {
    /// The name used in messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::Bzip2 => "bzip2",
        }
    }
}

/// Bytes read from the input (and from each decompressor) at a time.
pub const CHUNK: usize = 256 << 10;
/// Most archives one initramfs may hold (each stored or compressed one counts once).
pub const MAX_ARCHIVES: usize = 1024;
/// Memory the xz and lzma decoders may use (liblzma's memlimit): xz -9 needs 65 MiB.
pub const XZ_MEMLIMIT: u64 = 128 << 20;
/// Largest zstd window accepted (2^27 = 128 MiB, zstd's own default limit).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;
/// Most entry names `list_names` returns.
pub const MAX_NAMES: usize = 1 << 20;

/// Scans `input` (the initramfs file from its first byte) for the module names in `wanted`
/// (e.g. `virtio_blk`, `virtio_net`, `nvme`). An error says what was wrong and at which
/// offset (a damaged archive, an unknown compression, a cap reached before the answer).
///
/// The scan stops as soon as every wanted module is found (`complete: false`); with nothing
/// wanted it reads the whole initramfs (a check that it is readable).
pub fn scan_modules(
    input: &mut dyn Read,
    wanted: &[&str],
    limits: Limits,
) -> Result<ModuleScan, String> {
    let keys: Vec<(String, &str)> = wanted.iter().map(|w| (module_key(w), *w)).collect();
    let mut found = BTreeSet::new();
    let mut visit = |name: &[u8]| {
        if let Some(key) = module_file_key(name) {
            for (k, w) in &keys {
                if *k == key {
                    found.insert((*w).to_string());
                }
            }
        }
        Ok(!keys.is_empty() && keys.iter().all(|(_, w)| found.contains(*w)))
    };
    let mut scan = walk(input, limits, &mut visit)?;
    scan.found = found;
    Ok(scan)
}

/// Every entry name in `input` (as the archives hold them, without a leading `./` removed),
/// for tools and tests that want to see what an initramfs holds. At most [`MAX_NAMES`].
pub fn list_names(
    input: &mut dyn Read,
    limits: Limits,
) -> Result<(Vec<String>, ModuleScan), String> {
    let mut names = Vec::new();
    let mut visit = |name: &[u8]| {
        if names.len() >= MAX_NAMES {
            return Err(format!("more than {MAX_NAMES} entries (MAX_NAMES)"));
        }
        names.push(String::from_utf8_lossy(name).into_owned());
        Ok(false)
    };
    let scan = walk(input, limits, &mut visit)?;
    Ok((names, scan))
}

/// A module name as compared: `-` and `_` are the same.
fn module_key(name: &str) -> String {
    name.replace('-', "_")
}

/// The module a file name stands for (`.../virtio_blk.ko.xz` -> `virtio_blk`), if it is one.
fn module_file_key(path: &[u8]) -> Option<String> {
    let base = path.rsplit(|&b| b == b'/').next()?;
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|s| base.strip_suffix(s.as_bytes()))?;
    let stem = std::str::from_utf8(stem).ok().filter(|s| !s.is_empty())?;
    Some(module_key(stem))
}

/// Reads every archive of the initramfs, handing each entry name to `visit` (true: stop).
fn walk(
    input: &mut dyn Read,
    limits: Limits,
    visit: &mut dyn FnMut(&[u8]) -> Result<bool, String>,
) -> Result<ModuleScan, String> {
    let mut src = Source::new(input, limits.max_input);
    let mut budget = Budget {
        used: 0,
        max: limits.max_output,
        hit: false,
    };
    let mut scan = ModuleScan::default();
    loop {
        let mut pos = src.pos();
        let more = cpio::skip_zeros(&mut src, &mut pos).map_err(|e| src.explain(&budget, e));
        if !more? {
            scan.complete = true;
            break;
        }
        let at = src.pos();
        if let Err(e) = src.peek(6) {
            return Err(format!(
                "initramfs at byte {at}: {}",
                src.explain(&budget, e)
            ));
        }
        let kind = detect(src.peek(6)?).map_err(|e| format!("initramfs at byte {at}: {e}"))?;
        if scan.archives.len() >= MAX_ARCHIVES {
            return Err(format!(
                "initramfs at byte {at}: more than {MAX_ARCHIVES} archives (MAX_ARCHIVES)"
            ));
        }
        scan.archives.push(kind);
        let n = scan.archives.len();
        let end = archive(&mut src, kind, &mut budget, visit).map_err(|e| {
            let e = src.explain(&budget, e);
            format!("initramfs archive {n} ({}, at byte {at}): {e}", kind.name())
        })?;
        if end == cpio::End::Stopped {
            break;
        }
        if src.pos() == at {
            return Err(format!(
                "initramfs archive {n} ({}, at byte {at}): the decompressor read nothing",
                kind.name()
            ));
        }
    }
    scan.decompressed = budget.used;
    Ok(scan)
}

/// The compression an archive starting with `head` uses (the kernel's magic numbers).
fn detect(head: &[u8]) -> Result<Compression, String> {
    let kind = match head {
        [b'0', b'7', b'0', b'7', b'0', b'1' | b'2', ..] => Compression::None,
        [0x1f, 0x8b | 0x9e, ..] => Compression::Gzip,
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
        [0x5d, 0x00, 0x00, ..] => Compression::Lzma,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [0x02, 0x21, 0x4c, 0x18, ..] | [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
        [b'B', b'Z', b'h', ..] => Compression::Bzip2,
        [0x89, b'L', b'Z', b'O', ..] => {
            return Err("an LZO-compressed archive; imgtool does not read LZO".into());
        }
        [b'0', b'7', b'0', b'7', b'0', b'7', ..] => {
            return Err("an old portable cpio archive (070707); the kernel reads only newc".into());
        }
        other => {
            return Err(format!(
                "found {} where a cpio archive (070701) or a compressed one (gzip, xz, lzma, \
                 zstd, lz4, bzip2) was expected",
                cpio::show(other)
            ));
        }
    };
    Ok(kind)
}

/// Reads one archive: its cpio data, and for a compressed one the whole stream (further cpio
/// archives and padding inside it too), so that `src` ends where the stream ends.
fn archive(
    src: &mut Source,
    kind: Compression,
    budget: &mut Budget,
    visit: &mut dyn FnMut(&[u8]) -> Result<bool, String>,
) -> Result<cpio::End, String> {
    // No one entry can be larger than what is left of the budget when its archive starts.
    let max = budget.max.saturating_sub(budget.used);
    if kind == Compression::None {
        let mut data = Capped { inner: src, budget };
        return cpio::Stream::new(&mut data).archive(max, visit);
    }
    let decoder: Box<dyn Read + '_> = match kind {
        Compression::Gzip => Box::new(flate2::bufread::GzDecoder::new(&mut *src)),
        Compression::Xz | Compression::Lzma => {
            let stream = if kind == Compression::Xz {
                liblzma::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
            } else {
                liblzma::stream::Stream::new_lzma_decoder(XZ_MEMLIMIT)
            };
            let stream =
                stream.map_err(|e| format!("starting the {} decoder: {e}", kind.name()))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(&mut *src, stream))
        }
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(&mut *src)
                .map_err(|e| format!("starting the zstd decoder: {e}"))?
                .single_frame();
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| format!("starting the zstd decoder: {e}"))?;
            Box::new(d)
        }
        Compression::Lz4 => {
            if src.peek(4)? == lz4::MAGIC {
                src.consume(4);
                Box::new(lz4::Legacy::new(&mut *src))
            } else {
                Box::new(lz4_flex::frame::FrameDecoder::new(&mut *src))
            }
        }
        Compression::Bzip2 => Box::new(bzip2::bufread::BzDecoder::new(&mut *src)),
        Compression::None => return Err("not compressed".into()),
    };
    let mut out = BufReader::with_capacity(
        CHUNK,
        Fused {
            inner: decoder,
            done: false,
        },
    );
    let mut data = Capped {
        inner: &mut out,
        budget,
    };
    let mut stream = cpio::Stream::new(&mut data);
    // A compressed stream holds one or more cpio archives, with zero padding between and after.
    while stream.skip_zeros()? {
        if stream.archive(max, visit)? == cpio::End::Stopped {
            return Ok(cpio::End::Stopped);
        }
    }
    Ok(cpio::End::Trailer)
}

/// The decompressed-bytes budget of one scan (all archives together).
struct Budget {
    used: u64,
    max: u64,
    /// Set when a read went past `max` (so that the error names the cap).
    hit: bool,
}

/// The initramfs file, read in chunks of [`CHUNK`] bytes, at most `max` bytes in all, with a
/// look-ahead for the magic numbers. Decompressors read from it through `BufRead`, so each
/// takes exactly the bytes of its own stream and the next archive starts where it stopped.
struct Source<'a> {
    inner: &'a mut dyn Read,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes read from `inner`.
    read: u64,
    max: u64,
    /// Set when the file turned out longer than `max`.
    over: bool,
}

impl<'a> Source<'a> {
    fn new(inner: &'a mut dyn Read, max: u64) -> Self {
        Source {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            read: 0,
            max,
            over: false,
        }
    }

    /// Bytes of the file consumed so far: the offset of the next byte.
    fn pos(&self) -> u64 {
        self.read - (self.end - self.start) as u64
    }

    /// Reads more after the buffered bytes; 0 at the end of the file.
    fn refill(&mut self) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let left = self.max.saturating_sub(self.read);
        let room = self.buf.len() - self.end;
        let want = usize::try_from(left).map_or(room, |l| l.min(room));
        if want == 0 && room > 0 {
            // At the cap: one more byte means the file is larger than allowed.
            let mut probe = [0u8; 1];
            if read_retry(self.inner, &mut probe)? > 0 {
                self.over = true;
                return Err(io::Error::other("input cap reached"));
            }
            return Ok(0);
        }
        let dst = self
            .buf
            .get_mut(self.end..self.end + want)
            .unwrap_or_default();
        let n = read_retry(self.inner, dst)?;
        self.end += n;
        self.read += n as u64;
        Ok(n)
    }

    /// The next `n` bytes (fewer at the end of the file), not consumed.
    fn peek(&mut self, n: usize) -> Result<&[u8], String> {
        while self.end - self.start < n {
            let pos = self.pos();
            if self
                .refill()
                .map_err(|e| format!("reading at byte {pos}: {e}"))?
                == 0
            {
                break;
            }
        }
        let end = self.end.min(self.start + n);
        Ok(self.buf.get(self.start..end).unwrap_or_default())
    }

    /// The error to report: a cap, when one was reached, else `e`.
    fn explain(&self, budget: &Budget, e: String) -> String {
        if self.over {
            format!(
                "the initramfs is larger than the input cap of {} bytes (Limits::max_input)",
                self.max
            )
        } else if budget.hit {
            format!(
                "more than the cap of {} bytes decompressed (Limits::max_output)",
                budget.max
            )
        } else {
            e
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, buf)
    }
}

impl BufRead for Source<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.refill()?;
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.start = (self.start + amt).min(self.end);
    }
}

/// `Read::read` for a type whose reading is its `BufRead`: copy what the buffer holds.
fn read_through_buffer(r: &mut impl BufRead, buf: &mut [u8]) -> io::Result<usize> {
    let have = r.fill_buf()?;
    let n = have.len().min(buf.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
        dst.copy_from_slice(src);
    }
    r.consume(n);
    Ok(n)
}

fn read_retry(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// cpio data counted against the decompressed-bytes budget.
struct Capped<'a> {
    inner: &'a mut dyn BufRead,
    budget: &'a mut Budget,
}

impl Read for Capped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, buf)
    }
}

impl BufRead for Capped<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let left = self.budget.max.saturating_sub(self.budget.used);
        let have = self.inner.fill_buf()?;
        if !have.is_empty() && left == 0 {
            self.budget.hit = true;
            return Err(io::Error::other("decompressed-bytes cap reached"));
        }
        let n = usize::try_from(left).map_or(have.len(), |l| l.min(have.len()));
        Ok(have.get(..n).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.budget.used = self.budget.used.saturating_add(amt as u64);
    }
}

/// A decompressor that, once it has said "end", says it again: some would otherwise go on to
/// read a next stream from the input, which belongs to the next archive.
struct Fused<R> {
    inner: R,
    done: bool,
}

impl<R: Read> Read for Fused<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.done = n == 0;
        Ok(n)
    }
}
