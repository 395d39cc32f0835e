//! The internal snapshot table: listed by `inspect` and walked by `check`; the reader reads the
//! active layer only.

use super::header::Header;
use crate::error::{Error, Result};
use crate::image::source::SourceFile;

/// The most bytes the whole snapshot table may take (QEMU's `QCOW_MAX_SNAPSHOTS_SIZE`).
pub const MAX_SNAPSHOT_TABLE_BYTES: u64 = 64 << 20;
/// The fixed part of a snapshot table entry.
const ENTRY_FIXED: u64 = 40;
/// QEMU's limit on a snapshot's extra data.
const MAX_EXTRA: u32 = 1024;

#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Offset of the entry in the file.
    pub offset: u64,
    pub l1_table_offset: u64,
    pub l1_size: u32,
    pub id: String,
    pub name: String,
    pub date_sec: u32,
    pub date_nsec: u32,
    pub vm_clock_nsec: u64,
    pub vm_state_size: u64,
    /// The disk's virtual size when the snapshot was taken (from the extra data), if recorded.
    pub disk_size: Option<u64>,
}

/// Read the snapshot table; returns the entries and the table's length in bytes.
pub fn read_table(src: &SourceFile, h: &Header) -> Result<(Vec<Snapshot>, u64)> {
    let mut out = Vec::new();
    let mut at = h.snapshots_offset;
    let start = at;
    for i in 0..h.nb_snapshots {
        let used = at - start;
        if used + ENTRY_FIXED > MAX_SNAPSHOT_TABLE_BYTES {
            return Err(Error::malformed(
                src.path(),
                at,
                "snapshot table",
                format!("more than {MAX_SNAPSHOT_TABLE_BYTES} bytes by entry {i}"),
                "a table of at most 64 MiB (QEMU's limit)",
            ));
        }
        let mut fixed = [0u8; ENTRY_FIXED as usize];
        src.read_exact_at(at, &mut fixed, "snapshot table entry")?;
        let be16 = |o: usize| u16::from_be_bytes([fixed[o], fixed[o + 1]]);
        let be32 =
            |o: usize| u32::from_be_bytes([fixed[o], fixed[o + 1], fixed[o + 2], fixed[o + 3]]);
        let be64 = |o: usize| super::header::read_be64(&fixed, o);
        let id_len = u64::from(be16(12));
        let name_len = u64::from(be16(14));
        let extra_len = be32(36);
        if extra_len > MAX_EXTRA {
            return Err(Error::malformed(
                src.path(),
                at + 36,
                "snapshot extra_data_size",
                extra_len.to_string(),
                format!("at most {MAX_EXTRA} bytes"),
            ));
        }
        let mut extra = vec![0u8; extra_len as usize];
        src.read_exact_at(at + ENTRY_FIXED, &mut extra, "snapshot extra data")?;
        let mut text = vec![0u8; (id_len + name_len) as usize];
        let text_at = at + ENTRY_FIXED + u64::from(extra_len);
        src.read_exact_at(text_at, &mut text, "snapshot id and name")?;
        let (id, name) = text.split_at(id_len as usize);
        let vm_state_large = (extra_len >= 8).then(|| super::header::read_be64(&extra, 0));
        let disk_size = (extra_len >= 16).then(|| super::header::read_be64(&extra, 8));
        out.push(Snapshot {
            offset: at,
            l1_table_offset: be64(0),
            l1_size: be32(8),
            id: String::from_utf8_lossy(id).into_owned(),
            name: String::from_utf8_lossy(name).into_owned(),
            date_sec: be32(16),
            date_nsec: be32(20),
            vm_clock_nsec: be64(24),
            vm_state_size: vm_state_large.unwrap_or(u64::from(be32(32))),
            disk_size,
        });
        let len = ENTRY_FIXED + u64::from(extra_len) + id_len + name_len;
        at += len.div_ceil(8) * 8;
    }
    Ok((out, at - start))
}
