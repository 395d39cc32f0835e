//! The hosted sparse extent header ("KDMV", 512 bytes, little-endian) and the stream markers
//! of streamOptimized extents, from VMware's "Virtual Disk Format 5.0" specification.

use crate::bytes::Fixed;
use crate::image::finding::{Finding, Severity};

pub const SPARSE_MAGIC: &[u8; 4] = b"KDMV";
pub const HEADER_SIZE: usize = 512;
pub const SECTOR: u64 = 512;
/// `gdOffset` of a streamOptimized header whose grain directory is found via the footer.
pub const GD_AT_END: u64 = u64::MAX;
/// The footer header of a streamOptimized extent starts this many bytes before the end (the
/// footer itself, then the end-of-stream marker).
pub const FOOTER_FROM_END: u64 = 1024;

pub const FLAG_VALID_NEWLINE_TEST: u32 = 1;
pub const FLAG_REDUNDANT_GT: u32 = 1 << 1;
pub const FLAG_ZEROED_GTE: u32 = 1 << 2;
pub const FLAG_COMPRESSED: u32 = 1 << 16;
pub const FLAG_MARKERS: u32 = 1 << 17;
pub const COMPRESS_NONE: u16 = 0;
pub const COMPRESS_DEFLATE: u16 = 1;

/// Grain table entries per grain table: the only value the specification allows.
pub const GTES_PER_GT: u32 = 512;
/// The largest grain: 128 sectors (64 KiB), the specification's default and QEMU's limit.
pub const MAX_GRAIN_SECTORS: u64 = 128;
/// The largest extent capacity we accept: 64 TiB (VMware's own limit is 62 TiB).
pub const MAX_CAPACITY_SECTORS: u64 = 1 << 37;
/// The largest descriptor we read, embedded or separate.
pub const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;

/// Grain table entry meaning "unallocated": read from the parent, or as zeros.
pub const GTE_UNALLOCATED: u32 = 0;
/// Grain table entry meaning "a grain of zeros" (zeroed-grain GTEs).
pub const GTE_ZERO: u32 = 1;

/// Byte offsets of the header's fields.
pub mod off {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const FLAGS: usize = 8;
    pub const CAPACITY: usize = 12;
    pub const GRAIN_SIZE: usize = 20;
    pub const DESCRIPTOR_OFFSET: usize = 28;
    pub const DESCRIPTOR_SIZE: usize = 36;
    pub const NUM_GTES_PER_GT: usize = 44;
    pub const RGD_OFFSET: usize = 48;
    pub const GD_OFFSET: usize = 56;
    pub const OVERHEAD: usize = 64;
    pub const UNCLEAN_SHUTDOWN: usize = 72;
    pub const SINGLE_END_LINE_CHAR: usize = 73;
    pub const NON_END_LINE_CHAR: usize = 74;
    pub const DOUBLE_END_LINE_CHARS: usize = 75;
    pub const COMPRESS_ALGORITHM: usize = 77;
}

/// Marker types of a streamOptimized extent (a marker with `size` 0).
pub const MARKER_EOS: u32 = 0;
pub const MARKER_GT: u32 = 1;
pub const MARKER_GD: u32 = 2;
pub const MARKER_FOOTER: u32 = 3;
/// A grain marker: the grain's first sector (LBA) and the compressed size, then the data.
pub const GRAIN_MARKER_SIZE: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseHeader {
    pub magic: [u8; 4],
    pub version: u32,
    pub flags: u32,
    pub capacity: u64,
    pub grain_size: u64,
    pub descriptor_offset: u64,
    pub descriptor_size: u64,
    pub num_gtes_per_gt: u32,
    pub rgd_offset: u64,
    pub gd_offset: u64,
    pub overhead: u64,
    pub unclean_shutdown: u8,
    pub single_end_line_char: u8,
    pub non_end_line_char: u8,
    pub double_end_line_chars: [u8; 2],
    pub compress_algorithm: u16,
}

impl SparseHeader {
    pub fn parse(b: &[u8; HEADER_SIZE]) -> SparseHeader {
        use off::*;
        let h = Fixed(b);
        SparseHeader {
            magic: h.array::<MAGIC, 4>(),
            version: h.le_u32::<VERSION>(),
            flags: h.le_u32::<FLAGS>(),
            capacity: h.le_u64::<CAPACITY>(),
            grain_size: h.le_u64::<GRAIN_SIZE>(),
            descriptor_offset: h.le_u64::<DESCRIPTOR_OFFSET>(),
            descriptor_size: h.le_u64::<DESCRIPTOR_SIZE>(),
            num_gtes_per_gt: h.le_u32::<NUM_GTES_PER_GT>(),
            rgd_offset: h.le_u64::<RGD_OFFSET>(),
            gd_offset: h.le_u64::<GD_OFFSET>(),
            overhead: h.le_u64::<OVERHEAD>(),
            unclean_shutdown: h.u8::<UNCLEAN_SHUTDOWN>(),
            single_end_line_char: h.u8::<SINGLE_END_LINE_CHAR>(),
            non_end_line_char: h.u8::<NON_END_LINE_CHAR>(),
            double_end_line_chars: h.array::<DOUBLE_END_LINE_CHARS, 2>(),
            compress_algorithm: h.le_u16::<COMPRESS_ALGORITHM>(),
        }
    }

