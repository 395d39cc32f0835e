//! Directories in every form: short form in the inode; block, leaf and node forms, whose
//! entries all live in data blocks below [`DIR_LEAF_OFFSET`] of the directory (v4 "XD2B" /
//! "XD2D", v5 "XDB3" / "XDD3" with their CRC headers). Lookups and listings scan those data
//! blocks through the extent map; the hash indexes above them (leaf, node and free blocks) are
//! not needed. Path walks from the root.

use std::ops::ControlFlow;

use super::inode::{FMT_BTREE, FMT_EXTENTS, FMT_LOCAL, Inode};
use super::raw::{R, be16, be32, be64, byte};
use super::reader::Xfs;
use crate::disk::guestfs::NodeKind;

const DIR_V4_DATA_HDR: usize = 16;
pub const DIR_V5_DATA_HDR: usize = 64;
const DIR_BLOCK_TAIL: usize = 8;
const DIR_LEAF_ENTRY: usize = 8;
pub const DIR_FREE_TAG: u16 = 0xFFFF;
/// Directory data blocks live below this byte offset in the directory; the leaf and free
/// index blocks above it are not needed for a scan.
pub const DIR_LEAF_OFFSET: u64 = 32 << 30;
/// Directory data blocks scanned for one lookup or listing (16 MiB of 4 KiB blocks, some
/// 500 000 entries).
pub const MAX_DIR_BLOCKS: u64 = 4096;
/// Components in one path.
const MAX_PATH_DEPTH: usize = 256;

/// One entry: its name and inode number. `Break` ends the scan.
type Visit<'v> = dyn FnMut(&[u8], u64) -> ControlFlow<()> + 'v;

/// A short-form directory in the inode: count, i8count, parent (4 or 8 bytes), then entries
/// of namelen, offset (2), name, ftype (if enabled), inode number (4 or 8 bytes).
pub fn shortform_entries(fork: &[u8], ftype: bool, visit: &mut Visit<'_>) -> R<()> {
    let count = usize::from(byte(fork, 0, "short-form count")?);
    let wide = byte(fork, 1, "short-form i8count")? != 0;
    let ino_len = if wide { 8 } else { 4 };
    let mut at = 2 + ino_len;
    for _ in 0..count {
        let namelen = usize::from(byte(fork, at, "short-form namelen")?);
        let name_at = at + 3;
        let name = fork
            .get(name_at..name_at + namelen)
            .ok_or_else(|| format!("short-form name at byte {name_at} past the fork"))?;
        let ino_at = name_at + namelen + usize::from(ftype);
        let ino = if wide {
            be64(fork, ino_at)?
        } else {
            // Without i8count every inode number fits in 4 bytes.
            u64::from(be32(fork, ino_at)?)
        };
        if visit(name, ino).is_break() {
            return Ok(());
        }
        at = ino_at + ino_len;
    }
    Ok(())
}

