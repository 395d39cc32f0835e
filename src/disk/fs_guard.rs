//! Checks a volume before a third-party reader (`ext4-view`, `ntfs`, `fatfs`) opens it.
//!
//! Those crates are written not to panic, but they size memory and loops from the superblock
//! or boot sector: `ext4-view` reserves one entry per block group (`Vec::with_capacity`) and
//! nine blocks of cache, `ntfs` allocates one file record and one index record at the sizes the
//! volume names, `fatfs` does its geometry in `u32` arithmetic that wraps or panics. An
//! allocation failure aborts the process (`catch_unwind` cannot catch it), and whether it fails
//! depends on the machine. So every number those load paths use is checked here first, against
//! the volume's readable part and against the bounds real file systems stay inside (every bound
//! is in docs/limits.md). A file system larger than its partition (a disk shrunk after mkfs) is
//! still opened: what matters is that the structures the crate loads lie inside what can be
//! read, and that what it allocates is bounded.
//!
//! Two more allocations are sized by per-file fields, not by the superblock, and are checked
//! where the file is reached: an ext4 symlink's length (`ext4-view` reads the whole target into
//! memory) and an NTFS directory's index record size (`$INDEX_ROOT`).
//!
//! # Why not an isolated worker process
//!
//! Guest reading stays in-process. A worker (a child with an address-space and a time limit)
//! would have to reopen the image and its whole chain (differencing VHDs, LVM logical volumes)
//! from scratch and ship the facts back, and library users and the fuzzers would not get it.
//! Instead, every allocation and loop on the three crates' load and lookup paths was read in
//! their source (the versions are pinned with `=` in Cargo.toml for that reason) and is bounded
//! here or by the read budget (`guest::FS_READ_BUDGET`): whatever a crate does after opening,
//! each byte it reads is counted, so its loops end. A panic is caught (`disk::look_in`). What
//! keeps this honest when a crate changes: the fuzz campaign (`fuzz/run.sh`, which aborts on
//! any allocation above 2 GiB) and a test that runs the binary on every input ever found under
//! a 2 GiB address-space limit (`tests/it/hostile_volumes.rs`).

use crate::bytes::Fixed;
use crate::disk::fs::FsKind;
use crate::disk::fs::layout::{ext, fat, ntfs as ntfs_boot};
use crate::image::VirtualDisk;

/// Most ext4 block groups whose descriptors are loaded (`ext4-view` keeps 16 bytes per group):
/// 128 TiB with 4 KiB blocks.
pub const MAX_EXT4_GROUPS: u64 = 1 << 20;
/// Most bytes of ext4 group-descriptor table read at load (half the read budget): 16 Mi groups
/// would need 1 GiB of 64-byte descriptors.
pub const MAX_EXT4_DESC_TABLE: u64 = 16 << 20;
/// ext4 block sizes: the kernel's range (`ext4-view` would take up to 2 GiB and allocate nine).
pub const EXT4_BLOCK_SIZES: (u64, u64) = (1024, 64 << 10);
/// Longest symlink target read from ext4 (PATH_MAX, as the kernel).
pub const MAX_EXT4_SYMLINK: u64 = 4096;
/// NTFS file-record sizes (1 KiB is what Windows writes; 4 KiB on 4Kn disks).
pub const NTFS_RECORD_SIZES: (u64, u64) = (1024, 4096);
/// Largest NTFS index record allocated (Windows writes 4 KiB).
pub const MAX_NTFS_INDEX_RECORD: u64 = 64 << 10;
/// NTFS clusters: 512 bytes to 2 MiB (Windows' range).
pub const NTFS_CLUSTER_SIZES: (u64, u64) = (512, 2 << 20);
/// NTFS system files (records 0..16) must lie inside the readable disk.
const NTFS_SYSTEM_RECORDS: u64 = 16;
/// Sector sizes both NTFS and FAT may have.
pub const SECTOR_SIZES: (u64, u64) = (512, 4096);
/// FAT clusters up to 256 KiB (the largest any formatter writes, with 4 KiB sectors).
pub const MAX_FAT_CLUSTER: u64 = 256 << 10;
/// Most FAT copies.
pub const MAX_FATS: u64 = 4;
/// FAT32's cluster numbers are 28 bits; 0x0FFFFFF5 and up are reserved.
pub const MAX_FAT_CLUSTERS: u64 = 0x0FFF_FFF5;

