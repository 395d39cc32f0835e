//! Hostile volumes through the binary, under a 2 GiB address-space limit and a CPU-time limit
//! (`setrlimit` in the child before exec), so that an allocation sized by a hostile field
//! fails here on every machine instead of passing on one with enough memory: whatever a
//! file-system crate does with a volume, `inspect`, `check` and `import --dry-run` must end
//! with exit 0, 1 or 2 and a message (issue 19). Every input a fuzzer ever found
//! (fuzz/regressions/) runs here too.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::disk_util::unpack;
use crate::util::{imgtool, qemu_img, stderr, stdout, tempdir};

/// Address space for one run: far above what inspecting any image needs (tens of MiB), far
/// below what the crash this pins asked for (32 GiB).
const AS_LIMIT: libc::rlim_t = 2 << 30;
/// CPU seconds for one run: a loop the read budget does not end is a failure, not a hang.
const CPU_LIMIT: libc::rlim_t = 60;

/// imgtool with both limits set in the child before it runs.
fn limited() -> Command {
    let mut c = imgtool();
    crate::sys::limit_child(
        &mut c,
        &[(libc::RLIMIT_AS, AS_LIMIT), (libc::RLIMIT_CPU, CPU_LIMIT)],
    );
    c
}

/// Run a limited imgtool with `args`; its HOME is `home` (no cloud configuration leaks in).
fn run_limited(home: &Path, args: &[&str]) -> Output {
    limited()
        .env("HOME", home)
        .args(args)
        .output()
        .expect("run imgtool")
}

/// Exit 0, 1 or 2, and no sign of an abort or a panic.
fn assert_clean_end(o: &Output, what: &str) {
    let err = stderr(o);
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{what}: ended with {:?} (signal {:?}), expected exit 0, 1 or 2; stderr: {err}",
        o.status.code(),
        o.status.signal()
    );
    assert!(
        !err.contains("memory allocation") && !err.contains("panicked"),
        "{what}: {err}"
    );
}

/// inspect, check and import --dry-run on `image`, each ending cleanly; the inspect output.
fn all_commands(image: &Path) -> Output {
    let home = tempdir();
    let p = image.to_str().expect("utf-8 temp path");
    let inspect = run_limited(home.path(), &["inspect", p]);
    assert_clean_end(&inspect, &format!("inspect {p}"));
    let check = run_limited(home.path(), &["check", p]);
    assert_clean_end(&check, &format!("check {p}"));
    let import = run_limited(
        home.path(),
        &[
            "import",
            p,
            "--region",
            "cn-hangzhou",
            "--bucket",
            "hostile-test",
            "--dry-run",
        ],
    );
    assert_clean_end(&import, &format!("import --dry-run {p}"));
    inspect
}

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The crash file of issue 19: an ext4 superblock whose block count implies 2^31 groups.
fn huge_group_count() -> Vec<u8> {
    std::fs::read(
        regressions("disk_inspect")
            .into_iter()
            .find(|p| p.ends_with("ext4-huge-group-count"))
            .expect("fuzz/regressions/disk_inspect/ext4-huge-group-count"),
    )
    .unwrap()
}

#[test]
fn every_fuzz_regression_ends_cleanly_under_an_address_space_limit() {
    let mut seen = 0;
    for target in ["disk_inspect", "vhd_open"] {
        for p in regressions(target) {
            all_commands(&p);
            seen += 1;
        }
    }
    // vhd_chain inputs stand for three files; the binary opens the child.
    for p in regressions("vhd_chain") {
        let data = std::fs::read(&p).unwrap();
        let dir = tempdir();
        if let Some(parts) = imgtool::fuzzing::chain_parts(&data) {
            for (name, part) in parts {
                std::fs::write(dir.path().join(name), part).unwrap();
            }
            all_commands(&dir.path().join("child.vhd"));
            seen += 1;
        }
    }
    // cloud_answers inputs are server answers, replayed in-process by fuzz_corpus.rs.
    assert!(seen >= 2, "the committed regressions are there ({seen})");
}

/// A fixture with the bytes of `part_at` onwards replaced by `volume`, written to a file.
fn fixture_with(name: &str, part_at: usize, volume: &[u8], dir: &Path) -> PathBuf {
    let u = unpack(name);
    let mut b = std::fs::read(&u.raw).unwrap();
    b[part_at..part_at + volume.len()].copy_from_slice(volume);
    let p = dir.join(format!("{name}-hostile.img"));
    std::fs::write(&p, b).unwrap();
    p
}

