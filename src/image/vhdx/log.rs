//! The metadata log (MS-VHDX 2.3). A VHDX whose header names a log (LogGuid not zero) holding a
//! valid sequence of entries was not closed cleanly: its metadata is only right once the log is
//! replayed. We replay it in memory into a [`View`] overlay and never write the user's file.
//!
//! An entry: a 64-byte header ("loge"), descriptors ("desc" for a 4 KiB data sector, "zero" for
//! a run of zeros) filling whole 4 KiB sectors, then one "data" sector per data descriptor. The
//! log is a circular buffer; the active sequence is the run of valid entries with consecutive
//! sequence numbers whose last (head) entry has the highest number, replayed from the entry its
//! head names as the tail.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::guid::{Guid, crc32c_without};
use super::header::{Header, MIB};
use super::view::{LOG_SECTOR, Sector};
use crate::bytes::{Bytes, Fixed};
use crate::error::{Error, Result};
use crate::image::source::SourceFile;

/// The largest log we read (Hyper-V and QEMU make 1 MiB logs).
pub const MAX_LOG_LENGTH: u64 = 64 << 20;
/// The most 4 KiB sectors a replay may lay over the file (4 GiB, most of it zero runs).
pub const MAX_REPLAY_SECTORS: u64 = 1 << 20;
/// The largest file offset a log entry may write to (1 PiB).
const MAX_WRITE_END: u64 = 1 << 50;

const ENTRY_SIGNATURE: &[u8; 4] = b"loge";
const DATA_DESC: &[u8; 4] = b"desc";
const ZERO_DESC: &[u8; 4] = b"zero";
const DATA_SIGNATURE: &[u8; 4] = b"data";
const ENTRY_HEADER_SIZE: usize = 64;
const DESCRIPTOR_SIZE: usize = 32;
#[allow(clippy::cast_possible_truncation)] // 4096
const SECTOR: usize = LOG_SECTOR as usize;

/// What a replay did, for `inspect` and `check`.
#[derive(Debug, Clone)]
pub struct Replay {
    pub log_offset: u64,
    pub log_length: u32,
    pub log_guid: Guid,
    /// Entries replayed, tail to head.
    pub entries: u32,
    pub tail_sequence: u64,
    pub head_sequence: u64,
    /// Offsets in the log of the tail and head entries.
    pub tail: u32,
    pub head: u32,
    pub data_sectors: u64,
    pub zero_bytes: u64,
    pub flushed_file_offset: u64,
    pub last_file_offset: u64,
    /// The file's length after replay (the log may extend it).
    pub file_length: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    pos: usize,
    len: usize,
    tail: u32,
    sequence: u64,
    descriptors: usize,
    flushed_file_offset: u64,
    last_file_offset: u64,
}

/// Validate the log's place in the file (only when the header says a log is present).
pub fn validate_place(src: &SourceFile, h: &Header) -> Result<()> {
    let path = src.path();
    let at = h.offset;
    if h.log_version != 0 {
        return Err(Error::malformed(
            path,
            at + 64,
            "log version",
            h.log_version.to_string(),
            "0",
        ));
    }
    let len = u64::from(h.log_length);
    if h.log_offset < MIB || h.log_offset % MIB != 0 {
        return Err(Error::malformed(
            path,
            at + 72,
            "log offset",
            h.log_offset.to_string(),
            "a multiple of 1 MiB, at least 1 MiB",
        ));
    }
    if len == 0 || len % MIB != 0 {
        return Err(Error::malformed(
            path,
            at + 68,
            "log length",
            len.to_string(),
            "a non-zero multiple of 1 MiB",
        ));
    }
    if h.log_offset.saturating_add(len) > src.len() {
        return Err(Error::malformed(
            path,
            at + 72,
            "log",
            format!("{}..{}", h.log_offset, h.log_offset.saturating_add(len)),
            format!("to lie inside the file ({} bytes)", src.len()),
        ));
    }
    Ok(())
}

