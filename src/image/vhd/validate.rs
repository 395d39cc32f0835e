//! What is wrong with a footer or a dynamic header, as a list of findings. The reader refuses
//! to go on for the fatal ones; `imgtool check` reports them all.

use super::dynamic::{self, DYNAMIC_COOKIE, DynamicHeader, HEADER_SIZE, HEADER_VERSION};
use super::footer::{
    self, DATA_OFFSET_NONE, DiskType, FEATURE_RESERVED, FOOTER_SIZE, FORMAT_VERSION, Footer,
    VHD_COOKIE, VHD_EPOCH_UNIX, vhd_checksum,
};
use super::geometry::Geometry;

pub use crate::image::finding::{Finding, Severity};

/// Findings for a footer read at `at` from `raw` (512 bytes, zero-padded for 511-byte ones).
/// `now_vhd` is the current time in VHD seconds, for the future-timestamp check.
pub fn footer(raw: &[u8; FOOTER_SIZE], at: u64, file_len: u64, now_vhd: u64) -> Vec<Finding> {
    use Severity::*;
    use footer::off;
    let f = Footer::parse(raw);
    let mut v = Vec::new();
    let o = |field: usize| at + field as u64;
    if &f.cookie != VHD_COOKIE {
        v.push(
            Finding::new(
                Error,
                o(off::COOKIE),
                "footer cookie",
                bytes_str(&f.cookie),
                "\"conectix\"",
            )
            .fatal(),
        );
        return v;
    }
    let computed = vhd_checksum(raw, off::CHECKSUM);
    if computed != f.checksum {
        v.push(
            Finding::new(
                Error,
                o(off::CHECKSUM),
                "footer checksum",
                format!("{:#010x}", f.checksum),
                format!("{computed:#010x} (computed)"),
            )
            .fatal(),
        );
    }
    if f.features & FEATURE_RESERVED == 0 {
        v.push(Finding::new(
            Error,
            o(off::FEATURES),
            "footer features",
            format!("{:#010x}", f.features),
            "bit 0x2 (reserved, always set)",
        ));
    }
    if f.format_version != FORMAT_VERSION {
        v.push(Finding::new(
            Error,
            o(off::FORMAT_VERSION),
            "footer format version",
            format!("{:#010x}", f.format_version),
            "0x00010000",
        ));
    }
    match f.kind() {
        None => v.push(
            Finding::new(
                Error,
                o(off::DISK_TYPE),
                "footer disk type",
                f.disk_type.to_string(),
                "2 (fixed), 3 (dynamic) or 4 (differencing)",
            )
            .fatal(),
        ),
        Some(DiskType::Fixed) if f.data_offset != DATA_OFFSET_NONE => v.push(Finding::new(
            Error,
            o(off::DATA_OFFSET),
            "footer data offset of a fixed disk",
            format!("{:#x}", f.data_offset),
            "0xffffffffffffffff",
        )),
        Some(DiskType::Dynamic | DiskType::Differencing) => {
            let end = f.data_offset.checked_add(HEADER_SIZE as u64);
            if f.data_offset % 512 != 0 || end.is_none_or(|e| e > file_len) {
                v.push(
                    Finding::new(
                        Error,
                        o(off::DATA_OFFSET),
                        "footer data offset (dynamic header)",
                        format!("{:#x}", f.data_offset),
                        format!("a 512-byte aligned offset of a 1024-byte header inside the {file_len}-byte file"),
                    )
                    .fatal(),
                );
            }
        }
        Some(DiskType::Fixed) => {}
    }
    if u64::from(f.timestamp) > now_vhd.saturating_add(86_400) {
        v.push(Finding::new(
            Warning,
            o(off::TIMESTAMP),
            "footer timestamp",
            format!("{} ({})", f.timestamp, footer::vhd_time(f.timestamp)),
            "a time not in the future",
        ));
    }
    geometry_findings(&f, at, &mut v);
    if f.saved_state != 0 {
        v.push(Finding::new(
            Warning,
            o(off::SAVED_STATE),
            "footer saved state",
            f.saved_state.to_string(),
            "0 (a disk with a saved state belongs to a suspended virtual machine)",
        ));
    }
    if f.reserved_nonzero {
        v.push(Finding::new(
            Warning,
            o(off::RESERVED),
            "footer reserved bytes",
            "non-zero bytes",
            "all zero",
        ));
    }
    v
}

