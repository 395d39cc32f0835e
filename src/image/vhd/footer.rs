//! The 512-byte VHD footer (hard disk footer), parsed into a struct and serialised back.
//! Parsing never fails on content; `validate` says what is wrong.

use super::geometry::Geometry;
use crate::bytes::Fixed;

pub const VHD_COOKIE: &[u8; 8] = b"conectix";
pub const FOOTER_SIZE: usize = 512;
/// Images made before Virtual PC 2004 may end with a 511-byte footer.
pub const OLD_FOOTER_SIZE: usize = 511;
pub const FEATURE_TEMPORARY: u32 = 0x1;
pub const FEATURE_RESERVED: u32 = 0x2;
pub const FORMAT_VERSION: u32 = 0x0001_0000;
/// Data offset of a fixed disk: there is no dynamic header.
pub const DATA_OFFSET_NONE: u64 = u64::MAX;
/// VHD timestamps count seconds from 2000-01-01T00:00:00Z; this is that instant in Unix time.
pub const VHD_EPOCH_UNIX: u64 = 946_684_800;

/// Byte offsets of the footer's fields (spec, "Hard Disk Footer Format").
pub mod off {
    pub const COOKIE: usize = 0;
    pub const FEATURES: usize = 8;
    pub const FORMAT_VERSION: usize = 12;
    pub const DATA_OFFSET: usize = 16;
    pub const TIMESTAMP: usize = 24;
    pub const CREATOR_APP: usize = 28;
    pub const CREATOR_VERSION: usize = 32;
    pub const CREATOR_HOST_OS: usize = 36;
    pub const ORIGINAL_SIZE: usize = 40;
    pub const CURRENT_SIZE: usize = 48;
    pub const GEOMETRY: usize = 56;
    pub const DISK_TYPE: usize = 60;
    pub const CHECKSUM: usize = 64;
    pub const UNIQUE_ID: usize = 68;
    pub const SAVED_STATE: usize = 84;
    pub const RESERVED: usize = 85;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskType {
    Fixed,
    Dynamic,
    Differencing,
}

impl DiskType {
    pub const FIXED: u32 = 2;
    pub const DYNAMIC: u32 = 3;
    pub const DIFFERENCING: u32 = 4;

    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            Self::FIXED => Some(DiskType::Fixed),
            Self::DYNAMIC => Some(DiskType::Dynamic),
            Self::DIFFERENCING => Some(DiskType::Differencing),
            _ => None,
        }
    }

    pub fn as_u32(self) -> u32 {
        match self {
            DiskType::Fixed => Self::FIXED,
            DiskType::Dynamic => Self::DYNAMIC,
            DiskType::Differencing => Self::DIFFERENCING,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DiskType::Fixed => "fixed",
            DiskType::Dynamic => "dynamic",
            DiskType::Differencing => "differencing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    pub cookie: [u8; 8],
    pub features: u32,
    pub format_version: u32,
    pub data_offset: u64,
    pub timestamp: u32,
    pub creator_app: [u8; 4],
    pub creator_version: u32,
    pub creator_host_os: [u8; 4],
    pub original_size: u64,
    pub current_size: u64,
    pub geometry: Geometry,
    /// The raw disk type; see [`DiskType::from_u32`].
    pub disk_type: u32,
    pub checksum: u32,
    pub unique_id: [u8; 16],
    pub saved_state: u8,
    /// True when any of the 427 reserved bytes is not zero.
    pub reserved_nonzero: bool,
}

/// The VHD checksum: the ones' complement of the sum of all bytes, with the 4 bytes of the
/// checksum field itself (at `checksum_at`) counted as zero.
pub fn vhd_checksum(bytes: &[u8], checksum_at: usize) -> u32 {
    let sum = bytes.iter().enumerate().fold(0u32, |acc, (i, &b)| {
        if (checksum_at..checksum_at + 4).contains(&i) {
            acc
        } else {
            acc.wrapping_add(u32::from(b))
        }
    });
    !sum
}

impl Footer {
    /// Decode a footer from 512 bytes (a 511-byte footer is passed zero-padded).
    pub fn parse(b: &[u8; FOOTER_SIZE]) -> Footer {
        let f = Fixed(b);
        Footer {
            cookie: f.array::<{ off::COOKIE }, 8>(),
            features: f.be_u32::<{ off::FEATURES }>(),
            format_version: f.be_u32::<{ off::FORMAT_VERSION }>(),
            data_offset: f.be_u64::<{ off::DATA_OFFSET }>(),
            timestamp: f.be_u32::<{ off::TIMESTAMP }>(),
            creator_app: f.array::<{ off::CREATOR_APP }, 4>(),
            creator_version: f.be_u32::<{ off::CREATOR_VERSION }>(),
            creator_host_os: f.array::<{ off::CREATOR_HOST_OS }, 4>(),
            original_size: f.be_u64::<{ off::ORIGINAL_SIZE }>(),
            current_size: f.be_u64::<{ off::CURRENT_SIZE }>(),
            geometry: Geometry {
                cylinders: f.be_u16::<{ off::GEOMETRY }>(),
                heads: f.u8::<{ off::GEOMETRY + 2 }>(),
                sectors: f.u8::<{ off::GEOMETRY + 3 }>(),
            },
            disk_type: f.be_u32::<{ off::DISK_TYPE }>(),
            checksum: f.be_u32::<{ off::CHECKSUM }>(),
            unique_id: f.array::<{ off::UNIQUE_ID }, 16>(),
            saved_state: f.u8::<{ off::SAVED_STATE }>(),
            reserved_nonzero: f
                .array::<{ off::RESERVED }, { FOOTER_SIZE - off::RESERVED }>()
                .iter()
                .any(|&x| x != 0),
        }
    }

    /// Encode, computing the checksum (the `checksum` field is ignored). Reserved bytes are 0.
    pub fn to_bytes(&self) -> [u8; FOOTER_SIZE] {
        let mut b = [0u8; FOOTER_SIZE];
        b[off::COOKIE..off::COOKIE + 8].copy_from_slice(&self.cookie);
        b[off::FEATURES..off::FEATURES + 4].copy_from_slice(&self.features.to_be_bytes());
        b[off::FORMAT_VERSION..off::FORMAT_VERSION + 4]
            .copy_from_slice(&self.format_version.to_be_bytes());
        b[off::DATA_OFFSET..off::DATA_OFFSET + 8].copy_from_slice(&self.data_offset.to_be_bytes());
        b[off::TIMESTAMP..off::TIMESTAMP + 4].copy_from_slice(&self.timestamp.to_be_bytes());
        b[off::CREATOR_APP..off::CREATOR_APP + 4].copy_from_slice(&self.creator_app);
        b[off::CREATOR_VERSION..off::CREATOR_VERSION + 4]
            .copy_from_slice(&self.creator_version.to_be_bytes());
        b[off::CREATOR_HOST_OS..off::CREATOR_HOST_OS + 4].copy_from_slice(&self.creator_host_os);
        b[off::ORIGINAL_SIZE..off::ORIGINAL_SIZE + 8]
            .copy_from_slice(&self.original_size.to_be_bytes());
        b[off::CURRENT_SIZE..off::CURRENT_SIZE + 8]
            .copy_from_slice(&self.current_size.to_be_bytes());
        b[off::GEOMETRY..off::GEOMETRY + 2].copy_from_slice(&self.geometry.cylinders.to_be_bytes());
        b[off::GEOMETRY + 2] = self.geometry.heads;
        b[off::GEOMETRY + 3] = self.geometry.sectors;
        b[off::DISK_TYPE..off::DISK_TYPE + 4].copy_from_slice(&self.disk_type.to_be_bytes());
        b[off::UNIQUE_ID..off::UNIQUE_ID + 16].copy_from_slice(&self.unique_id);
        b[off::SAVED_STATE] = self.saved_state;
        let sum = vhd_checksum(&b, off::CHECKSUM);
        b[off::CHECKSUM..off::CHECKSUM + 4].copy_from_slice(&sum.to_be_bytes());
        b
    }

    pub fn kind(&self) -> Option<DiskType> {
        DiskType::from_u32(self.disk_type)
    }

    /// The creator application as text, e.g. `"win "`, with NULs shown as `\0`.
    pub fn creator_app_str(&self) -> String {
        fourcc(&self.creator_app)
    }

    pub fn creator_host_os_str(&self) -> String {
        fourcc(&self.creator_host_os)
    }
}

/// A four-character code as text; NULs and other non-printable bytes are escaped.
pub fn fourcc(b: &[u8; 4]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            0 => s.push_str("\\0"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// A VHD timestamp as an ISO 8601 UTC date-time.
pub fn vhd_time(ts: u32) -> String {
    unix_time(VHD_EPOCH_UNIX + u64::from(ts))
}

/// Unix seconds as `YYYY-MM-DDThh:mm:ssZ` (proleptic Gregorian; Howard Hinnant's algorithm).
pub fn unix_time(secs: u64) -> String {
    // u64::MAX / 86400 is below i64::MAX: the day count never wraps.
    #[allow(clippy::cast_possible_wrap)]
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A 16-byte unique id as a UUID string, bytes in the order they are stored (as qemu-img and
/// vhd-util print them).
pub fn uuid_string(u: &[u8; 16]) -> String {
    let h: Vec<String> = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_checksum() {
        let f = Footer {
            cookie: *VHD_COOKIE,
            features: FEATURE_RESERVED,
            format_version: FORMAT_VERSION,
            data_offset: 512,
            timestamp: 0x1234_5678,
            creator_app: *b"win ",
            creator_version: 0x000a_0000,
            creator_host_os: *b"Wi2k",
            original_size: 1 << 30,
            current_size: 1 << 30,
            geometry: Geometry {
                cylinders: 2080,
                heads: 16,
                sectors: 63,
            },
            disk_type: DiskType::DYNAMIC,
            checksum: 0,
            unique_id: [7; 16],
            saved_state: 0,
            reserved_nonzero: false,
        };
        let b = f.to_bytes();
        let back = Footer::parse(&b);
        assert_eq!(back.checksum, vhd_checksum(&b, off::CHECKSUM));
        assert_eq!(
            Footer {
                checksum: 0,
                ..back
            },
            f
        );
        // Changing one byte changes the checksum.
        let mut b2 = b;
        b2[100] = 1;
        assert_ne!(vhd_checksum(&b2, off::CHECKSUM), back.checksum);
    }

    #[test]
    fn dates() {
        assert_eq!(vhd_time(0), "2000-01-01T00:00:00Z");
        assert_eq!(unix_time(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(unix_time(4_107_542_400), "2100-03-01T00:00:00Z");
    }

    #[test]
    fn fourcc_escapes() {
        assert_eq!(fourcc(b"tap\0"), "tap\\0");
        assert_eq!(fourcc(b"\x1b[1m"), "\\x1b[1m");
    }
}