/// Find the active sequence and replay it into sectors laid over the file. `None` when the log
/// is empty (LogGuid zero, or no valid entry).
pub fn replay(src: &SourceFile, h: &Header) -> Result<Option<(BTreeMap<u64, Sector>, Replay)>> {
    if h.log_guid.is_zero() {
        return Ok(None);
    }
    validate_place(src, h)?;
    let len = u64::from(h.log_length);
    if len > MAX_LOG_LENGTH {
        return Err(Error::malformed(
            src.path(),
            h.offset + 68,
            "log length",
            len.to_string(),
            format!(
                "at most {MAX_LOG_LENGTH} bytes for a log that must be replayed (imgtool's limit, vhdx::log::MAX_LOG_LENGTH)"
            ),
        ));
    }
    // At most MAX_LOG_LENGTH (64 MiB), checked just above.
    #[allow(clippy::cast_possible_truncation)]
    let mut log = vec![0u8; len as usize];
    src.read_exact_at(h.log_offset, &mut log, "VHDX log")?;
    let log = Log {
        b: &log,
        guid: h.log_guid,
    };
    let Some(seq) = log.active()? else {
        return Ok(None);
    };
    let damaged = |pos: usize, what: String, expected: &str| {
        Error::malformed(
            src.path(),
            h.log_offset + pos as u64,
            "VHDX log",
            what,
            expected,
        )
    };
    let seq = match seq {
        Ok(s) => s,
        Err((pos, what)) => {
            return Err(damaged(
                pos,
                what,
                "an active sequence that holds its tail entry",
            ));
        }
    };
    let mut overlay = BTreeMap::new();
    // Positions are inside the log, at most MAX_LOG_LENGTH (64 MiB): they fit a u32.
    #[allow(clippy::cast_possible_truncation)]
    let mut r = Replay {
        log_offset: h.log_offset,
        log_length: h.log_length,
        log_guid: h.log_guid,
        entries: 0,
        tail_sequence: seq.first().map_or(0, |e| e.sequence),
        head_sequence: seq.last().map_or(0, |e| e.sequence),
        tail: seq.first().map_or(0, |e| e.pos as u32),
        head: seq.last().map_or(0, |e| e.pos as u32),
        data_sectors: 0,
        zero_bytes: 0,
        flushed_file_offset: 0,
        last_file_offset: 0,
        file_length: src.len(),
    };
    for e in &seq {
        if e.flushed_file_offset > src.len() {
            return Err(damaged(
                e.pos + 48,
                format!(
                    "entry {} says the file was flushed to {} bytes, but it is {} bytes",
                    e.sequence,
                    e.flushed_file_offset,
                    src.len()
                ),
                "a file at least as long as the log's FlushedFileOffset: it was truncated",
            ));
        }
        log.apply(e, &mut overlay, &mut r)
            .map_err(|(pos, what)| damaged(pos, what, "valid descriptors and data sectors"))?;
        r.entries += 1;
        r.flushed_file_offset = e.flushed_file_offset;
        r.last_file_offset = e.last_file_offset;
    }
    if r.last_file_offset > src.len() {
        r.file_length = r.last_file_offset.div_ceil(MIB).saturating_mul(MIB);
    }
    Ok(Some((overlay, r)))
}

struct Log<'a> {
    b: &'a [u8],
    guid: Guid,
}

type Damage = (usize, String);