fn to_vhd(raw: &Path) -> PathBuf {
    let vhd = raw.with_extension("vhd");
    let o = qemu_img()
        .args(["convert", "-f", "raw", "-O", "vpc"])
        .arg(raw)
        .arg(&vhd)
        .output()
        .expect("qemu-img");
    assert!(o.status.success(), "{}", stderr(&o));
    vhd
}

const HUGE_GROUPS_REFUSED: &str = "(ext4): not opened: ext4 superblock byte 0x4 (volume byte \
     1028): s_blocks_count 17592186052608 in groups of 8192 (s_blocks_per_group) makes \
     2147483649 block groups, more than the 1048576 read (MAX_EXT4_GROUPS)";

fn assert_refused(o: &Output, volume: &str, why: &str) {
    let out = stdout(o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    assert!(out.contains(&format!("{volume} {why}")), "{out}");
}

#[test]
fn ext4_huge_group_count_as_raw() {
    let dir = tempdir();
    let p = dir.path().join("raw.img");
    std::fs::write(&p, huge_group_count()).unwrap();
    assert_refused(&all_commands(&p), "whole disk", HUGE_GROUPS_REFUSED);
}

#[test]
fn ext4_huge_group_count_in_an_mbr_partition() {
    // windows-ntfs: MBR, partition 1 at 1 MiB.
    let dir = tempdir();
    let p = fixture_with("windows-ntfs", 1 << 20, &huge_group_count(), dir.path());
    assert_refused(&all_commands(&p), "partition 1", HUGE_GROUPS_REFUSED);
}

#[test]
fn ext4_huge_group_count_in_a_gpt_partition_raw_and_vhd() {
    // uefi-x86_64: GPT, partition 2 (the ext4 root) at 3 MiB.
    let dir = tempdir();
    let raw = fixture_with("uefi-x86_64", 3 << 20, &huge_group_count(), dir.path());
    assert_refused(&all_commands(&raw), "partition 2", HUGE_GROUPS_REFUSED);
    let vhd = to_vhd(&raw);
    let o = all_commands(&vhd);
    assert_refused(&o, "partition 2", HUGE_GROUPS_REFUSED);
    // The rest of the disk is still read: the ESP's loader is reported.
    assert!(
        stdout(&o).contains("/EFI/BOOT/BOOTX64.EFI"),
        "{}",
        stdout(&o)
    );
}

/// One hostile edit of a boot sector: what it is, the edit, the warning it must cause.
type Case = (&'static str, fn(&mut [u8]), &'static str);

/// windows-ntfs with its NTFS boot sector (partition 1, at 1 MiB) edited by `edit`.
fn ntfs_with(edit: impl Fn(&mut [u8]), dir: &Path) -> PathBuf {
    let u = unpack("windows-ntfs");
    let mut b = std::fs::read(&u.raw).unwrap();
    edit(&mut b[1 << 20..(1 << 20) + 512]);
    let p = dir.join("ntfs.img");
    std::fs::write(&p, b).unwrap();
    to_vhd(&p);
    p
}

#[test]
fn hostile_ntfs_boot_sectors_are_refused_by_field() {
    let cases: [Case; 4] = [
        (
            "absurd sector size",
            |b| b[0x0B..0x0D].copy_from_slice(&0x8000u16.to_le_bytes()),
            "not opened: NTFS boot sector byte 0xb: bytes per sector is 32768",
        ),
        (
            "MFT beyond the disk",
            |b| b[0x30..0x38].copy_from_slice(&(1u64 << 40).to_le_bytes()),
            "not opened: NTFS system files (MFT cluster 1099511627776 from boot sector byte \
             0x30) (bytes 4503599627370496..4503599627386880) lies beyond the 15728640 \
             readable bytes",
        ),
        (
            "127 clusters of 1 MiB per file record",
            |b| {
                b[0x0D] = 0xF5; // 2^11 sectors of 512 bytes per cluster
                b[0x40] = 0x7F;
            },
            "not opened: NTFS boot sector byte 0x40: file record size 0x7f means 133169152 bytes",
        ),
        (
            "huge index records",
            |b| b[0x44] = 0xE0, // 2^32 bytes
            "not opened: NTFS boot sector byte 0x44: index record size 0xe0 means 4294967296",
        ),
    ];
    for (what, edit, why) in cases {
        let dir = tempdir();
        let p = ntfs_with(edit, dir.path());
        for image in [p.clone(), p.with_extension("vhd")] {
            let o = all_commands(&image);
            assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
            assert!(
                stdout(&o).contains(&format!("partition 1 (ntfs): {why}")),
                "{what}: {}",
                stdout(&o)
            );
        }
    }
}

#[test]
fn ntfs_larger_than_its_partition_is_still_read() {
    // A disk shrunk after formatting: the boot sector claims 2^40 sectors, the structures
    // the crate loads are all in the first MiBs. Read as before, with the size warning.
    let dir = tempdir();
    let p = ntfs_with(
        |b| b[0x28..0x30].copy_from_slice(&(1u64 << 40).to_le_bytes()),
        dir.path(),
    );
    let o = all_commands(&p);
    let out = stdout(&o);
    assert!(!out.contains("not opened"), "{out}");
    assert!(
        out.contains("arch: x86_64 (PE header of /Windows/System32/cmd.exe)"),
        "{out}"
    );
}

/// uefi-x86_64 with its ESP's FAT12 boot sector (partition 1, at 1 MiB) edited.
#[test]
fn hostile_fat_boot_sectors_are_refused_by_field() {
    let cases: [Case; 3] = [
        (
            "a billion clusters",
            |b| {
                b[0x13..0x15].fill(0); // total sectors: the 32-bit field
                b[0x20..0x24].copy_from_slice(&u32::MAX.to_le_bytes());
            },
            "clusters, more than FAT32's 268435445",
        ),
        (
            "255 FATs",
            |b| b[0x10] = 255,
            "not opened: FAT boot sector byte 0x10: number of FATs is 255, expected 1..=4",
        ),
        (
            "512 KiB clusters",
            |b| {
                b[0x0B..0x0D].copy_from_slice(&4096u16.to_le_bytes());
                b[0x0D] = 128;
            },
            "not opened: FAT boot sector byte 0xd: sectors per cluster is 128",
        ),
    ];
    for (what, edit, why) in cases {
        let dir = tempdir();
        let u = unpack("uefi-x86_64");
        let mut b = std::fs::read(&u.raw).unwrap();
        edit(&mut b[1 << 20..(1 << 20) + 512]);
        let p = dir.path().join("fat.img");
        std::fs::write(&p, b).unwrap();
        let o = all_commands(&p);
        let out = stdout(&o);
        assert!(out.contains("partition 1 (fat"), "{what}: {out}");
        assert!(out.contains(why), "{what}: {out}");
        // The ext4 root on partition 2 is still read.
        assert!(out.contains("os: linux debian 12"), "{what}: {out}");
    }
}

#[test]
fn a_normal_disk_reads_fully_under_the_same_limits() {
    // The limits leave room for real work: otherwise the tests above would prove nothing.
    let u = unpack("windows-ntfs");
    let o = all_commands(&u.raw);
    assert!(
        stdout(&o).contains("arch: x86_64 (PE header of /Windows/System32/cmd.exe)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn ext4_view_is_never_handed_a_path_through_a_symlink() {
    // ext4-view follows a link inside a path by reading its whole target into a buffer sized
    // by the link inode; imgtool resolves links itself and hands the crate only paths whose
    // links, if any, are last. uefi-x86_64's root (partition 2, at 3 MiB) has /bin -> usr/bin.
    use imgtool::disk::fs_guard::ext4_path_ok;
    use imgtool::disk::slice::{Slice, with_ext4_reader};
    let u = unpack("uefi-x86_64");
    let img = imgtool::image::open(&u.raw).unwrap();
    let part = Slice::new(&img, 3 << 20, 13_614_592);
    let got = with_ext4_reader(part, 32 << 20, |r| {
        let fs = ext4_view::Ext4::load(Box::new(r)).unwrap();
        [
            ext4_path_ok(&fs, "/bin", true),
            ext4_path_ok(&fs, "/bin", false),
            ext4_path_ok(&fs, "/bin/bash", true),
            ext4_path_ok(&fs, "/usr/bin/bash", false),
        ]
    });
    assert_eq!(got, [true, false, false, true]);
}
