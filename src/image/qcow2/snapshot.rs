//! The internal snapshot table: listed by `inspect` and walked by `check`; the reader reads the
//! active layer only.

use super::header::Header;
use crate::bytes::{Bytes, Fixed};
use crate::error::{Error, Result};
use crate::image::source::SourceFile;

/// The most bytes the whole snapshot table may take (QEMU's `QCOW_MAX_SNAPSHOTS_SIZE`).
pub const MAX_SNAPSHOT_TABLE_BYTES: u64 = 64 << 20;
/// The fixed part of a snapshot table entry.
const ENTRY_FIXED: u64 = 40;
const ENTRY_FIXED_LEN: usize = 40;

/// Byte offsets of a snapshot table entry's fixed fields (QEMU docs/interop/qcow2.txt).
mod off {
    pub const L1_TABLE_OFFSET: usize = 0;
    pub const L1_SIZE: usize = 8;
    pub const ID_STR_SIZE: usize = 12;
    pub const NAME_SIZE: usize = 14;
    pub const DATE_SEC: usize = 16;
    pub const DATE_NSEC: usize = 20;
    pub const VM_CLOCK_NSEC: usize = 24;
    pub const VM_STATE_SIZE: usize = 32;
    pub const EXTRA_DATA_SIZE: usize = 36;
}
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
        let mut fixed = [0u8; ENTRY_FIXED_LEN];
        src.read_exact_at(at, &mut fixed, "snapshot table entry")?;
        let f = Fixed(&fixed);
        let id_len = u64::from(f.be_u16::<{ off::ID_STR_SIZE }>());
        let name_len = u64::from(f.be_u16::<{ off::NAME_SIZE }>());
        let extra_len = f.be_u32::<{ off::EXTRA_DATA_SIZE }>();
        if extra_len > MAX_EXTRA {
            return Err(Error::malformed(
                src.path(),
                at + 36,
                "snapshot extra_data_size",
                extra_len.to_string(),
                format!("at most {MAX_EXTRA} bytes"),
            ));
        }
        let mut extra = vec![0u8; extra_len as usize]; // at most MAX_EXTRA, checked above
        src.read_exact_at(at + ENTRY_FIXED, &mut extra, "snapshot extra data")?;
        // Two u16 lengths.
        #[allow(clippy::cast_possible_truncation)]
        let mut text = vec![0u8; (id_len + name_len) as usize];
        let text_at = at + ENTRY_FIXED + u64::from(extra_len);
        src.read_exact_at(text_at, &mut text, "snapshot id and name")?;
        #[allow(clippy::cast_possible_truncation)]
        let (id, name) = text.split_at(id_len as usize);
        // Present when the extra data is long enough to hold them.
        let extra_b = Bytes::new(&extra, at + ENTRY_FIXED, "snapshot extra data");
        let vm_state_large = extra_b.be_u64(0, "vm_state_size_large").ok();
        let disk_size = extra_b.be_u64(8, "disk_size").ok();
        out.push(Snapshot {
            offset: at,
            l1_table_offset: f.be_u64::<{ off::L1_TABLE_OFFSET }>(),
            l1_size: f.be_u32::<{ off::L1_SIZE }>(),
            id: String::from_utf8_lossy(id).into_owned(),
            name: String::from_utf8_lossy(name).into_owned(),
            date_sec: f.be_u32::<{ off::DATE_SEC }>(),
            date_nsec: f.be_u32::<{ off::DATE_NSEC }>(),
            vm_clock_nsec: f.be_u64::<{ off::VM_CLOCK_NSEC }>(),
            vm_state_size: vm_state_large
                .unwrap_or(u64::from(f.be_u32::<{ off::VM_STATE_SIZE }>())),
            disk_size,
        });
        let len = ENTRY_FIXED + u64::from(extra_len) + id_len + name_len;
        at += len.div_ceil(8) * 8;
    }
    Ok((out, at - start))
}
