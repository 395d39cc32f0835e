//! The VHDX reader against `qemu-img convert -O raw` where qemu is a valid reference (dynamic
//! and fixed images of every block size, a log it replays itself, on a copy), against bytes
//! computed by testdata/vhdxgen.py from the spec where it is not (differencing disks, which
//! qemu's driver cannot make or read partially present; 4096-byte logical sectors, which
//! qemu-img 10 refuses), and damaged files as clear errors.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use imgtool::VirtualDisk;
use imgtool::image::ExtentKind;
use serde_json::Value;

use crate::util::{qemu_img, run, stderr, stdout, testdata};

/// The images of testdata/vhdxgen.py, made once per test run (about ten seconds).
fn images() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = crate::util::tempdir();
        let st = Command::new("python3")
            .arg(testdata("vhdxgen.py"))
            .arg(d.path())
            .status()
            .expect("python3 runs testdata/vhdxgen.py");
        assert!(st.success(), "vhdxgen.py failed");
        d
    })
    .path()
}

fn image(name: &str) -> PathBuf {
    images().join(format!("{name}.vhdx"))
}

/// Read the whole disk through imgtool in uneven pieces (straddling sectors and blocks) and
/// compare it with `NAME.expected.raw` piece by piece; check that every extent said to be zero
/// is zero in the reference.
fn assert_reads_as_expected(name: &str) {
    let img = imgtool::image::open(image(name)).unwrap_or_else(|e| panic!("open {name}: {e}"));
    let want = File::open(images().join(format!("{name}.expected.raw"))).expect("expected raw");
    let size = want.metadata().unwrap().len();
    assert_eq!(img.size(), size, "{name}: virtual size");
    let (mut off, mut step) = (0u64, 1u64);
    let mut ours = vec![0u8; 3 << 20];
    let mut theirs = vec![0u8; 3 << 20];
    while off < size {
        let n = (step * 40_961 + 13).min(size - off).min(3 << 20) as usize;
        img.read_at(off, &mut ours[..n]).expect("read_at");
        want.read_exact_at(&mut theirs[..n], off).unwrap();
        if let Some(i) = ours[..n].iter().zip(&theirs[..n]).position(|(a, b)| a != b) {
            panic!("{name}: first difference at byte {}", off + i as u64);
        }
        off += n as u64;
        step = step * 7 % 100 + 1;
    }
    let mut off = 0;
    while off < size {
        let e = img.extent(off).expect("extent");
        assert!(e.len > 0 && off + e.len <= size, "{name}: extent at {off}");
        if e.kind == ExtentKind::Zero {
            let n = e.len.min(8 << 20) as usize;
            want.read_exact_at(&mut theirs[..n.min(3 << 20)], off)
                .unwrap();
            assert!(
                theirs[..n.min(3 << 20)].iter().all(|&b| b == 0),
                "{name}: zero extent at {off} holds data"
            );
        }
        off += e.len;
    }
}

#[test]
fn dynamic_vhdx_of_each_block_size_reads_as_qemu_does() {
    for name in ["dyn-1m", "dyn-32m", "dyn-256m", "log-4m", "zeros"] {
        assert_reads_as_expected(name);
    }
}

#[test]
fn fixed_vhdx_reads_as_qemu_does() {
    assert_reads_as_expected("fixed-1m");
    let j = inspect_json("fixed-1m");
    assert_eq!(j["vhdx"]["disk_type"], "fixed");
    assert_eq!(j["vhdx"]["leave_blocks_allocated"], true);
}

#[test]
fn vhdx_with_4096_byte_logical_sectors_reads_its_blocks() {
    assert_reads_as_expected("sector-4k");
    let j = inspect_json("sector-4k");
    assert_eq!(j["vhdx"]["logical_sector_size"], 4096);
    // 2^23 sectors of 4096 bytes per bitmap block, over 1 MiB blocks.
    assert_eq!(j["vhdx"]["bat"]["chunk_ratio"], 32768);
}

#[test]
fn differencing_vhdx_reads_through_its_parent() {
    // Fully and partially present blocks, zero and unmapped ones over parent data, absent ones.
    assert_reads_as_expected("diff");
    let j = inspect_json("diff");
    let v = &j["vhdx"];
    assert_eq!(v["disk_type"], "differencing");
    assert_eq!(v["has_parent"], true);
    assert_eq!(v["chain"][0]["found_via"], "relative_path");
    assert_eq!(v["bat"]["payload_states"]["partially_present"], 1);
    assert_eq!(v["bat"]["sector_bitmaps_present"], 1);
    let keys: Vec<&str> = v["parent_locator"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"parent_linkage"), "{keys:?}");
    // The chain goes up as RAW, read through it.
    assert_eq!(j["import"]["format"]["value"], "RAW");
}

