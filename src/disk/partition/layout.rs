//! Where the fields of the partition-table structures are: byte offsets named after the
//! UEFI specification (GPT, chapter 5.3) and the classic MBR layout. The readers (gpt.rs,
//! mbr.rs) and the checker (check.rs) read through `crate::bytes` with these names, never
//! with bare numbers.

/// The GPT header (LBA 1, and the backup at the last LBA).
pub mod gpt_header {
    pub const SIGNATURE: usize = 0;
    pub const REVISION: usize = 8;
    pub const HEADER_SIZE: usize = 12;
    pub const HEADER_CRC32: usize = 16;
    pub const MY_LBA: usize = 24;
    pub const ALTERNATE_LBA: usize = 32;
    pub const FIRST_USABLE_LBA: usize = 40;
    pub const LAST_USABLE_LBA: usize = 48;
    pub const DISK_GUID: usize = 56;
    pub const ENTRIES_LBA: usize = 72;
    pub const ENTRY_COUNT: usize = 80;
    pub const ENTRY_SIZE: usize = 84;
    pub const ENTRIES_CRC32: usize = 88;
    /// The fixed fields end here; `HeaderSize` may say more (zero padding), never less.
    pub const LEN: usize = 92;
}

/// One entry of the GPT partition entry array.
pub mod gpt_entry {
    pub const TYPE_GUID: usize = 0;
    pub const UNIQUE_GUID: usize = 16;
    pub const FIRST_LBA: usize = 32;
    pub const LAST_LBA: usize = 40;
    pub const ATTRIBUTES: usize = 48;
    pub const NAME: usize = 56;
    /// 36 UTF-16LE code units.
    pub const NAME_LEN: usize = 72;
    /// The fields end here; `SizeOfPartitionEntry` may say more, never less.
    pub const LEN: usize = 128;
}

/// A GUID as stored: 16 bytes, the first three fields little-endian.
pub mod guid {
    pub const DATA1: usize = 0;
    pub const DATA2: usize = 4;
    pub const DATA3: usize = 6;
    pub const DATA4: usize = 8;
    pub const LEN: usize = 16;
}

/// The MBR (sector 0) and each EBR of an extended partition's chain.
pub mod mbr {
    pub const LEN: usize = 512;
    /// Boot code occupies bytes 0..440; non-zero bytes there mean a BIOS boot loader.
    pub const BOOT_CODE_LEN: usize = 440;
    pub const DISK_SIGNATURE: usize = 440;
    pub const ENTRIES: usize = 446;
    pub const BOOT_SIGNATURE: usize = 510;
}

/// One of the four 16-byte entries of an MBR or EBR.
pub mod mbr_entry {
    pub const STATUS: usize = 0;
    pub const TYPE: usize = 4;
    pub const FIRST_LBA: usize = 8;
    pub const SECTORS: usize = 12;
    pub const LEN: usize = 16;
}

/// Where a file system's boot sector keeps the names that tell it from an MBR (both end in
/// 55 AA).
pub mod boot_sector {
    /// "NTFS    " / "EXFAT   " (8 bytes).
    pub const OEM_NAME: usize = 3;
    /// "FAT12" / "FAT16" in a FAT12/16 boot sector (5 bytes).
    pub const FAT16_TYPE: usize = 0x36;
    /// "FAT32" in a FAT32 boot sector (5 bytes).
    pub const FAT32_TYPE: usize = 0x52;
}
