//! The scanner on archives built here (newc by the tests' own writer, tests/it/newc.rs,
//! compressed by the same crates' encoders), so the tests need no tools;
//! testdata/make-initramfs.sh makes the committed fixtures with the real tools
//! (tests/it/initramfs.rs).

use super::*;
use std::io::Write;

const WANTED: &[&str] = &["virtio_blk", "virtio_net", "nvme"];
const LIMITS: Limits = Limits {
    max_input: 1 << 30,
    max_output: 1 << 30,
};

// The newc writer the integration tests and benches use too: written from the format, not
// from the reader under test.
#[path = "../../../tests/it/newc.rs"]
mod newc;

/// Pseudo-random bytes (xorshift), hard to compress.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn compress(kind: Compression, data: &[u8]) -> Vec<u8> {
    match kind {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let s = liblzma::stream::Stream::new_easy_encoder(1, liblzma::stream::Check::Crc32)
                .unwrap();
            let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), s);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Lzma => {
            let opts = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
            let s = liblzma::stream::Stream::new_lzma_encoder(&opts).unwrap();
            let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), s);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap(),
        Compression::Lz4 => lz4_legacy(data),
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

/// `lz4 -l`: the legacy magic, then per 8 MiB of input a length and an lz4 block.
fn lz4_legacy(data: &[u8]) -> Vec<u8> {
    let mut out = lz4::MAGIC.to_vec();
    for chunk in data.chunks(lz4::CHUNK_OUT) {
        let block = lz4_flex::block::compress(chunk);
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        out.extend_from_slice(&block);
    }
    out
}

