//! The qcow2 reader against `qemu-img convert -O raw`, QEMU being the reference for its own
//! format: every image testdata/make-qcow2.sh makes (compat 0.10 and 1.1, cluster sizes 512 B
//! to 2 MiB, extended L2, refcount widths 1 to 64, lazy refcounts, preallocation, zero and
//! compressed clusters, backing chains of qcow2, RAW and VHD, a snapshot, external data files)
//! reads byte for byte as qemu-img reads it; inspect reports the header as qemu-img info does;
//! check finds nothing in them and finds what we break on purpose.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::{qemu_img, run, stderr, stdout, tempdir, testdata};
use crate::vhd_read::{assert_same, read_all};

/// The images, made once per test run (the script takes a while on a busy machine).
pub fn images() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempdir();
        let st = std::process::Command::new("sh")
            .arg(testdata("make-qcow2.sh"))
            .arg(d.path())
            .status()
            .expect("sh runs testdata/make-qcow2.sh");
        assert!(st.success(), "make-qcow2.sh failed");
        d
    })
    .path()
}

pub fn image(name: &str) -> PathBuf {
    images().join(name)
}

fn qemu_raw(src: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join("qemu.raw");
    // QEMU opens an external data file named by a relative path from its working directory
    // (imgtool from the image's folder, as for backing files): run it from there.
    let o = qemu_img()
        .current_dir(src.parent().unwrap())
        .args(["convert", "-f", "qcow2", "-O", "raw"])
        .arg(src)
        .arg(&out)
        .output()
        .expect("qemu-img");
    assert!(
        o.status.success(),
        "qemu-img convert {}: {}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    fs::read(out).unwrap()
}

fn inspect_json(p: &Path) -> Value {
    let o = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "inspect {}: {}",
        p.display(),
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn every_image_reads_as_qemu_img_reads_it() {
    let tmp = tempdir();
    let mut seen = 0;
    let mut names: Vec<PathBuf> = fs::read_dir(images())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "qcow2"))
        .collect();
    names.sort();
    for p in &names {
        let ours = read_all(p);
        let want = qemu_raw(p, tmp.path());
        assert_same(&ours, &want, &p.display().to_string());
        seen += 1;
    }
    assert!(seen >= 30, "all the script's images were read ({seen})");
}

#[test]
fn the_data_written_is_there() {
    // Not only equal to qemu-img: the pattern the script wrote at 3 MiB is what we read.
    let img = imgtool::image::open(image("compressed-zstd.qcow2")).unwrap();
    let mut b = vec![0u8; 4096];
    use imgtool::VirtualDisk;
    img.read_at(3 << 20, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0x33));
    img.read_at(3200 << 10, &mut b).unwrap();
    assert!(
        b.iter().all(|&x| x == 0),
        "the zeroed range inside the data"
    );
}