const EXT_INCOMPAT_RECOVER: u32 = 0x4;
const EXT_INCOMPAT_64BIT: u32 = 0x80;
const EXT_COMPAT_HAS_JOURNAL: u32 = 0x4;
const EXT_RO_COMPAT_BIGALLOC: u32 = 0x200;
const BOOT_SECTOR_LEN: usize = 512;

/// Check the `kind` file system at the start of `vol` (a partition, an LV or the whole disk)
/// before its crate opens it. `Err` says which field, where, what was found and expected.
pub fn check(vol: &dyn VirtualDisk, kind: FsKind) -> Result<(), String> {
    match kind {
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => check_ext4(vol),
        FsKind::Ntfs => check_ntfs(vol),
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => check_fat(vol),
        _ => Ok(()),
    }
}

/// The `N` bytes at `at`, all of them or an error (a volume too short for the structure is
/// an error here, never a short buffer for the checks below).
fn read<const N: usize>(vol: &dyn VirtualDisk, at: u64, what: &str) -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    vol.read_at(at, &mut b)
        .map_err(|e| format!("{what} ({N} bytes at byte {at}) is unreadable: {e}"))?;
    Ok(b)
}

fn pow2_in(v: u64, (lo, hi): (u64, u64)) -> bool {
    v.is_power_of_two() && (lo..=hi).contains(&v)
}

/// The end of `len` bytes at `start`, which must lie inside the `size` readable bytes.
fn inside(start: u64, len: u64, size: u64, what: &str) -> Result<(), String> {
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(format!(
            "{what} (bytes {start}..{}) lies beyond the {size} readable bytes of the volume",
            start.saturating_add(len)
        )),
    }
}

// ---------------------------------------------------------------------------------------
// ext2/3/4, as ext4-view 1.0 loads it (superblock.rs, block_group.rs, block_cache.rs)

/// The ext4 superblock fields ext4-view's `Ext4::load` sizes memory and loops from.
struct ExtSuper {
    blocks: u64,
    first_data_block: u64,
    log_block_size: u32,
    blocks_per_group: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: u64,
    journal_inum: Option<u32>,
    bigalloc: bool,
}

fn ext_super(sb: Fixed<'_, { ext::LEN }>) -> ExtSuper {
    let incompat = sb.le_u32::<{ ext::FEATURE_INCOMPAT }>();
    let compat = sb.le_u32::<{ ext::FEATURE_COMPAT }>();
    // ext4-view combines the high word whether or not the 64bit feature is set; so do we,
    // since what matters is what the crate will compute.
    let blocks = u64::from(sb.le_u32::<{ ext::BLOCKS_COUNT_HI }>()) << 32
        | u64::from(sb.le_u32::<{ ext::BLOCKS_COUNT_LO }>());
    ExtSuper {
        blocks,
        first_data_block: u64::from(sb.le_u32::<{ ext::FIRST_DATA_BLOCK }>()),
        log_block_size: sb.le_u32::<{ ext::LOG_BLOCK_SIZE }>(),
        blocks_per_group: u64::from(sb.le_u32::<{ ext::BLOCKS_PER_GROUP }>()),
        inodes_per_group: u64::from(sb.le_u32::<{ ext::INODES_PER_GROUP }>()),
        inode_size: u64::from(sb.le_u16::<{ ext::INODE_SIZE }>()),
        desc_size: if incompat & EXT_INCOMPAT_64BIT != 0 {
            u64::from(sb.le_u16::<{ ext::DESC_SIZE }>())
        } else {
            32
        },
        journal_inum: (compat & EXT_COMPAT_HAS_JOURNAL != 0
            && incompat & EXT_INCOMPAT_RECOVER != 0)
            .then(|| sb.le_u32::<{ ext::JOURNAL_INUM }>()),
        bigalloc: sb.le_u32::<{ ext::FEATURE_RO_COMPAT }>() & EXT_RO_COMPAT_BIGALLOC != 0,
    }
}

