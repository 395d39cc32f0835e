//! Hostile input: every kind of damage makes `inspect` exit 2 with a message that names the
//! file, the field, its offset, what was found and what was expected. Never a panic or a hang.
//! Images are made by testdata/vhdgen.py and then damaged byte by byte here; the checksum is
//! recomputed by this file's own code wherever the damage is not the checksum itself.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::util::{run, stderr, tempdir};
use crate::vhd_read::generate;

/// The VHD checksum, written here independently of the crate.
fn sum(b: &[u8], at: usize) -> u32 {
    let s: u32 = b
        .iter()
        .enumerate()
        .filter(|(i, _)| !(at..at + 4).contains(i))
        .map(|(_, &x)| x as u32)
        .fold(0, u32::wrapping_add);
    !s
}

/// A dynamic VHD from the generator (d2v: 64 MiB + 7 sectors, 2 MiB blocks, 33 BAT entries at
/// 1536, two allocated blocks).
fn dynamic(dir: &Path) -> PathBuf {
    generate(dir, &["d2v"]);
    dir.join("d2v.vhd")
}

fn patch_footers(p: &Path, f: impl Fn(&mut [u8])) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let len = file.metadata().unwrap().len();
    for at in [0, len - 512] {
        let mut b = [0u8; 512];
        file.read_exact_at(&mut b, at).unwrap();
        f(&mut b);
        let c = sum(&b, 64);
        b[64..68].copy_from_slice(&c.to_be_bytes());
        file.write_all_at(&b, at).unwrap();
    }
}

pub(crate) fn patch_header(p: &Path, f: impl Fn(&mut [u8])) {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let mut b = [0u8; 1024];
    file.read_exact_at(&mut b, 512).unwrap();
    f(&mut b);
    let c = sum(&b, 36);
    b[36..40].copy_from_slice(&c.to_be_bytes());
    file.write_all_at(&b, 512).unwrap();
}

fn write_at(p: &Path, at: u64, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(p).unwrap();
    file.write_all_at(bytes, at).unwrap();
}

/// `inspect` must fail with exit 2 and say all of `words` (plus the file's name).
fn refused(p: &Path, words: &[&str]) -> String {
    let o = run(&["inspect", p.to_str().unwrap()]);
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "exit code for {}: stderr {e}",
        p.display()
    );
    assert!(!e.contains("panicked"), "{e}");
    assert!(e.contains(&p.display().to_string()), "names the file: {e}");
    for w in words {
        assert!(e.contains(w), "message should contain {w:?}: {e}");
    }
    let j = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert_eq!(j.status.code(), Some(2));
    e
}

#[test]
fn empty_file() {
    let d = tempdir();
    let p = d.path().join("empty.vhd");
    fs::write(&p, b"").unwrap();
    refused(&p, &["file size", "found 0 bytes", "expected"]);
}

#[test]
fn a_few_bytes() {
    let d = tempdir();
    let p = d.path().join("tiny.vhd");
    fs::write(&p, b"conec").unwrap();
    refused(&p, &["file size", "found 5 bytes", "expected"]);
}

#[test]
fn bad_checksum_in_both_footer_copies() {
    let d = tempdir();
    let p = dynamic(d.path());
    let len = fs::metadata(&p).unwrap().len();
    for at in [0, len - 512] {
        write_at(&p, at + 64, &[0xde, 0xad, 0xbe, 0xef]);
    }
    let e = refused(
        &p,
        &[
            "footer checksum",
            "found 0xdeadbeef",
            "computed",
            "copy at offset 0 is no better",
        ],
    );
    assert!(e.contains(&format!("offset {}", len - 512 + 64)), "{e}");
}

