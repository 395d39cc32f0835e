//! A read-only XFS reader, just enough for guest inspection: superblock (v4 and v5), inodes
//! by number, directories in every form (short form, block, leaf and node: lookups scan the
//! directory's data blocks through the extent map, the hash trees are not needed), extent
//! lists and extent B+trees, local and remote symlinks, and the head of a regular file.
//!
//! Layout from the public "XFS Algorithms & Data Structures" documentation. Every number
//! from the disk is checked before use, every read goes through a byte budget, and every
//! walk has a bound, so a hostile image gives an error, never a panic or an endless loop.

use crate::disk::guestfs::{GuestFs, NodeKind};
use crate::image::VirtualDisk;

const SB_MAGIC: &[u8; 4] = b"XFSB";
/// The superblock fields used here end before this offset (meta_uuid ends at 264).
const SB_LEN: usize = 512;
const MIN_BLOCK: u32 = 512;
const MAX_BLOCK: u32 = 65536;
const MIN_SECTOR: u16 = 512;
const MAX_SECTOR: u16 = 32768;
const MIN_INODE: u16 = 256;
const MAX_INODE: u16 = 2048;
/// Directory blocks are at most 64 KiB.
const MAX_DIR_BLOCK: u64 = 65536;
/// v5 feature: directory entries carry a file type byte.
const INCOMPAT_FTYPE: u32 = 0x1;
/// v5 feature: 64-bit extent counters move di_nextents to byte 24 of the inode.
const INCOMPAT_NREXT64: u32 = 0x20;
/// v4 features2 bit for the directory file type byte.
const FEATURES2_FTYPE: u32 = 0x200;

const INODE_MAGIC: &[u8; 2] = b"IN";
const INODE_CORE_V2: usize = 100;
const INODE_CORE_V3: usize = 176;
const FMT_LOCAL: u8 = 1;
const FMT_EXTENTS: u8 = 2;
const FMT_BTREE: u8 = 3;
const S_IFMT: u16 = 0o170000;
const S_IFDIR: u16 = 0o040000;
const S_IFREG: u16 = 0o100000;
const S_IFLNK: u16 = 0o120000;

const EXTENT_REC: usize = 16;
const BMBT_V4_HDR: usize = 24;
const BMBT_V5_HDR: usize = 72;
/// The root of an extent B+tree in the inode: level u16 and numrecs u16.
const BMDR_HDR: usize = 4;
/// XFS itself never builds a bmbt deeper than 9 levels for 64-bit extent counts.
const MAX_BMBT_LEVELS: u16 = 9;
/// Extents read for one file; a root directory or os-release needs a handful.
pub const MAX_EXTENTS: usize = 1 << 16;

const DIR_V4_DATA_HDR: usize = 16;
const DIR_V5_DATA_HDR: usize = 64;
const DIR_BLOCK_TAIL: usize = 8;
const DIR_LEAF_ENTRY: usize = 8;
const DIR_FREE_TAG: u16 = 0xFFFF;
/// Directory data blocks live below this byte offset in the directory; the leaf and free
/// index blocks above it are not needed for a scan.
const DIR_LEAF_OFFSET: u64 = 32 << 30;
/// Directory data blocks scanned for one lookup.
const MAX_DIR_BLOCKS: u64 = 4096;
const SYMLINK_V5_HDR: usize = 56;
const SYMLINK_MAGIC: &[u8; 4] = b"XSLM";
const MAX_SYMLINK: u64 = 1024;
const ROOT_PATH_DEPTH: usize = 256;

type R<T> = Result<T, String>;