    pub fn compressed(&self) -> bool {
        self.flags & FLAG_COMPRESSED != 0
    }

    pub fn markers(&self) -> bool {
        self.flags & FLAG_MARKERS != 0
    }

    pub fn zeroed_gtes(&self) -> bool {
        self.flags & FLAG_ZEROED_GTE != 0
    }

    pub fn redundant_gd(&self) -> bool {
        self.flags & FLAG_REDUNDANT_GT != 0 && self.rgd_offset != 0
    }

    pub fn grain_bytes(&self) -> u64 {
        self.grain_size.saturating_mul(SECTOR)
    }

    /// Grain directory entries covering the capacity (each covers one grain table's grains).
    pub fn gd_entries(&self) -> u64 {
        let per_gt = self
            .grain_size
            .saturating_mul(u64::from(self.num_gtes_per_gt));
        if per_gt == 0 {
            return 0;
        }
        self.capacity.div_ceil(per_gt)
    }

    /// The names of the set flags, for reports.
    pub fn flag_names(&self) -> Vec<&'static str> {
        [
            (FLAG_VALID_NEWLINE_TEST, "valid-newline-test"),
            (FLAG_REDUNDANT_GT, "redundant-grain-table"),
            (FLAG_ZEROED_GTE, "zeroed-grain-gte"),
            (FLAG_COMPRESSED, "compressed-grains"),
            (FLAG_MARKERS, "markers"),
        ]
        .iter()
        .filter(|(f, _)| self.flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
    }
}

/// Everything wrong with a header read at file offset `at` from a `len`-byte extent. The
/// fatal findings stop the reader; `check` reports all of them.
pub fn validate(h: &SparseHeader, at: u64, len: u64, footer: bool) -> Vec<Finding> {
    use Severity::*;
    let o = |f: usize| at + f as u64;
    let mut v = Vec::new();
    if &h.magic != SPARSE_MAGIC {
        v.push(
            Finding::new(
                Error,
                o(off::MAGIC),
                "sparse header magic",
                crate::text::escape(&String::from_utf8_lossy(&h.magic)),
                "\"KDMV\"",
            )
            .fatal(),
        );
        return v;
    }
    if !(1..=3).contains(&h.version) {
        v.push(
            Finding::new(
                Error,
                o(off::VERSION),
                "sparse header version",
                h.version.to_string(),
                "1, 2 or 3",
            )
            .fatal(),
        );
    }
    if h.grain_size == 0 || !h.grain_size.is_power_of_two() || h.grain_size > MAX_GRAIN_SECTORS {
        v.push(
            Finding::new(
                Error,
                o(off::GRAIN_SIZE),
                "grain size",
                format!("{} sectors", h.grain_size),
                format!("a power of two from 1 to {MAX_GRAIN_SECTORS} sectors"),
            )
            .fatal(),
        );
    }
    if h.num_gtes_per_gt != GTES_PER_GT {
        v.push(
            Finding::new(
                Error,
                o(off::NUM_GTES_PER_GT),
                "grain table entries per grain table",
                h.num_gtes_per_gt.to_string(),
                GTES_PER_GT.to_string(),
            )
            .fatal(),
        );
    }
    if h.capacity == 0 || h.capacity > MAX_CAPACITY_SECTORS {
        v.push(
            Finding::new(
                Error,
                o(off::CAPACITY),
                "capacity",
                format!("{} sectors", h.capacity),
                format!("1 to {MAX_CAPACITY_SECTORS} sectors (64 TiB, imgtool's limit)"),
            )
            .fatal(),
        );
    }
    if h.compressed() && h.compress_algorithm != COMPRESS_DEFLATE {
        v.push(
            Finding::new(
                Error,
                o(off::COMPRESS_ALGORITHM),
                "compress algorithm",
                h.compress_algorithm.to_string(),
                "1 (deflate) for an extent with compressed grains",
            )
            .fatal(),
        );
    }
    if !h.compressed() && h.compress_algorithm != COMPRESS_NONE {
        v.push(Finding::new(
            Warning,
            o(off::COMPRESS_ALGORITHM),
            "compress algorithm",
            h.compress_algorithm.to_string(),
            "0 when the compressed-grains flag is clear",
        ));
    }
    if h.gd_offset == GD_AT_END && !footer {
        if len < 3 * FOOTER_FROM_END / 2 {
            v.push(
                Finding::new(
                    Error,
                    o(off::GD_OFFSET),
                    "grain directory offset",
                    "GD_AT_END in a file too short for a footer",
                    "a footer header 1024 bytes before the end",
                )
                .fatal(),
            );
        }
    } else {
        let gd_bytes = h.gd_entries().saturating_mul(4);
        let at_bytes = h.gd_offset.checked_mul(SECTOR);
        if h.gd_offset == 0
            || at_bytes
                .and_then(|a| a.checked_add(gd_bytes))
                .is_none_or(|e| e > len)
        {
            v.push(
                Finding::new(
                    Error,
                    o(off::GD_OFFSET),
                    "grain directory offset",
                    format!("sector {} ({} entries)", h.gd_offset, h.gd_entries()),
                    format!("a grain directory inside the {len}-byte file"),
                )
                .fatal(),
            );
        }
    }
    if h.descriptor_offset != 0 {
        let ok = h.descriptor_size.saturating_mul(SECTOR) <= MAX_DESCRIPTOR_BYTES
            && h.descriptor_offset
                .checked_add(h.descriptor_size)
                .and_then(|e| e.checked_mul(SECTOR))
                .is_some_and(|e| e <= len);
        if !ok {
            v.push(
                Finding::new(
                    Error,
                    o(off::DESCRIPTOR_OFFSET),
                    "embedded descriptor",
                    format!(
                        "{} sectors at sector {}",
                        h.descriptor_size, h.descriptor_offset
                    ),
                    format!(
                        "at most {} bytes inside the {len}-byte file",
                        MAX_DESCRIPTOR_BYTES
                    ),
                )
                .fatal(),
            );
        }
    }
    if h.flags & FLAG_VALID_NEWLINE_TEST != 0
        && (h.single_end_line_char != b'\n'
            || h.non_end_line_char != b' '
            || h.double_end_line_chars != *b"\r\n")
    {
        v.push(Finding::new(
            Error,
            o(off::SINGLE_END_LINE_CHAR),
            "newline test characters",
            format!(
                "{:#04x} {:#04x} {:#04x} {:#04x}",
                h.single_end_line_char,
                h.non_end_line_char,
                h.double_end_line_chars[0],
                h.double_end_line_chars[1]
            ),
            "0x0a 0x20 0x0d 0x0a (the file was changed by a text-mode transfer)",
        ));
    }
    if h.unclean_shutdown != 0 {
        v.push(Finding::new(
            Warning,
            o(off::UNCLEAN_SHUTDOWN),
            "unclean shutdown flag",
            h.unclean_shutdown.to_string(),
            "0: the extent was not closed cleanly (the last writes may be missing)",
        ));
    }
    v
}

