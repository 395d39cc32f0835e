//! The XFS superblock (v4 and v5): the geometry every other structure is found with, checked
//! field by field before use.

use super::raw::{R, be16, be32, be64, byte};
use crate::disk::fs::layout::xfs as off;

pub const SB_MAGIC: &[u8; 4] = b"XFSB";
/// The superblock fields used here end before this offset (meta_uuid ends at 264).
pub const SB_LEN: usize = 512;
const MIN_BLOCK: u32 = 512;
const MAX_BLOCK: u32 = 65536;
const MIN_SECTOR: u16 = 512;
const MAX_SECTOR: u16 = 32768;
const MIN_INODE: u16 = 256;
const MAX_INODE: u16 = 2048;
/// Directory blocks are at most 64 KiB.
const MAX_DIR_BLOCK: u64 = 65536;
/// v5 feature: directory entries carry a file type byte.
pub const INCOMPAT_FTYPE: u32 = 0x1;
/// v5 feature: 64-bit extent counters move di_nextents to byte 24 of the inode.
pub const INCOMPAT_NREXT64: u32 = 0x20;
/// v4 features2 bit for the directory file type byte.
const FEATURES2_FTYPE: u32 = 0x200;

/// The superblock fields the reader needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superblock {
    pub block_size: u32,
    pub dblocks: u64,
    pub root_ino: u64,
    pub ag_blocks: u32,
    pub ag_count: u32,
    pub sector_size: u16,
    pub inode_size: u16,
    pub inodes_per_block: u16,
    pub ag_block_log: u8,
    pub inode_per_block_log: u8,
    pub dir_block_log: u8,
    /// Version 5 (CRC-enabled metadata).
    pub v5: bool,
    pub ftype: bool,
    pub nrext64: bool,
}

impl Superblock {
    pub fn parse(b: &[u8]) -> R<Self> {
        if b.get(0..4) != Some(SB_MAGIC.as_slice()) {
            return Err("superblock magic at byte 0 is not XFSB".into());
        }
        let version = be16(b, off::VERSIONNUM)? & 0xF;
        if version != 4 && version != 5 {
            return Err(format!(
                "superblock version at byte {} is {version}, expected 4 or 5",
                off::VERSIONNUM
            ));
        }
        let v5 = version == 5;
        let incompat = if v5 {
            be32(b, off::FEATURES_INCOMPAT)?
        } else {
            0
        };
        let sb = Superblock {
            block_size: be32(b, off::BLOCKSIZE)?,
            dblocks: be64(b, off::DBLOCKS)?,
            root_ino: be64(b, off::ROOTINO)?,
            ag_blocks: be32(b, off::AGBLOCKS)?,
            ag_count: be32(b, off::AGCOUNT)?,
            sector_size: be16(b, off::SECTSIZE)?,
            inode_size: be16(b, off::INODESIZE)?,
            inodes_per_block: be16(b, off::INOPBLOCK)?,
            ag_block_log: byte(b, off::AGBLKLOG, "agblklog")?,
            inode_per_block_log: byte(b, off::INOPBLOG, "inopblog")?,
            dir_block_log: byte(b, off::DIRBLKLOG, "dirblklog")?,
            v5,
            ftype: if v5 {
                incompat & INCOMPAT_FTYPE != 0
            } else {
                be32(b, off::FEATURES2)? & FEATURES2_FTYPE != 0
            },
            nrext64: incompat & INCOMPAT_NREXT64 != 0,
        };
        sb.validate(b)?;
        Ok(sb)
    }

