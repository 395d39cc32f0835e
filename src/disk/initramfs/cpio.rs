//! The newc cpio format, as the kernel's initramfs unpacker reads it (init/initramfs.c): a
//! 110-byte ASCII header ("070701", or "070702" whose check field carries a sum of the data we
//! do not verify, then 13 fields of 8 hex digits), the name (namesize bytes with its NUL), zero
//! padding to 4 bytes, the data (filesize bytes), zero padding to 4 bytes; the archive ends
//! with an entry named `TRAILER!!!`. Offsets are counted from the archive's first byte, which
//! is how the padding is aligned.
//!
//! Only names are kept: data is read and thrown away as it passes, never buffered.

use std::io::{BufRead, ErrorKind};

/// Length of a newc header.
pub const HEADER_LEN: usize = 110;
/// Longest entry name accepted, with its NUL (the kernel's PATH_MAX; it refuses longer ones).
pub const MAX_NAME: usize = 4096;
/// The name of the entry that ends an archive.
const TRAILER: &[u8] = b"TRAILER!!!";
/// Field order in the header, after the 6-byte magic, each 8 hex digits.
const FIELDS: [&str; 13] = [
    "ino",
    "mode",
    "uid",
    "gid",
    "nlink",
    "mtime",
    "filesize",
    "devmajor",
    "devminor",
    "rdevmajor",
    "rdevminor",
    "namesize",
    "check",
];
const FILESIZE: usize = 6;
const NAMESIZE: usize = 11;

/// How one archive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Its `TRAILER!!!` entry was read (and its padding skipped).
    Trailer,
    /// The visitor asked to stop (every wanted name was found).
    Stopped,
}

/// A stream of cpio data: where we are in it (for errors and padding).
pub struct Stream<'a> {
    r: &'a mut dyn BufRead,
    /// Bytes consumed from the start of this stream.
    pub pos: u64,
}

impl<'a> Stream<'a> {
    pub fn new(r: &'a mut dyn BufRead) -> Self {
        Stream { r, pos: 0 }
    }

    /// Skips NUL bytes (the padding between archives). Returns whether more data follows.
    pub fn skip_zeros(&mut self) -> Result<bool, String> {
        skip_zeros(self.r, &mut self.pos)
    }

    /// Reads one archive from its first header to its trailer, handing each entry name (without
    /// its NUL) to `visit`, which returns true to stop. `max_data` bounds one entry's data (the
    /// decompression budget: a larger filesize can never be read through, so it is refused at
    /// once).
    pub fn archive(
        &mut self,
        max_data: u64,
        visit: &mut dyn FnMut(&[u8]) -> Result<bool, String>,
    ) -> Result<End, String> {
        let mut name = [0u8; MAX_NAME];
        loop {
            let at = self.pos;
            let mut h = [0u8; HEADER_LEN];
            let got = read_full(self.r, &mut h, &mut self.pos)?;
            if got == 0 {
                return Err(format!(
                    "cpio archive ends at byte {at} without its {} entry",
                    String::from_utf8_lossy(TRAILER)
                ));
            }
            if got < HEADER_LEN {
                return Err(format!(
                    "cpio header at byte {at} is cut after {got} of {HEADER_LEN} bytes (truncated)"
                ));
            }
            check_magic(&h, at)?;
            let mut fields = [0u32; FIELDS.len()];
            for (i, f) in fields.iter_mut().enumerate() {
                *f = field(&h, i, at)?;
            }
            let [namesize, filesize] = [fields[NAMESIZE], fields[FILESIZE]];
            let Some(name) = usize::try_from(namesize)
                .ok()
                .filter(|n| (1..=MAX_NAME).contains(n))
                .and_then(|n| name.get_mut(..n))
            else {
                return Err(format!(
                    "cpio header at byte {at}: namesize {namesize} is out of range (1 to {MAX_NAME})"
                ));
            };
            if u64::from(filesize) > max_data {
                return Err(format!(
                    "cpio header at byte {at}: filesize {filesize} is more than the {max_data} \
                     decompressed bytes left (Limits::max_output)"
                ));
            }
            let got = read_full(self.r, name, &mut self.pos)?;
            if got < name.len() {
                return Err(format!(
                    "cpio entry at byte {at}: its name of {namesize} bytes is cut after {got} (truncated)"
                ));
            }
            let pad = align4(self.pos) - self.pos;
            self.skip(pad, at, "name padding")?;
            let len = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let name = name.get(..len).unwrap_or_default();
            if name == TRAILER {
                self.skip(u64::from(filesize), at, "data")?;
                let pad = align4(self.pos) - self.pos;
                // The trailer's padding may be missing at the very end of a file.
                self.skip_up_to(pad)?;
                return Ok(End::Trailer);
            }
            if visit(name)? {
                return Ok(End::Stopped);
            }
            let data = u64::from(filesize);
            self.skip(data, at, "data")?;
            let pad = align4(self.pos) - self.pos;
            self.skip(pad, at, "data padding")?;
        }
    }