#[test]
fn convert_to_raw_is_sparse_and_equal_to_qemu_img() {
    let tmp = tempdir();
    for name in [
        "compressed-zlib.qcow2",
        "compressed-zstd.qcow2",
        "chain-qcow2.qcow2",
        "extl2-64k.qcow2",
    ] {
        let out = tmp.path().join(format!("{name}.raw"));
        let o = run(&[
            "convert",
            image(name).to_str().unwrap(),
            out.to_str().unwrap(),
            "--to",
            "raw",
            "--verify",
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let want = qemu_raw(&image(name), tmp.path());
        assert_same(&fs::read(&out).unwrap(), &want, name);
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(&out).unwrap();
        assert!(
            m.blocks() * 512 < m.len() / 2,
            "{name}: output is sparse ({} of {} bytes)",
            m.blocks() * 512,
            m.len()
        );
    }
}

#[test]
fn convert_to_vhd_reads_back_as_the_same_disk() {
    let tmp = tempdir();
    let src = image("chain-vhd.qcow2");
    let out = tmp.path().join("out.vhd");
    let o = run(&[
        "convert",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
        "--to",
        "vhd",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let want = qemu_raw(&src, tmp.path());
    assert_same(&read_all(&out), &want, "qcow2 over VHD -> VHD");
}

#[test]
fn encrypted_images_are_refused_by_method() {
    for (name, method) in [("luks.qcow2.enc", "LUKS"), ("aes.qcow2.enc", "AES")] {
        let p = image(name);
        for cmd in ["inspect", "check"] {
            let o = run(&[cmd, p.to_str().unwrap()]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {name}");
            assert!(
                stderr(&o).contains(method) && stderr(&o).contains("encrypted"),
                "{cmd} {name}: {}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn inspect_reports_the_header_fields() {
    let q = |name: &str| inspect_json(&image(name))["qcow2"].clone();
    let v2 = q("v2.qcow2");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["compat"], "0.10");
    assert_eq!(v2["refcount_bits"], 16);
    assert_eq!(q("cluster-512.qcow2")["cluster_size"], 512);
    assert_eq!(q("cluster-2M.qcow2")["cluster_size"], 2 << 20);
    assert_eq!(q("refbits-1.qcow2")["refcount_order"], 0);
    assert_eq!(q("refbits-64.qcow2")["refcount_bits"], 64);
    let e = q("extl2-64k.qcow2");
    assert_eq!(e["extended_l2"], true);
    assert!(e["feature_flags"].to_string().contains("extended L2"));
    assert_eq!(q("lazy.qcow2")["lazy_refcounts"], true);
    let z = q("compressed-zstd.qcow2");
    assert_eq!(z["compression_type"], "zstd");
    assert_eq!(z["incompatible_features"], 8);
    let s = q("snapshot.qcow2");
    assert_eq!(s["snapshots"][0]["name"], "first");
    assert_eq!(s["snapshots"][0]["virtual_size"], 16 << 20);
    let c = q("chain-qcow2.qcow2");
    assert_eq!(c["backing_file"], "mid.qcow2.mid");
    assert_eq!(c["backing_format"], "qcow2");
    assert_eq!(c["backing"]["format"], "qcow2");
    assert_eq!(q("chain-vhd.qcow2")["backing"]["format"], "vhd");
    let d = q("datafile.qcow2");
    assert_eq!(d["data_file"], "datafile.data");
    assert!(
        d["extensions"]
            .to_string()
            .contains("external data file name")
    );
}

#[test]
fn inspect_agrees_with_qemu_img_info() {
    for name in [
        "v2.qcow2",
        "extl2-16k.qcow2",
        "refbits-4.qcow2",
        "chain-raw.qcow2",
    ] {
        let p = image(name);
        let o = qemu_img()
            .args(["info", "--output=json"])
            .arg(&p)
            .output()
            .unwrap();
        let info: Value = serde_json::from_slice(&o.stdout).unwrap();
        let ours = inspect_json(&p);
        assert_eq!(ours["virtual_size"], info["virtual-size"], "{name}");
        assert_eq!(
            ours["qcow2"]["cluster_size"], info["cluster-size"],
            "{name}"
        );
        let spec = &info["format-specific"]["data"];
        assert_eq!(ours["qcow2"]["compat"], spec["compat"], "{name}");
        assert_eq!(
            ours["qcow2"]["refcount_bits"], spec["refcount-bits"],
            "{name}"
        );
    }
}

#[test]
fn self_contained_only_without_backing_or_data_file() {
    // The import rule (src/cloud/form.rs): QCOW2 as it is only when the file holds the whole
    // disk and uses nothing the service is not documented to read (zlib only).
    for (name, alone, api) in [
        ("v3.qcow2", true, "QCOW2"),
        ("compressed-zlib.qcow2", true, "QCOW2"),
        ("compressed-zstd.qcow2", true, "RAW"),
        ("extl2-64k.qcow2", true, "RAW"),
        ("chain-raw.qcow2", false, "RAW"),
        ("datafile.qcow2", false, "RAW"),
    ] {
        let img = imgtool::image::open(image(name)).unwrap();
        assert_eq!(img.self_contained(), alone, "{name}");
        let (fmt, why) = imgtool::plan::form::import_format(&img, None).unwrap();
        assert_eq!(fmt.api_name(), api, "{name}: {why}");
    }
}

#[test]
fn check_finds_nothing_in_qemu_made_images() {
    for name in [
        "v2.qcow2",
        "cluster-512.qcow2",
        "extl2-2M.qcow2",
        "refbits-1.qcow2",
        "refbits-64.qcow2",
        "compressed-zstd.qcow2",
        "snapshot.qcow2",
        "prealloc-metadata.qcow2",
        "datafile.qcow2",
    ] {
        let o = run(&["check", image(name).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stdout(&o));
        assert!(stdout(&o).contains("no problems"), "{name}: {}", stdout(&o));
    }
}

/// A copy of `name` with `edit` applied to its bytes.
fn broken(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut b = fs::read(image(name)).unwrap();
    edit(&mut b);
    let p = dir.join(format!("broken-{name}"));
    fs::write(&p, b).unwrap();
    p
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn check_json(p: &Path) -> (i32, Value) {
    let o = run(&["check", "--json", p.to_str().unwrap()]);
    (
        o.status.code().unwrap(),
        serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null),
    )
}

#[test]
fn check_reports_what_we_break() {
    let tmp = tempdir();
    // v3.qcow2: 64 KiB clusters, refcount table at 64 KiB (header field at 48), 16-bit counts.
    let rc_block = |b: &Vec<u8>| be64(b, be64(b, 48) as usize) as usize;
    // The corrupt bit (incompatible features, byte 79 bit 1).
    let p = broken(tmp.path(), "v3.qcow2", |b| b[79] |= 2);
    let (code, d) = check_json(&p);
    assert_eq!(code, 1);
    assert!(d["findings"].to_string().contains("corrupt"), "{d}");
    // A leaked cluster: one more cluster at the end with refcount 1.
    let p = broken(tmp.path(), "v3.qcow2", |b| {
        let n = b.len() / 65536;
        let blk = rc_block(b);
        b[blk + 2 * n + 1] = 1;
        b.resize(b.len() + 65536, 0);
    });
    let (code, d) = check_json(&p);
    assert_eq!(code, 0, "a leak is a warning, as qemu-img check says: {d}");
    assert!(d["findings"].to_string().contains("leaked cluster"), "{d}");
    // The L1 table's refcount set to 0: a refcount mismatch.
    let p = broken(tmp.path(), "v3.qcow2", |b| {
        let l1 = be64(b, 40) as usize / 65536;
        let blk = rc_block(b);
        b[blk + 2 * l1 + 1] = 0;
    });
    let (code, d) = check_json(&p);
    assert_eq!(code, 1);
    assert!(
        d["findings"].to_string().contains("cluster refcount"),
        "{d}"
    );
    // OFLAG_COPIED cleared on the first L1 entry while the L2 table's refcount is 1.
    let p = broken(tmp.path(), "v3.qcow2", |b| {
        let l1 = be64(b, 40) as usize;
        b[l1] &= 0x7f;
    });
    let (code, d) = check_json(&p);
    assert_eq!(code, 1);
    assert!(d["findings"].to_string().contains("OFLAG_COPIED"), "{d}");
    // An L2 entry pointing past the end of the file.
    let p = broken(tmp.path(), "v3.qcow2", |b| {
        let l2 = be64(b, be64(b, 40) as usize) as usize & 0x00ff_ffff_ffff_fe00;
        b[l2..l2 + 8].copy_from_slice(&(0x8000_0000_0000_0000u64 | (1 << 40)).to_be_bytes());
    });
    let (code, d) = check_json(&p);
    assert_eq!(code, 1);
    assert!(d["findings"].to_string().contains("past the end"), "{d}");
    let o = run(&[
        "convert",
        p.to_str().unwrap(),
        tmp.path().join("x.raw").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "reading it is an error: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("L2 entry 0 of L1 entry 0"),
        "{}",
        stderr(&o)
    );
    // An L2 table overlapping the refcount table: overlapping metadata.
    let p = broken(tmp.path(), "v3.qcow2", |b| {
        let l1 = be64(b, 40) as usize;
        let rt = be64(b, 48);
        b[l1..l1 + 8].copy_from_slice(&(0x8000_0000_0000_0000u64 | rt).to_be_bytes());
    });
    let (code, d) = check_json(&p);
    assert_eq!(code, 1);
    assert!(
        d["findings"].to_string().contains("overlapping metadata"),
        "{d}"
    );
}

#[test]
fn guest_facts_on_qcow2_equal_those_of_the_raw_disk() {
    let u = crate::disk_util::unpack("bios-i386");
    let q = u.dir.path().join("guest.qcow2");
    let o = qemu_img()
        .args(["convert", "-c", "-f", "raw", "-O", "qcow2"])
        .arg(&u.raw)
        .arg(&q)
        .output()
        .unwrap();
    assert!(o.status.success());
    let raw = inspect_json(&u.raw);
    let ours = inspect_json(&q);
    assert_eq!(ours["format"], "qcow2");
    for key in ["partition_table", "file_systems", "guest"] {
        assert_eq!(ours[key], raw[key], "section {key}");
    }
    assert!(!raw["guest"].is_null(), "the fixture has a guest section");
}

#[test]
fn backing_chain_limits() {
    let tmp = tempdir();
    let d = tmp.path();
    // A loop: a -> b -> a (made with -u: qemu-img would refuse to open it).
    for (me, other) in [("a.qcow2", "b.qcow2"), ("b.qcow2", "a.qcow2")] {
        let st = qemu_img()
            .current_dir(d)
            .args([
                "create", "-q", "-f", "qcow2", "-u", "-b", other, "-F", "qcow2", me, "1M",
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let o = run(&["inspect", d.join("a.qcow2").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("loops back"), "{}", stderr(&o));
    // 34 files deep.
    let st = qemu_img()
        .current_dir(d)
        .args(["create", "-q", "-f", "qcow2", "c0.qcow2", "1M"])
        .status()
        .unwrap();
    assert!(st.success());
    for i in 1..34 {
        let st = qemu_img()
            .current_dir(d)
            .args([
                "create",
                "-q",
                "-f",
                "qcow2",
                "-u",
                "-F",
                "qcow2",
                "-b",
                &format!("c{}.qcow2", i - 1),
                &format!("c{i}.qcow2"),
                "1M",
            ])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let o = run(&["inspect", d.join("c33.qcow2").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("deeper than 32"), "{}", stderr(&o));
    let o = run(&["inspect", d.join("c31.qcow2").to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "32 files are fine: {}",
        stderr(&o)
    );
}