    fn validate(&self, b: &[u8]) -> R<()> {
        let pow2 = |v: u64, lo: u64, hi: u64| v.is_power_of_two() && (lo..=hi).contains(&v);
        if !pow2(self.block_size.into(), MIN_BLOCK.into(), MAX_BLOCK.into()) {
            return Err(format!(
                "block size at byte 4 is {}, expected a power of two in 512..=65536",
                self.block_size
            ));
        }
        if u32::from(byte(b, off::BLOCKLOG, "blocklog")?) != self.block_size.trailing_zeros() {
            return Err("blocklog at byte 120 does not match the block size".into());
        }
        if !pow2(
            self.sector_size.into(),
            MIN_SECTOR.into(),
            MAX_SECTOR.into(),
        ) || u32::from(self.sector_size) > self.block_size
        {
            return Err(format!(
                "sector size at byte 102 is {}, expected a power of two in 512..=32768 and at most the block size",
                self.sector_size
            ));
        }
        if !pow2(self.inode_size.into(), MIN_INODE.into(), MAX_INODE.into())
            || u32::from(self.inode_size) > self.block_size
        {
            return Err(format!(
                "inode size at byte 104 is {}, expected a power of two in 256..=2048",
                self.inode_size
            ));
        }
        let per_block = self.block_size / u32::from(self.inode_size);
        if u32::from(self.inodes_per_block) != per_block
            || u32::from(self.inode_per_block_log) != per_block.trailing_zeros()
        {
            return Err(format!(
                "inodes per block at byte 106 is {}, expected {per_block}",
                self.inodes_per_block
            ));
        }
        if self.ag_count == 0 || self.ag_blocks == 0 {
            return Err(format!(
                "agcount (byte 88) is {} and agblocks (byte 84) is {}; neither may be 0",
                self.ag_count, self.ag_blocks
            ));
        }
        // agblklog is log2 of agblocks rounded up.
        let log = u64::from(self.ag_blocks)
            .next_power_of_two()
            .trailing_zeros();
        if u32::from(self.ag_block_log) != log {
            return Err(format!(
                "agblklog at byte 124 is {}, expected {log} for {} blocks per AG",
                self.ag_block_log, self.ag_blocks
            ));
        }
        if self.dir_block_size().is_none() {
            return Err(format!(
                "dirblklog at byte 192 is {}: directory blocks over 64 KiB",
                self.dir_block_log
            ));
        }
        Ok(())
    }

    /// Bytes in one directory block.
    pub fn dir_block_size(&self) -> Option<u64> {
        1u64.checked_shl(self.dir_block_log.into())
            .and_then(|n| n.checked_mul(self.block_size.into()))
            .filter(|&n| n <= MAX_DIR_BLOCK)
    }

    /// Byte offset of file-system block `fsb` (AG number in the high bits).
    pub fn fsb_to_byte(&self, fsb: u64) -> R<u64> {
        let ag = fsb >> self.ag_block_log;
        let agbno = fsb & ((1u64 << self.ag_block_log) - 1);
        if ag >= u64::from(self.ag_count) || agbno >= u64::from(self.ag_blocks) {
            return Err(format!(
                "block {fsb:#x} is AG {ag} block {agbno}, outside {} AGs of {} blocks",
                self.ag_count, self.ag_blocks
            ));
        }
        ag.checked_mul(self.ag_blocks.into())
            .and_then(|b| b.checked_add(agbno))
            .and_then(|b| b.checked_mul(self.block_size.into()))
            .ok_or_else(|| format!("block {fsb:#x} overflows a byte offset"))
    }

    /// Check that `len` blocks from file-system block `start` stay inside one AG (an extent
    /// never crosses an AG boundary), so they are contiguous on the disk.
    pub fn check_run(&self, start: u64, len: u64) -> R<()> {
        let agbno = start & ((1u64 << self.ag_block_log) - 1);
        let end = agbno.checked_add(len);
        if end.is_none_or(|e| e > u64::from(self.ag_blocks)) {
            return Err(format!(
                "{len} blocks from block {start:#x} (AG block {agbno}) run past the end of its AG of {} blocks",
                self.ag_blocks
            ));
        }
        self.fsb_to_byte(start).map(|_| ())
    }

    /// Byte offset of inode `ino`: AG, block in the AG and slot in the block are bit fields.
    pub fn inode_byte(&self, ino: u64) -> R<u64> {
        let slot_bits = u32::from(self.inode_per_block_log);
        let agino_bits = slot_bits + u32::from(self.ag_block_log);
        let ag = ino.checked_shr(agino_bits).unwrap_or(0);
        let agino = ino & ((1u64 << agino_bits) - 1);
        let agbno = agino >> slot_bits;
        let slot = agino & ((1u64 << slot_bits) - 1);
        if ag >= u64::from(self.ag_count) || agbno >= u64::from(self.ag_blocks) || agbno == 0 {
            return Err(format!(
                "inode {ino} is AG {ag} block {agbno}, outside {} AGs of {} blocks",
                self.ag_count, self.ag_blocks
            ));
        }
        let block = self.fsb_to_byte((ag << self.ag_block_log) | agbno)?;
        slot.checked_mul(self.inode_size.into())
            .and_then(|o| block.checked_add(o))
            .ok_or_else(|| format!("inode {ino} overflows a byte offset"))
    }
}