#[test]
fn damaged_end_footer_is_repaired_from_the_copy() {
    let d = tempdir();
    let p = dynamic(d.path());
    let len = fs::metadata(&p).unwrap().len();
    write_at(&p, len - 512 + 64, &[1, 2, 3, 4]);
    let o = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["vhd"]["footer_source"], "copy-at-0");
    assert_eq!(j["vhd"]["end_footer_ok"], false);
    assert!(j["warnings"].to_string().contains("repairable"));
    let c = run(&["check", p.to_str().unwrap()]);
    assert_eq!(c.status.code(), Some(1));
    let out = String::from_utf8_lossy(&c.stdout);
    assert!(out.contains("repairable"), "{out}");
}

#[test]
fn bat_entry_past_end_of_file() {
    let d = tempdir();
    let p = dynamic(d.path());
    // BAT entry 5 -> sector 0x00FFFFFF, far beyond the 4 MiB file.
    write_at(&p, 1536 + 5 * 4, &0x00FF_FFFFu32.to_be_bytes());
    refused(&p, &["BAT entry 5", "offset 1556", "truncated"]);
}

#[test]
fn bat_entries_overlapping() {
    let d = tempdir();
    let p = dynamic(d.path());
    let file = fs::File::open(&p).unwrap();
    let mut e0 = [0u8; 4];
    file.read_exact_at(&mut e0, 1536).unwrap();
    // Entry 7 points one sector after entry 0's block start: the two blocks overlap.
    let v = u32::from_be_bytes(e0) + 1;
    write_at(&p, 1536 + 7 * 4, &v.to_be_bytes());
    refused(&p, &["BAT entry", "no overlap with the block of BAT entry"]);
    // And a block over the header.
    let p2 = dynamic(d.path());
    write_at(&p2, 1536 + 3 * 4, &1u32.to_be_bytes());
    refused(&p2, &["BAT entry 3", "no overlap with the dynamic header"]);
}

#[test]
fn block_size_zero_or_not_a_power_of_two() {
    for bs in [0u32, 3 << 20] {
        let d = tempdir();
        let p = dynamic(d.path());
        patch_header(&p, |h| h[32..36].copy_from_slice(&bs.to_be_bytes()));
        refused(
            &p,
            &[
                "block size",
                &format!("found {bs}"),
                "power of two",
                "offset 544",
            ],
        );
    }
}

#[test]
fn max_table_entries_near_4g_in_a_tiny_file() {
    let d = tempdir();
    let p = dynamic(d.path());
    patch_header(&p, |h| {
        h[28..32].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes())
    });
    refused(&p, &["table offset", "4294967280 entries", "inside the"]);
}

#[test]
fn table_offset_outside_the_file() {
    let d = tempdir();
    let p = dynamic(d.path());
    patch_header(&p, |h| {
        h[16..24].copy_from_slice(&(1u64 << 40).to_be_bytes())
    });
    refused(&p, &["table offset", "0x10000000000", "inside the"]);
}

#[test]
fn unknown_disk_type() {
    let d = tempdir();
    let p = dynamic(d.path());
    patch_footers(&p, |f| f[60..64].copy_from_slice(&7u32.to_be_bytes()));
    refused(
        &p,
        &[
            "disk type",
            "found 7",
            "2 (fixed), 3 (dynamic) or 4 (differencing)",
        ],
    );
}

#[test]
fn size_near_2_pow_63() {
    let d = tempdir();
    let p = dynamic(d.path());
    patch_footers(&p, |f| {
        f[48..56].copy_from_slice(&(1u64 << 63).to_be_bytes())
    });
    refused(&p, &["max table entries", "at least"]);
    // A fixed disk claiming 2^63 bytes is a truncated file, not an allocation.
    generate(d.path(), &["old511"]);
    let f = d.path().join("fixed.vhd");
    let mut b = fs::read(d.path().join("old511.vhd")).unwrap();
    b.push(0); // make the 511-byte footer a 512-byte one
    let n = b.len();
    b[n - 512 + 48..n - 512 + 56].copy_from_slice(&((1u64 << 63) - 512).to_be_bytes());
    let c = sum(&b[n - 512..], 64);
    b[n - 512 + 64..n - 512 + 68].copy_from_slice(&c.to_be_bytes());
    fs::write(&f, &b).unwrap();
    refused(&f, &["fixed VHD data area", "truncated"]);
}

