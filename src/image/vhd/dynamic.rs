//! The 1024-byte dynamic disk header (shared by dynamic and differencing disks) and the BAT.

use super::footer::{fourcc, vhd_checksum};
use crate::bytes::{Fixed, be_u16s};

pub const DYNAMIC_COOKIE: &[u8; 8] = b"cxsparse";
pub const HEADER_SIZE: usize = 1024;
pub const HEADER_VERSION: u32 = 0x0001_0000;
/// A BAT entry for a block that is not allocated.
pub const BAT_UNALLOCATED: u32 = 0xFFFF_FFFF;
pub const BAT_ENTRY_SIZE: u64 = 4;
pub const LOCATOR_COUNT: usize = 8;
pub const LOCATOR_SIZE: usize = 24;
pub const PARENT_NAME_SIZE: usize = 512;
/// The default block size (2 MiB).
pub const DEFAULT_BLOCK_SIZE: u32 = 2 << 20;

/// Byte offsets of the header's fields (spec, "Dynamic Disk Header Format").
pub mod off {
    pub const COOKIE: usize = 0;
    pub const DATA_OFFSET: usize = 8;
    pub const TABLE_OFFSET: usize = 16;
    pub const HEADER_VERSION: usize = 24;
    pub const MAX_TABLE_ENTRIES: usize = 28;
    pub const BLOCK_SIZE: usize = 32;
    pub const CHECKSUM: usize = 36;
    pub const PARENT_UNIQUE_ID: usize = 40;
    pub const PARENT_TIMESTAMP: usize = 56;
    pub const RESERVED1: usize = 60;
    pub const PARENT_NAME: usize = 64;
    pub const PARENT_LOCATORS: usize = 576;
    pub const RESERVED2: usize = 768;
}

/// Byte offsets of a parent locator entry's fields.
pub mod locator {
    pub const CODE: usize = 0;
    pub const DATA_SPACE: usize = 4;
    pub const DATA_LENGTH: usize = 8;
    pub const RESERVED: usize = 12;
    pub const DATA_OFFSET: usize = 16;
}

/// One parent locator entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParentLocator {
    pub code: [u8; 4],
    /// Space reserved for the locator data; sectors per the spec, bytes for some writers.
    pub data_space: u32,
    pub data_length: u32,
    pub reserved: u32,
    pub data_offset: u64,
}

impl ParentLocator {
    pub fn is_empty(&self) -> bool {
        self.code == [0; 4]
    }

    pub fn code_str(&self) -> String {
        fourcc(&self.code)
    }

