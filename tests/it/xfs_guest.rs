//! XFS built at test time by `mkfs.xfs -p` (a protofile; xfsprogs, which .ci/run installs):
//! directories in every form and files of many sizes, compared with what went in; a file
//! whose extents are in a two-level B+tree (testdata/make-xfs-fragmented.sh); and a
//! RHEL-style guest with /boot on XFS whose readiness is decided from its BLS entry, its
//! kernel and a 1 MiB initramfs (it was `kernel-undecided` while XFS could not list
//! directories nor read past 256 KiB).

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use imgtool::disk::fs::xfs::{Xfs, XfsGuest};
use imgtool::disk::guestfs::{GuestFs, NodeKind};
use imgtool::disk::slice::Slice;

use crate::newc;
use crate::readiness_guest::{Tree, elf};

const MIB: u64 = 1 << 20;
/// mkfs.xfs refuses file systems under 300 MiB; the files are sparse.
const FS_SIZE: u64 = 300 * MIB;

/// Whether mkfs.xfs can run here; under .ci/run (IMGTOOL_TEST_REQUIRE_TOOLS) it must.
fn have_mkfs_xfs() -> bool {
    let ok = std::process::Command::new("mkfs.xfs")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok || std::env::var_os("IMGTOOL_TEST_REQUIRE_TOOLS").is_none(),
        "mkfs.xfs (xfsprogs) is required here (IMGTOOL_TEST_REQUIRE_TOOLS is set)"
    );
    if !ok {
        eprintln!("skipped: no mkfs.xfs (apt-get install xfsprogs)");
    }
    ok
}

/// The protofile lines for the tree under `dir` (see mkfs.xfs(8)): name, type and mode,
/// uid, gid, then the source file or the symlink target; `$` closes a directory.
fn proto_dir(dir: &Path, out: &mut String) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            out.push_str(&format!("{name} l--777 0 0 {}\n", t.display()));
        } else if m.is_dir() {
            out.push_str(&format!("{name} d--755 0 0\n"));
            proto_dir(&p, out);
            out.push_str("$\n");
        } else {
            out.push_str(&format!("{name} ---644 0 0 {}\n", p.display()));
        }
    }
}

