//! XFS guests (testdata/make-guest-fixtures-2.sh): a Rocky Linux tree made by mkfs.xfs -p,
//! as v5 in a GPT partition and as v4 over the whole disk. Directory forms (xfs_db): / and
//! /usr are short form; /usr/bin is block form (XDB3 on v5, XD2B on v4); /etc is node form
//! (data, leaf and free blocks), and on v4 its 16 extents are in an extent B+tree (they do
//! not fit a 256-byte inode). The facts below come out right only if all of them are read.

use imgtool::disk::DiskReport;
use imgtool::disk::fs::xfs::Xfs;
use imgtool::disk::guest::Machine;
use imgtool::disk::slice::Slice;

use crate::disk_util::{fixture_tests, unpack};

fn assert_rocky(r: &DiskReport, partition: Option<u32>, label: &str) {
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let v = r
        .volumes
        .iter()
        .find(|v| v.partition == partition)
        .expect("volume");
    let fs = v.fs.as_ref().expect("a file system");
    assert_eq!(fs.kind.name(), "xfs");
    assert_eq!(fs.label.as_deref(), Some(label));
    assert_eq!(
        fs.uuid.as_deref(),
        Some("5e1f0c3a-9b7d-4e21-8a6c-3f2e1d0c9b8a")
    );
    let os = r.os.as_ref().expect("an OS");
    assert_eq!(os.partition, partition);
    assert_eq!(os.id.as_deref(), Some("rocky"));
    assert_eq!(os.version_id.as_deref(), Some("9.3"));
    assert_eq!(os.release_file.as_deref(), Some("/etc/os-release"));
    let a = os.arch.as_ref().expect("an architecture");
    assert_eq!(a.arch, Machine::X86_64);
    assert_eq!(a.evidence, "ELF header of /bin/bash (-> /usr/bin/bash)");
    assert_eq!(r.import.platform.value.as_deref(), Some("Rocky Linux"));
    assert_eq!(r.import.architecture.value.as_deref(), Some("x86_64"));
}

fn check_v5(r: &DiskReport) {
    assert_rocky(r, Some(1), "rocky");
}

fn check_v4(r: &DiskReport) {
    assert_rocky(r, None, "rocky4");
}

fixture_tests!(xfs_v5_raw, xfs_v5_vhd, "xfs-v5", check_v5);
fixture_tests!(xfs_v4_raw, xfs_v4_vhd, "xfs-v4", check_v4);

/// The reader itself: the last of 2000 entries in /etc, a missing name, a file's bytes and
/// (v4 only, see the fixture script) a remote (block-stored) symlink.
#[test]
fn xfs_remote_symlink_and_big_directory() {
    for (name, start) in [("xfs-v5", 1u64 << 20), ("xfs-v4", 0)] {
        let u = unpack(name);
        let img = imgtool::image::open(&u.raw).expect("open");
        let part = Slice::new(&img, start, u64::MAX);
        let mut x = Xfs::open(&part, 32 << 20).expect("xfs");
        if name == "xfs-v4" {
            let link = x.walk("/etc/long-link").unwrap().expect("long-link");
            assert_eq!(x.read_link(&link).unwrap(), "x".repeat(600));
        }
        assert!(x.walk("/etc/conf-2000.d").unwrap().is_some(), "{name}");
        assert!(x.walk("/etc/conf-2001.d").unwrap().is_none(), "{name}");
        assert!(x.walk("/usr/bin/xargs").unwrap().is_some(), "{name}");
        let rr = x.walk("/etc/redhat-release").unwrap().expect("file");
        assert_eq!(
            x.read_data(&rr, 4096).unwrap(),
            b"Rocky Linux release 9.3 (Blue Onyx)\n"
        );
    }
}

/// Write `bytes` at `offset` of an unpacked fixture.
fn patch(raw: &std::path::Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(raw).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(bytes).unwrap();
}

/// Hostile XFS on a whole disk: agcount 0, a root inode number far outside the AGs, and a
/// root inode with a bad magic all end as a warning naming the problem, with no OS found.
#[test]
fn hostile_xfs_superblock_and_root_inode_are_warnings() {
    let cases: [(u64, &[u8], &str); 3] = [
        (88, &0u32.to_be_bytes(), "agcount"),
        (56, &u64::MAX.to_be_bytes(), "outside"),
        // Root inode 128 of xfs-v4 (256-byte inodes, 16 per 4 KiB block): block 8, slot 0.
        (8 * 4096, b"XX", "magic is not IN"),
    ];
    for (offset, bytes, expect) in cases {
        let u = unpack("xfs-v4");
        patch(&u.raw, offset, bytes);
        let img = imgtool::image::open(&u.raw).expect("open");
        let r = imgtool::plan::inspect_disk(&img);
        assert!(r.os.is_none(), "{expect}");
        assert!(
            r.warnings.iter().any(|w| w.contains(expect)),
            "{expect}: {:?}",
            r.warnings
        );
    }
}