impl Log<'_> {
    fn len(&self) -> usize {
        self.b.len()
    }

    /// `n` bytes at `pos`, wrapping around the end of the circular log.
    fn bytes(&self, pos: usize, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n);
        let mut p = pos % self.len();
        while out.len() < n {
            let take = (n - out.len()).min(self.len() - p);
            out.extend_from_slice(&self.b[p..p + take]);
            p = (p + take) % self.len();
        }
        out
    }

    /// The entry at `pos`, if it is valid (header, CRC over the whole entry). `Err(skip)` says
    /// how far the search may move on: past the whole entry when its header looked valid.
    fn entry(&self, pos: usize, expect: Option<u64>) -> std::result::Result<Entry, usize> {
        let head = self.bytes(pos, ENTRY_HEADER_SIZE);
        let Some(h) = head.first_chunk::<ENTRY_HEADER_SIZE>().map(Fixed) else {
            return Err(SECTOR);
        };
        if &h.array::<0, 4>() != ENTRY_SIGNATURE {
            return Err(SECTOR);
        }
        // Either past usize is past the log: implausible below.
        let len = usize::try_from(h.le_u32::<8>()).unwrap_or(usize::MAX);
        let sequence = h.le_u64::<16>();
        let descriptors = usize::try_from(h.le_u32::<24>()).unwrap_or(usize::MAX);
        let plausible = len >= SECTOR
            && len % SECTOR == 0
            && len <= self.len()
            && sequence != 0
            && Guid(h.array::<32, 16>()) == self.guid;
        if !plausible {
            return Err(SECTOR);
        }
        let skip = len;
        if expect.is_some_and(|s| s != sequence) {
            return Err(skip);
        }
        let desc_sectors = (descriptors + 2).div_ceil(SECTOR / DESCRIPTOR_SIZE);
        if desc_sectors.saturating_mul(SECTOR) > len {
            return Err(skip);
        }
        let body = self.bytes(pos, len);
        let stored = Bytes::new(&body, 0, "log entry").le_u32(4, "checksum").ok();
        if stored != Some(crc32c_without(&body, 4)) {
            return Err(skip);
        }
        Ok(Entry {
            pos,
            len,
            tail: h.le_u32::<12>(),
            sequence,
            descriptors,
            flushed_file_offset: h.le_u64::<48>(),
            last_file_offset: h.le_u64::<56>(),
        })
    }

    /// Every run of valid entries with consecutive sequence numbers, found in one pass.
    fn sequences(&self) -> Vec<Vec<Entry>> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        while pos < self.len() {
            match self.entry(pos, None) {
                Err(skip) => pos += skip,
                Ok(first) => {
                    let mut total = first.len;
                    let mut run = vec![first];
                    while total < self.len() {
                        let last = &run[run.len() - 1];
                        let next = (last.pos + last.len) % self.len();
                        match self.entry(next, Some(last.sequence + 1)) {
                            Ok(e) => {
                                total += e.len;
                                run.push(e);
                            }
                            Err(_) => break,
                        }
                    }
                    let wrapped = pos + total > self.len();
                    out.push(run);
                    if wrapped {
                        break;
                    }
                    pos += total;
                }
            }
        }
        out
    }

    /// The active sequence from its tail to its head; `Some(Err)` when the sequence with the
    /// highest number does not hold the tail its head names (the log is damaged).
    #[allow(clippy::type_complexity)]
    fn active(&self) -> Result<Option<std::result::Result<Vec<Entry>, Damage>>> {
        let seqs = self.sequences();
        let Some(best) = seqs
            .iter()
            .filter_map(|s| s.last().map(|e| e.sequence))
            .max()
        else {
            return Ok(None);
        };
        let mut named_tail = 0u32;
        for s in seqs
            .iter()
            .filter(|s| s.last().map(|e| e.sequence) == Some(best))
        {
            let head = &s[s.len() - 1];
            named_tail = head.tail;
            if let Some(i) = s.iter().position(|e| e.pos as u64 == u64::from(head.tail)) {
                return Ok(Some(Ok(s[i..].to_vec())));
            }
        }
        Ok(Some(Err((
            named_tail as usize,
            format!(
                "the active sequence (head {best}) names a tail entry at log offset {named_tail} that is not a valid entry of it"
            ),
        ))))
    }

    /// Lay one entry's writes over the file.
    fn apply(
        &self,
        e: &Entry,
        overlay: &mut BTreeMap<u64, Sector>,
        r: &mut Replay,
    ) -> std::result::Result<(), Damage> {
        let body = self.bytes(e.pos, e.len);
        let desc_sectors = (e.descriptors + 2).div_ceil(SECTOR / DESCRIPTOR_SIZE);
        let mut data_index = desc_sectors;
        for i in 0..e.descriptors {
            let o = ENTRY_HEADER_SIZE + i * DESCRIPTOR_SIZE;
            let d = body
                .get(o..)
                .and_then(|d| d.first_chunk::<DESCRIPTOR_SIZE>())
                .map(Fixed)
                .ok_or((e.pos + o, "descriptor past the entry".to_string()))?;
            let file_offset = d.le_u64::<16>();
            let bad = |what: String| {
                (
                    e.pos + o,
                    format!("entry {} descriptor {i}: {what}", e.sequence),
                )
            };
            if d.le_u64::<24>() != e.sequence {
                return Err(bad(format!(
                    "sequence number {}, entry's {}",
                    d.le_u64::<24>(),
                    e.sequence
                )));
            }
            if file_offset % LOG_SECTOR != 0 {
                return Err(bad(format!(
                    "file offset {file_offset} not a multiple of 4096"
                )));
            }
            let sig = &d.array::<0, 4>();
            if sig == DATA_DESC {
                let s = data_index.saturating_mul(SECTOR);
                let raw = body
                    .get(s..)
                    .and_then(|b| b.first_chunk::<SECTOR>())
                    .ok_or_else(|| bad("its data sector lies past the entry".into()))?;
                let sector = Fixed(raw);
                let seq =
                    (u64::from(sector.le_u32::<4>()) << 32) | u64::from(sector.le_u32::<4092>());
                let signature = sector.array::<0, 4>();
                if &signature != DATA_SIGNATURE || seq != e.sequence {
                    return Err(bad(format!(
                        "data sector {data_index} has signature {signature:02x?} and sequence {seq}"
                    )));
                }
                // The sector's first 8 and last 4 bytes are kept in its descriptor.
                let mut full = raw.to_vec();
                full[..8].copy_from_slice(&d.array::<8, 8>());
                full[4092..].copy_from_slice(&d.array::<4, 4>());
                if file_offset.saturating_add(LOG_SECTOR) > MAX_WRITE_END {
                    return Err(bad(format!("file offset {file_offset} past 1 PiB")));
                }
                overlay.insert(file_offset / LOG_SECTOR, Sector::Data(Arc::from(full)));
                r.data_sectors += 1;
                data_index += 1;
            } else if sig == ZERO_DESC {
                let n = d.le_u64::<8>();
                if n % LOG_SECTOR != 0 || file_offset.saturating_add(n) > MAX_WRITE_END {
                    return Err(bad(format!("zero length {n} at {file_offset}")));
                }
                if r.zero_bytes.saturating_add(n) / LOG_SECTOR + r.data_sectors > MAX_REPLAY_SECTORS
                {
                    return Err(bad(format!(
                        "more than {MAX_REPLAY_SECTORS} sectors to replay (imgtool's limit, vhdx::log::MAX_REPLAY_SECTORS)"
                    )));
                }
                for s in 0..n / LOG_SECTOR {
                    overlay.insert(file_offset / LOG_SECTOR + s, Sector::Zero);
                }
                r.zero_bytes += n;
            } else {
                return Err(bad(format!(
                    "signature {sig:02x?}, expected \"desc\" or \"zero\""
                )));
            }
        }
        if data_index * SECTOR > e.len {
            return Err((
                e.pos,
                format!("entry {} has more data sectors than its length", e.sequence),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// The fixture builders cast lengths of a few sectors.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// One entry of `sectors` 4 KiB sectors, no descriptors, CRC set.
    fn entry(seq: u64, tail: u32, guid: Guid, sectors: usize) -> Vec<u8> {
        let mut e = vec![0u8; sectors * SECTOR];
        e[..4].copy_from_slice(ENTRY_SIGNATURE);
        e[8..12].copy_from_slice(&((sectors * SECTOR) as u32).to_le_bytes());
        e[12..16].copy_from_slice(&tail.to_le_bytes());
        e[16..24].copy_from_slice(&seq.to_le_bytes());
        e[32..48].copy_from_slice(&guid.0);
        let c = crc32c_without(&e, 4);
        e[4..8].copy_from_slice(&c.to_le_bytes());
        e
    }

    #[test]
    fn active_sequence_is_the_highest_holding_its_tail() {
        let g = Guid([7; 16]);
        let mut b = vec![0u8; 1 << 20];
        // An old run (seq 3, 4) at 0, the live one (seq 9, 10, tail at 64 KiB) further on, and
        // an entry of another log at the end: ignored.
        b[..SECTOR].copy_from_slice(&entry(3, 0, g, 1));
        b[SECTOR..2 * SECTOR].copy_from_slice(&entry(4, 0, g, 1));
        b[65536..65536 + 2 * SECTOR].copy_from_slice(&entry(9, 65536, g, 2));
        b[65536 + 2 * SECTOR..65536 + 3 * SECTOR].copy_from_slice(&entry(10, 65536, g, 1));
        let end = b.len() - SECTOR;
        b[end..].copy_from_slice(&entry(50, 0, Guid([8; 16]), 1));
        let log = Log { b: &b, guid: g };
        let seq = log.active().unwrap().unwrap().unwrap();
        let seqs: Vec<u64> = seq.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, [9, 10]);
    }

    #[test]
    fn hostile_entry_lengths_and_a_missing_tail() {
        let g = Guid([7; 16]);
        let mut b = vec![0u8; 1 << 20];
        // Length 0 and past the log: skipped, no endless loop.
        let mut bad = entry(5, 0, g, 1);
        bad[8..12].copy_from_slice(&0u32.to_le_bytes());
        b[..SECTOR].copy_from_slice(&bad);
        let mut big = entry(6, 0, g, 1);
        big[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        b[SECTOR..2 * SECTOR].copy_from_slice(&big);
        let log = Log { b: &b, guid: g };
        assert!(log.active().unwrap().is_none());
        // A valid head naming a tail that is not in its sequence: the log is damaged.
        b[8192..12288].copy_from_slice(&entry(7, 40960, g, 1));
        let log = Log { b: &b, guid: g };
        assert!(log.active().unwrap().unwrap().is_err());
    }
}
