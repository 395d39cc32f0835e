//! File-system probes: each reads a superblock and reports the kind, label, UUID, block size
//! and the size the superblock claims. Only fixed, small buffers are read.

pub mod kind;
pub mod layout;
pub mod xfs;

use crate::bytes::{Bytes, Fixed};
use crate::image::VirtualDisk;
pub use kind::FsKind;
use layout::{btrfs, ext, fat, lvm_label, ntfs, swap};

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
type Head<'a> = Fixed<'a, HEAD_LEN>;
const EXT_MAGIC: u16 = 0xEF53;
/// The LVM label is in one of the first four sectors.
const LVM_LABEL_SECTORS: usize = 4;
const SECTOR: usize = 512;

/// Probe `part` (a partition or a whole disk). `None`: no known signature.
pub fn probe(part: &dyn VirtualDisk, warnings: &mut Vec<String>) -> Option<FsInfo> {
    let mut head = [0u8; HEAD_LEN];
    if part.size() < HEAD_LEN as u64 || part.read_at(0, &mut head).is_err() {
        return None;
    }
    let h = Fixed(&head);
    probe_ext(h, warnings)
        .or_else(|| probe_xfs(h))
        .or_else(|| probe_ntfs(h))
        .or_else(|| probe_fat(h, warnings))
        .or_else(|| probe_swap(h))
        .or_else(|| probe_lvm(h))
        .or_else(|| probe_btrfs(part))
}

fn text(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(b.get(..end).unwrap_or(b))
        .trim_end()
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// A UUID stored as 16 bytes in order (ext, XFS, Btrfs, swap).
fn uuid(b: [u8; 16]) -> Option<String> {
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

fn probe_ext(head: Head<'_>, warnings: &mut Vec<String>) -> Option<FsInfo> {
    let sb = Fixed(head.0.get(ext::AT..)?.first_chunk::<{ ext::LEN }>()?);
    if sb.le_u16::<{ ext::MAGIC }>() != EXT_MAGIC {
        return None;
    }
    let log = sb.le_u32::<{ ext::LOG_BLOCK_SIZE }>();
    if log > EXT_MAX_LOG_BLOCK {
        warnings.push(format!(
            "ext superblock at offset {}: s_log_block_size {log}, expected 0..={EXT_MAX_LOG_BLOCK}; size unknown",
            ext::AT + ext::LOG_BLOCK_SIZE
        ));
    }
    let block = (log <= EXT_MAX_LOG_BLOCK).then(|| 1024u64 << log);
    let (compat, incompat, ro) = (
        sb.le_u32::<{ ext::FEATURE_COMPAT }>(),
        sb.le_u32::<{ ext::FEATURE_INCOMPAT }>(),
        sb.le_u32::<{ ext::FEATURE_RO_COMPAT }>(),
    );
    let mut blocks = u64::from(sb.le_u32::<{ ext::BLOCKS_COUNT_LO }>());
    if incompat & EXT_INCOMPAT_64BIT != 0 {
        blocks |= u64::from(sb.le_u32::<{ ext::BLOCKS_COUNT_HI }>()) << 32;
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
        label: text(&sb.array::<{ ext::VOLUME_NAME }, { ext::VOLUME_NAME_LEN }>()),
        uuid: uuid(sb.array::<{ ext::UUID }, 16>()),
        block_size: block,
        size: block.and_then(|b| blocks.checked_mul(b)),
        features,
    })
}

/// XFS superblock, big-endian: magic, block size, data blocks, UUID, name.
fn probe_xfs(h: Head<'_>) -> Option<FsInfo> {
    use layout::xfs as sb;
    if &h.array::<{ sb::MAGICNUM }, 4>() != b"XFSB" {
        return None;
    }
    let block = u64::from(h.be_u32::<{ sb::BLOCKSIZE }>());
    let dblocks = h.be_u64::<{ sb::DBLOCKS }>();
    Some(FsInfo {
        kind: FsKind::Xfs,
        label: text(&h.array::<{ sb::FNAME }, { sb::FNAME_LEN }>()),
        uuid: uuid(h.array::<{ sb::UUID }, 16>()),
        block_size: Some(block),
        size: dblocks.checked_mul(block),
        features: Vec::new(),
    })
}

/// NTFS boot sector: bytes per sector, sectors per cluster (or 2^-n), total sectors, serial.
fn probe_ntfs(h: Head<'_>) -> Option<FsInfo> {
    if &h.array::<{ ntfs::OEM_ID }, 8>() != b"NTFS    " {
        return None;
    }
    let bps = u64::from(h.le_u16::<{ ntfs::BYTES_PER_SECTOR }>());
    let spc = h.u8::<{ ntfs::SECTORS_PER_CLUSTER }>();
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
        uuid: Some(format!("{:016X}", h.le_u64::<{ ntfs::SERIAL }>())),
        block_size: cluster,
        size: h.le_u64::<{ ntfs::TOTAL_SECTORS }>().checked_mul(bps),
        features: Vec::new(),
    })
}