fn check_ext4(vol: &dyn VirtualDisk) -> Result<(), String> {
    let sb = read::<{ ext::LEN }>(vol, ext::AT as u64, "ext4 superblock")?;
    let s = ext_super(Fixed(&sb));
    let at = |off: usize| {
        format!(
            "ext4 superblock byte {:#x} (volume byte {})",
            off,
            ext::AT + off
        )
    };
    let (min_bs, max_bs) = EXT4_BLOCK_SIZES;
    let bs = 1u64
        .checked_shl(s.log_block_size.saturating_add(10))
        .filter(|b| (min_bs..=max_bs).contains(b))
        .ok_or_else(|| {
            format!(
                "{}: s_log_block_size is {}, expected 0..=6 (blocks of {min_bs}..={max_bs} bytes)",
                at(ext::LOG_BLOCK_SIZE),
                s.log_block_size
            )
        })?;
    let bitmap_bits = 8 * bs;
    if s.blocks_per_group == 0 || (!s.bigalloc && s.blocks_per_group > bitmap_bits) {
        return Err(format!(
            "{}: s_blocks_per_group is {}, expected 1..={bitmap_bits} (one bitmap block)",
            at(ext::BLOCKS_PER_GROUP),
            s.blocks_per_group
        ));
    }
    if s.inodes_per_group == 0 || s.inodes_per_group > bitmap_bits {
        return Err(format!(
            "{}: s_inodes_per_group is {}, expected 1..={bitmap_bits} (one bitmap block)",
            at(ext::INODES_PER_GROUP),
            s.inodes_per_group
        ));
    }
    if !pow2_in(s.inode_size, (128, bs)) {
        return Err(format!(
            "{}: s_inode_size is {}, expected a power of two in 128..={bs}",
            at(ext::INODE_SIZE),
            s.inode_size
        ));
    }
    if s.blocks == 0 || s.first_data_block >= s.blocks || s.blocks.checked_mul(bs).is_none() {
        return Err(format!(
            "{}: s_blocks_count is {} with s_first_data_block {}, expected more blocks than the \
             first data block and a size that fits in 64 bits",
            at(ext::BLOCKS_COUNT_LO),
            s.blocks,
            s.first_data_block
        ));
    }
    let groups = (s.blocks - s.first_data_block).div_ceil(s.blocks_per_group);
    if groups > MAX_EXT4_GROUPS {
        return Err(format!(
            "{}: s_blocks_count {} in groups of {} (s_blocks_per_group) makes {groups} block \
             groups, more than the {MAX_EXT4_GROUPS} read (MAX_EXT4_GROUPS)",
            at(ext::BLOCKS_COUNT_LO),
            s.blocks,
            s.blocks_per_group
        ));
    }
    ext4_descriptors(vol, &s, bs, groups)?;
    if let Some(inum) = s.journal_inum {
        let inodes = groups * s.inodes_per_group;
        if inum == 0 || u64::from(inum) > inodes {
            return Err(format!(
                "{}: s_journal_inum is {inum}, expected 1..={inodes} (the file system's inodes)",
                at(ext::JOURNAL_INUM)
            ));
        }
    }
    Ok(())
}

/// The group-descriptor table: its entry size, and all of it inside the readable volume and
/// under [`MAX_EXT4_DESC_TABLE`] (ext4-view reads every descriptor at load).
fn ext4_descriptors(
    vol: &dyn VirtualDisk,
    s: &ExtSuper,
    bs: u64,
    groups: u64,
) -> Result<(), String> {
    if !pow2_in(s.desc_size, (64, 1024.min(bs))) && s.desc_size != 32 {
        return Err(format!(
            "ext4 superblock byte 0xfe (volume byte {}): s_desc_size is {} with the 64bit \
             feature, expected a power of two in 64..=1024",
            ext::AT + ext::DESC_SIZE,
            s.desc_size
        ));
    }
    let len = groups * s.desc_size;
    if len > MAX_EXT4_DESC_TABLE {
        return Err(format!(
            "ext4 group-descriptor table: {groups} groups of {} bytes is {len} bytes, more than \
             the {MAX_EXT4_DESC_TABLE} read (MAX_EXT4_DESC_TABLE)",
            s.desc_size
        ));
    }
    // ext4-view reads the table from block 2 with 1 KiB blocks, block 1 otherwise.
    let start = if bs == 1024 { 2 * bs } else { bs };
    inside(start, len, vol.size(), "ext4 group-descriptor table")
}

