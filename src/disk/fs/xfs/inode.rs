//! Inodes: the core (v1/v2 with 100 bytes, v3 with 176) and the data fork after it, which
//! holds local data, an extent list or the root of an extent B+tree.

use super::raw::{R, be16, be32, be64, byte};
use super::reader::Xfs;
use crate::disk::guestfs::NodeKind;

const INODE_MAGIC: &[u8; 2] = b"IN";
pub const INODE_CORE_V2: usize = 100;
pub const INODE_CORE_V3: usize = 176;
/// di_format: data in the inode (short-form directory, small symlink).
pub const FMT_LOCAL: u8 = 1;
pub const FMT_EXTENTS: u8 = 2;
pub const FMT_BTREE: u8 = 3;
const S_IFMT: u16 = 0o170000;
pub const S_IFDIR: u16 = 0o040000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFLNK: u16 = 0o120000;

/// An inode, with its data fork's bytes.
#[derive(Debug, Clone)]
pub struct Inode {
    pub ino: u64,
    pub mode: u16,
    pub size: u64,
    pub format: u8,
    pub nextents: u64,
    pub fork: Vec<u8>,
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

impl Xfs<'_> {
    pub fn inode(&mut self, ino: u64) -> R<Inode> {
        let at = self.sb.inode_byte(ino)?;
        let b = self.read(at, self.sb.inode_size.into())?;
        if b.get(0..2) != Some(INODE_MAGIC.as_slice()) {
            return Err(format!("inode {ino} at byte {at}: magic is not IN"));
        }
        let core = match byte(&b, 4, "di_version")? {
            1 | 2 => INODE_CORE_V2,
            3 => INODE_CORE_V3,
            v => {
                return Err(format!(
                    "inode {ino}: version {v} at byte 4, expected 1..=3"
                ));
            }
        };
        let forkoff = usize::from(byte(&b, 82, "di_forkoff")?) * 8;
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
            format: byte(&b, 5, "di_format")?,
            nextents,
            fork,
        })
    }
}