fn probe_fat(h: Head<'_>, warnings: &mut Vec<String>) -> Option<FsInfo> {
    let fat32 = &h.array::<{ fat::TYPE_32 }, 5>() == b"FAT32";
    let fat1x = &h.array::<{ fat::TYPE_16 }, 3>() == b"FAT";
    if !fat32 && !fat1x {
        return None;
    }
    let bps = u64::from(h.le_u16::<{ fat::BYTES_PER_SECTOR }>());
    let spc = u64::from(h.u8::<{ fat::SECTORS_PER_CLUSTER }>());
    if ![512, 1024, 2048, 4096].contains(&bps) || !spc.is_power_of_two() {
        warnings.push(format!(
            "FAT boot sector: {bps} bytes per sector at offset {} and {spc} sectors per cluster at {}; expected 512..4096 and a power of two",
            fat::BYTES_PER_SECTOR,
            fat::SECTORS_PER_CLUSTER
        ));
        return None;
    }
    let total = match h.le_u16::<{ fat::TOTAL_SECTORS_16 }>() {
        0 => u64::from(h.le_u32::<{ fat::TOTAL_SECTORS_32 }>()),
        n => u64::from(n),
    };
    let fat_sectors = match h.le_u16::<{ fat::SECTORS_PER_FAT_16 }>() {
        0 => u64::from(h.le_u32::<{ fat::SECTORS_PER_FAT_32 }>()),
        n => u64::from(n),
    };
    let root_sectors = (u64::from(h.le_u16::<{ fat::ROOT_ENTRIES }>()) * 32).div_ceil(bps);
    let meta = u64::from(h.le_u16::<{ fat::RESERVED_SECTORS }>())
        + u64::from(h.u8::<{ fat::NUM_FATS }>()) * fat_sectors
        + root_sectors;
    let clusters = total.saturating_sub(meta) / spc;
    // The FAT type is decided by the cluster count (Microsoft's FAT specification), not by
    // the informational type string.
    let kind = match clusters {
        0..4085 => FsKind::Fat12,
        4085..65525 => FsKind::Fat16,
        _ => FsKind::Fat32,
    };
    let (serial, label) = if fat32 {
        (
            h.le_u32::<{ fat::SERIAL_32 }>(),
            h.array::<{ fat::LABEL_32 }, { fat::LABEL_LEN }>(),
        )
    } else {
        (
            h.le_u32::<{ fat::SERIAL_16 }>(),
            h.array::<{ fat::LABEL_16 }, { fat::LABEL_LEN }>(),
        )
    };
    let label = text(&label).filter(|l| l != "NO NAME");
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
fn probe_swap(h: Head<'_>) -> Option<FsInfo> {
    if &h.array::<{ swap::MAGIC }, { swap::MAGIC_LEN }>() != b"SWAPSPACE2" {
        return None;
    }
    let last_page = u64::from(h.le_u32::<{ swap::LAST_PAGE }>());
    Some(FsInfo {
        kind: FsKind::Swap,
        label: text(&h.array::<{ swap::LABEL }, { swap::LABEL_LEN }>()),
        uuid: uuid(h.array::<{ swap::UUID }, 16>()),
        block_size: Some(swap::PAGE as u64),
        size: (last_page + 1).checked_mul(swap::PAGE as u64),
        features: Vec::new(),
    })
}

/// LVM2 physical volume: label in sector 0..3 (usually 1), PV header at its offset.
fn probe_lvm(h: Head<'_>) -> Option<FsInfo> {
    let head = Bytes::new(h.0, 0, "LVM2 label");
    let label = (0..LVM_LABEL_SECTORS).map(|s| s * SECTOR).find(|&at| {
        head.slice(at + lvm_label::ID, 8, "label id") == Ok(b"LABELONE")
            && head.slice(at + lvm_label::TYPE, 8, "type") == Ok(b"LVM2 001")
    })?;
    // A PV header that does not fit in the bytes read gives no UUID and no size.
    let pv = head
        .le_u32(label + lvm_label::OFFSET, "PV header offset")
        .ok()
        .and_then(|o| usize::try_from(o).ok())
        .and_then(|o| label.checked_add(o))
        .and_then(|at| {
            let uuid = head.slice(at + lvm_label::PV_UUID, lvm_label::PV_UUID_LEN, "PV UUID");
            let size = head.le_u64(at + lvm_label::PV_DEVICE_SIZE, "device size");
            uuid.ok().zip(size.ok())
        });
    let (uuid, size) = match pv {
        Some((u, s)) => (text(u).map(|u| lvm_uuid(&u)), Some(s)),
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
    let mut buf = [0u8; btrfs::LEN];
    if part.size() < btrfs::AT + btrfs::LEN as u64 || part.read_at(btrfs::AT, &mut buf).is_err() {
        return None;
    }
    let sb = Fixed(&buf);
    if &sb.array::<{ btrfs::MAGIC }, 8>() != b"_BHRfS_M" {
        return None;
    }
    // Checked against mkfs.btrfs 6.2 (testdata/make-guest-fixtures-2.sh, dump-super).
    let sector = u64::from(sb.le_u32::<{ btrfs::SECTORSIZE }>());
    let mut features = Vec::new();
    // This partition holds one device of several: the file system is not all here.
    if sb.le_u64::<{ btrfs::NUM_DEVICES }>() > 1 {
        features.push("multi_device");
    }
    Some(FsInfo {
        kind: FsKind::Btrfs,
        label: text(&sb.array::<{ btrfs::LABEL }, { btrfs::LABEL_LEN }>()),
        uuid: uuid(sb.array::<{ btrfs::FSID }, 16>()),
        block_size: Some(sector).filter(|s| s.is_power_of_two()),
        // dev_item.total_bytes: the size of this device, not of the whole multi-device fs.
        size: Some(sb.le_u64::<{ btrfs::DEV_ITEM_TOTAL_BYTES }>()),
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
    fn a_truncated_volume_or_pv_header_is_no_answer_not_a_panic() {
        // An ext superblock cut short (the volume ends at byte 2000, inside it): no probe.
        let mut b = vec![0u8; 2000];
        b[1024 + 0x38..1024 + 0x3A].copy_from_slice(&0xEF53u16.to_le_bytes()); // s_magic
        assert_eq!(probe_bytes(b).0, None);
        // A Btrfs magic whose 4 KiB superblock the volume does not hold whole.
        let mut b = vec![0u8; 0x10000 + 0x100];
        b[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe_bytes(b).0, None);
        // An LVM label whose PV header offset points past the bytes read: a PV, no UUID/size.
        let mut b = vec![0u8; 8192];
        b[3 * 512..3 * 512 + 8].copy_from_slice(b"LABELONE"); // label id, in sector 3
        b[3 * 512 + 20..3 * 512 + 24].copy_from_slice(&2540u32.to_le_bytes()); // PV at 4076
        b[3 * 512 + 24..3 * 512 + 32].copy_from_slice(b"LVM2 001"); // type
        let f = probe_bytes(b).0.unwrap();
        assert_eq!((f.kind, f.uuid, f.size), (FsKind::Lvm2Pv, None, None));
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
