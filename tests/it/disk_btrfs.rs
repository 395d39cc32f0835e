//! Btrfs superblock facts against a real mkfs.btrfs image (testdata/make-guest-fixtures-2.sh;
//! the expected values are what `btrfs inspect-internal dump-super` printed for it).

use imgtool::disk::DiskReport;

use crate::disk_util::fixture_tests;

fn check_btrfs(r: &DiskReport) {
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let v = &r.volumes[0];
    assert_eq!((v.partition, v.start), (Some(1), 1 << 20));
    let fs = v.fs.as_ref().expect("a file system");
    assert_eq!(fs.kind.name(), "btrfs");
    assert_eq!(fs.label.as_deref(), Some("bdata"));
    assert_eq!(
        fs.uuid.as_deref(),
        Some("0f0e0d0c-0b0a-4908-8706-050403020100")
    );
    assert_eq!(fs.block_size, Some(4096)); // sectorsize
    assert_eq!(fs.size, Some(128 << 20)); // dev_item.total_bytes
    assert!(fs.features.is_empty()); // num_devices 1
}

fixture_tests!(
    btrfs_superblock_raw,
    btrfs_superblock_vhd,
    "btrfs",
    check_btrfs
);