fn lz4_frame(data: &[u8]) -> Vec<u8> {
    let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The early-microcode archive Debian and dracut put first, stored.
fn microcode() -> Vec<u8> {
    newc::archive(&[
        ("kernel", b""),
        ("kernel/x86", b""),
        ("kernel/x86/microcode", b""),
        ("kernel/x86/microcode/GenuineIntel.bin", &noise(3000, 7)),
    ])
}

/// A main archive with the three drivers among other modules.
fn main_archive() -> Vec<u8> {
    let d = "usr/lib/modules/6.1.0-30-cloud-amd64/kernel/drivers";
    newc::archive(&[
        ("usr", b""),
        ("init", b"#!/bin/sh\n"),
        (&format!("{d}/ata/libata.ko"), &noise(5000, 1)),
        (&format!("{d}/block/virtio_blk.ko"), &noise(4000, 2)),
        (&format!("{d}/net/virtio_net.ko"), &noise(4000, 3)),
        (&format!("{d}/nvme/host/nvme.ko"), &noise(4000, 4)),
        ("usr/lib/modules/6.1.0-30-cloud-amd64/modules.dep", b"x"),
    ])
}

fn scan(data: &[u8], wanted: &[&str]) -> Result<ModuleScan, String> {
    scan_modules(&mut &data[..], wanted, LIMITS)
}

const ALL: [Compression; 8] = [
    Compression::None,
    Compression::Gzip,
    Compression::Xz,
    Compression::Lzma,
    Compression::Zstd,
    Compression::Lz4,
    Compression::Bzip2,
    Compression::None,
];

#[test]
fn each_compression_with_and_without_microcode() {
    for kind in ALL {
        for prefix in [false, true] {
            let mut file = if prefix { microcode() } else { vec![] };
            file.extend(compress(kind, &main_archive()));
            let s = scan(&file, WANTED).unwrap_or_else(|e| panic!("{kind:?} {prefix}: {e}"));
            assert_eq!(s.found.len(), 3, "{kind:?} prefix {prefix}: {:?}", s.found);
            let mut kinds = if prefix {
                vec![Compression::None]
            } else {
                vec![]
            };
            kinds.push(kind);
            assert_eq!(s.archives, kinds);
            // virtio_blk, virtio_net and nvme are all there before the last entry: early stop.
            assert!(!s.complete, "{kind:?}");
        }
    }
}

#[test]
fn lz4_frame_format_and_crc_variant_read() {
    let mut file = microcode();
    file.extend(lz4_frame(&main_archive()));
    let s = scan(&file, WANTED).unwrap();
    assert_eq!(s.found.len(), 3);
    assert_eq!(s.archives, [Compression::None, Compression::Lz4]);

    let mut crc = Vec::new();
    let crc_entry = |out: &mut Vec<u8>, name: &str, data: &[u8]| {
        newc::entry_with(out, newc::MAGIC_CRC, 1, newc::FILE, name, data);
    };
    crc_entry(&mut crc, "lib/modules/6.1/virtio_blk.ko", b"abc");
    crc_entry(&mut crc, newc::TRAILER, b"");
    let s = scan(&crc, &["virtio_blk"]).unwrap();
    assert!(s.found.contains("virtio_blk"));

    // Lower-case hex digits read as the upper-case ones this writer uses do: newc allows both.
    let mut lower = newc::archive(&[("lib/modules/6.1/virtio_blk.ko", b"abc")]);
    let header = &mut lower[6..newc::HEADER_LEN];
    assert!(
        header.iter().any(|b| b.is_ascii_uppercase()),
        "mode 81A4, namesize 1E"
    );
    header.make_ascii_lowercase();
    let s = scan(&lower, &["virtio_blk"]).unwrap();
    assert!(s.found.contains("virtio_blk"));
}

#[test]
fn not_found_reads_everything_and_lists_what_is_there() {
    for kind in ALL {
        let mut file = microcode();
        file.extend(compress(kind, &main_archive()));
        let s = scan(&file, &["virtio_scsi", "xen_blkfront"]).unwrap();
        assert!(s.found.is_empty());
        assert!(s.complete, "{kind:?}");
        // Every cpio byte up to the trailers (a stored archive's padding after its trailer
        // is skipped as the space between archives).
        let all = (microcode().len() + main_archive().len()) as u64;
        assert!(
            s.decompressed > all - 1024 && s.decompressed <= all,
            "{kind:?}"
        );
        let (names, _) = list_names(&mut &file[..], LIMITS).unwrap();
        assert_eq!(names.len(), 4 + 7, "{names:?}");
        assert_eq!(names[3], "kernel/x86/microcode/GenuineIntel.bin");
    }
}

#[test]
fn module_names_match_with_suffixes_and_either_separator() {
    assert_eq!(
        module_file_key(b"a/b/virtio_blk.ko").as_deref(),
        Some("virtio_blk")
    );
    assert_eq!(
        module_file_key(b"virtio-blk.ko.xz").as_deref(),
        Some("virtio_blk")
    );
    assert_eq!(module_file_key(b"x/nvme.ko.zst").as_deref(), Some("nvme"));
    assert_eq!(module_file_key(b"x/nvme.ko.gz").as_deref(), Some("nvme"));
    assert_eq!(module_file_key(b"x/nvme.ko.bz2"), None);
    assert_eq!(module_file_key(b"x/nvme.kox"), None);
    assert_eq!(module_file_key(b"x/.ko"), None);
    let file = newc::archive(&[
        ("lib/modules/5.10/kernel/virtio-net.ko.xz", b"1"),
        ("lib/modules/5.10/kernel/nvme_core.ko", b"1"),
        ("lib/modules/5.10/kernel/virtio_blk.ko.zst.bak", b"1"),
    ]);
    let s = scan(&file, &["virtio_net", "nvme", "virtio-blk"]).unwrap();
    assert_eq!(s.found, BTreeSet::from(["virtio_net".to_string()]));
    assert!(s.complete);
}

#[test]
fn stops_reading_once_everything_is_found() {
    // Garbage after the main archive is never reached.
    let mut file = microcode();
    file.extend(compress(Compression::Zstd, &main_archive()));
    file.extend(noise(100_000, 9));
    let s = scan(&file, WANTED).unwrap();
    assert!(!s.complete);
    assert!(s.decompressed < (microcode().len() + main_archive().len()) as u64);
    // ... but is an error when something is still wanted.
    let e = scan(&file, &["virtio_scsi"]).unwrap_err();
    assert!(e.contains("where a cpio archive"), "{e}");
}

#[test]
fn nothing_wanted_reads_to_the_end() {
    let mut file = microcode();
    file.extend(compress(Compression::Xz, &main_archive()));
    let s = scan(&file, &[]).unwrap();
    assert!(s.complete && s.found.is_empty());
}

#[test]
fn zero_padding_between_and_after_archives() {
    let mut file = microcode();
    file.extend([0u8; 13]);
    file.extend(compress(Compression::Gzip, &main_archive()));
    file.extend([0u8; 1000]);
    file.extend(compress(
        Compression::Lz4,
        &newc::archive(&[("more", b"x")]),
    ));
    file.extend([0u8; 4]);
    file.extend(compress(
        Compression::Xz,
        &newc::archive(&[("virtio_scsi.ko", b"x")]),
    ));
    file.extend([0u8; 7]);
    let s = scan(&file, &["virtio_scsi"]).unwrap();
    assert!(s.found.contains("virtio_scsi"));
    assert_eq!(
        s.archives,
        [
            Compression::None,
            Compression::Gzip,
            Compression::Lz4,
            Compression::Xz
        ]
    );
    // Two cpio archives inside one compressed stream (a concatenation before compressing).
    let mut two = newc::archive(&[("a", b"1")]);
    two.extend(newc::archive(&[("nvme.ko", b"1")]));
    let s = scan(&compress(Compression::Zstd, &two), &["nvme"]).unwrap();
    assert!(s.found.contains("nvme"));
}

#[test]
fn input_cap_is_an_error_naming_it() {
    let mut file = microcode();
    file.extend(compress(Compression::Xz, &main_archive()));
    let limits = Limits {
        max_input: 4096,
        max_output: 1 << 30,
    };
    let e = scan_modules(&mut &file[..], WANTED, limits).unwrap_err();
    assert!(e.contains("max_input") && e.contains("4096"), "{e}");
    // The cap met while looking at the next archive's magic (3 bytes of it are in).
    let limits = Limits {
        max_input: 4096 + 3,
        max_output: 1 << 30,
    };
    let e = scan_modules(&mut &file[..], WANTED, limits).unwrap_err();
    assert!(e.contains("max_input") && e.contains("byte 4096"), "{e}");
    // Exactly the file's size is enough.
    let limits = Limits {
        max_input: file.len() as u64,
        max_output: 1 << 30,
    };
    scan_modules(&mut &file[..], &["absent"], limits).unwrap();
    // An endless stream of zeros stops at the cap.
    let e = scan_modules(&mut io::repeat(0), WANTED, limits).unwrap_err();
    assert!(e.contains("max_input"), "{e}");
}

#[test]
fn decompressed_cap_is_an_error_naming_it() {
    // A bomb: 64 MiB of zeros inside a cpio entry compresses to almost nothing.
    let bomb = newc::archive(&[("big", &vec![0u8; 64 << 20])]);
    for kind in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Xz,
        Compression::None,
    ] {
        let file = compress(kind, &bomb);
        let limits = Limits {
            max_input: 1 << 30,
            max_output: 1 << 20,
        };
        let e = scan_modules(&mut &file[..], WANTED, limits).unwrap_err();
        assert!(e.contains("max_output"), "{kind:?}: {e}");
    }
    // Zeros after a trailer inside a stream count too.
    let mut pad = newc::archive(&[("a", b"1")]);
    pad.resize(8 << 20, 0);
    let limits = Limits {
        max_input: 1 << 30,
        max_output: 1 << 20,
    };
    let e = scan_modules(&mut &compress(Compression::Gzip, &pad)[..], WANTED, limits).unwrap_err();
    assert!(e.contains("max_output"), "{e}");
}