/// Every entry of one directory data block (block form "XD2B"/"XDB3" or data "XD2D"/"XDD3").
/// Returns `Break` if `visit` stopped the scan.
pub fn data_block_entries(
    b: &[u8],
    v5: bool,
    ftype: bool,
    visit: &mut Visit<'_>,
) -> R<ControlFlow<()>> {
    let magic = b.get(0..4).ok_or("short directory block")?;
    let (block_form, hdr) = match (magic, v5) {
        (b"XD2B", false) => (true, DIR_V4_DATA_HDR),
        (b"XD2D", false) => (false, DIR_V4_DATA_HDR),
        (b"XDB3", true) => (true, DIR_V5_DATA_HDR),
        (b"XDD3", true) => (false, DIR_V5_DATA_HDR),
        _ => {
            return Err(format!(
                "directory block magic {:?} at byte 0 is not a {} data block",
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
            .ok_or_else(|| {
                format!("directory block tail at byte {tail}: {count} leaf entries do not fit")
            })?
    } else {
        b.len()
    };
    let mut at = hdr;
    // Each step advances by at least 8 bytes, so this ends within len/8 steps.
    while at < end {
        if be16(b, at)? == DIR_FREE_TAG {
            let len = usize::from(be16(b, at + 2)?);
            if len < 8 || len % 8 != 0 {
                return Err(format!(
                    "free directory space at byte {at}: length {len}, expected a multiple of 8"
                ));
            }
            at += len;
            continue;
        }
        let ino = be64(b, at)?;
        let namelen = usize::from(byte(b, at + 8, "namelen")?);
        if namelen == 0 {
            return Err(format!("directory entry at byte {at}: empty name"));
        }
        let name = b
            .get(at + 9..at + 9 + namelen)
            .ok_or_else(|| format!("directory entry at byte {at}: name past the block"))?;
        if visit(name, ino).is_break() {
            return Ok(ControlFlow::Break(()));
        }
        at += (8 + 1 + namelen + usize::from(ftype) + 2).next_multiple_of(8);
    }
    Ok(ControlFlow::Continue(()))
}

/// The inode number of `name` among the entries `scan` visits; the scan stops at it.
fn find_entry<T>(name: &str, scan: impl FnOnce(&mut Visit<'_>) -> R<T>) -> R<Option<u64>> {
    let mut found = None;
    // Whether the scan stopped is in `found`.
    scan(&mut |n, ino| {
        if n == name.as_bytes() {
            found = Some(ino);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    Ok(found)
}

/// The inode number of `name` in a short-form directory.
pub fn shortform_lookup(fork: &[u8], ftype: bool, name: &str) -> R<Option<u64>> {
    find_entry(name, |visit| shortform_entries(fork, ftype, visit))
}

/// The inode number of `name` in one directory data block.
pub fn data_block_lookup(b: &[u8], v5: bool, ftype: bool, name: &str) -> R<Option<u64>> {
    find_entry(name, |visit| data_block_entries(b, v5, ftype, visit))
}

impl Xfs<'_> {
    /// Visit the entries of directory `dir` in on-disk order (block forms include `.` and
    /// `..`; the short form does not store them).
    fn dir_entries(&mut self, dir: &Inode, visit: &mut Visit<'_>) -> R<()> {
        if dir.kind() != NodeKind::Dir {
            return Err(format!("inode {} is not a directory", dir.ino));
        }
        match dir.format {
            FMT_LOCAL => shortform_entries(&dir.fork, self.sb.ftype, visit),
            FMT_EXTENTS | FMT_BTREE => self.data_blocks(dir, visit),
            f => Err(format!("directory inode {}: format {f} at byte 5", dir.ino)),
        }
    }

    /// Scan every data block (below the leaf offset) of a block, leaf or node directory.
    fn data_blocks(&mut self, dir: &Inode, visit: &mut Visit<'_>) -> R<()> {
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
                let r = data_block_entries(&block, self.sb.v5, self.sb.ftype, visit)
                    .map_err(|m| format!("directory inode {}, block {fsb:#x}: {m}", dir.ino))?;
                if r.is_break() {
                    return Ok(());
                }
                i += per_dir_block;
            }
        }
        Ok(())
    }

    /// The inode number of `name` in directory `dir`.
    pub fn lookup(&mut self, dir: &Inode, name: &str) -> R<Option<u64>> {
        find_entry(name, |visit| self.dir_entries(dir, visit))
    }

    /// Up to `max` names in directory `dir` (not `.` and `..`), with their inode numbers, in
    /// on-disk order. Names that are not UTF-8 are left out (they cannot be asked for).
    pub fn list(&mut self, dir: &Inode, max: usize) -> R<Vec<(String, u64)>> {
        let mut out = Vec::new();
        self.dir_entries(dir, &mut |n, ino| {
            if out.len() >= max {
                return ControlFlow::Break(());
            }
            if n != b"." && n != b".." {
                if let Ok(s) = std::str::from_utf8(n) {
                    out.push((s.to_string(), ino));
                }
            }
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// The inode at an absolute, already resolved path; `None` if it does not exist.
    pub fn walk(&mut self, path: &str) -> R<Option<Inode>> {
        let mut ino = self.inode(self.sb.root_ino)?;
        for (depth, comp) in path.split('/').filter(|c| !c.is_empty()).enumerate() {
            if depth >= MAX_PATH_DEPTH {
                return Err(format!("path deeper than {MAX_PATH_DEPTH}"));
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