/// A 512-byte sector holding a stream marker: `(value, size, type)`. A grain marker has
/// `size` > 0 (its LBA and compressed size); a metadata marker has `size` 0 and a type.
pub fn parse_marker(b: &[u8; 512]) -> (u64, u32, u32) {
    let m = Fixed(b);
    (
        m.le_u64::<{ marker::VALUE }>(),
        m.le_u32::<{ marker::SIZE }>(),
        m.le_u32::<{ marker::TYPE }>(),
    )
}

/// A grain marker's LBA and compressed size.
pub fn parse_grain_marker(b: &[u8; GRAIN_MARKER_SIZE]) -> (u64, u32) {
    let m = Fixed(b);
    (
        m.le_u64::<{ marker::VALUE }>(),
        m.le_u32::<{ marker::SIZE }>(),
    )
}

/// Byte offsets of a stream marker's fields (a grain marker has the first two).
pub mod marker {
    /// The grain's LBA, or the number of sectors of metadata that follow.
    pub const VALUE: usize = 0;
    /// The compressed size of a grain; 0 for a metadata marker.
    pub const SIZE: usize = 8;
    /// A metadata marker's type.
    pub const TYPE: usize = 12;
}

pub fn marker_name(t: u32) -> &'static str {
    match t {
        MARKER_EOS => "end-of-stream",
        MARKER_GT => "grain table",
        MARKER_GD => "grain directory",
        MARKER_FOOTER => "footer",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_at_their_offsets() {
        let mut b = [0u8; HEADER_SIZE];
        b[..4].copy_from_slice(SPARSE_MAGIC);
        b[4] = 1;
        b[8..12].copy_from_slice(&(FLAG_VALID_NEWLINE_TEST | FLAG_REDUNDANT_GT).to_le_bytes());
        b[12..20].copy_from_slice(&2048u64.to_le_bytes());
        b[20..28].copy_from_slice(&128u64.to_le_bytes());
        b[44..48].copy_from_slice(&512u32.to_le_bytes());
        b[56..64].copy_from_slice(&21u64.to_le_bytes());
        b[73] = b'\n';
        b[74] = b' ';
        b[75] = b'\r';
        b[76] = b'\n';
        let h = SparseHeader::parse(&b);
        assert_eq!(h.capacity, 2048);
        assert_eq!(h.grain_size, 128);
        assert_eq!(h.gd_offset, 21);
        assert_eq!(h.gd_entries(), 1);
        assert!(validate(&h, 0, 1 << 20, false).is_empty());
        b[20] = 100;
        let h = SparseHeader::parse(&b);
        assert!(validate(&h, 0, 1 << 20, false).iter().any(|f| f.fatal));
    }
}