    /// Reads and throws away `n` bytes; an end before them is an error naming the entry.
    fn skip(&mut self, n: u64, at: u64, what: &str) -> Result<(), String> {
        let done = self.skip_up_to(n)?;
        if done < n {
            return Err(format!(
                "cpio entry at byte {at}: its {what} ({n} bytes) is cut after {done} (the archive \
                 ends at byte {}, truncated or a hostile size)",
                self.pos
            ));
        }
        Ok(())
    }

    /// Reads and throws away up to `n` bytes (fewer at the end of the stream).
    fn skip_up_to(&mut self, n: u64) -> Result<u64, String> {
        let mut done = 0u64;
        while done < n {
            let buf = fill(self.r, self.pos)?;
            if buf.is_empty() {
                break;
            }
            let take = usize::try_from(n - done).map_or(buf.len(), |left| left.min(buf.len()));
            self.r.consume(take);
            done += take as u64;
            self.pos += take as u64;
        }
        Ok(done)
    }
}

fn align4(n: u64) -> u64 {
    n.div_ceil(4).saturating_mul(4)
}

fn check_magic(h: &[u8; HEADER_LEN], at: u64) -> Result<(), String> {
    match &h[..6] {
        b"070701" | b"070702" => Ok(()),
        b"070707" => Err(format!(
            "cpio header at byte {at} is the old portable format (070707); the kernel reads \
             only newc (070701/070702)"
        )),
        other => Err(format!(
            "no newc cpio header at byte {at}: found {} where 070701 was expected",
            show(other)
        )),
    }
}

/// Header field `i` (after the magic): 8 hex digits.
fn field(h: &[u8; HEADER_LEN], i: usize, at: u64) -> Result<u32, String> {
    let start = 6 + 8 * i;
    let digits = h.get(start..start + 8).unwrap_or_default();
    let text = std::str::from_utf8(digits).ok();
    text.filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|t| u32::from_str_radix(t, 16).ok())
        .ok_or_else(|| {
            format!(
                "cpio header at byte {at}: field {} is {} where 8 hex digits were expected",
                FIELDS.get(i).copied().unwrap_or("?"),
                show(digits)
            )
        })
}

/// Bytes from a file, printable: ASCII as is, the rest as \xNN.
pub fn show(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

/// The buffered bytes (an empty slice at the end), with interrupted reads retried.
fn fill(r: &mut dyn BufRead, pos: u64) -> Result<&[u8], String> {
    loop {
        match r.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the cpio data at byte {pos}: {e}")),
        }
    }
    r.fill_buf()
        .map_err(|e| format!("reading the cpio data at byte {pos}: {e}"))
}

/// Fills `buf` as far as the stream goes; returns how many bytes were read.
fn read_full(r: &mut dyn BufRead, buf: &mut [u8], pos: &mut u64) -> Result<usize, String> {
    let mut got = 0;
    while got < buf.len() {
        let src = fill(r, *pos)?;
        if src.is_empty() {
            break;
        }
        let n = src.len().min(buf.len() - got);
        if let (Some(dst), Some(src)) = (buf.get_mut(got..got + n), src.get(..n)) {
            dst.copy_from_slice(src);
        }
        r.consume(n);
        got += n;
        *pos += n as u64;
    }
    Ok(got)
}

/// Skips NUL bytes; returns whether any other byte follows.
pub fn skip_zeros(r: &mut dyn BufRead, pos: &mut u64) -> Result<bool, String> {
    loop {
        let buf = fill(r, *pos)?;
        if buf.is_empty() {
            return Ok(false);
        }
        let zeros = buf.iter().position(|&b| b != 0);
        let n = zeros.unwrap_or(buf.len());
        r.consume(n);
        *pos += n as u64;
        if zeros.is_some() {
            return Ok(true);
        }
    }
}