#[test]
fn hostile_header_sizes_are_errors_with_the_offset() {
    let good = newc::archive(&[("a", b"1234")]);
    // namesize (field 11, at 6 + 8 * 11) of 4097 and of 0xFFFFFFFF.
    for bad in ["00001001", "FFFFFFFF", "00000000"] {
        let mut file = good.clone();
        file[94..102].copy_from_slice(bad.as_bytes());
        let e = scan(&file, WANTED).unwrap_err();
        assert!(e.contains("namesize") && e.contains("byte 0"), "{e}");
    }
    // filesize (field 6, at 6 + 8 * 6) past the end of the archive.
    let mut file = good.clone();
    file[54..62].copy_from_slice(b"00100000");
    let e = scan(&file, &["x"]).unwrap_err();
    assert!(e.contains("data") && e.contains("truncated"), "{e}");
    // filesize larger than the decompression budget: refused before reading.
    file[54..62].copy_from_slice(b"FFFFFFFF");
    let limits = Limits {
        max_input: 1 << 30,
        max_output: 1 << 20,
    };
    let e = scan_modules(&mut &file[..], &["x"], limits).unwrap_err();
    assert!(e.contains("filesize") && e.contains("max_output"), "{e}");
    // A field that is not hex.
    let mut file = good.clone();
    file[14..22].copy_from_slice(b"0000x000");
    let e = scan(&file, WANTED).unwrap_err();
    assert!(e.contains("field mode") && e.contains("byte 0"), "{e}");
    // The second entry's header is bad: its offset is given.
    let two = newc::archive(&[("a", b"1234"), ("b", b"")]);
    let mut file = two.clone();
    let second = 112 + 4; // 110 + "a\0" = 112, then 4 bytes of data
    file[second + 94..second + 102].copy_from_slice(b"7FFFFFFF");
    let e = scan(&file, WANTED).unwrap_err();
    assert!(e.contains(&format!("byte {second}")), "{e}");
}

