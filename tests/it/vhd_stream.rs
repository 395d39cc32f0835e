//! The streamed dynamic VHD (`convert::VhdStream`): streamed into a file, it must read back
//! as exactly the source disk's bytes through `qemu-img` (the reader the import service and
//! the stand-in cloud use: a valid reference for dynamic VHDs) and through imgtool, `check`
//! must find nothing (not even a warning), and `inspect` must report the exact size.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use imgtool::VirtualDisk;
use imgtool::convert::{Identity, VhdStream};

use crate::util::{Rng, qemu_img, run, tempdir};
use crate::vhd_read::{assert_same, generate, patterned_raw, qemu_raw, qemu_vhd, read_all};

const ID: Identity = Identity {
    unique_id: [0x5a; 16],
    timestamp: 0x2e00_0000,
};

/// Stream `src` (any image imgtool opens) into `dst`; returns (stream length, blocks).
fn stream_to_file(src: &Path, dst: &Path, id: Identity) -> (u64, u64) {
    let img = imgtool::image::open(src).unwrap();
    let s = VhdStream::new(&img, id).unwrap();
    let mut f = fs::File::create(dst).unwrap();
    let n = std::io::copy(&mut s.reader(), &mut f).unwrap();
    assert_eq!(n, s.len());
    (s.len(), s.blocks())
}

