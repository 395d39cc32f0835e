//! Where the fields of the file-system superblocks and boot sectors are: byte offsets named
//! after each format's own documentation. The probes (fs.rs) and the pre-open checks
//! (fs_guard.rs) read through `crate::bytes` with these names, never with bare numbers.

/// The ext2/3/4 superblock (at byte 1024 of the volume, 1024 bytes; Linux
/// `Documentation/filesystems/ext4/super.rst`). Offsets from the superblock's start.
pub mod ext {
    /// Where the superblock starts on the volume, and its length.
    pub const AT: usize = 1024;
    pub const LEN: usize = 1024;
    pub const BLOCKS_COUNT_LO: usize = 0x04;
    pub const FIRST_DATA_BLOCK: usize = 0x14;
    pub const LOG_BLOCK_SIZE: usize = 0x18;
    pub const BLOCKS_PER_GROUP: usize = 0x20;
    pub const INODES_PER_GROUP: usize = 0x28;
    pub const MAGIC: usize = 0x38;
    pub const INODE_SIZE: usize = 0x58;
    pub const FEATURE_COMPAT: usize = 0x5C;
    pub const FEATURE_INCOMPAT: usize = 0x60;
    pub const FEATURE_RO_COMPAT: usize = 0x64;
    pub const UUID: usize = 0x68;
    pub const VOLUME_NAME: usize = 0x78;
    pub const VOLUME_NAME_LEN: usize = 16;
    pub const JOURNAL_INUM: usize = 0xE0;
    pub const DESC_SIZE: usize = 0xFE;
    pub const BLOCKS_COUNT_HI: usize = 0x150;
}

/// The XFS superblock (sector 0, big-endian; `xfs_format.h`, struct xfs_dsb).
pub mod xfs {
    pub const MAGICNUM: usize = 0;
    pub const BLOCKSIZE: usize = 4;
    pub const DBLOCKS: usize = 8;
    pub const UUID: usize = 32;
    pub const ROOTINO: usize = 56;
    pub const AGBLOCKS: usize = 84;
    pub const AGCOUNT: usize = 88;
    pub const VERSIONNUM: usize = 100;
    pub const SECTSIZE: usize = 102;
    pub const INODESIZE: usize = 104;
    pub const INOPBLOCK: usize = 106;
    pub const FNAME: usize = 108;
    pub const FNAME_LEN: usize = 12;
    pub const BLOCKLOG: usize = 120;
    pub const INOPBLOG: usize = 123;
    pub const AGBLKLOG: usize = 124;
    pub const DIRBLKLOG: usize = 192;
    pub const FEATURES2: usize = 200;
    pub const FEATURES_INCOMPAT: usize = 216;
}

/// The NTFS boot sector (the BIOS parameter block and its NTFS extension).
pub mod ntfs {
    pub const OEM_ID: usize = 0x03;
    pub const BYTES_PER_SECTOR: usize = 0x0B;
    pub const SECTORS_PER_CLUSTER: usize = 0x0D;
    pub const TOTAL_SECTORS: usize = 0x28;
    pub const MFT_LCN: usize = 0x30;
    pub const CLUSTERS_PER_FILE_RECORD: usize = 0x40;
    pub const CLUSTERS_PER_INDEX_RECORD: usize = 0x44;
    pub const SERIAL: usize = 0x48;
}

/// The FAT boot sector (Microsoft's FAT specification: the BPB, then the FAT12/16 or the
/// FAT32 extended BPB).
pub mod fat {
    pub const BYTES_PER_SECTOR: usize = 0x0B;
    pub const SECTORS_PER_CLUSTER: usize = 0x0D;
    pub const RESERVED_SECTORS: usize = 0x0E;
    pub const NUM_FATS: usize = 0x10;
    pub const ROOT_ENTRIES: usize = 0x11;
    pub const TOTAL_SECTORS_16: usize = 0x13;
    pub const SECTORS_PER_FAT_16: usize = 0x16;
    pub const TOTAL_SECTORS_32: usize = 0x20;
    pub const SECTORS_PER_FAT_32: usize = 0x24;
    pub const FSINFO_SECTOR: usize = 0x30;
    /// FAT12/16 extended BPB.
    pub const SERIAL_16: usize = 0x27;
    pub const LABEL_16: usize = 0x2B;
    pub const TYPE_16: usize = 0x36;
    /// FAT32 extended BPB.
    pub const SERIAL_32: usize = 0x43;
    pub const LABEL_32: usize = 0x47;
    pub const TYPE_32: usize = 0x52;
    pub const LABEL_LEN: usize = 11;
}

/// Linux swap, 4 KiB pages: the header after the boot-loader area, the magic at the page end.
pub mod swap {
    pub const PAGE: usize = 4096;
    pub const LAST_PAGE: usize = 1028;
    pub const UUID: usize = 1036;
    pub const LABEL: usize = 1052;
    pub const LABEL_LEN: usize = 16;
    pub const MAGIC_LEN: usize = 10;
    pub const MAGIC: usize = PAGE - MAGIC_LEN;
}

/// The Btrfs superblock (at 64 KiB; `btrfs_tree.h`, struct btrfs_super_block).
pub mod btrfs {
    pub const AT: u64 = 0x10000;
    pub const LEN: usize = 4096;
    pub const FSID: usize = 0x20;
    pub const MAGIC: usize = 0x40;
    pub const NUM_DEVICES: usize = 0x88;
    pub const SECTORSIZE: usize = 0x90;
    pub const DEV_ITEM: usize = 0xC9;
    /// dev_item.total_bytes.
    pub const DEV_ITEM_TOTAL_BYTES: usize = DEV_ITEM + 8;
    pub const LABEL: usize = 0x12B;
    pub const LABEL_LEN: usize = 256;
}

/// The LVM2 label (in one of the first four sectors) and the PV header it points to.
pub mod lvm_label {
    pub const ID: usize = 0;
    pub const OFFSET: usize = 20;
    pub const TYPE: usize = 24;
    /// PV header, from its own start: the PV UUID (32 ASCII) and the device size.
    pub const PV_UUID: usize = 0;
    pub const PV_UUID_LEN: usize = 32;
    pub const PV_DEVICE_SIZE: usize = 32;
}
