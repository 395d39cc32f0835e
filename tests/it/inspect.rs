//! `inspect` and `check` on well-formed images: the JSON fields against `qemu-img info` where
//! qemu is a valid reference, against the generator's parameters where it is not.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::{qemu_img, run, stderr, stdout, tempdir};
use crate::vhd_read::generate;

fn inspect_json(p: &Path) -> Value {
    let o = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("inspect --json prints JSON")
}

/// `qemu-img info`; `-f vpc` for VHDs because qemu's probe takes a fixed VHD (no footer copy
/// at offset 0) for RAW, and would count the footer as data.
fn qemu_info(p: &Path) -> Value {
    let mut c = qemu_img();
    c.args(["info", "--output=json"]);
    if p.extension().is_some_and(|e| e == "vhd") {
        c.args(["-f", "vpc"]);
    }
    let o = c.arg(p).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn virtual_size_matches_qemu_for_every_creator_qemu_reads() {
    let d = tempdir();
    generate(d.path(), &["hyperv", "vpc-chs", "d2v", "xen512k"]);
    let mut made = vec![];
    for (name, opts, size) in [
        ("q-dyn", "subformat=dynamic", "1G"),
        ("q-fixed", "subformat=fixed", "10M"),
        ("q-force", "subformat=dynamic,force_size=on", "1000M"),
        ("q-odd", "subformat=dynamic", "123456789"),
    ] {
        let p = d.path().join(format!("{name}.vhd"));
        let st = qemu_img()
            .args(["create", "-q", "-f", "vpc", "-o", opts])
            .arg(&p)
            .arg(size)
            .status()
            .unwrap();
        assert!(st.success());
        made.push(p);
    }
    for n in ["hyperv", "vpc-chs", "d2v", "xen512k"] {
        made.push(d.path().join(format!("{n}.vhd")));
    }
    for p in made {
        let ours = inspect_json(&p);
        let q = qemu_info(&p);
        assert_eq!(ours["format"], "vhd");
        assert_eq!(ours["virtual_size"], q["virtual-size"], "{}", p.display());
    }
}

#[test]
fn every_footer_and_header_field_is_reported() {
    let d = tempdir();
    generate(d.path(), &["hyperv", "chain3"]);
    let j = inspect_json(&d.path().join("hyperv.vhd"));
    let v = &j["vhd"];
    assert_eq!(v["disk_type"], "dynamic");
    assert_eq!(v["creator_app"], "win ");
    assert_eq!(v["creator_version"], "10.0");
    assert_eq!(v["creator_host_os"], "Wi2k");
    assert_eq!(v["current_size"], 100 * 1048576 + 3 * 512);
    assert_eq!(v["original_size"], v["current_size"]);
    assert_eq!(v["size_source"], "current_size");
    assert_eq!(v["footer_checksum_ok"], true);
    assert_eq!(v["timestamp"], 700000000);
    assert_eq!(v["timestamp_utc"], "2022-03-07T20:26:40Z");
    assert_eq!(v["saved_state"], false);
    assert_eq!(v["feature_flags"], serde_json::json!(["reserved"]));
    assert_eq!(v["geometry"]["heads"], 12);
    assert_eq!(j["virtual_size"], v["current_size"]);
    let dy = &v["dynamic"];
    assert_eq!(dy["block_size"], 2 << 20);
    assert_eq!(dy["max_table_entries"], 51);
    assert_eq!(dy["table_offset"], 1536);
    assert_eq!(dy["allocated_blocks"], 4);
    assert_eq!(dy["header_checksum_ok"], true);
    // current size differs from the CHS size: that is a warning.
    assert!(
        j["warnings"].to_string().contains("geometry"),
        "{}",
        j["warnings"]
    );

    let c = inspect_json(&d.path().join("chain3.vhd"));
    assert_eq!(c["vhd"]["disk_type"], "differencing");
    let chain = c["vhd"]["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    assert!(
        chain[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("chain3.mid.vhd")
    );
    assert!(
        chain[1]["file"]
            .as_str()
            .unwrap()
            .ends_with("chain3.base.vhd")
    );
    assert_eq!(chain[0]["found_via"], "locator 0 (W2ru)");
    assert_eq!(c["vhd"]["parent"], chain[0]);
    let locs = c["vhd"]["dynamic"]["parent_locators"].as_array().unwrap();
    assert_eq!(locs[0]["code"], "W2ru");
    assert_eq!(locs[0]["path"], ".\\chain3.mid.vhd");
    assert_eq!(locs[1]["code"], "W2ku");
    assert_eq!(c["vhd"]["dynamic"]["parent_name"], "chain3.mid.vhd");
    assert_eq!(
        c["vhd"]["dynamic"]["parent_unique_id"],
        chain[0]["unique_id"]
    );
}

#[test]
fn allocation_from_the_bat_and_bitmaps() {
    let d = tempdir();
    generate(d.path(), &["chain2", "xen512k"]);
    // xen512k: sectors 0, 1024..2048 and 98303 hold data -> blocks 0, 1, 95 of 512 KiB.
    let x = inspect_json(&d.path().join("xen512k.vhd"));
    assert_eq!(x["vhd"]["dynamic"]["allocated_blocks"], 3);
    assert_eq!(x["allocated_bytes"], 3 * 512 * 1024);
    // chain2's child defines exactly the sectors the generator gave it: count them from the
    // generator's recipe (odd sectors 1,4,7..63 step 3, 10 + 7 + 9 more).
    let c = inspect_json(&d.path().join("chain2.vhd"));
    let own = (1..64).step_by(3).count() + 10 + 7 + 9;
    assert_eq!(c["allocated_bytes"], own as u64 * 512);
}

#[test]
fn raw_images_are_raw_and_sparse_allocation_is_seen() {
    let d = tempdir();
    let p = d.path().join("disk.img");
    let f = fs::File::create(&p).unwrap();
    f.set_len(64 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&[1u8; 8192], 1 << 20).unwrap();
    let j = inspect_json(&p);
    assert_eq!(j["format"], "raw");
    assert_eq!(j["virtual_size"], 64 << 20);
    assert!(j.get("vhd").is_none());
    let a = j["allocated_bytes"].as_u64().unwrap();
    assert!((8192..=1 << 20).contains(&a), "allocated {a}");
    assert_eq!(j["virtual_size"], qemu_info(&p)["virtual-size"]);
}

#[test]
fn foreign_formats_are_refused_by_name() {
    let d = tempdir();
    // qcow2, VHDX and VMDK are read now (tests/it/qcow2_read.rs, vhdx_read.rs, vmdk_read.rs);
    // these are still refused.
    for (fmt, name) in [("vdi", "VDI")] {
        let p = d.path().join(format!("x.{fmt}"));
        let st = qemu_img()
            .args(["create", "-q", "-f", fmt])
            .arg(&p)
            .arg("64M")
            .status()
            .unwrap();
        assert!(st.success());
        for cmd in ["inspect", "check"] {
            let o = run(&[cmd, p.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {fmt}");
            let e = stderr(&o);
            assert!(e.contains(&format!("a {name} image")), "{cmd} {fmt}: {e}");
            assert!(e.contains("convert"), "gives a hint: {e}");
        }
    }
    let iso = d.path().join("x.iso");
    let mut b = vec![0u8; 0x9000];
    b[0x8000] = 1;
    b[0x8001..0x8006].copy_from_slice(b"CD001");
    fs::write(&iso, &b).unwrap();
    let o = run(&["inspect", iso.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ISO 9660"), "{}", stderr(&o));
}

#[test]
fn text_report_is_aligned_and_complete() {
    let d = tempdir();
    generate(d.path(), &["chain2"]);
    let o = run(&["inspect", d.path().join("chain2.vhd").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let t = stdout(&o);
    for k in [
        "file format:",
        "virtual size:",
        "disk type:",
        "creator:",
        "geometry (C/H/S):",
        "unique id:",
        "block size:",
        "parent unique id:",
        "parent locator 0:",
        "parent chain:",
    ] {
        assert!(t.contains(k), "missing {k} in\n{t}");
    }
    // Values of the top table start in one column.
    let cols: Vec<usize> = t
        .lines()
        .take(5)
        .map(|l| {
            l.find(": ").unwrap() + 2 + l[l.find(": ").unwrap() + 2..].len()
                - l[l.find(": ").unwrap() + 2..].trim_start().len()
        })
        .collect();
    assert!(cols.windows(2).all(|w| w[0] == w[1]), "{cols:?}\n{t}");
}

#[test]
fn check_exit_codes() {
    let d = tempdir();
    generate(d.path(), &["chain3", "hyperv"]);
    for n in ["chain3.vhd", "hyperv.vhd", "chain3.base.vhd"] {
        let o = run(&["check", d.path().join(n).to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{n}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    let q = d.path().join("q.vhd");
    assert!(
        qemu_img()
            .args(["create", "-q", "-f", "vpc"])
            .arg(&q)
            .arg("256M")
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(run(&["check", q.to_str().unwrap()]).status.code(), Some(0));

    // A block pointing into the BAT: exit 1, the finding names BAT entry 2 and its offset.
    use std::os::unix::fs::FileExt;
    let p = d.path().join("hyperv.vhd");
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .write_all_at(&3u32.to_be_bytes(), 1536 + 8)
        .unwrap();
    let o = run(&["check", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = j["findings"].as_array().unwrap();
    assert!(
        f.iter().any(|x| x["field"] == "BAT entry 2"
            && x["offset"] == 1544
            && x["severity"] == "error"),
        "{j}"
    );

    // Not an image at all: exit 2.
    let e = d.path().join("empty");
    fs::write(&e, b"").unwrap();
    assert_eq!(run(&["check", e.to_str().unwrap()]).status.code(), Some(2));
    assert_eq!(
        run(&["check", d.path().join("missing.vhd").to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn check_reports_every_vhd_util_field_check() {
    // One damaged field at a time on a fresh image; each must be named by check.
    use std::os::unix::fs::FileExt;
    let cases: [(&str, u64, &[u8], &str); 4] = [
        ("features", 8, &[0, 0, 0, 0], "footer features"),
        ("version", 12, &[0, 2, 0, 0], "footer format version"),
        ("saved state", 84, &[1], "footer saved state"),
        ("reserved", 85, &[9], "footer reserved bytes"),
    ];
    for (what, at, bytes, field) in cases {
        let d = tempdir();
        generate(d.path(), &["d2v"]);
        let p = d.path().join("d2v.vhd");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let len = file.metadata().unwrap().len();
        for base in [0, len - 512] {
            let mut b = [0u8; 512];
            file.read_exact_at(&mut b, base).unwrap();
            b[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
            let s: u32 = !b
                .iter()
                .enumerate()
                .filter(|(i, _)| !(64..68).contains(i))
                .map(|(_, &x)| x as u32)
                .fold(0, u32::wrapping_add);
            b[64..68].copy_from_slice(&s.to_be_bytes());
            file.write_all_at(&b, base).unwrap();
        }
        let o = run(&["check", "--json", p.to_str().unwrap()]);
        let j: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{what}: {}", stderr(&o)));
        assert!(
            j["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == field && f["offset"] == len - 512 + at),
            "{what}: {j}"
        );
    }
}