#[test]
fn differencing_vhdx_with_a_wrong_parent_or_a_loop_is_refused() {
    let o = run(&["inspect", image("diff-badlink").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("data write GUID"), "{}", stderr(&o));
    let o = run(&["inspect", image("diff-loop").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("loops back"), "{}", stderr(&o));
}

#[test]
fn dirty_log_is_replayed_in_memory_as_qemu_replays_it() {
    for name in ["dirty", "dirty-wrap"] {
        let before = std::fs::read(image(name)).unwrap();
        assert_reads_as_expected(name);
        let j = inspect_json(name);
        assert_eq!(j["vhdx"]["log"]["empty"], false, "{name}");
        assert_eq!(j["vhdx"]["log"]["replayed"]["entries"], 2, "{name}");
        let w = j["warnings"].to_string();
        assert!(w.contains("not closed cleanly"), "{name}: {w}");
        let o = run(&["check", image(name).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        assert!(stdout(&o).contains("not yet applied"), "{}", stdout(&o));
        // Never written.
        assert!(
            std::fs::read(image(name)).unwrap() == before,
            "{name} was modified"
        );
    }
}

#[test]
fn damaged_header_copy_is_a_finding_and_the_other_one_is_read() {
    assert_eq!(
        read_all("bad-header1"),
        read_all("dyn-1m"),
        "header 2 is as good as header 1 was"
    );
    let o = run(&["check", "--json", image("bad-header1").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let j: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let f = &j["findings"][0];
    assert_eq!(f["offset"], 65536 + 4);
    assert_eq!(f["field"], "header checksum");
}

#[test]
fn damaged_vhdx_files_are_clear_errors() {
    let cases = [
        ("bad-headers", "both damaged"),
        ("bad-regions", "region table"),
        ("bad-blocksize", "block size"),
        ("bad-sector", "logical sector size"),
        ("bad-bat-eof", "payload block 30"),
        ("bad-required-region", "required region"),
        ("bad-log", "sequence 99"),
        ("bad-log-truncated", "truncated"),
    ];
    for (name, says) in cases {
        let p = image(name);
        let o = run(&["inspect", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{name}: {}", stderr(&o));
        let o = run(&["check", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stdout(&o));
        assert!(stdout(&o).contains(says), "{name}: {}", stdout(&o));
    }
}

#[test]
fn check_of_clean_vhdx_finds_nothing() {
    for name in ["dyn-1m", "fixed-1m", "diff"] {
        let o = run(&["check", image(name).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stdout(&o));
    }
}

#[test]
fn inspect_shows_every_vhdx_field() {
    let j = inspect_json("dyn-1m");
    assert_eq!(j["format"], "vhdx");
    let v = &j["vhdx"];
    assert_eq!(v["block_size"], 1 << 20);
    assert_eq!(v["virtual_size"], 64 << 20);
    assert_eq!(v["logical_sector_size"], 512);
    assert_eq!(v["creator"], "QEMU v10.0.2");
    assert_eq!(v["log"]["empty"], true);
    assert_eq!(v["region_table"]["regions"].as_array().unwrap().len(), 2);
    assert_eq!(v["header"]["version"], 1);
    assert!(v["page83_data"].is_string());
    assert_eq!(v["bat"]["payload_blocks"], 64);
    let o = run(&["inspect", image("dyn-1m").to_str().unwrap()]);
    let t = stdout(&o);
    for row in [
        "VHDX:",
        "block size:",
        "data write guid:",
        "region BAT:",
        "log:",
        "BAT:",
    ] {
        assert!(t.contains(row), "{row} missing from\n{t}");
    }
}

#[test]
fn convert_vhdx_to_raw_and_vhd() {
    let d = crate::util::tempdir();
    let raw = d.path().join("out.raw");
    let o = run(&[
        "convert",
        image("diff").to_str().unwrap(),
        raw.to_str().unwrap(),
        "--to",
        "raw",
        "--verify",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read(&raw).unwrap() == std::fs::read(images().join("diff.expected.raw")).unwrap()
    );
    let vhd = d.path().join("out.vhd");
    let o = run(&[
        "convert",
        image("dyn-32m").to_str().unwrap(),
        vhd.to_str().unwrap(),
        "--to",
        "vhd",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let back = d.path().join("back.raw");
    let st = qemu_img()
        .args(["convert", "-f", "vpc", "-O", "raw"])
        .arg(&vhd)
        .arg(&back)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(
        std::fs::read(back).unwrap()
            == std::fs::read(images().join("dyn-32m.expected.raw")).unwrap()
    );
}

#[test]
fn guest_facts_of_a_vhdx_equal_those_of_the_raw_disk() {
    let u = crate::disk_util::unpack("uefi-x86_64");
    let vhdx = u.dir.path().join("guest.vhdx");
    let st = qemu_img()
        .args(["convert", "-f", "raw", "-O", "vhdx"])
        .arg(&u.raw)
        .arg(&vhdx)
        .status()
        .unwrap();
    assert!(st.success());
    let facts = |p: &Path| {
        let o = run(&["inspect", "--json", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut j: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let o = j.as_object_mut().unwrap();
        for k in [
            "file",
            "format",
            "file_size",
            "disk_size",
            "allocated_bytes",
            "vhdx",
            "warnings",
            "bytes_read",
        ] {
            o.remove(k);
        }
        o["import"].as_object_mut().unwrap().remove("format");
        j
    };
    let (a, b) = (facts(&u.raw), facts(&vhdx));
    assert!(a["guest"]["os"]["id"] == "debian", "{a}");
    assert_eq!(a, b);
}

fn inspect_json(name: &str) -> Value {
    let o = run(&["inspect", "--json", image(name).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn read_all(name: &str) -> Vec<u8> {
    let img = imgtool::image::open(image(name)).unwrap();
    let mut v = vec![0u8; img.size() as usize];
    img.read_at(0, &mut v).unwrap();
    v
}