fn field<const N: usize>(b: &[u8], at: usize, what: &str) -> R<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("{what} at byte {at} lies past the {} bytes read", b.len()))
}
fn be16(b: &[u8], at: usize) -> R<u16> {
    field(b, at, "u16").map(u16::from_be_bytes)
}
fn be32(b: &[u8], at: usize) -> R<u32> {
    field(b, at, "u32").map(u32::from_be_bytes)
}
fn be64(b: &[u8], at: usize) -> R<u64> {
    field(b, at, "u64").map(u64::from_be_bytes)
}

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
        let version = be16(b, 100)? & 0xF;
        if version != 4 && version != 5 {
            return Err(format!(
                "superblock version at byte 100 is {version}, expected 4 or 5"
            ));
        }
        let v5 = version == 5;
        let incompat = if v5 { be32(b, 216)? } else { 0 };
        let sb = Superblock {
            block_size: be32(b, 4)?,
            dblocks: be64(b, 8)?,
            root_ino: be64(b, 56)?,
            ag_blocks: be32(b, 84)?,
            ag_count: be32(b, 88)?,
            sector_size: be16(b, 102)?,
            inode_size: be16(b, 104)?,
            inodes_per_block: be16(b, 106)?,
            ag_block_log: field::<1>(b, 124, "agblklog")?[0],
            inode_per_block_log: field::<1>(b, 123, "inopblog")?[0],
            dir_block_log: field::<1>(b, 192, "dirblklog")?[0],
            v5,
            ftype: if v5 {
                incompat & INCOMPAT_FTYPE != 0
            } else {
                be32(b, 200)? & FEATURES2_FTYPE != 0
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
        if field::<1>(b, 120, "blocklog")?[0] as u32 != self.block_size.trailing_zeros() {
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
    fn fsb_to_byte(&self, fsb: u64) -> R<u64> {
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

/// One extent: file blocks `off..off+len` are file-system blocks `start..start+len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub off: u64,
    pub start: u64,
    pub len: u64,
    pub unwritten: bool,
}

/// A 128-bit big-endian extent record: flag (1), startoff (54), startblock (52), count (21).
pub fn parse_extent(rec: &[u8]) -> R<Extent> {
    let l0 = be64(rec, 0)?;
    let l1 = be64(rec, 8)?;
    Ok(Extent {
        unwritten: l0 >> 63 != 0,
        off: (l0 & (u64::MAX >> 1)) >> 9,
        start: ((l0 & 0x1FF) << 43) | (l1 >> 21),
        len: l1 & 0x1F_FFFF,
    })
}

/// An inode, with its data fork's bytes.
#[derive(Debug, Clone)]
pub struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub size: u64,
    format: u8,
    nextents: u64,
    fork: Vec<u8>,
}

impl Inode {
    pub fn kind(&self) -> NodeKind {
        match self.mode & S_IFMT {
            S_IFDIR => NodeKind::Dir,
            S_IFREG => NodeKind::File,
            S_IFLNK => NodeKind::Symlink,
            _ => NodeKind::Other,
        }
    }
}

/// An XFS file system on a disk (a partition or LV), read with a byte budget.
pub struct Xfs<'a> {
    disk: &'a dyn VirtualDisk,
    pub sb: Superblock,
    budget: u64,
}

impl<'a> Xfs<'a> {
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

    /// `len` bytes at `offset`, charged to the budget.
    fn read(&mut self, offset: u64, len: u64) -> R<Vec<u8>> {
        if len > self.budget {
            return Err("read budget for this file system spent".into());
        }
        self.budget -= len;
        let n = usize::try_from(len).map_err(|_| "read too large".to_string())?;
        let mut buf = vec![0u8; n];
        self.disk
            .read_at(offset, &mut buf)
            .map_err(|e| format!("read of {len} bytes at {offset}: {e}"))?;
        Ok(buf)
    }

    fn read_fsb(&mut self, fsb: u64, blocks: u64) -> R<Vec<u8>> {
        let at = self.sb.fsb_to_byte(fsb)?;
        let len = blocks
            .checked_mul(self.sb.block_size.into())
            .ok_or("block count overflows")?;
        self.read(at, len)
    }

    pub fn inode(&mut self, ino: u64) -> R<Inode> {
        let at = self.sb.inode_byte(ino)?;
        let b = self.read(at, self.sb.inode_size.into())?;
        if b.get(0..2) != Some(INODE_MAGIC.as_slice()) {
            return Err(format!("inode {ino} at byte {at}: magic is not IN"));
        }
        let version = field::<1>(&b, 4, "di_version")?[0];
        let core = match version {
            1 | 2 => INODE_CORE_V2,
            3 => INODE_CORE_V3,
            v => {
                return Err(format!(
                    "inode {ino}: version {v} at byte 4, expected 1..=3"
                ));
            }
        };
        let forkoff = usize::from(field::<1>(&b, 82, "di_forkoff")?[0]) * 8;
        let end = if forkoff == 0 {
            b.len()
        } else {
            core + forkoff
        };
        let fork = b
            .get(core..end)
            .ok_or_else(|| format!("inode {ino}: attribute fork offset {forkoff} past the inode"))?
            .to_vec();
        let nextents = if self.sb.nrext64 {
            be64(&b, 24)?
        } else {
            be32(&b, 76)?.into()
        };
        Ok(Inode {
            ino,
            mode: be16(&b, 2)?,
            size: be64(&b, 56)?,
            format: field::<1>(&b, 5, "di_format")?[0],
            nextents,
            fork,
        })
    }

    /// The extents of an extents- or btree-format fork, sorted by file offset as on disk.
    pub fn extents(&mut self, ino: &Inode) -> R<Vec<Extent>> {
        match ino.format {
            FMT_EXTENTS => {
                let n = usize::try_from(ino.nextents)
                    .ok()
                    .filter(|&n| {
                        n.checked_mul(EXTENT_REC)
                            .is_some_and(|b| b <= ino.fork.len())
                    })
                    .ok_or_else(|| {
                        format!(
                            "inode {}: {} extents do not fit its {}-byte fork",
                            ino.ino,
                            ino.nextents,
                            ino.fork.len()
                        )
                    })?;
                ino.fork
                    .chunks_exact(EXTENT_REC)
                    .take(n)
                    .map(parse_extent)
                    .collect()
            }
            FMT_BTREE => self.btree_extents(ino),
            f => Err(format!(
                "inode {}: data fork format {f} has no extents",
                ino.ino
            )),
        }
    }

    fn btree_extents(&mut self, ino: &Inode) -> R<Vec<Extent>> {
        let level = be16(&ino.fork, 0)?;
        let numrecs = usize::from(be16(&ino.fork, 2)?);
        let maxrecs = ino.fork.len().saturating_sub(BMDR_HDR) / 16;
        if level == 0 || level > MAX_BMBT_LEVELS || numrecs > maxrecs {
            return Err(format!(
                "inode {}: extent tree root has level {level} and {numrecs} records (at most {maxrecs})",
                ino.ino
            ));
        }
        let ptrs_at = BMDR_HDR + maxrecs * 8;
        let mut out = Vec::new();
        for i in 0..numrecs {
            let ptr = be64(&ino.fork, ptrs_at + i * 8)?;
            self.bmbt_block(ptr, level - 1, &mut out)?;
        }
        Ok(out)
    }

    /// One B+tree block at `level` (0: leaf); recursion is bounded by the root's level.
    fn bmbt_block(&mut self, fsb: u64, level: u16, out: &mut Vec<Extent>) -> R<()> {
        let b = self.read_fsb(fsb, 1)?;
        let (magic, hdr): (&[u8], usize) = if self.sb.v5 {
            (b"BMA3", BMBT_V5_HDR)
        } else {
            (b"BMAP", BMBT_V4_HDR)
        };
        if b.get(0..4) != Some(magic) {
            return Err(format!(
                "extent tree block {fsb:#x}: magic is not {}",
                String::from_utf8_lossy(magic)
            ));
        }
        let found = be16(&b, 4)?;
        let numrecs = usize::from(be16(&b, 6)?);
        if found != level {
            return Err(format!(
                "extent tree block {fsb:#x}: level {found}, expected {level}"
            ));
        }
        if level == 0 {
            let recs = b
                .get(hdr..)
                .map(|r| r.chunks_exact(EXTENT_REC))
                .ok_or("short block")?;
            if numrecs > recs.len() || out.len().saturating_add(numrecs) > MAX_EXTENTS {
                return Err(format!(
                    "extent tree leaf {fsb:#x}: {numrecs} records (at most {} here, {MAX_EXTENTS} per file)",
                    recs.len()
                ));
            }
            for r in recs.take(numrecs) {
                out.push(parse_extent(r)?);
            }
            return Ok(());
        }
        let maxrecs = (b.len() - hdr) / 16;
        if numrecs > maxrecs {
            return Err(format!(
                "extent tree node {fsb:#x}: {numrecs} records, at most {maxrecs}"
            ));
        }
        for i in 0..numrecs {
            let ptr = be64(&b, hdr + maxrecs * 8 + i * 8)?;
            self.bmbt_block(ptr, level - 1, out)?;
        }
        Ok(())
    }

    /// Up to `max` bytes from the start of a file's data (holes and unwritten extents read
    /// as zeros, as the kernel returns them).
    pub fn read_data(&mut self, ino: &Inode, max: u64) -> R<Vec<u8>> {
        let want = ino.size.min(max);
        if ino.format == FMT_LOCAL {
            let n = usize::try_from(want).map_err(|_| "size too large")?;
            return ino.fork.get(..n).map(<[u8]>::to_vec).ok_or_else(|| {
                format!(
                    "inode {}: local data of {want} bytes exceeds its fork",
                    ino.ino
                )
            });
        }
        let extents = self.extents(ino)?;
        let bs = u64::from(self.sb.block_size);
        let mut out = vec![0u8; usize::try_from(want).map_err(|_| "size too large")?];
        for e in extents.iter().filter(|e| !e.unwritten) {
            let Some(from) = e.off.checked_mul(bs).filter(|&f| f < want) else {
                continue;
            };
            let bytes = e.len.saturating_mul(bs).min(want - from);
            let blocks = bytes.div_ceil(bs);
            let data = self.read_fsb(e.start, blocks)?;
            let (f, n) = (from as usize, bytes as usize);
            out[f..f + n].copy_from_slice(&data[..n]);
        }
        Ok(out)
    }

    /// The inode number of `name` in directory `dir`.
    pub fn lookup(&mut self, dir: &Inode, name: &str) -> R<Option<u64>> {
        if dir.kind() != NodeKind::Dir {
            return Err(format!("inode {} is not a directory", dir.ino));
        }
        match dir.format {
            FMT_LOCAL => shortform_lookup(&dir.fork, self.sb.ftype, name),
            FMT_EXTENTS | FMT_BTREE => self.block_dir_lookup(dir, name),
            f => Err(format!("directory inode {}: format {f}", dir.ino)),
        }
    }

    /// Scan every data block (below the leaf offset) of a block, leaf or node directory.
    fn block_dir_lookup(&mut self, dir: &Inode, name: &str) -> R<Option<u64>> {
        let bs = u64::from(self.sb.block_size);
        let dbs = self.sb.dir_block_size().ok_or("directory block size")?;
        let per_dir_block = dbs / bs;
        let leaf_fsb = DIR_LEAF_OFFSET / bs;
        let mut scanned = 0u64;
        for e in self.extents(dir)? {
            if e.unwritten || e.off >= leaf_fsb {
                continue;
            }
            let len = e.len.min(leaf_fsb - e.off);
            // Directory blocks are whole in one extent; step through them.
            let mut i = 0;
            while i + per_dir_block <= len {
                scanned += 1;
                if scanned > MAX_DIR_BLOCKS {
                    return Err(format!(
                        "directory inode {}: more than {MAX_DIR_BLOCKS} data blocks",
                        dir.ino
                    ));
                }
                let fsb = e.start.checked_add(i).ok_or("block overflow")?;
                let block = self.read_fsb(fsb, per_dir_block)?;
                if let Some(ino) = data_block_lookup(&block, self.sb.v5, self.sb.ftype, name)? {
                    return Ok(Some(ino));
                }
                i += per_dir_block;
            }
        }
        Ok(None)
    }

    pub fn read_link(&mut self, ino: &Inode) -> R<String> {
        if ino.size == 0 || ino.size > MAX_SYMLINK {
            return Err(format!("symlink inode {}: length {}", ino.ino, ino.size));
        }
        let bytes = if ino.format == FMT_LOCAL || !self.sb.v5 {
            self.read_data(ino, ino.size)?
        } else {
            self.remote_link_v5(ino)?
        };
        String::from_utf8(bytes).map_err(|_| format!("symlink inode {}: not UTF-8", ino.ino))
    }

    /// A v5 remote symlink: each block starts with an XSLM header before its piece.
    fn remote_link_v5(&mut self, ino: &Inode) -> R<Vec<u8>> {
        let mut out = Vec::new();
        for e in self.extents(ino)?.iter().take(4) {
            let block = self.read_fsb(e.start, e.len.min(4))?;
            for b in block.chunks(self.sb.block_size as usize) {
                if b.get(0..4) != Some(SYMLINK_MAGIC.as_slice()) {
                    return Err(format!(
                        "symlink inode {}: block magic is not XSLM",
                        ino.ino
                    ));
                }
                let n = be32(b, 8)? as usize;
                let piece = SYMLINK_V5_HDR
                    .checked_add(n)
                    .and_then(|end| b.get(SYMLINK_V5_HDR..end))
                    .ok_or_else(|| {
                        format!(
                            "symlink inode {}: piece of {n} bytes overruns its block",
                            ino.ino
                        )
                    })?;
                out.extend_from_slice(piece);
            }
        }
        out.truncate(ino.size as usize);
        Ok(out)
    }

    /// The inode at an absolute, already resolved path; `None` if it does not exist.
    pub fn walk(&mut self, path: &str) -> R<Option<Inode>> {
        let mut ino = self.inode(self.sb.root_ino)?;
        for (depth, comp) in path.split('/').filter(|c| !c.is_empty()).enumerate() {
            if depth >= ROOT_PATH_DEPTH {
                return Err(format!("path deeper than {ROOT_PATH_DEPTH}"));
            }
            if ino.kind() != NodeKind::Dir {
                return Ok(None);
            }
            match self.lookup(&ino, comp)? {
                Some(n) => ino = self.inode(n)?,
                None => return Ok(None),
            }
        }
        Ok(Some(ino))
    }
}

/// A short-form directory in the inode: count, i8count, parent (4 or 8 bytes), then entries
/// of namelen, offset (2), name, ftype (if enabled), inode number (4 or 8 bytes).
pub fn shortform_lookup(fork: &[u8], ftype: bool, name: &str) -> R<Option<u64>> {
    let count = usize::from(*fork.first().ok_or("empty short-form directory")?);
    let wide = *fork.get(1).ok_or("short-form header")? != 0;
    let ino_len = if wide { 8 } else { 4 };
    let mut at = 2 + ino_len;
    for _ in 0..count {
        let namelen = usize::from(
            *fork
                .get(at)
                .ok_or_else(|| format!("short-form entry at byte {at} past the fork"))?,
        );
        let name_at = at + 3;
        let entry_name = fork
            .get(name_at..name_at + namelen)
            .ok_or_else(|| format!("short-form name at byte {name_at} past the fork"))?;
        let ino_at = name_at + namelen + usize::from(ftype);
        let ino = if wide {
            be64(fork, ino_at)?
        } else {
            // Without i8count every inode number fits in 4 bytes.
            u64::from(be32(fork, ino_at)?)
        };
        if entry_name == name.as_bytes() {
            return Ok(Some(ino));
        }
        at = ino_at + ino_len;
    }
    Ok(None)
}

/// Scan one directory data block (block form "XD2B"/"XDB3" or data "XD2D"/"XDD3").
pub fn data_block_lookup(b: &[u8], v5: bool, ftype: bool, name: &str) -> R<Option<u64>> {
    let magic = b.get(0..4).ok_or("short directory block")?;
    let (block_form, hdr) = match (magic, v5) {
        (b"XD2B", false) => (true, DIR_V4_DATA_HDR),
        (b"XD2D", false) => (false, DIR_V4_DATA_HDR),
        (b"XDB3", true) => (true, DIR_V5_DATA_HDR),
        (b"XDD3", true) => (false, DIR_V5_DATA_HDR),
        _ => {
            return Err(format!(
                "directory block magic {:?} is not a {} data block",
                String::from_utf8_lossy(magic),
                if v5 { "v5" } else { "v4" }
            ));
        }
    };
    let end = if block_form {
        // The tail (leaf count, stale count) and the leaf entries sit at the end.
        let tail = b.len().checked_sub(DIR_BLOCK_TAIL).ok_or("short block")?;
        let count = be32(b, tail)? as usize;
        count
            .checked_mul(DIR_LEAF_ENTRY)
            .and_then(|n| tail.checked_sub(n))
            .filter(|&e| e >= hdr)
            .ok_or_else(|| format!("directory block tail: {count} leaf entries do not fit"))?
    } else {
        b.len()
    };
    let mut at = hdr;
    // Each step advances by at least 8 bytes, so this ends within len/8 steps.
    while at < end {
        if be16(b, at)? == DIR_FREE_TAG {
            let len = usize::from(be16(b, at + 2)?);
            if len < 8 || len % 8 != 0 {
                return Err(format!("free directory space at byte {at}: length {len}"));
            }
            at += len;
            continue;
        }
        let ino = be64(b, at)?;
        let namelen = usize::from(field::<1>(b, at + 8, "namelen")?[0]);
        let entry_name = b
            .get(at + 9..at + 9 + namelen)
            .ok_or_else(|| format!("directory entry at byte {at}: name past the block"))?;
        if namelen == 0 {
            return Err(format!("directory entry at byte {at}: empty name"));
        }
        if entry_name == name.as_bytes() {
            return Ok(Some(ino));
        }
        at += (8 + 1 + namelen + usize::from(ftype) + 2).next_multiple_of(8);
    }
    Ok(None)
}

/// [`GuestFs`] over an XFS reader; errors become "does not exist" after being noted once.
pub struct XfsGuest<'a> {
    pub fs: Xfs<'a>,
    pub errors: Vec<String>,
}