/// Whether ext4-view may be given `path`. It follows a symlink anywhere in a path and reads
/// the target whole, into a buffer sized by the link inode's i_size; so no symlink may come
/// before the last component, and one at the end only when `link_ok` and its target is at
/// most [`MAX_EXT4_SYMLINK`] bytes. (Callers resolve paths themselves, component by
/// component, through `guest::resolve`.)
pub fn ext4_path_ok(fs: &ext4_view::Ext4, path: &str, link_ok: bool) -> bool {
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut prefix = String::new();
    for (i, c) in comps.iter().enumerate() {
        prefix.push('/');
        prefix.push_str(c);
        // A missing component: the crate's own lookup stops there too.
        let Ok(m) = fs.symlink_metadata(prefix.as_str()) else {
            return true;
        };
        let last = i + 1 == comps.len();
        if m.file_type().is_symlink() && (!last || !link_ok || m.len() > MAX_EXT4_SYMLINK) {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------
// NTFS, as ntfs 0.4 opens it (boot_sector.rs, ntfs.rs, file.rs, index_record.rs)

/// A size in the boot sector's signed form: a positive value counts clusters, a negative one
/// is -log2(bytes). `None` when it overflows.
fn ntfs_record_size(info: i8, cluster: u64) -> Option<u64> {
    if info > 0 {
        cluster.checked_mul(u64::from(info.unsigned_abs()))
    } else {
        1u64.checked_shl(u32::from(info.unsigned_abs()))
    }
}

fn check_ntfs(vol: &dyn VirtualDisk) -> Result<(), String> {
    let b = read::<BOOT_SECTOR_LEN>(vol, 0, "NTFS boot sector")?;
    let b = Fixed(&b);
    let bps = u64::from(b.le_u16::<{ ntfs_boot::BYTES_PER_SECTOR }>());
    if !pow2_in(bps, SECTOR_SIZES) {
        return Err(format!(
            "NTFS boot sector byte 0xb: bytes per sector is {bps}, expected 512, 1024, 2048 or 4096"
        ));
    }
    let spc_raw = b.u8::<{ ntfs_boot::SECTORS_PER_CLUSTER }>();
    // 0xF4..=0xFF: a cluster of 2^(256 - value) sectors (large clusters), as the crate reads it.
    let spc = if spc_raw > 128 {
        1u64.checked_shl(u32::from(256 - u16::from(spc_raw)))
    } else {
        Some(u64::from(spc_raw))
    };
    let cluster = spc.and_then(|s| s.checked_mul(bps)).unwrap_or(0);
    if !pow2_in(cluster, NTFS_CLUSTER_SIZES) {
        return Err(format!(
            "NTFS boot sector byte 0xd: sectors per cluster is {spc_raw:#x}, which with {bps}-byte \
             sectors makes {cluster}-byte clusters, expected a power of two in {}..={}",
            NTFS_CLUSTER_SIZES.0, NTFS_CLUSTER_SIZES.1
        ));
    }
    let record_raw = b.u8::<{ ntfs_boot::CLUSTERS_PER_FILE_RECORD }>();
    let record = ntfs_record_size(i8::from_le_bytes([record_raw]), cluster).unwrap_or(0);
    if !pow2_in(record, NTFS_RECORD_SIZES) {
        return Err(format!(
            "NTFS boot sector byte 0x40: file record size {:#x} means {record} bytes, expected \
             {}..={}",
            record_raw, NTFS_RECORD_SIZES.0, NTFS_RECORD_SIZES.1
        ));
    }
    let index_raw = b.u8::<{ ntfs_boot::CLUSTERS_PER_INDEX_RECORD }>();
    let index = ntfs_record_size(i8::from_le_bytes([index_raw]), cluster).unwrap_or(0);
    if !pow2_in(index, (512, MAX_NTFS_INDEX_RECORD)) {
        return Err(format!(
            "NTFS boot sector byte 0x44: index record size {:#x} means {index} bytes, expected \
             512..={MAX_NTFS_INDEX_RECORD}",
            index_raw
        ));
    }
    let total = b.le_u64::<{ ntfs_boot::TOTAL_SECTORS }>();
    if total == 0 || total.checked_mul(bps).is_none() {
        return Err(format!(
            "NTFS boot sector byte 0x28: total sectors is {total}, expected 1 or more and a size \
             that fits in 64 bits"
        ));
    }
    let mft_lcn = b.le_u64::<{ ntfs_boot::MFT_LCN }>();
    let mft = mft_lcn
        .checked_mul(cluster)
        .filter(|_| mft_lcn > 0)
        .ok_or_else(|| {
            format!("NTFS boot sector byte 0x30: MFT cluster {mft_lcn} is 0 or beyond 64 bits")
        })?;
    inside(
        mft,
        NTFS_SYSTEM_RECORDS * record,
        vol.size(),
        &format!("NTFS system files (MFT cluster {mft_lcn} from boot sector byte 0x30)"),
    )
}

/// Whether every `$INDEX_ROOT` of the directory `file` names an index record size of at most
/// [`MAX_NTFS_INDEX_RECORD`]: the crate allocates a buffer of that size for each index record
/// it reads. `false` too when the attributes cannot be read (the lookup would fail anyway).
pub fn ntfs_dir_index_ok<T: std::io::Read + std::io::Seek>(
    file: &ntfs::NtfsFile<'_>,
    r: &mut T,
) -> bool {
    let mut attrs = file.attributes();
    let mut roots = 0;
    while let Some(item) = attrs.next(r) {
        let Ok(item) = item else { return false };
        let Ok(a) = item.to_attribute() else {
            return false;
        };
        if a.ty().ok() != Some(ntfs::NtfsAttributeType::IndexRoot) {
            continue;
        }
        let size = a
            .resident_structured_value::<ntfs::structured_values::NtfsIndexRoot>()
            .map(|root| u64::from(root.index_record_size()));
        match size {
            Ok(s) if (1..=MAX_NTFS_INDEX_RECORD).contains(&s) => roots += 1,
            _ => return false,
        }
    }
    roots > 0
}

// ---------------------------------------------------------------------------------------
// FAT, as fatfs 0.3 opens it (boot_sector.rs, fs.rs): its u32 geometry must not overflow.

fn check_fat(vol: &dyn VirtualDisk) -> Result<(), String> {
    let b = read::<BOOT_SECTOR_LEN>(vol, 0, "FAT boot sector")?;
    let b = Fixed(&b);
    let bps = u64::from(b.le_u16::<{ fat::BYTES_PER_SECTOR }>());
    let spc = u64::from(b.u8::<{ fat::SECTORS_PER_CLUSTER }>());
    let reserved = u64::from(b.le_u16::<{ fat::RESERVED_SECTORS }>());
    let fats = u64::from(b.u8::<{ fat::NUM_FATS }>());
    let root_entries = u64::from(b.le_u16::<{ fat::ROOT_ENTRIES }>());
    let spf16 = u64::from(b.le_u16::<{ fat::SECTORS_PER_FAT_16 }>());
    let fat32 = spf16 == 0;
    let spf = if fat32 {
        u64::from(b.le_u32::<{ fat::SECTORS_PER_FAT_32 }>())
    } else {
        spf16
    };
    let total = match b.le_u16::<{ fat::TOTAL_SECTORS_16 }>() {
        0 => u64::from(b.le_u32::<{ fat::TOTAL_SECTORS_32 }>()),
        n => u64::from(n),
    };
    if !pow2_in(bps, SECTOR_SIZES) {
        return Err(format!(
            "FAT boot sector byte 0xb: bytes per sector is {bps}, expected 512, 1024, 2048 or 4096"
        ));
    }
    if !pow2_in(spc, (1, 128)) || spc * bps > MAX_FAT_CLUSTER {
        return Err(format!(
            "FAT boot sector byte 0xd: sectors per cluster is {spc}, expected a power of two \
             with clusters of at most {MAX_FAT_CLUSTER} bytes"
        ));
    }
    if reserved == 0 {
        return Err("FAT boot sector byte 0xe: reserved sectors is 0, expected 1 or more".into());
    }
    if !(1..=MAX_FATS).contains(&fats) {
        return Err(format!(
            "FAT boot sector byte 0x10: number of FATs is {fats}, expected 1..={MAX_FATS}"
        ));
    }
    if spf == 0 || spf * bps * 8 > u64::from(u32::MAX) {
        return Err(format!(
            "FAT boot sector byte {}: sectors per FAT is {spf}, expected 1 or more and a FAT of \
             less than 512 MiB",
            if fat32 { "0x24" } else { "0x16" }
        ));
    }
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let first_data = reserved + fats * spf + root_sectors;
    if first_data >= total {
        return Err(format!(
            "FAT boot sector: {reserved} reserved + {fats} x {spf} FAT + {root_sectors} root \
             directory sectors leave no data sectors in the {total} total sectors (bytes 0x13/0x20)"
        ));
    }
    let clusters = (total - first_data) / spc;
    if clusters > MAX_FAT_CLUSTERS {
        return Err(format!(
            "FAT boot sector: {clusters} clusters, more than FAT32's {MAX_FAT_CLUSTERS}"
        ));
    }
    // fatfs reads the FATs, the root directory and (FAT32) the FSInfo sector where the boot
    // sector says; the metadata must be readable even when the data area is cut short.
    let fsinfo = if fat32 {
        u64::from(b.le_u16::<{ fat::FSINFO_SECTOR }>())
    } else {
        0
    };
    if fat32 && fsinfo >= reserved {
        return Err(format!(
            "FAT boot sector byte 0x30: FSInfo sector is {fsinfo}, expected below {reserved} (the \
             reserved sectors)"
        ));
    }
    inside(
        0,
        first_data * bps,
        vol.size(),
        "FAT reserved sectors, FATs and root directory",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::mem::MemDisk as Mem;

    /// An ext4 superblock as mke2fs writes it for a 64 MiB volume, 4 KiB blocks, 64bit.
    fn ext4(size: usize) -> Vec<u8> {
        let mut d = vec![0u8; size];
        let sb = &mut d[1024..2048];
        sb[0x4..0x8].copy_from_slice(&16384u32.to_le_bytes()); // blocks
        sb[0x18..0x1C].copy_from_slice(&2u32.to_le_bytes()); // 4 KiB
        sb[0x20..0x24].copy_from_slice(&32768u32.to_le_bytes());
        sb[0x28..0x2C].copy_from_slice(&8192u32.to_le_bytes());
        sb[0x38..0x3A].copy_from_slice(&0xEF53u16.to_le_bytes());
        sb[0x58..0x5A].copy_from_slice(&256u16.to_le_bytes());
        sb[0x60..0x64].copy_from_slice(&(0x2u32 | 0x40 | 0x80).to_le_bytes());
        sb[0xFE..0x100].copy_from_slice(&64u16.to_le_bytes());
        d
    }

    #[test]
    fn a_plain_ext4_superblock_passes_and_each_field_can_refuse_it() {
        assert_eq!(check(&Mem(ext4(16384)), FsKind::Ext4), Ok(()));
        let bad: &[(usize, &[u8], &str)] = &[
            (0x18, &7u32.to_le_bytes(), "s_log_block_size"),
            (0x20, &0u32.to_le_bytes(), "s_blocks_per_group"),
            (0x28, &40000u32.to_le_bytes(), "s_inodes_per_group"),
            (0x58, &100u16.to_le_bytes(), "s_inode_size"),
            (0x150, &0x100u32.to_le_bytes(), "block groups"),
            (0xFE, &48u16.to_le_bytes(), "s_desc_size"),
        ];
        for (at, v, needle) in bad {
            let mut d = ext4(16384);
            d[1024 + at..1024 + at + v.len()].copy_from_slice(v);
            let e = check(&Mem(d), FsKind::Ext4).unwrap_err();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn a_larger_file_system_than_its_volume_passes_while_its_descriptors_are_inside() {
        // 16384 blocks of 4 KiB claimed, 12 KiB present: one descriptor at 4096..4160.
        assert_eq!(check(&Mem(ext4(12288)), FsKind::Ext4), Ok(()));
        let e = check(&Mem(ext4(4100)), FsKind::Ext4).unwrap_err();
        assert!(e.contains("group-descriptor table"), "{e}");
    }

    #[test]
    fn a_truncated_superblock_or_boot_sector_is_an_error_not_a_panic() {
        // The ext4 superblock cut at volume byte 1500 (of 1024..2048), the boot sectors at
        // 300 of 512: each structure is read whole into a fixed array or refused. (Before the
        // move to crate::bytes this was an error too, as `read` filled a Vec of the full
        // length or failed; now the field reads cannot index past the array by construction.)
        let e = check(&Mem(ext4(16384)[..1500].to_vec()), FsKind::Ext4).unwrap_err();
        assert!(
            e.contains("ext4 superblock (1024 bytes at byte 1024)"),
            "{e}"
        );
        for kind in [FsKind::Ntfs, FsKind::Fat32] {
            let e = check(&Mem(vec![0u8; 300]), kind).unwrap_err();
            assert!(e.contains("boot sector (512 bytes at byte 0)"), "{e}");
        }
    }

    #[test]
    fn ntfs_record_sizes_in_both_forms() {
        assert_eq!(ntfs_record_size(-10, 4096), Some(1024));
        assert_eq!(ntfs_record_size(1, 4096), Some(4096));
        assert_eq!(ntfs_record_size(127, 2 << 20), Some(254 << 20));
        assert_eq!(ntfs_record_size(-128, 4096), None);
    }
}
