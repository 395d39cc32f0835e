//! File-system probes: each reads a superblock and reports the kind, label, UUID, block size
//! and the size the superblock claims. Only fixed, small buffers are read.

pub mod kind;
pub mod xfs;

use byteorder::{BigEndian, ByteOrder};

use crate::disk::partition::{le_u16, le_u32, le_u64};
use crate::image::VirtualDisk;
pub use kind::FsKind;

/// What a superblock says about its file system. Strings are raw (not escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsInfo {
    pub kind: FsKind,
    pub label: Option<String>,
    pub uuid: Option<String>,
    pub block_size: Option<u64>,
    /// Bytes the file system says it spans, from its own superblock.
    pub size: Option<u64>,
    /// Notable feature flags (ext: `64bit`, `metadata_csum`, ...).
    pub features: Vec<&'static str>,
}

/// The first bytes every probe but Btrfs needs: boot sector, ext superblock (1024..2048),
/// LVM label (sector 1), swap signature for 4 KiB pages (4086..4096).
const HEAD_LEN: usize = 4096;
const EXT_SB_AT: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;
const BTRFS_SB_AT: u64 = 0x10000;
const BTRFS_SB_LEN: usize = 4096;
const BTRFS_NUM_DEVICES_AT: usize = 0x88;
const BTRFS_SECTORSIZE_AT: usize = 0x90;
const BTRFS_DEV_ITEM_AT: usize = 0xC9;
const BTRFS_LABEL_AT: usize = 0x12B;
const BTRFS_LABEL_LEN: usize = 256;
const SWAP_MAGIC_LEN: usize = 10;

/// Probe `part` (a partition or a whole disk). `None`: no known signature.
pub fn probe(part: &dyn VirtualDisk, warnings: &mut Vec<String>) -> Option<FsInfo> {
    let mut head = [0u8; HEAD_LEN];
    if part.size() < HEAD_LEN as u64 || part.read_at(0, &mut head).is_err() {
        return None;
    }
    probe_ext(&head, warnings)
        .or_else(|| probe_xfs(&head))
        .or_else(|| probe_ntfs(&head))
        .or_else(|| probe_fat(&head, warnings))
        .or_else(|| probe_swap(&head))
        .or_else(|| probe_lvm(&head))
        .or_else(|| probe_btrfs(part))
}