#[test]
fn differencing_parent_missing() {
    let d = tempdir();
    generate(d.path(), &["chain2"]);
    fs::remove_file(d.path().join("chain2.base.vhd")).unwrap();
    refused(
        &d.path().join("chain2.vhd"),
        &[
            "parent",
            "not found",
            "tried",
            "chain2.base.vhd",
            "W2ru",
            "W2ku",
            "C:\\Hyper-V\\chain2.base.vhd",
        ],
    );
}

#[test]
fn differencing_parent_mismatched() {
    let d = tempdir();
    generate(d.path(), &["chain2"]);
    // Give the parent another unique id.
    patch_footers(&d.path().join("chain2.base.vhd"), |f| f[68] ^= 0xff);
    refused(&d.path().join("chain2.vhd"), &["unique id", "expects"]);
}

#[test]
fn differencing_chain_cycle() {
    let d = tempdir();
    generate(d.path(), &["chain2"]);
    // Make the base a differencing disk whose parent is the child: a loop of two files.
    let child = d.path().join("chain2.vhd");
    let base = d.path().join("chain2.base.vhd");
    let cf = fs::read(&child).unwrap();
    let child_id: [u8; 16] = cf[68..84].try_into().unwrap();
    let child_hdr: Vec<u8> = cf[512..1536].to_vec();
    patch_footers(&base, |f| f[60..64].copy_from_slice(&4u32.to_be_bytes()));
    // Copy the child's locator data area layout: point the base's parent at chain2.vhd by name.
    patch_header(&base, |h| {
        h[40..56].copy_from_slice(&child_id);
        let name: Vec<u8> = "chain2.vhd"
            .encode_utf16()
            .flat_map(|u| u.to_be_bytes())
            .collect();
        h[64..576].fill(0);
        h[64..64 + name.len()].copy_from_slice(&name);
        h[576..768].fill(0);
        let _ = &child_hdr;
    });
    refused(&child, &["loops back", "chain2.base.vhd -> "]);
}

#[test]
fn garbage_never_panics() {
    // Random bytes with a valid footer cookie at both ends: must end in a clean error or a
    // report, never a crash. Deterministic xorshift so a failure is reproducible.
    let d = tempdir();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..40 {
        let len = 1024 + (round * 977) % 9000;
        let mut b: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        b[0..8].copy_from_slice(b"conectix");
        let n = b.len();
        b[n - 512..n - 504].copy_from_slice(b"conectix");
        if round % 2 == 0 {
            b[n - 512 + 60..n - 512 + 64].copy_from_slice(&3u32.to_be_bytes());
            b[n - 512 + 16..n - 512 + 24].copy_from_slice(&512u64.to_be_bytes());
            let c = sum(&b[n - 512..], 64);
            b[n - 512 + 64..n - 512 + 68].copy_from_slice(&c.to_be_bytes());
        }
        let p = d.path().join(format!("g{round}.vhd"));
        fs::write(&p, &b).unwrap();
        for cmd in ["inspect", "check"] {
            let o = run(&[cmd, p.to_str().unwrap()]);
            let code = o.status.code();
            assert!(
                matches!(code, Some(0..=2)),
                "{cmd} round {round}: {code:?} {}",
                stderr(&o)
            );
            assert!(
                !stderr(&o).contains("panicked"),
                "{cmd} round {round}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn differencing_chain_too_deep() {
    // 32 files (31 differencing disks over a base) are followed; 33 are not.
    let d = tempdir();
    generate(d.path(), &["deep31", "deep32"]);
    let o = run(&[
        "inspect",
        "--json",
        d.path().join("deep31.vhd").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["vhd"]["chain"].as_array().unwrap().len(), 31);
    refused(
        &d.path().join("deep32.vhd"),
        &["deeper than 32", "deep32.0.vhd"],
    );
}
