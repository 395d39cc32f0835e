//! Unit tests of the XFS reader on hand-built structures (one comment per field); the real
//! mkfs.xfs images are in tests/it/disk_xfs.rs and tests/it/xfs_guest.rs.

use super::bmap::{BMBT_V5_HDR, BMDR_HDR, parse_extent};
use super::dir::{DIR_FREE_TAG, DIR_V5_DATA_HDR, data_block_lookup, shortform_lookup};
use super::file::SYMLINK_V5_HDR;
use super::inode::{FMT_BTREE, FMT_EXTENTS, INODE_CORE_V3, S_IFLNK, S_IFREG};
use super::reader::Xfs;
use super::superblock::{INCOMPAT_FTYPE, SB_LEN, Superblock};

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

/// Two extent records in the inode's fork, as an extents-format regular file of `size`.
fn file_with_extents(recs: &[[u8; 16]], size: u64) -> Mem {
    let fork: Vec<u8> = recs.iter().flatten().copied().collect();
    disk_with_inode(S_IFREG | 0o644, FMT_EXTENTS, size, recs.len() as u32, &fork)
}

#[test]
fn extents_out_of_order_or_past_their_ag_are_refused() {
    // File block 1 is mapped twice: the second extent starts inside the first.
    let d = file_with_extents(&[extent_rec(0, 20, 2), extent_rec(1, 30, 1)], 3 * BS as u64);
    let mut x = Xfs::open(&d, 1 << 20).unwrap();
    let ino = x.inode(128).unwrap();
    let e = x.extents(&ino).unwrap_err();
    assert!(
        e.contains("extent 1 (file block 1, 1 blocks)") && e.contains("overlaps"),
        "{e}"
    );
    // Five blocks from AG block 998 of a 1000-block AG.
    let d = file_with_extents(&[extent_rec(0, 998, 5)], 5 * BS as u64);
    let mut x = Xfs::open(&d, 1 << 20).unwrap();
    let ino = x.inode(128).unwrap();
    let e = x.extents(&ino).unwrap_err();
    assert!(e.contains("run past the end of its AG"), "{e}");
    // An empty extent.
    let d = file_with_extents(&[extent_rec(0, 20, 0)], 10);
    let mut x = Xfs::open(&d, 1 << 20).unwrap();
    let ino = x.inode(128).unwrap();
    assert!(x.extents(&ino).unwrap_err().contains("is empty"));
}

#[test]
fn a_range_across_a_hole_reads_zeros_there_and_only_the_blocks_it_covers() {
    // File blocks 0 and 2 are disk blocks 20 and 22; file block 1 is a hole.
    let mut d = file_with_extents(&[extent_rec(0, 20, 1), extent_rec(2, 22, 1)], 3 * BS as u64);
    d.0[20 * BS..21 * BS].fill(b'a');
    d.0[21 * BS..22 * BS].fill(b'!'); // not part of the file
    d.0[22 * BS..23 * BS].fill(b'c');
    let mut x = Xfs::open(&d, 1 << 20).unwrap();
    let ino = x.inode(128).unwrap();
    let ext = x.extents(&ino).unwrap();
    let before = x.budget_left();
    let got = x.read_range(&ino, &ext, BS as u64 - 2, BS + 4).unwrap();
    let mut want = b"aa".to_vec();
    want.extend(std::iter::repeat_n(0u8, BS));
    want.extend(b"cc");
    assert_eq!(got, want);
    assert_eq!(before - x.budget_left(), 4, "two bytes of each data block");
    // Past the end: nothing; across the end: cut at the size.
    assert!(
        x.read_range(&ino, &ext, 3 * BS as u64, 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        x.read_range(&ino, &ext, 3 * BS as u64 - 1, 10).unwrap(),
        b"c"
    );
}

#[test]
fn short_form_listing_and_lookup() {
    use super::dir::shortform_entries;
    use std::ops::ControlFlow;
    // count 2, i8count 0, parent 128; "ab" -> 131, "c" -> 132 (ftype byte after each name).
    let sf = [
        2, 0, 0, 0, 0, 128, // header
        2, 0, 0x30, b'a', b'b', 1, 0, 0, 0, 131, // namelen, offset, name, ftype, ino
        1, 0, 0x40, b'c', 1, 0, 0, 0, 132,
    ];
    let mut seen = Vec::new();
    shortform_entries(&sf, true, &mut |n, i| {
        seen.push((n.to_vec(), i));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(seen, [(b"ab".to_vec(), 131), (b"c".to_vec(), 132)]);
    assert_eq!(shortform_lookup(&sf, true, "c").unwrap(), Some(132));
    // Without the ftype byte the same bytes misread the inode numbers: the layout matters.
    assert_ne!(shortform_lookup(&sf, false, "ab").unwrap(), Some(131));
}