fn text(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

/// A UUID stored as 16 bytes in order (ext, XFS, Btrfs, swap).
fn uuid(b: &[u8]) -> Option<String> {
    if b.iter().all(|&x| x == 0) {
        return None;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

const EXT_COMPAT: &[(u32, &str)] = &[
    (0x4, "has_journal"),
    (0x8, "ext_attr"),
    (0x10, "resize_inode"),
    (0x20, "dir_index"),
];
const EXT_INCOMPAT: &[(u32, &str)] = &[
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extents"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];
const EXT_RO_COMPAT: &[(u32, &str)] = &[
    (0x1, "sparse_super"),
    (0x2, "large_file"),
    (0x8, "huge_file"),
    (0x10, "uninit_bg"),
    (0x20, "dir_nlink"),
    (0x40, "extra_isize"),
    (0x400, "metadata_csum"),
];
/// Incompat bits that only ext4 sets.
const EXT4_INCOMPAT: u32 = 0x40 | 0x80 | 0x200 | 0x8000 | 0x10000 | 0x20000;
const EXT_INCOMPAT_64BIT: u32 = 0x80;
/// log2(block size) - 10 is at most 6 (64 KiB blocks).
const EXT_MAX_LOG_BLOCK: u32 = 6;

fn probe_ext(head: &[u8], warnings: &mut Vec<String>) -> Option<FsInfo> {
    let sb = &head[EXT_SB_AT..EXT_SB_AT + 1024];
    if le_u16(sb, 56) != EXT_MAGIC {
        return None;
    }
    let log = le_u32(sb, 24);
    if log > EXT_MAX_LOG_BLOCK {
        warnings.push(format!(
            "ext superblock at offset {}: s_log_block_size {log}, expected 0..={EXT_MAX_LOG_BLOCK}; size unknown",
            EXT_SB_AT + 24
        ));
    }
    let block = (log <= EXT_MAX_LOG_BLOCK).then(|| 1024u64 << log);
    let (compat, incompat, ro) = (le_u32(sb, 92), le_u32(sb, 96), le_u32(sb, 100));
    let mut blocks = u64::from(le_u32(sb, 4));
    if incompat & EXT_INCOMPAT_64BIT != 0 {
        blocks |= u64::from(le_u32(sb, 0x150)) << 32;
    }
    let kind = if incompat & EXT4_INCOMPAT != 0 || ro & (0x8 | 0x400) != 0 {
        FsKind::Ext4
    } else if compat & 0x4 != 0 {
        FsKind::Ext3
    } else {
        FsKind::Ext2
    };
    let mut features = Vec::new();
    for (table, bits) in [
        (EXT_COMPAT, compat),
        (EXT_INCOMPAT, incompat),
        (EXT_RO_COMPAT, ro),
    ] {
        features.extend(table.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n));
    }
    Some(FsInfo {
        kind,
        label: text(&sb[120..136]),
        uuid: uuid(&sb[104..120]),
        block_size: block,
        size: block.and_then(|b| blocks.checked_mul(b)),
        features,
    })
}

/// XFS superblock, big-endian: magic, block size, data blocks, UUID, name.
fn probe_xfs(head: &[u8]) -> Option<FsInfo> {
    if &head[0..4] != b"XFSB" {
        return None;
    }
    let block = u64::from(BigEndian::read_u32(&head[4..]));
    let dblocks = BigEndian::read_u64(&head[8..]);
    Some(FsInfo {
        kind: FsKind::Xfs,
        label: text(&head[108..120]),
        uuid: uuid(&head[32..48]),
        block_size: Some(block),
        size: dblocks.checked_mul(block),
        features: Vec::new(),
    })
}

/// NTFS boot sector: bytes per sector, sectors per cluster (or 2^-n), total sectors, serial.
fn probe_ntfs(head: &[u8]) -> Option<FsInfo> {
    if &head[3..11] != b"NTFS    " {
        return None;
    }
    let bps = u64::from(le_u16(head, 0x0B));
    let spc = head[0x0D];
    let cluster = if spc > 0x80 {
        // Negative exponent form: 2^(256 - spc) bytes; only up to 2 MiB clusters exist.
        1u64.checked_shl(256 - u32::from(spc))
            .filter(|&c| c <= 2 << 20)
    } else {
        bps.checked_mul(u64::from(spc))
    };
    Some(FsInfo {
        kind: FsKind::Ntfs,
        label: None,
        uuid: Some(format!("{:016X}", le_u64(head, 0x48))),
        block_size: cluster,
        size: le_u64(head, 0x28).checked_mul(bps),
        features: Vec::new(),
    })
}

fn probe_fat(head: &[u8], warnings: &mut Vec<String>) -> Option<FsInfo> {
    let fat32 = &head[0x52..0x57] == b"FAT32";
    let fat1x = &head[0x36..0x39] == b"FAT";
    if !fat32 && !fat1x {
        return None;
    }
    let bps = u64::from(le_u16(head, 11));
    let spc = u64::from(head[13]);
    if ![512, 1024, 2048, 4096].contains(&bps) || !spc.is_power_of_two() {
        warnings.push(format!(
            "FAT boot sector: {bps} bytes per sector at offset 11 and {spc} sectors per cluster at 13; expected 512..4096 and a power of two"
        ));
        return None;
    }
    let total = match le_u16(head, 19) {
        0 => u64::from(le_u32(head, 32)),
        n => u64::from(n),
    };
    let fat_sectors = match le_u16(head, 22) {
        0 => u64::from(le_u32(head, 36)),
        n => u64::from(n),
    };
    let root_sectors = (u64::from(le_u16(head, 17)) * 32).div_ceil(bps);
    let meta = u64::from(le_u16(head, 14)) + u64::from(head[16]) * fat_sectors + root_sectors;
    let clusters = total.saturating_sub(meta) / spc;
    // The FAT type is decided by the cluster count (Microsoft's FAT specification), not by
    // the informational type string.
    let kind = match clusters {
        0..4085 => FsKind::Fat12,
        4085..65525 => FsKind::Fat16,
        _ => FsKind::Fat32,
    };
    let (serial_at, label_at) = if fat32 { (0x43, 0x47) } else { (0x27, 0x2B) };
    let label = text(&head[label_at..label_at + 11]).filter(|l| l != "NO NAME");
    let serial = le_u32(head, serial_at);
    Some(FsInfo {
        kind,
        label,
        uuid: Some(format!("{:04X}-{:04X}", serial >> 16, serial & 0xFFFF)),
        block_size: Some(bps * spc),
        size: total.checked_mul(bps),
        features: Vec::new(),
    })
}

/// Linux swap with 4 KiB pages: header at 1024 (version, last page, bad pages, UUID, label).
fn probe_swap(head: &[u8]) -> Option<FsInfo> {
    const PAGE: usize = 4096;
    if &head[PAGE - SWAP_MAGIC_LEN..PAGE] != b"SWAPSPACE2" {
        return None;
    }
    let last_page = u64::from(le_u32(head, 1028));
    Some(FsInfo {
        kind: FsKind::Swap,
        label: text(&head[1052..1068]),
        uuid: uuid(&head[1036..1052]),
        block_size: Some(PAGE as u64),
        size: (last_page + 1).checked_mul(PAGE as u64),
        features: Vec::new(),
    })
}

/// LVM2 physical volume: label in sector 0..3 (usually 1), PV header at its offset.
fn probe_lvm(head: &[u8]) -> Option<FsInfo> {
    let label = (0..4)
        .map(|s| s * 512)
        .find(|&at| &head[at..at + 8] == b"LABELONE" && &head[at + 24..at + 32] == b"LVM2 001")?;
    let pv = usize::try_from(le_u32(head, label + 20))
        .ok()
        .and_then(|o| label.checked_add(o))
        .filter(|&at| at + 40 <= head.len());
    let (uuid, size) = match pv {
        Some(at) => (
            text(&head[at..at + 32]).map(|u| lvm_uuid(&u)),
            Some(le_u64(head, at + 32)),
        ),
        None => (None, None),
    };
    Some(FsInfo {
        kind: FsKind::Lvm2Pv,
        label: None,
        uuid,
        block_size: None,
        size,
        features: Vec::new(),
    })
}

/// LVM prints its 32-character ids in groups of 6-4-4-4-4-4-6.
fn lvm_uuid(s: &str) -> String {
    if s.len() != 32 || !s.is_ascii() {
        return s.to_string();
    }
    let cuts = [0, 6, 10, 14, 18, 22, 26, 32];
    cuts.windows(2)
        .map(|w| &s[w[0]..w[1]])
        .collect::<Vec<_>>()
        .join("-")
}

/// Btrfs superblock at 64 KiB: fsid, sector size, label, and this device's size.
fn probe_btrfs(part: &dyn VirtualDisk) -> Option<FsInfo> {
    let mut sb = [0u8; BTRFS_SB_LEN];
    if part.size() < BTRFS_SB_AT + BTRFS_SB_LEN as u64
        || part.read_at(BTRFS_SB_AT, &mut sb).is_err()
    {
        return None;
    }
    if &sb[0x40..0x48] != b"_BHRfS_M" {
        return None;
    }
    // Checked against mkfs.btrfs 6.2 (testdata/make-guest-fixtures-2.sh, dump-super).
    let sector = u64::from(le_u32(&sb, BTRFS_SECTORSIZE_AT));
    let mut features = Vec::new();
    // This partition holds one device of several: the file system is not all here.
    if le_u64(&sb, BTRFS_NUM_DEVICES_AT) > 1 {
        features.push("multi_device");
    }
    Some(FsInfo {
        kind: FsKind::Btrfs,
        label: text(&sb[BTRFS_LABEL_AT..BTRFS_LABEL_AT + BTRFS_LABEL_LEN]),
        uuid: uuid(&sb[0x20..0x30]),
        block_size: Some(sector).filter(|s| s.is_power_of_two()),
        // dev_item.total_bytes: the size of this device, not of the whole multi-device fs.
        size: Some(le_u64(&sb, BTRFS_DEV_ITEM_AT + 8)),
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::image::mem::MemDisk as Mem;

    fn probe_bytes(b: Vec<u8>) -> (Option<FsInfo>, Vec<String>) {
        let mut w = Vec::new();
        (probe(&Mem(b), &mut w), w)
    }

    #[test]
    fn xfs_superblock() {
        let mut b = vec![0u8; 8192];
        b[0..4].copy_from_slice(b"XFSB"); // sb_magicnum
        b[4..8].copy_from_slice(&4096u32.to_be_bytes()); // sb_blocksize
        b[8..16].copy_from_slice(&1000u64.to_be_bytes()); // sb_dblocks
        b[32] = 0xAB; // sb_uuid
        b[108..112].copy_from_slice(b"root"); // sb_fname
        let f = probe_bytes(b).0.unwrap();
        assert_eq!(
            (f.kind, f.size, f.label.as_deref()),
            (FsKind::Xfs, Some(4_096_000), Some("root"))
        );
        assert_eq!(
            f.uuid.as_deref(),
            Some("ab000000-0000-0000-0000-000000000000")
        );
    }

    #[test]
    fn btrfs_superblock_at_64k() {
        let mut b = vec![0u8; 0x20000];
        let sb = 0x10000;
        b[sb + 0x40..sb + 0x48].copy_from_slice(b"_BHRfS_M"); // magic
        b[sb + 0x90..sb + 0x94].copy_from_slice(&4096u32.to_le_bytes()); // sectorsize
        b[sb + 0xD1..sb + 0xD9].copy_from_slice(&(1u64 << 30).to_le_bytes()); // dev_item.total_bytes
        b[sb + 0x12B..sb + 0x12F].copy_from_slice(b"data"); // label
        let f = probe_bytes(b).0.unwrap();
        assert_eq!(
            (f.kind, f.size, f.label.as_deref()),
            (FsKind::Btrfs, Some(1 << 30), Some("data"))
        );
    }

    #[test]
    fn lvm2_label_in_sector_1() {
        let mut b = vec![0u8; 8192];
        b[512..520].copy_from_slice(b"LABELONE"); // label id
        b[532..536].copy_from_slice(&32u32.to_le_bytes()); // offset of the PV header
        b[536..544].copy_from_slice(b"LVM2 001"); // type
        b[544..576].copy_from_slice(b"abcdefghijklmnopqrstuvwxyz012345"); // PV uuid
        b[576..584].copy_from_slice(&(8u64 << 30).to_le_bytes()); // device size
        let f = probe_bytes(b).0.unwrap();
        assert_eq!(f.kind, FsKind::Lvm2Pv);
        assert_eq!(
            f.uuid.as_deref(),
            Some("abcdef-ghij-klmn-opqr-stuv-wxyz-012345")
        );
        assert_eq!(f.size, Some(8 << 30));
    }

    #[test]
    fn fat32_by_cluster_count() {
        let mut b = vec![0u8; 8192];
        b[11..13].copy_from_slice(&512u16.to_le_bytes()); // bytes per sector
        b[13] = 8; // sectors per cluster
        b[14..16].copy_from_slice(&32u16.to_le_bytes()); // reserved sectors
        b[16] = 2; // FATs
        b[32..36].copy_from_slice(&(1u32 << 21).to_le_bytes()); // total sectors: 1 GiB
        b[36..40].copy_from_slice(&2048u32.to_le_bytes()); // sectors per FAT
        b[0x52..0x5A].copy_from_slice(b"FAT32   ");
        b[0x47..0x4B].copy_from_slice(b"BOOT"); // label
        let f = probe_bytes(b).0.unwrap();
        assert_eq!(
            (f.kind, f.size, f.block_size),
            (FsKind::Fat32, Some(1 << 30), Some(4096))
        );
        assert_eq!(f.label.as_deref(), Some("BOOT"));
    }

    #[test]
    fn fat_with_zero_bytes_per_sector_is_refused_with_a_warning() {
        let mut b = vec![0u8; 8192];
        b[0x36..0x3E].copy_from_slice(b"FAT16   ");
        let (f, w) = probe_bytes(b);
        assert!(f.is_none());
        assert!(w[0].contains("0 bytes per sector at offset 11"), "{w:?}");
    }
}
