//! The initramfs scanner on fixtures made by the real tools (testdata/make-initramfs.sh: GNU
//! cpio, gzip, xz, zstd, lz4 -l, lzma, bzip2, with the early-microcode layout of
//! initramfs-tools and dracut). The tools' own listing (`cpio -it`, main.list) is the
//! reference for the names.

use std::fs::File;
use std::path::{Path, PathBuf};

use imgtool::disk::initramfs::{Compression, Limits, ModuleScan, list_names, scan_modules};

const WANTED: &[&str] = &["virtio_blk", "virtio_net", "nvme"];
const LIMITS: Limits = Limits {
    max_input: 64 << 20,
    max_output: 256 << 20,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/initramfs")
        .join(name)
}

fn scan(name: &str, wanted: &[&str]) -> Result<ModuleScan, String> {
    scan_modules(&mut File::open(fixture(name)).unwrap(), wanted, LIMITS)
}

const MAIN: [(&str, Compression); 8] = [
    ("cpio", Compression::None),
    ("gz", Compression::Gzip),
    ("xz", Compression::Xz),
    ("zst", Compression::Zstd),
    ("lz4", Compression::Lz4),
    ("lz4f", Compression::Lz4),
    ("lzma", Compression::Lzma),
    ("bz2", Compression::Bzip2),
];

#[test]
fn every_compression_finds_the_drivers_and_stops() {
    for (ext, kind) in MAIN {
        let s = scan(&format!("main.{ext}"), WANTED).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(s.found.len(), 3, "{ext}: {:?}", s.found);
        assert_eq!(s.archives, [kind], "{ext}");
        // Sorted names put drivers/{ata,block,net,nvme} before fs/ext4 and modules.dep, so
        // the scan stops before the end.
        assert!(!s.complete, "{ext}");
    }
}

#[test]
fn early_microcode_prefix_is_read_then_the_main_archive() {
    for (ext, kind) in MAIN {
        if matches!(ext, "cpio" | "lz4f") {
            continue;
        }
        let s = scan(&format!("early-{ext}"), WANTED).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(s.found.len(), 3, "{ext}");
        assert_eq!(s.archives, [Compression::None, kind], "{ext}");
    }
}

#[test]
fn names_are_the_ones_gnu_cpio_lists() {
    let expected = std::fs::read_to_string(fixture("main.list")).unwrap();
    let expected: Vec<&str> = expected.lines().collect();
    for (ext, _) in MAIN {
        let f = format!("main.{ext}");
        let (names, s) = list_names(&mut File::open(fixture(&f)).unwrap(), LIMITS).unwrap();
        assert_eq!(names, expected, "{f}");
        assert!(s.complete);
        // A compressed stream is decompressed whole (main.cpio with cpio's zero padding to
        // 512 bytes); a stored archive is read up to its trailer, the padding after it being
        // the space between archives.
        let whole = std::fs::metadata(fixture("main.cpio")).unwrap().len();
        if ext == "cpio" {
            assert!(
                s.decompressed > whole - 512 && s.decompressed < whole,
                "{f}"
            );
        } else {
            assert_eq!(s.decompressed, whole, "{f}");
        }
    }
    let (names, _) = list_names(&mut File::open(fixture("early-zst")).unwrap(), LIMITS).unwrap();
    assert_eq!(
        names[..4],
        [".", "kernel", "kernel/x86", "kernel/x86/microcode"]
    );
    assert_eq!(names[4], "kernel/x86/microcode/GenuineIntel.bin");
    assert_eq!(names[5..], expected[..]);
}

#[test]
fn an_initramfs_without_virtio_says_so() {
    let s = scan("novirtio.xz", WANTED).unwrap();
    assert_eq!(s.found.iter().collect::<Vec<_>>(), ["nvme"]);
    assert!(s.complete, "read to the end to be sure");
    assert_eq!(s.archives, [Compression::None, Compression::Xz]);
}

#[test]
fn padding_and_a_second_compressed_archive() {
    let s = scan("padded.zst", &["virtio_scsi", "virtio-blk"]).unwrap();
    assert_eq!(s.found.len(), 2, "{:?}", s.found);
    assert_eq!(
        s.archives,
        [Compression::None, Compression::Zstd, Compression::Gzip]
    );
    let s = scan("padded.zst", &["absent"]).unwrap();
    assert!(s.complete && s.found.is_empty());
}

#[test]
fn truncated_fixtures_are_errors() {
    for name in [
        "early-xz",
        "early-zst",
        "early-gz",
        "early-lz4",
        "early-bz2",
        "main.cpio",
    ] {
        let data = std::fs::read(fixture(name)).unwrap();
        // Cut inside the main archive's compressed data (past the 4 KiB microcode archive).
        let cut = if name == "main.cpio" { 5000 } else { 7000 };
        let e = scan_modules(&mut &data[..cut], &["absent"], LIMITS).unwrap_err();
        assert!(e.contains("archive"), "{name}: {e}");
    }
}

#[test]
fn caps_are_errors_naming_them() {
    let tight = Limits {
        max_input: 5000,
        max_output: 256 << 20,
    };
    let e = scan_modules(&mut File::open(fixture("early-xz")).unwrap(), WANTED, tight).unwrap_err();
    assert!(e.contains("max_input"), "{e}");
    let tight = Limits {
        max_input: 64 << 20,
        max_output: 6000,
    };
    let e = scan_modules(&mut File::open(fixture("early-xz")).unwrap(), WANTED, tight).unwrap_err();
    assert!(e.contains("max_output"), "{e}");
}
