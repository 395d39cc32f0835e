//! An XFS file system on a disk (a partition or an LV): the superblock and every read,
//! charged to a byte budget so a hostile image cannot make inspection read the whole disk.

use super::raw::R;
use super::superblock::{SB_LEN, Superblock};
use crate::image::VirtualDisk;

/// An open XFS file system. Inodes, extents, files and directories are read by the
/// `impl Xfs` blocks of `inode.rs`, `bmap.rs`, `file.rs` and `dir.rs`.
pub struct Xfs<'a> {
    disk: &'a dyn VirtualDisk,
    pub sb: Superblock,
    budget: u64,
}

impl<'a> Xfs<'a> {
    /// Read and check the superblock; at most `budget` bytes are read in all.
    pub fn open(disk: &'a dyn VirtualDisk, budget: u64) -> R<Self> {
        let budget = budget
            .checked_sub(SB_LEN as u64)
            .ok_or("read budget smaller than a superblock")?;
        let mut b = vec![0u8; SB_LEN];
        disk.read_at(0, &mut b)
            .map_err(|e| format!("superblock: {e}"))?;
        let sb = Superblock::parse(&b)?;
        Ok(Xfs { disk, sb, budget })
    }

    /// Bytes this file system may still read.
    pub fn budget_left(&self) -> u64 {
        self.budget
    }

    /// Fill `buf` from byte `offset`, charged to the budget.
    pub fn read_into(&mut self, offset: u64, buf: &mut [u8]) -> R<()> {
        let len = buf.len() as u64;
        if len > self.budget {
            return Err(format!(
                "read budget for this file system spent (reading {len} bytes at {offset})"
            ));
        }
        self.budget -= len;
        self.disk
            .read_at(offset, buf)
            .map_err(|e| format!("read of {len} bytes at {offset}: {e}"))
    }

    /// `len` bytes at `offset`, charged to the budget before anything is allocated.
    pub fn read(&mut self, offset: u64, len: u64) -> R<Vec<u8>> {
        if len > self.budget {
            return Err(format!(
                "read budget for this file system spent (reading {len} bytes at {offset})"
            ));
        }
        let n = usize::try_from(len).map_err(|_| "read too large".to_string())?;
        let mut buf = vec![0u8; n];
        self.read_into(offset, &mut buf)?;
        Ok(buf)
    }

    /// `blocks` file-system blocks from block `fsb`, which must stay inside one AG.
    pub fn read_fsb(&mut self, fsb: u64, blocks: u64) -> R<Vec<u8>> {
        self.sb.check_run(fsb, blocks)?;
        let at = self.sb.fsb_to_byte(fsb)?;
        let len = blocks
            .checked_mul(self.sb.block_size.into())
            .ok_or("block count overflows")?;
        self.read(at, len)
    }
}