impl XfsGuest<'_> {
    fn node(&mut self, path: &str) -> Option<Inode> {
        match self.fs.walk(path) {
            Ok(n) => n,
            Err(e) => {
                if self.errors.len() < 8 {
                    self.errors.push(format!("{path}: {e}"));
                }
                None
            }
        }
    }
    fn note<T>(&mut self, path: &str, r: R<T>) -> Option<T> {
        r.map_err(|e| {
            if self.errors.len() < 8 {
                self.errors.push(format!("{path}: {e}"));
            }
        })
        .ok()
    }
}

impl GuestFs for XfsGuest<'_> {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        self.node(path).map(|n| n.kind())
    }
    fn read_link(&mut self, path: &str) -> Option<String> {
        let n = self.node(path).filter(|n| n.kind() == NodeKind::Symlink)?;
        let r = self.fs.read_link(&n);
        self.note(path, r)
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        let n = self.node(path).filter(|n| n.kind() == NodeKind::File)?;
        let r = self.fs.read_data(&n, max as u64);
        self.note(path, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BS: usize = 4096;

    use crate::image::mem::MemDisk as Mem;

    /// A v5 superblock: 4 KiB blocks, 2 AGs of 1000 blocks, 512-byte inodes, root inode 128.
    fn sb_bytes() -> Vec<u8> {
        let mut b = vec![0u8; SB_LEN];
        b[0..4].copy_from_slice(b"XFSB");
        b[4..8].copy_from_slice(&4096u32.to_be_bytes()); // blocksize
        b[8..16].copy_from_slice(&2048u64.to_be_bytes()); // dblocks
        b[56..64].copy_from_slice(&128u64.to_be_bytes()); // rootino
        b[84..88].copy_from_slice(&1000u32.to_be_bytes()); // agblocks
        b[88..92].copy_from_slice(&2u32.to_be_bytes()); // agcount
        b[100..102].copy_from_slice(&0xB4A5u16.to_be_bytes()); // versionnum: v5
        b[102..104].copy_from_slice(&512u16.to_be_bytes()); // sectsize
        b[104..106].copy_from_slice(&512u16.to_be_bytes()); // inodesize
        b[106..108].copy_from_slice(&8u16.to_be_bytes()); // inopblock
        b[120] = 12; // blocklog
        b[123] = 3; // inopblog
        b[124] = 10; // agblklog
        b[216..220].copy_from_slice(&INCOMPAT_FTYPE.to_be_bytes());
        b
    }

    fn extent_rec(off: u64, start: u64, len: u64) -> [u8; 16] {
        let l0 = (off << 9) | (start >> 43);
        let l1 = (start << 21) | len;
        let mut r = [0u8; 16];
        r[..8].copy_from_slice(&l0.to_be_bytes());
        r[8..].copy_from_slice(&l1.to_be_bytes());
        r
    }

    /// A disk with the superblock and inode 128 (a v3 inode with `mode`, `format`, `size`
    /// and `fork` as its data fork).
    fn disk_with_inode(mode: u16, format: u8, size: u64, nextents: u32, fork: &[u8]) -> Mem {
        let mut d = vec![0u8; 2048 * BS];
        d[..SB_LEN].copy_from_slice(&sb_bytes());
        let at = 16 * BS; // inode 128: AG 0, block 16, slot 0
        d[at..at + 2].copy_from_slice(b"IN");
        d[at + 2..at + 4].copy_from_slice(&mode.to_be_bytes());
        d[at + 4] = 3; // di_version
        d[at + 5] = format;
        d[at + 56..at + 64].copy_from_slice(&size.to_be_bytes());
        d[at + 76..at + 80].copy_from_slice(&nextents.to_be_bytes());
        d[at + INODE_CORE_V3..at + INODE_CORE_V3 + fork.len()].copy_from_slice(fork);
        Mem(d)
    }

    #[test]
    fn superblock_checks() {
        let sb = Superblock::parse(&sb_bytes()).unwrap();
        assert!(sb.v5 && sb.ftype);
        let mut bad = sb_bytes();
        bad[0] = b'Y';
        assert!(Superblock::parse(&bad).unwrap_err().contains("magic"));
        let mut bad = sb_bytes();
        bad[88..92].copy_from_slice(&0u32.to_be_bytes());
        assert!(Superblock::parse(&bad).unwrap_err().contains("agcount"));
        let mut bad = sb_bytes();
        bad[4..8].copy_from_slice(&3000u32.to_be_bytes());
        assert!(Superblock::parse(&bad).unwrap_err().contains("block size"));
        let mut bad = sb_bytes();
        bad[124] = 40; // agblklog that would shift inode numbers out of range
        assert!(Superblock::parse(&bad).unwrap_err().contains("agblklog"));
        assert!(Superblock::parse(&sb_bytes()[..100]).is_err());
    }

    #[test]
    fn inode_numbers_out_of_range_are_errors() {
        let sb = Superblock::parse(&sb_bytes()).unwrap();
        assert_eq!(sb.inode_byte(128).unwrap(), 16 * BS as u64);
        // AG 2 of 2, and block 1001 of a 1000-block AG.
        assert!(sb.inode_byte(2 << 13).unwrap_err().contains("outside"));
        assert!(sb.inode_byte(1001 << 3).unwrap_err().contains("outside"));
        assert!(sb.inode_byte(u64::MAX).is_err());
    }

    #[test]
    fn extent_record_bit_fields() {
        let e = parse_extent(&extent_rec(5, (1 << 40) + 3, 0x1F_FFFF)).unwrap();
        assert_eq!(
            (e.off, e.start, e.len, e.unwritten),
            (5, (1 << 40) + 3, 0x1F_FFFF, false)
        );
    }

    #[test]
    fn v5_remote_symlink_has_a_header_per_block() {
        let d = disk_with_inode(S_IFLNK | 0o777, FMT_EXTENTS, 5, 1, &extent_rec(0, 20, 1));
        let mut d = d;
        let at = 20 * BS;
        d.0[at..at + 4].copy_from_slice(b"XSLM");
        d.0[at + 8..at + 12].copy_from_slice(&5u32.to_be_bytes()); // bytes in this block
        d.0[at + SYMLINK_V5_HDR..at + SYMLINK_V5_HDR + 5].copy_from_slice(b"a/b/c");
        let mut x = Xfs::open(&d, 1 << 20).unwrap();
        let ino = x.inode(128).unwrap();
        assert_eq!(x.read_link(&ino).unwrap(), "a/b/c");
        // A piece longer than its block is refused.
        d.0[at + 8..at + 12].copy_from_slice(&5000u32.to_be_bytes());
        let mut x = Xfs::open(&d, 1 << 20).unwrap();
        assert!(x.read_link(&ino).unwrap_err().contains("overruns"));
    }

    #[test]
    fn huge_extent_count_is_refused() {
        let d = disk_with_inode(
            S_IFREG | 0o644,
            FMT_EXTENTS,
            10,
            u32::MAX,
            &extent_rec(0, 20, 1),
        );
        let mut x = Xfs::open(&d, 1 << 20).unwrap();
        let ino = x.inode(128).unwrap();
        assert!(x.read_data(&ino, 10).unwrap_err().contains("do not fit"));
    }

    /// An extent B+tree: root in the inode (level 1) -> leaf block 30 with two extents.
    #[test]
    fn extent_tree_leaf_and_loops() {
        let maxrecs = (512 - INODE_CORE_V3 - BMDR_HDR) / 16;
        let mut root = vec![0u8; 512 - INODE_CORE_V3];
        root[0..2].copy_from_slice(&1u16.to_be_bytes()); // level
        root[2..4].copy_from_slice(&1u16.to_be_bytes()); // numrecs
        let ptr_at = BMDR_HDR + maxrecs * 8;
        root[ptr_at..ptr_at + 8].copy_from_slice(&30u64.to_be_bytes());
        let mut d = disk_with_inode(S_IFREG | 0o644, FMT_BTREE, 8192, 2, &root);
        let at = 30 * BS;
        d.0[at..at + 4].copy_from_slice(b"BMA3");
        d.0[at + 6..at + 8].copy_from_slice(&2u16.to_be_bytes()); // level 0, 2 records
        d.0[at + BMBT_V5_HDR..at + BMBT_V5_HDR + 16].copy_from_slice(&extent_rec(0, 40, 1));
        d.0[at + BMBT_V5_HDR + 16..at + BMBT_V5_HDR + 32].copy_from_slice(&extent_rec(1, 50, 1));
        d.0[40 * BS] = b'A';
        d.0[50 * BS] = b'B';
        let mut x = Xfs::open(&d, 1 << 20).unwrap();
        let ino = x.inode(128).unwrap();
        let data = x.read_data(&ino, 8192).unwrap();
        assert_eq!((data[0], data[BS]), (b'A', b'B'));
        // A leaf that claims to be a node pointing at itself: the level check stops it.
        d.0[at + 4..at + 6].copy_from_slice(&1u16.to_be_bytes());
        let mut x = Xfs::open(&d, 1 << 20).unwrap();
        assert!(x.read_data(&ino, 10).unwrap_err().contains("level"));
    }

    #[test]
    fn directory_blocks_with_bad_lengths_end() {
        // Free space of length 0 would never advance.
        let mut b = vec![0u8; BS];
        b[0..4].copy_from_slice(b"XDD3");
        b[DIR_V5_DATA_HDR..DIR_V5_DATA_HDR + 2].copy_from_slice(&DIR_FREE_TAG.to_be_bytes());
        assert!(
            data_block_lookup(&b, true, true, "x")
                .unwrap_err()
                .contains("length 0")
        );
        // A block-form tail that claims more leaf entries than fit.
        let mut b = vec![0u8; BS];
        b[0..4].copy_from_slice(b"XDB3");
        b[BS - 8..BS - 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(
            data_block_lookup(&b, true, true, "x")
                .unwrap_err()
                .contains("do not fit")
        );
        // A v4 magic on a v5 file system.
        b[0..4].copy_from_slice(b"XD2B");
        assert!(data_block_lookup(&b, true, true, "x").is_err());
        // A short-form directory claiming 255 entries in 10 bytes.
        let sf = [255u8, 0, 0, 0, 0, 128, 1, 0, 0, b'a'];
        assert!(shortform_lookup(&sf, true, "zz").is_err());
    }

    #[test]
    fn budget_is_enforced() {
        let d = disk_with_inode(S_IFREG | 0o644, FMT_EXTENTS, 10, 1, &extent_rec(0, 20, 1));
        let mut x = Xfs::open(&d, SB_LEN as u64 + 512).unwrap();
        let ino = x.inode(128).unwrap();
        assert!(x.read_data(&ino, 10).unwrap_err().contains("budget"));
    }
}