fn geometry_findings(f: &Footer, at: u64, v: &mut Vec<Finding>) {
    use footer::off;
    let g = f.geometry;
    if g.cylinders == 0 || g.heads == 0 || g.sectors == 0 {
        v.push(Finding::new(
            Severity::Error,
            at + off::GEOMETRY as u64,
            "footer geometry",
            format!("{}/{}/{}", g.cylinders, g.heads, g.sectors),
            "non-zero cylinders, heads and sectors per track",
        ));
        return;
    }
    if g.heads > 16 {
        v.push(Finding::new(
            Severity::Error,
            at + off::GEOMETRY as u64,
            "footer geometry heads",
            g.heads.to_string(),
            "at most 16",
        ));
    }
    if !g.is_max() && g.bytes() > f.current_size {
        v.push(Finding::new(
            Severity::Error,
            at + off::GEOMETRY as u64,
            "footer geometry",
            format!(
                "{}/{}/{} = {} bytes",
                g.cylinders,
                g.heads,
                g.sectors,
                g.bytes()
            ),
            format!("at most the current size, {} bytes", f.current_size),
        ));
    }
}

/// Findings for a dynamic header read at `at`.
pub fn header(raw: &[u8; HEADER_SIZE], at: u64, file_len: u64) -> Vec<Finding> {
    use Severity::*;
    use dynamic::off;
    let h = DynamicHeader::parse(raw);
    let o = |field: usize| at + field as u64;
    let mut v = Vec::new();
    if &h.cookie != DYNAMIC_COOKIE {
        v.push(
            Finding::new(
                Error,
                o(off::COOKIE),
                "dynamic header cookie",
                bytes_str(&h.cookie),
                "\"cxsparse\"",
            )
            .fatal(),
        );
        return v;
    }
    let computed = vhd_checksum(raw, off::CHECKSUM);
    if computed != h.checksum {
        v.push(
            Finding::new(
                Error,
                o(off::CHECKSUM),
                "dynamic header checksum",
                format!("{:#010x}", h.checksum),
                format!("{computed:#010x} (computed)"),
            )
            .fatal(),
        );
    }
    if h.data_offset != u64::MAX {
        v.push(Finding::new(
            Error,
            o(off::DATA_OFFSET),
            "dynamic header data offset",
            format!("{:#x}", h.data_offset),
            "0xffffffffffffffff",
        ));
    }
    if h.header_version != HEADER_VERSION {
        v.push(Finding::new(
            Error,
            o(off::HEADER_VERSION),
            "dynamic header version",
            format!("{:#010x}", h.header_version),
            "0x00010000",
        ));
    }
    if !h.block_size.is_power_of_two() || h.block_size < 512 {
        v.push(
            Finding::new(
                Error,
                o(off::BLOCK_SIZE),
                "dynamic header block size",
                h.block_size.to_string(),
                "a power of two of at least 512 bytes (2 MiB by default)",
            )
            .fatal(),
        );
    }
    let table_end = u64::from(h.max_table_entries)
        .checked_mul(dynamic::BAT_ENTRY_SIZE)
        .and_then(|n| h.table_offset.checked_add(n));
    if h.table_offset % 512 != 0 || table_end.is_none_or(|e| e > file_len) {
        v.push(
            Finding::new(
                Error,
                o(off::TABLE_OFFSET),
                "dynamic header table offset",
                format!("{:#x} with {} entries", h.table_offset, h.max_table_entries),
                format!("a 512-byte aligned table lying inside the {file_len}-byte file"),
            )
            .fatal(),
        );
    }
    if h.reserved_nonzero {
        v.push(Finding::new(
            Warning,
            o(off::RESERVED1),
            "dynamic header reserved bytes",
            "non-zero bytes",
            "all zero",
        ));
    }
    v
}

/// Whether the stored geometry, the current size and the original size tell the same story;
/// one warning line when they do not.
pub fn size_disagreement(f: &Footer, virtual_size: u64) -> Option<String> {
    let g: Geometry = f.geometry;
    let mut parts = Vec::new();
    if !g.is_max() && g.bytes() != f.current_size {
        parts.push(format!(
            "geometry {}/{}/{} covers {} bytes but the current size is {} bytes",
            g.cylinders,
            g.heads,
            g.sectors,
            g.bytes(),
            f.current_size
        ));
    }
    if f.original_size != f.current_size {
        parts.push(format!(
            "original size {} differs from current size {} (the disk was resized)",
            f.original_size, f.current_size
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "{}; virtual size taken as {} bytes",
            parts.join("; "),
            virtual_size
        )
    })
}

/// The current time in VHD seconds.
pub fn now_vhd() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(VHD_EPOCH_UNIX))
        .unwrap_or(0)
}

/// Bytes as a quoted string with non-printables escaped.
pub fn bytes_str(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        if (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s.push('"');
    s
}
