//! The VMDK reader against `qemu-img convert -f vmdk -O raw` (qemu 10 reads every kind made
//! here, being the tool that made them): every subformat, zeroed grains, an OVA, a chain,
//! then inspect, check, convert and the hostile cases. Images come from
//! testdata/make-vmdk.sh, run into a temp dir.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use imgtool::VirtualDisk;
use imgtool::image::ExtentKind;

use crate::util::{qemu_img, run, stderr, stdout, tempdir, testdata};

/// Make the named cases of testdata/make-vmdk.sh into `dir`.
pub fn make(dir: &Path, cases: &[&str]) {
    let out = Command::new("bash")
        .arg(testdata("make-vmdk.sh"))
        .arg(dir)
        .args(cases)
        .output()
        .expect("bash runs testdata/make-vmdk.sh");
    assert!(
        out.status.success(),
        "make-vmdk.sh {cases:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// qemu-img's RAW reading of `src` (format `fmt`), written next to it.
pub fn qemu_raw(src: &Path, fmt: &str) -> PathBuf {
    let out = src.with_extension(format!("{fmt}.qemu.raw"));
    let st = qemu_img()
        .args(["convert", "-f", fmt, "-O", "raw"])
        .arg(src)
        .arg(&out)
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img convert {}", src.display());
    out
}

fn data_ranges(f: &File, size: u64) -> Vec<(u64, u64)> {
    let (mut off, mut v) = (0i64, Vec::new());
    while (off as u64) < size {
        let d = crate::sys::seek_data(f, off);
        if d < 0 {
            break;
        }
        let h = crate::sys::seek_hole(f, d);
        v.push((d as u64, h as u64));
        off = h;
    }
    v
}

/// Every byte of `img` equals the RAW file `want`. Disks up to 256 MiB are read whole. Larger
/// ones (several GiB, mostly holes) are read where either side may hold data (our data
/// extents, the RAW file's data ranges) plus the first and last 64 KiB of each of our zero
/// extents, so the read path, not only the extent map, is checked there too.
pub fn assert_same_disk(img: &dyn VirtualDisk, want: &Path, what: &str) {
    let f = File::open(want).unwrap();
    let size = f.metadata().unwrap().len();
    assert_eq!(img.size(), size, "{what}: virtual size");
    let mut ranges = data_ranges(&f, size);
    let mut off = 0;
    while off < size {
        let e = img.extent(off).expect("extent");
        assert!(e.len > 0 && off + e.len <= size, "{what}: extent at {off}");
        let end = off + e.len;
        if e.kind == ExtentKind::Data || size <= 256 << 20 {
            ranges.push((off, end));
        } else {
            ranges.push((off, end.min(off + (64 << 10))));
            ranges.push((end.saturating_sub(64 << 10).max(off), end));
        }
        off = end;
    }
    ranges.sort();
    let (mut a, mut b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut done = 0;
    for (s, e) in ranges {
        let mut at = s.max(done);
        // Odd-sized reads, so they straddle grains and extents.
        while at < e {
            let n = (e - at).min(1_000_003) as usize;
            img.read_at(at, &mut a[..n]).expect("read_at");
            f.read_exact_at(&mut b[..n], at).unwrap();
            if let Some(i) = a[..n].iter().zip(&b[..n]).position(|(x, y)| x != y) {
                panic!("{what}: first difference at byte {}", at + i as u64);
            }
            at += n as u64;
        }
        done = done.max(e);
    }
}

fn open(p: &Path) -> imgtool::image::Image {
    imgtool::image::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

fn reads_like_qemu(cases: &[&str]) {
    let d = tempdir();
    make(d.path(), cases);
    for c in cases {
        let p = d.path().join(format!("{c}.vmdk"));
        let img = open(&p);
        assert_eq!(img.format_name(), "vmdk", "{c}");
        assert_same_disk(&img, &qemu_raw(&p, "vmdk"), c);
    }
}

#[test]
fn monolithic_sparse_and_flat_read_like_qemu() {
    reads_like_qemu(&["monolithicSparse", "monolithicFlat", "zeroed"]);
}

#[test]
fn split_extents_with_data_past_2_gib_read_like_qemu() {
    reads_like_qemu(&["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"]);
}

#[test]
fn stream_optimized_reads_like_qemu() {
    reads_like_qemu(&["streamOptimized", "streamconv", "stream-gd-at-end"]);
}

#[test]
fn a_child_reads_through_its_parent_like_qemu() {
    reads_like_qemu(&["child"]);
    let d = tempdir();
    make(d.path(), &["child"]);
    let img = open(&d.path().join("child.vmdk"));
    assert_eq!(img.files().len(), 2, "child and base");
    assert!(!img.self_contained());
}

#[test]
fn an_ova_reads_like_its_member_vmdk() {
    let d = tempdir();
    make(d.path(), &["ova"]);
    let ova = d.path().join("ova.ova");
    let member = d.path().join("ova.d/vm-disk1.vmdk");
    let img = open(&ova);
    assert_same_disk(&img, &qemu_raw(&member, "vmdk"), "ova");
    let sec = img.section().unwrap();
    assert_eq!(sec.json()["ova"]["member"], "vm-disk1.vmdk");
    assert_eq!(sec.json()["ova"]["ovf"], "vm.ovf");
    // The archive's member data starts after the .ovf and .mf (each header + padded data).
    assert_eq!(
        sec.json()["ova"]["member_offset"],
        512 + 1024 + 512 + 512 + 512
    );
}

#[test]
fn zeroed_grains_read_as_zeros_and_are_counted() {
    let d = tempdir();
    make(d.path(), &["zeroed"]);
    let img = open(&d.path().join("zeroed.vmdk"));
    let mut b = vec![1u8; 512 << 10];
    img.read_at(3 << 20, &mut b).unwrap();
    assert!(b.iter().all(|&x| x == 0));
    let sec = img.section().unwrap();
    assert_eq!(sec.json()["extents"][0]["sparse"]["zeroed_grains"], 8);
}

#[test]
fn convert_to_raw_and_vhd_reads_like_qemu() {
    let d = tempdir();
    make(d.path(), &["streamconv", "twoGbMaxExtentSparse"]);
    for c in ["streamconv", "twoGbMaxExtentSparse"] {
        let src = d.path().join(format!("{c}.vmdk"));
        let want = qemu_raw(&src, "vmdk");
        let raw = d.path().join(format!("{c}.out.raw"));
        let vhd = d.path().join(format!("{c}.out.vhd"));
        for (out, extra) in [(&raw, None), (&vhd, Some("--verify"))] {
            let mut args = vec!["convert", src.to_str().unwrap(), out.to_str().unwrap()];
            args.extend(extra);
            let o = run(&args);
            assert!(o.status.success(), "{c}: convert: {}", stderr(&o));
        }
        assert_same_disk(&open(&raw), &want, &format!("{c} -> raw"));
        assert_same_disk(&open(&vhd), &want, &format!("{c} -> vhd (imgtool)"));
        // And qemu reads our VHD the same way.
        let back = qemu_raw(&vhd, "vpc");
        assert_same_disk(&open(&raw), &back, &format!("{c} -> vhd (qemu)"));
    }
}

#[test]
fn inspect_shows_descriptor_header_and_extents() {
    let d = tempdir();
    make(
        d.path(),
        &[
            "monolithicSparse",
            "twoGbMaxExtentFlat",
            "child",
            "stream-gd-at-end",
        ],
    );
    let p = d.path().join("monolithicSparse.vmdk");
    let o = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "vmdk");
    assert_eq!(v["virtual_size"], 64 << 20);
    let m = &v["vmdk"];
    assert_eq!(m["create_type"], "monolithicSparse");
    assert_eq!(m["descriptor"]["parent_cid"], "ffffffff");
    assert_eq!(m["descriptor"]["adapter_type"], "ide");
    assert_eq!(m["descriptor"]["virtual_hw_version"], "4");
    assert!(m["descriptor"]["geometry"]["cylinders"].as_u64().unwrap() > 0);
    let sp = &m["extents"][0]["sparse"];
    assert_eq!(sp["magic"], "KDMV");
    assert_eq!(sp["grain_size"], 128);
    assert_eq!(sp["num_gtes_per_gt"], 512);
    assert_eq!(sp["capacity"], (64 << 20) / 512);
    assert!(sp["allocated_grains"].as_u64().unwrap() >= 6);
    let t = run(&["inspect", p.to_str().unwrap()]);
    let text = stdout(&t);
    assert!(text.contains("VMDK descriptor:"), "{text}");
    assert!(text.contains("monolithicSparse"), "{text}");
    assert!(text.contains("grain size"), "{text}");

    let p = d.path().join("twoGbMaxExtentFlat.vmdk");
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", p.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(v["vmdk"]["extents"].as_array().unwrap().len(), 3);
    assert_eq!(v["vmdk"]["extents"][1]["type"], "FLAT");
    assert_eq!(v["vmdk"]["extents"][1]["start"], 2u64 << 30);

    let p = d.path().join("child.vmdk");
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", p.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(
        v["vmdk"]["descriptor"]["parent_file_name_hint"],
        "base.vmdk"
    );
    assert_eq!(
        v["vmdk"]["parent"]["cid"],
        v["vmdk"]["descriptor"]["parent_cid"]
    );

    let p = d.path().join("stream-gd-at-end.vmdk");
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", p.to_str().unwrap()]).stdout).unwrap();
    let sp = &v["vmdk"]["extents"][0]["sparse"];
    assert_eq!(sp["header_source"], "footer");
    assert_eq!(sp["first_header"]["gd_offset"], "GD_AT_END");
    assert_eq!(sp["compress_algorithm"], "deflate");
    // It goes up as RAW, read through the reader: VMDK is only a preview format for ECS.
    assert_eq!(v["import"]["format"]["value"], "RAW");
}

#[test]
fn check_passes_clean_images_and_names_damage() {
    let d = tempdir();
    let clean = [
        "monolithicSparse",
        "streamconv",
        "stream-gd-at-end",
        "twoGbMaxExtentSparse",
        "twoGbMaxExtentFlat",
        "child",
        "zeroed",
    ];
    make(d.path(), &clean);
    for c in clean {
        let p = d.path().join(format!("{c}.vmdk"));
        let o = run(&["check", p.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{c}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    let bad = [
        ("bad-rgd", "redundant grain table"),
        ("bad-gte-past-end", "grain table entry of grain 0"),
        ("bad-marker-lba", "grain marker of grain 0"),
        ("bad-cid", "parentCID"),
        ("bad-version", "sparse header version"),
        ("bad-grain", "grain size"),
        ("bad-gtes", "grain table entries per grain table"),
        ("bad-gd", "grain directory"),
        ("bad-descriptor-size", "embedded descriptor"),
    ];
    make(d.path(), &bad.map(|b| b.0));
    for (c, field) in bad {
        let p = d.path().join(format!("{c}.vmdk"));
        let o = run(&["check", "--json", p.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{c}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let found = v["findings"].as_array().unwrap().iter().any(|f| {
            f["severity"] == "error"
                && (f["field"].as_str().unwrap().contains(field)
                    || f["found"].as_str().unwrap().contains(field))
        });
        assert!(found, "{c}: no error about {field}: {v}");
    }
}

#[test]
fn check_looks_into_every_parent_and_names_the_file_of_each_finding() {
    let d = tempdir();
    make(d.path(), &["bad-parent-rgd"]);
    let p = d.path().join("bad-parent-rgd.vmdk");
    let o = run(&["check", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let hit = findings.iter().find(|f| {
        f["severity"] == "error"
            && f["field"]
                .as_str()
                .unwrap()
                .contains("redundant grain table")
    });
    let hit = hit.unwrap_or_else(|| panic!("no error about the parent's redundant table: {v}"));
    let field = hit["field"].as_str().unwrap();
    assert!(
        field.starts_with("parent ") && field.contains("bad-parent-rgd-base.vmdk"),
        "the finding names the parent: {field}"
    );
    // The parent alone has the same damage, found without a prefix (it is the file given).
    let base = d.path().join("bad-parent-rgd-base.vmdk");
    let o = run(&["check", "--json", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn damaged_files_are_clear_errors_never_made_up_answers() {
    let d = tempdir();
    let cases = [
        ("bad-version", "sparse header version"),
        ("bad-grain", "grain size"),
        ("bad-gtes", "grain table entries per grain table"),
        ("bad-gd", "grain directory"),
        ("bad-descriptor-size", "embedded descriptor"),
        ("bad-cid", "does not match the CID"),
    ];
    make(d.path(), &cases.map(|c| c.0));
    for (c, msg) in cases {
        let p = d.path().join(format!("{c}.vmdk"));
        let o = run(&["inspect", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{c}: {}", stdout(&o));
        assert!(stderr(&o).contains(msg), "{c}: {}", stderr(&o));
    }
    // A grain table entry past the end opens (tables are read lazily) but reading that grain
    // is an error naming it, and convert fails cleanly.
    make(d.path(), &["bad-gte-past-end", "bad-marker-lba"]);
    for c in ["bad-gte-past-end", "bad-marker-lba"] {
        let p = d.path().join(format!("{c}.vmdk"));
        let img = open(&p);
        let mut b = vec![0u8; 4096];
        let e = img.read_at(0, &mut b).unwrap_err().to_string();
        assert!(e.contains(&p.display().to_string()), "{c}: {e}");
        let out = d.path().join(format!("{c}.raw"));
        let o = run(&["convert", p.to_str().unwrap(), out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{c}: {}", stderr(&o));
        assert!(!out.exists());
    }
}

#[test]
fn unclean_shutdown_is_warned_by_inspect_and_check() {
    let d = tempdir();
    make(d.path(), &["unclean"]);
    let p = d.path().join("unclean.vmdk");
    let o = run(&["inspect", "--json", p.to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["warnings"].to_string().contains("unclean shutdown"),
        "{v}"
    );
    let o = run(&["check", "--json", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "a warning, not a problem");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = v["warnings"].as_array().expect("a list of warnings");
    assert_eq!(w.len(), 1, "{v}");
    assert!(w[0].as_str().unwrap().contains("unclean"), "{v}");
}

#[test]
fn other_vmdk_kinds_are_refused_by_name() {
    let d = tempdir();
    let p = d.path().join("esx.vmdk");
    std::fs::write(
        &p,
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfsSparse\"\nRW 100 VMFSSPARSE \"esx-delta.vmdk\"\n",
    )
    .unwrap();
    let o = run(&["inspect", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("vmfsSparse"), "{}", stderr(&o));
    let p = d.path().join("rdm.vmdk");
    std::fs::write(
        &p,
        "# Disk DescriptorFile\ncreateType=\"vmfs\"\nRW 100 VMFSRDM \"x-rdm.vmdk\"\n",
    )
    .unwrap();
    let o = run(&["inspect", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("VMFSRDM"), "{}", stderr(&o));
}

#[test]
fn chains_with_cycles_and_missing_parents_are_errors_naming_the_files() {
    let d = tempdir();
    let a = d.path().join("a.vmdk");
    let b = d.path().join("b.vmdk");
    let desc = |cid: &str, parent: &str, hint: &str| {
        format!(
            "# Disk DescriptorFile\nversion=1\nCID={cid}\nparentCID={parent}\ncreateType=\"monolithicFlat\"\nparentFileNameHint=\"{hint}\"\nRW 8 FLAT \"data.bin\" 0\n"
        )
    };
    std::fs::write(d.path().join("data.bin"), vec![0u8; 4096]).unwrap();
    std::fs::write(&a, desc("0000000a", "0000000b", "b.vmdk")).unwrap();
    std::fs::write(&b, desc("0000000b", "0000000a", "a.vmdk")).unwrap();
    let o = run(&["inspect", a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("loops back"), "{}", stderr(&o));
    std::fs::write(&a, desc("0000000a", "0000000b", "gone.vmdk")).unwrap();
    let o = run(&["inspect", a.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gone.vmdk"), "{}", stderr(&o));
}

/// The guest facts of a committed guest disk (testdata/guest/, RAW) and of the same disk
/// made into a VMDK by `qemu-img convert`: the facts are the disk's, not the container's.
#[test]
fn guest_facts_of_a_vmdk_equal_those_of_the_raw_disk() {
    for (fixture, subformat) in [
        ("uefi-x86_64", "streamOptimized"),
        ("windows-ntfs", "monolithicSparse"),
        ("lvm", "twoGbMaxExtentSparse"),
    ] {
        let u = crate::disk_util::unpack(fixture);
        let vmdk = u.dir.path().join(format!("{fixture}.vmdk"));
        let st = qemu_img()
            .args(["convert", "-f", "raw", "-O", "vmdk", "-o"])
            .arg(format!("subformat={subformat}"))
            .arg(&u.raw)
            .arg(&vmdk)
            .status()
            .expect("qemu-img");
        assert!(st.success());
        let facts = |p: &Path| {
            let mut v = imgtool::plan::inspect_disk(&open(p)).to_json();
            // What the reader was asked for depends on the container's read sizes, not facts.
            v.as_object_mut().unwrap().remove("bytes_read");
            v
        };
        let (raw, ours) = (facts(&u.raw), facts(&vmdk));
        assert!(
            raw["guest"].to_string().len() > 50,
            "{fixture}: facts found: {raw}"
        );
        assert_eq!(ours, raw, "{fixture} as {subformat}");
    }
}