    /// The known platform codes.
    pub fn code_known(&self) -> bool {
        matches!(
            &self.code,
            b"W2ru" | b"W2ku" | b"MacX" | b"Wi2r" | b"Wi2k" | b"Mac "
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicHeader {
    pub cookie: [u8; 8],
    pub data_offset: u64,
    pub table_offset: u64,
    pub header_version: u32,
    pub max_table_entries: u32,
    pub block_size: u32,
    pub checksum: u32,
    pub parent_unique_id: [u8; 16],
    pub parent_timestamp: u32,
    /// UTF-16BE code units of the parent's name, up to the first NUL.
    pub parent_name: Vec<u16>,
    pub locators: [ParentLocator; LOCATOR_COUNT],
    pub reserved_nonzero: bool,
}

impl DynamicHeader {
    pub fn parse(b: &[u8; HEADER_SIZE]) -> DynamicHeader {
        let h = Fixed(b);
        let name_bytes = h.array::<{ off::PARENT_NAME }, PARENT_NAME_SIZE>();
        let parent_name = be_u16s(&name_bytes).take_while(|&u| u != 0).collect();
        let table = h.array::<{ off::PARENT_LOCATORS }, { LOCATOR_COUNT * LOCATOR_SIZE }>();
        let mut locators = [ParentLocator::default(); LOCATOR_COUNT];
        let entries = table
            .chunks_exact(LOCATOR_SIZE)
            .filter_map(|c| c.first_chunk::<LOCATOR_SIZE>());
        for (l, e) in locators.iter_mut().zip(entries) {
            let e = Fixed(e);
            l.code = e.array::<{ locator::CODE }, 4>();
            l.data_space = e.be_u32::<{ locator::DATA_SPACE }>();
            l.data_length = e.be_u32::<{ locator::DATA_LENGTH }>();
            l.reserved = e.be_u32::<{ locator::RESERVED }>();
            l.data_offset = e.be_u64::<{ locator::DATA_OFFSET }>();
        }
        DynamicHeader {
            cookie: h.array::<{ off::COOKIE }, 8>(),
            data_offset: h.be_u64::<{ off::DATA_OFFSET }>(),
            table_offset: h.be_u64::<{ off::TABLE_OFFSET }>(),
            header_version: h.be_u32::<{ off::HEADER_VERSION }>(),
            max_table_entries: h.be_u32::<{ off::MAX_TABLE_ENTRIES }>(),
            block_size: h.be_u32::<{ off::BLOCK_SIZE }>(),
            checksum: h.be_u32::<{ off::CHECKSUM }>(),
            parent_unique_id: h.array::<{ off::PARENT_UNIQUE_ID }, 16>(),
            parent_timestamp: h.be_u32::<{ off::PARENT_TIMESTAMP }>(),
            parent_name,
            locators,
            reserved_nonzero: h.array::<{ off::RESERVED1 }, 4>() != [0; 4]
                || h.array::<{ off::RESERVED2 }, { HEADER_SIZE - off::RESERVED2 }>()
                    .iter()
                    .any(|&x| x != 0),
        }
    }

    /// Encode, computing the checksum (the `checksum` field is ignored).
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&self.cookie);
        b[off::DATA_OFFSET..off::DATA_OFFSET + 8].copy_from_slice(&self.data_offset.to_be_bytes());
        b[off::TABLE_OFFSET..off::TABLE_OFFSET + 8]
            .copy_from_slice(&self.table_offset.to_be_bytes());
        b[off::HEADER_VERSION..off::HEADER_VERSION + 4]
            .copy_from_slice(&self.header_version.to_be_bytes());
        b[off::MAX_TABLE_ENTRIES..off::MAX_TABLE_ENTRIES + 4]
            .copy_from_slice(&self.max_table_entries.to_be_bytes());
        b[off::BLOCK_SIZE..off::BLOCK_SIZE + 4].copy_from_slice(&self.block_size.to_be_bytes());
        b[off::PARENT_UNIQUE_ID..off::PARENT_UNIQUE_ID + 16]
            .copy_from_slice(&self.parent_unique_id);
        b[off::PARENT_TIMESTAMP..off::PARENT_TIMESTAMP + 4]
            .copy_from_slice(&self.parent_timestamp.to_be_bytes());
        for (i, u) in self
            .parent_name
            .iter()
            .take(PARENT_NAME_SIZE / 2)
            .enumerate()
        {
            let at = off::PARENT_NAME + 2 * i;
            b[at..at + 2].copy_from_slice(&u.to_be_bytes());
        }
        for (i, l) in self.locators.iter().enumerate() {
            let at = off::PARENT_LOCATORS + i * LOCATOR_SIZE;
            b[at..at + 4].copy_from_slice(&l.code);
            b[at + 4..at + 8].copy_from_slice(&l.data_space.to_be_bytes());
            b[at + 8..at + 12].copy_from_slice(&l.data_length.to_be_bytes());
            b[at + 12..at + 16].copy_from_slice(&l.reserved.to_be_bytes());
            b[at + 16..at + 24].copy_from_slice(&l.data_offset.to_be_bytes());
        }
        let sum = vhd_checksum(&b, off::CHECKSUM);
        b[off::CHECKSUM..off::CHECKSUM + 4].copy_from_slice(&sum.to_be_bytes());
        b
    }

    pub fn parent_name_string(&self) -> String {
        String::from_utf16_lossy(&self.parent_name)
    }
}

/// Bytes of the sector bitmap in front of each block: one bit per 512-byte sector, rounded up
/// to whole sectors.
pub fn bitmap_size(block_size: u32) -> u64 {
    let bits = u64::from(block_size) / 512;
    bits.div_ceil(8).div_ceil(512) * 512
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut locators = [ParentLocator::default(); LOCATOR_COUNT];
        locators[0] = ParentLocator {
            code: *b"W2ru",
            data_space: 1,
            data_length: 20,
            reserved: 0,
            data_offset: 0x600,
        };
        let h = DynamicHeader {
            cookie: *DYNAMIC_COOKIE,
            data_offset: u64::MAX,
            table_offset: 1536,
            header_version: HEADER_VERSION,
            max_table_entries: 512,
            block_size: DEFAULT_BLOCK_SIZE,
            checksum: 0,
            parent_unique_id: [9; 16],
            parent_timestamp: 77,
            parent_name: "parent.vhd".encode_utf16().collect(),
            locators,
            reserved_nonzero: false,
        };
        let b = h.to_bytes();
        let back = DynamicHeader::parse(&b);
        assert_eq!(back.checksum, vhd_checksum(&b, off::CHECKSUM));
        assert_eq!(
            DynamicHeader {
                checksum: 0,
                ..back.clone()
            },
            h
        );
        assert_eq!(back.parent_name_string(), "parent.vhd");
    }

    #[test]
    fn bitmap_sizes() {
        assert_eq!(bitmap_size(2 << 20), 512);
        assert_eq!(bitmap_size(512 << 10), 512);
        assert_eq!(bitmap_size(16 << 20), 4096);
        assert_eq!(bitmap_size(512), 512);
    }
}