/// An XFS image of `tree` made by mkfs.xfs -p with `args`; returns its path.
fn mkfs_xfs(dir: &Path, name: &str, tree: &Tree, args: &[&str]) -> PathBuf {
    let root = dir.join(format!("{name}.tree"));
    std::fs::create_dir_all(&root).unwrap();
    tree.write(&root);
    let mut proto = String::from("/dev/null\n0 0\nd--755 0 0\n");
    proto_dir(&root, &mut proto);
    proto.push_str("$\n");
    let proto_path = dir.join(format!("{name}.proto"));
    std::fs::write(&proto_path, proto).unwrap();
    let img = dir.join(format!("{name}.xfs"));
    std::fs::File::create(&img)
        .unwrap()
        .set_len(FS_SIZE)
        .unwrap();
    let out = std::process::Command::new("mkfs.xfs")
        .args(["-q", "-f"])
        .args(args)
        .arg("-p")
        .arg(&proto_path)
        .arg(&img)
        .output()
        .expect("run mkfs.xfs");
    assert!(
        out.status.success(),
        "mkfs.xfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

/// `n` bytes that differ with `seed` and with the offset (xorshift), so a block read from
/// the wrong place shows.
fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Read all of `path` in `chunk`-byte ranges, as the readiness code does.
fn read_all(g: &mut dyn GuestFs, path: &str, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = g
            .read_range(path, out.len() as u64, chunk)
            .unwrap_or_else(|| panic!("{path} unreadable at {}", out.len()));
        if b.is_empty() {
            return out;
        }
        out.extend_from_slice(&b);
    }
}

const FILES: &[(&str, usize)] = &[
    ("empty", 0),
    ("one", 1),
    ("block", 4096),
    ("odd", 4097),
    ("mid", 300_000),
    ("big", 3 * (1 << 20) + 5),
];

/// Directory forms (xfs_db `path`, `print core.format core.size core.nextents` on both
/// versions): /d10 short form (local, in the inode), /d100 block form (one 4 KiB block with
/// entries and hash leaf), /d200 leaf form (two data blocks and a leaf block: 3 extents),
/// /d5000 node form (40 data blocks, leaves, a node and a free index) whose 35 (v5) or 43
/// (v4) extents do not fit the inode: its block map is itself a B+tree.
fn forms_tree() -> (Tree, Vec<(String, Vec<String>)>) {
    let mut t = Tree::default();
    let mut dirs = Vec::new();
    for (d, n, name) in [
        ("d10", 10, "f"),
        ("d100", 100, "f"),
        ("d200", 200, "entry-number-"),
        ("d5000", 5000, "entry-number-"),
    ] {
        let names: Vec<String> = (0..n).map(|i| format!("{name}{i:05}")).collect();
        for x in &names {
            t.file(&format!("/{d}/{x}"), b"");
        }
        dirs.push((format!("/{d}"), names));
    }
    for (i, (f, n)) in FILES.iter().enumerate() {
        t.file(&format!("/files/{f}"), pattern(*n, i as u64));
    }
    t.link("/files/link", "big");
    (t, dirs)
}

#[test]
fn xfs_lists_every_directory_form_and_reads_files_of_any_size() {
    if !have_mkfs_xfs() {
        return;
    }
    let dir = crate::util::tempdir();
    let (tree, dirs) = forms_tree();
    for (v, args) in [
        ("v5", &["-i", "size=512"][..]),
        (
            "v4",
            &["-m", "crc=0", "-n", "ftype=0", "-i", "size=256"][..],
        ),
    ] {
        let img_path = mkfs_xfs(dir.path(), v, &tree, args);
        let img = imgtool::image::open(&img_path).expect("open");
        let whole = Slice::whole(&img);
        let mut x = Xfs::open(&whole, 256 << 20).expect("xfs");
        // The forms the comment promises: short form in the inode, then one directory
        // block, then more (leaf and node forms).
        let form = |x: &mut Xfs, p: &str| {
            let i = x.walk(p).unwrap().unwrap();
            (i.format, i.size)
        };
        assert_eq!(form(&mut x, "/d10").0, 1, "{v}");
        assert_eq!(form(&mut x, "/d100"), (2, 4096), "{v}");
        assert_eq!(form(&mut x, "/d200"), (2, 8192), "{v}");
        assert_eq!(form(&mut x, "/d5000"), (3, 40 * 4096), "{v}");
        let mut g = XfsGuest::new(x);
        assert!(g.lists_dirs());
        let mut top = g.list_dir("/", 100);
        top.sort();
        assert_eq!(top, ["d10", "d100", "d200", "d5000", "files"], "{v}");
        for (d, want) in &dirs {
            let mut got = g.list_dir(d, 10_000);
            got.sort();
            assert_eq!(&got, want, "{v} {d}");
            assert_eq!(
                g.kind(&format!("{d}/{}", want[want.len() - 1])),
                Some(NodeKind::File)
            );
        }
        assert_eq!(g.list_dir("/d5000", 7).len(), 7, "the max is kept");
        for (i, (f, n)) in FILES.iter().enumerate() {
            let path = format!("/files/{f}");
            let want = pattern(*n, i as u64);
            assert_eq!(read_all(&mut g, &path, 1 << 20), want, "{v} {path}");
            assert_eq!(
                read_all(&mut g, &path, 65_537),
                want,
                "{v} {path} odd chunks"
            );
            assert_eq!(g.read_head(&path, n + 10).unwrap(), want, "{v} {path} head");
            for (off, len) in [
                (262_143usize, 3usize),
                (n.saturating_sub(1), 10),
                (n + 9, 5),
            ] {
                let got = g.read_range(&path, off as u64, len).unwrap();
                let end = (off + len).min(*n);
                assert_eq!(
                    got,
                    want.get(off..end).unwrap_or(&[]),
                    "{v} {path} at {off}"
                );
            }
        }
        assert_eq!(g.read_link("/files/link").as_deref(), Some("big"));
        assert!(g.errors.is_empty(), "{v}: {:?}", g.errors);
    }
}

/// /frag.bin of the fixture: 2600 blocks of 1 KiB, every other one punched out, so 1300
/// extents in a two-level extent B+tree. Block i (even) starts with "block %010d\n" and is
/// zero after; odd blocks are holes and read as zeros.
#[test]
fn xfs_reads_a_file_through_a_two_level_extent_tree() {
    let u = crate::disk_util::unpack("xfs-frag");
    let img = imgtool::image::open(&u.raw).expect("open");
    let whole = Slice::whole(&img);
    let mut x = Xfs::open(&whole, 256 << 20).expect("xfs");
    let ino = x.walk("/frag.bin").unwrap().expect("frag.bin");
    assert_eq!(ino.format, 3, "btree format");
    assert_eq!(
        ino.fork[..2],
        [0, 2],
        "the root is two levels above the leaves"
    );
    let extents = x.extents(&ino).unwrap();
    assert_eq!(extents.len(), 1300);
    let mut want = vec![0u8; 2600 * 1024];
    for i in (0..2600).step_by(2) {
        let line = format!("block {i:010}\n");
        want[i * 1024..i * 1024 + 17].copy_from_slice(line.as_bytes());
    }
    let mut g = XfsGuest::new(x);
    assert!(read_all(&mut g, "/frag.bin", 1 << 20) == want, "whole file");
    // Ranges that start and end inside holes and data.
    for (off, len) in [(1023usize, 2usize), (2047, 8194), (1_000_000, 1_000_003)] {
        let got = g.read_range("/frag.bin", off as u64, len).unwrap();
        assert!(got == want[off..off + len], "at {off}");
    }
    assert!(g.errors.is_empty(), "{:?}", g.errors);
}

// ---------------------------------------------------------------------------------------
// A RHEL-style guest: /boot and / on XFS

const KVER: &str = "5.14.0-362.8.1.el9_3.x86_64";
const ROOT_UUID: &str = "8c6f7d1e-2b3a-4c5d-9e8f-0a1b2c3d4e5f";
const BOOT_UUID: &str = "1d2c3b4a-5f6e-4a8b-9c0d-e1f2a3b4c5d6";
const MACHINE_ID: &str = "0f0e0d0c0b0a09080706050403020100";

/// An uncompressed initramfs of about 1 MiB: a firmware blob first, so the virtio and NVMe
/// modules lie past 256 KiB (and past the first 1 MiB chunk).
fn initramfs() -> Vec<u8> {
    let m = format!("usr/lib/modules/{KVER}/kernel/drivers");
    let mut c = Vec::new();
    newc::entry_with(
        &mut c,
        newc::MAGIC,
        1,
        newc::FILE,
        "usr/lib/firmware/blob.bin",
        &pattern(1 << 20, 7),
    );
    newc::entry_with(
        &mut c,
        newc::MAGIC,
        2,
        newc::FILE,
        &format!("{m}/block/virtio_blk.ko.xz"),
        b"xz",
    );
    newc::entry_with(
        &mut c,
        newc::MAGIC,
        3,
        newc::FILE,
        &format!("{m}/nvme/host/nvme.ko.xz"),
        b"xz",
    );
    newc::entry_with(
        &mut c,
        newc::MAGIC,
        4,
        newc::FILE,
        &format!("{m}/net/virtio_net.ko.xz"),
        b"xz",
    );
    newc::entry_with(&mut c, newc::MAGIC, 5, 0, newc::TRAILER, b"");
    c
}

fn rhel_boot() -> Tree {
    let mut t = Tree::default();
    t.file(
        &format!("/loader/entries/{MACHINE_ID}-{KVER}.conf"),
        format!(
            "title Rocky Linux ({KVER}) 9.3 (Blue Onyx)\nversion {KVER}\nlinux /vmlinuz-{KVER}\ninitrd /initramfs-{KVER}.img $tuned_initrd\noptions root=UUID={ROOT_UUID} ro crashkernel=1G-4G:192M rhgb quiet\ngrub_users $grub_users\ngrub_arg --unrestricted\ngrub_class rocky\n"
        ),
    )
    .file(
        "/grub2/grub.cfg",
        "### BEGIN /etc/grub.d/10_linux ###\ninsmod part_msdos\ninsmod xfs\nset root='hd0,msdos1'\ninsmod blscfg\nblscfg\n### END /etc/grub.d/10_linux ###\n",
    )
    .file(&format!("/vmlinuz-{KVER}"), pattern(600_000, 3))
    .file(&format!("/initramfs-{KVER}.img"), initramfs())
    .file(
        &format!("/config-{KVER}"),
        "CONFIG_FW_CFG_SYSFS=y\nCONFIG_VIRTIO=y\nCONFIG_VIRTIO_BLK=m\nCONFIG_VIRTIO_NET=m\nCONFIG_BLK_DEV_NVME=m\n",
    );
    t
}

fn rhel_root() -> Tree {
    let mut t = Tree::default();
    let m = format!("/usr/lib/modules/{KVER}");
    t.file(
        "/etc/os-release",
        "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
    )
    .file("/etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n")
    .file(
        "/etc/fstab",
        format!("UUID={ROOT_UUID} / xfs defaults 0 0\nUUID={BOOT_UUID} /boot xfs defaults 0 0\n"),
    )
    .file("/etc/hosts", "127.0.0.1 localhost\n")
    .file("/etc/machine-id", format!("{MACHINE_ID}\n"))
    .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
    .file("/etc/shadow", "root:!!:19700:0:99999:7:::\n")
    .file("/etc/adjtime", "0.0 0 0.0\n0\nUTC\n")
    .file("/etc/selinux/config", "SELINUX=permissive\nSELINUXTYPE=targeted\n")
    .file(
        "/etc/sysconfig/network-scripts/ifcfg-eth0",
        "DEVICE=eth0\nBOOTPROTO=dhcp\nONBOOT=yes\n",
    )
    .file("/etc/cloud/cloud.cfg", "users:\n - default\n")
    .file("/usr/bin/bash", elf(62))
    .link("/bin", "usr/bin")
    .link("/lib", "usr/lib")
    .link("/lib64", "usr/lib64")
    .file("/usr/lib64/ld-linux-x86-64.so.2", elf(62))
    .link("/sbin", "usr/sbin")
    .file("/usr/bin/cloud-init", "#!/usr/bin/python3\n")
    .file("/usr/bin/growpart", "#!/bin/sh\n")
    .file("/usr/sbin/xfs_growfs", elf(62))
    .file("/usr/sbin/sshd", elf(62))
    .file(&format!("{m}/modules.builtin"), "kernel/drivers/virtio/virtio.ko\n")
    .file(&format!("{m}/kernel/drivers/net/virtio_net.ko.xz"), "xz");
    t
}

/// Sector 0: boot code stand-in, a disk signature, /boot at LBA 2048 and / after it.
fn mbr2(sectors: u32) -> Vec<u8> {
    let mut s = vec![0u8; 512];
    s[0] = 0xEB; // boot code: a jump
    s[1] = 0x63;
    s[440..444].copy_from_slice(&0x5eed_0001u32.to_le_bytes()); // disk signature
    for (i, first) in [2048u32, 2048 + sectors].into_iter().enumerate() {
        let e = &mut s[446 + 16 * i..462 + 16 * i];
        e[0] = if i == 0 { 0x80 } else { 0 }; // /boot active
        e[4] = 0x83; // Linux
        e[8..12].copy_from_slice(&first.to_le_bytes()); // first LBA
        e[12..16].copy_from_slice(&sectors.to_le_bytes()); // sectors
    }
    s[510] = 0x55; // boot signature
    s[511] = 0xAA;
    s
}

/// Copy `fs` into `disk` at `at`, skipping all-zero chunks so the disk stays sparse.
fn copy_sparse(fs: &Path, disk: &mut std::fs::File, at: u64) {
    let data = std::fs::read(fs).unwrap();
    for (i, c) in data.chunks(1 << 16).enumerate() {
        if c.iter().any(|&b| b != 0) {
            disk.seek(SeekFrom::Start(at + (i as u64) * (1 << 16)))
                .unwrap();
            disk.write_all(c).unwrap();
        }
    }
}

#[test]
fn a_rhel_guest_with_boot_on_xfs_gets_a_readiness_verdict() {
    if !have_mkfs_xfs() {
        return;
    }
    let dir = crate::util::tempdir();
    let boot = mkfs_xfs(
        dir.path(),
        "boot",
        &rhel_boot(),
        &[
            "-L",
            "boot",
            "-m",
            &format!("uuid={BOOT_UUID}"),
            "-i",
            "size=512",
        ],
    );
    let root = mkfs_xfs(
        dir.path(),
        "root",
        &rhel_root(),
        &[
            "-L",
            "root",
            "-m",
            &format!("uuid={ROOT_UUID}"),
            "-i",
            "size=512",
        ],
    );
    let raw = dir.path().join("rhel.img");
    let mut f = std::fs::File::create(&raw).unwrap();
    f.set_len(40 << 30).unwrap();
    f.write_all(&mbr2((FS_SIZE / 512) as u32)).unwrap();
    copy_sparse(&boot, &mut f, MIB);
    copy_sparse(&root, &mut f, MIB + FS_SIZE);
    drop(f);
    let img = imgtool::image::open(&raw).expect("open");
    let r = imgtool::plan::inspect_disk(&img);
    let os = r.os.as_ref().expect("an OS");
    assert_eq!((os.id.as_deref(), os.partition), (Some("rocky"), Some(2)));
    let codes: Vec<_> = r.readiness.findings.iter().map(|f| f.code).collect();
    assert_eq!(
        r.readiness.kernel.as_ref().map(|k| k.version.as_str()),
        Some(KVER),
        "{codes:?} {:?}",
        r.warnings
    );
    for no in [
        "kernel-undecided",
        "initramfs-unreadable",
        "no-virtio-blk",
        "no-nvme",
    ] {
        assert!(!codes.contains(&no), "{no}: {codes:?}");
    }
    assert_eq!(r.readiness.nvme, Some(true), "nvme found in the initramfs");
    assert_eq!(r.readiness.verdict(), "ready", "{codes:?} {:?}", r.warnings);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