/// Every reader agrees with `want`, and check and inspect have nothing to say.
fn assert_reads_back(vhd: &Path, want: &[u8], dir: &Path, what: &str) {
    assert_same(&qemu_raw(vhd, dir), want, &format!("{what}: qemu-img"));
    assert_same(&read_all(vhd), want, &format!("{what}: imgtool"));
    let o = run(&["check", "--json", vhd.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(o.status.code(), Some(0), "{what}: {j}");
    assert_eq!(j["problems"], 0, "{what}: {j}");
    assert_eq!(j["warnings"], serde_json::json!([]), "{what}: {j}");
    let o = run(&["inspect", "--json", vhd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{what}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["virtual_size"], want.len() as u64, "{what}");
    assert_eq!(j["vhd"]["disk_type"], "dynamic", "{what}");
    assert_eq!(
        j["warnings"].as_array().map_or(0, Vec::len),
        0,
        "{what}: {j}"
    );
}

/// The 2 MiB blocks of `disk` holding a non-zero byte.
fn data_blocks(disk: &[u8]) -> u64 {
    disk.chunks(2 << 20)
        .filter(|c| c.iter().any(|&b| b != 0))
        .count() as u64
}

#[test]
fn raw_fixed_dynamic_and_chains_stream_to_the_same_bytes() {
    let d = tempdir();
    let raw = d.path().join("p.raw");
    // Not a multiple of the block size, and not a CHS-representable size.
    let size = (37 << 20) + 5 * 512;
    patterned_raw(&raw, size);
    let fixed = qemu_vhd(d.path(), "fixed", 24 << 20, "subformat=fixed,force_size=on");
    let dynamic = qemu_vhd(d.path(), "dyn", 30 << 20, "subformat=dynamic,force_size=on");
    generate(d.path(), &["chain3", "hyperv"]);
    let cases: Vec<(PathBuf, Vec<u8>)> = vec![
        (raw.clone(), fs::read(&raw).unwrap()),
        (fixed.clone(), read_all(&fixed)),
        (dynamic.clone(), qemu_raw(&dynamic, d.path())),
        (
            d.path().join("chain3.vhd"),
            fs::read(d.path().join("chain3.raw")).unwrap(),
        ),
        (
            d.path().join("hyperv.vhd"),
            fs::read(d.path().join("hyperv.raw")).unwrap(),
        ),
    ];
    for (src, want) in cases {
        let what = src.file_name().unwrap().to_string_lossy().into_owned();
        let out = d.path().join(format!("{what}.stream.vhd"));
        let (len, blocks) = stream_to_file(&src, &out, ID);
        assert_eq!(blocks, data_blocks(&want), "{what}: only blocks with data");
        assert_eq!(
            len,
            2048 + blocks * (512 + (2 << 20)) + 512,
            "{what}: nothing but metadata and blocks"
        );
        assert_reads_back(&out, &want, d.path(), &what);
    }
}

#[test]
fn the_same_image_and_identity_give_the_same_bytes_on_every_run() {
    let d = tempdir();
    let raw = d.path().join("p.raw");
    patterned_raw(&raw, 20 << 20);
    let (a, b, c) = (
        d.path().join("a.vhd"),
        d.path().join("b.vhd"),
        d.path().join("c.vhd"),
    );
    stream_to_file(&raw, &a, ID);
    stream_to_file(&raw, &b, ID);
    let other = Identity {
        timestamp: ID.timestamp + 1,
        ..ID
    };
    stream_to_file(&raw, &c, other);
    assert!(fs::read(&a).unwrap() == fs::read(&b).unwrap());
    assert!(fs::read(&a).unwrap() != fs::read(&c).unwrap());
}

#[test]
fn an_odd_sized_disk_is_a_clear_error() {
    let d = tempdir();
    let raw = d.path().join("odd.raw");
    fs::write(&raw, vec![1u8; 1000]).unwrap();
    let img = imgtool::image::open(&raw).unwrap();
    let e = VhdStream::new(&img, ID).unwrap_err().to_string();
    assert!(
        e.contains("1000 bytes") && e.contains("512-byte sectors"),
        "{e}"
    );
}

/// A sparse RAW: data runs at random places, some written as zeros (allocated, all zero: the
/// zero scan must drop their blocks), some one byte long at a block's edge.
fn random_sparse_raw(path: &Path, rng: &mut Rng) -> Vec<u8> {
    let size = (1 + rng.below(24 << 11)) * 512;
    let f = fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    for _ in 0..rng.below(10) {
        let at = match rng.below(3) {
            0 => (rng.below(size) / (2 << 20) * (2 << 20)).saturating_sub(rng.below(2)),
            _ => rng.below(size),
        };
        let len = (1 + rng.below(3 << 20)).min(size - at) as usize;
        let zero = rng.below(4) == 0;
        let seed = rng.next_u64() as u8;
        let buf: Vec<u8> = (0..len)
            .map(|i| if zero { 0 } else { (i as u8) ^ seed | 1 })
            .collect();
        f.write_all_at(&buf, at).unwrap();
    }
    fs::read(path).unwrap()
}

#[test]
fn random_sparse_disks_stream_and_read_back_as_the_disk() {
    let d = tempdir();
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let raw = d.path().join(format!("{seed}.raw"));
        let want = random_sparse_raw(&raw, &mut rng);
        let vhd = d.path().join(format!("{seed}.vhd"));
        let (_, blocks) = stream_to_file(&raw, &vhd, ID);
        let what = format!("seed {seed}, {} bytes", want.len());
        assert_eq!(blocks, data_blocks(&want), "{what}");
        let img = imgtool::image::open(&vhd).unwrap();
        let mut back = vec![0u8; img.size() as usize];
        img.read_at(0, &mut back).unwrap();
        assert_same(&back, &want, &what);
        // qemu-img, check and inspect on a few (they run processes).
        if seed % 6 == 0 {
            assert_reads_back(&vhd, &want, d.path(), &what);
        }
    }
}

#[test]
fn qemu_img_check_finds_nothing_and_sees_the_exact_size() {
    let d = tempdir();
    let raw = d.path().join("p.raw");
    let size = (8 << 20) + 3 * 512;
    patterned_raw(&raw, size);
    let vhd = d.path().join("s.vhd");
    stream_to_file(&raw, &vhd, ID);
    let o = qemu_img()
        .args(["info", "--output=json", "-f", "vpc"])
        .arg(&vhd)
        .output()
        .unwrap();
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["virtual-size"], size);
    let o = qemu_img()
        .args(["check", "-f", "vpc"])
        .arg(&vhd)
        .output()
        .unwrap();
    // vpc has no consistency check in qemu-img: "not supported" is exit 63, anything else
    // (a corruption) would be 2 or 3.
    assert!(
        matches!(o.status.code(), Some(0) | Some(63)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