#[test]
fn truncated_inputs_are_errors_not_panics() {
    for kind in ALL {
        let mut whole = microcode();
        whole.extend(compress(kind, &main_archive()));
        let mut errors = 0;
        let step = (whole.len() / 150).max(1);
        for cut in (1..whole.len()).step_by(step) {
            if scan(&whole[..cut], &["absent"]).is_err() {
                errors += 1;
            }
        }
        // Cuts inside the zero padding of an archive are fine; most others are not.
        assert!(errors > 50, "{kind:?}: only {errors} truncations noticed");
    }
    // A stored archive cut in the middle of an entry's data.
    let file = newc::archive(&[("a", &[7u8; 100])]);
    let e = scan(&file[..150], &["x"]).unwrap_err();
    assert!(e.contains("cut after") && e.contains("truncated"), "{e}");
    // Without its trailer.
    let mut file = Vec::new();
    newc::entry(&mut file, "a", b"1");
    let e = scan(&file, &["x"]).unwrap_err();
    assert!(e.contains("TRAILER"), "{e}");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for seed in 1..200u64 {
        let data = noise((seed * 37 % 3000) as usize, seed);
        let _ = scan(&data, WANTED);
        // Garbage behind each magic.
        for kind in ALL {
            let mut file = compress(kind, b"")[..].to_vec();
            file.truncate(6);
            file.extend(&data);
            let _ = scan(&file, WANTED);
        }
    }
    let e = scan(b"hello world", WANTED).unwrap_err();
    assert!(e.contains("byte 0") && e.contains("hello"), "{e}");
    let e = scan(b"070707", WANTED).unwrap_err();
    assert!(e.contains("070707"), "{e}");
    let e = scan(b"\x89LZO\0\r\n", WANTED).unwrap_err();
    assert!(e.contains("LZO"), "{e}");
    // Corrupt compressed data says which archive.
    let mut file = microcode();
    let mut xz = compress(Compression::Xz, &main_archive());
    let mid = xz.len() / 2;
    xz[mid] ^= 0x55;
    file.extend(xz);
    let e = scan(&file, &["absent"]).unwrap_err();
    assert!(e.contains("archive 2 (xz, at byte 4096)"), "{e}");
}

#[test]
fn empty_input_is_an_empty_initramfs() {
    let s = scan(b"", WANTED).unwrap();
    assert!(s.complete && s.archives.is_empty() && s.found.is_empty());
}

#[test]
fn a_read_error_is_reported() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk gone"))
        }
    }
    let e = scan_modules(&mut Failing, WANTED, LIMITS).unwrap_err();
    assert!(e.contains("disk gone"), "{e}");
}
