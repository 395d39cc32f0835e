//! `imgtool convert`: every direction checked against an independent reference (qemu-img for
//! fixed and dynamic VHDs, the spec generator's bytes for differencing chains, the source
//! RAW itself for round trips), plus the promises around the output: sparse, atomic, never
//! overwriting by surprise, O(1) in place.

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::{Rng, qemu_img, run, stderr, stdout, tempdir};
use crate::vhd_read::{
    QEMU_VHD_SIZE, QEMU_VHDS, assert_same, generate, patterned_raw, qemu_raw, qemu_vhd, read_all,
};

fn convert(args: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut a: Vec<&str> = vec!["convert", "--quiet"];
    a.extend(args.iter().map(|p| p.to_str().unwrap()));
    a.extend(extra);
    run(&a)
}

fn convert_ok(src: &Path, dst: &Path, extra: &[&str]) {
    let o = convert(&[src, dst], extra);
    assert!(
        o.status.success(),
        "convert {} -> {} {extra:?}: {}",
        src.display(),
        dst.display(),
        stderr(&o)
    );
}

/// What qemu-img says the virtual size is.
fn qemu_virtual_size(p: &Path) -> u64 {
    let o = qemu_img()
        .args(["info", "--output=json", "-f", "vpc"])
        .arg(p)
        .output()
        .expect("qemu-img info");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["virtual-size"].as_u64().unwrap()
}

/// Bytes the file really occupies on disk.
fn allocated(p: &Path) -> u64 {
    fs::metadata(p).unwrap().blocks() * 512
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect()
}

#[test]
fn qemu_made_vhds_convert_to_the_raw_qemu_makes() {
    let d = tempdir();
    for (name, opts) in QEMU_VHDS {
        let vhd = qemu_vhd(d.path(), name, QEMU_VHD_SIZE, opts);
        let out = d.path().join(format!("{name}.out.raw"));
        convert_ok(&vhd, &out, &[]);
        assert_same(&fs::read(&out).unwrap(), &qemu_raw(&vhd, d.path()), name);
    }
}

#[test]
fn differencing_chains_and_other_creators_convert_to_the_generators_bytes() {
    // qemu opens differencing disks without their parent: the generator's bytes are the
    // reference for chains; the other creators check the QEMU 10 size rule end to end.
    let d = tempdir();
    let names = [
        "chain2", "chain3", "macx", "hyperv", "xen512k", "old511", "vpc-chs",
    ];
    generate(d.path(), &names);
    for n in names {
        let out = d.path().join(format!("{n}.out.raw"));
        convert_ok(&d.path().join(format!("{n}.vhd")), &out, &[]);
        let want = fs::read(d.path().join(format!("{n}.raw"))).unwrap();
        assert_same(&fs::read(&out).unwrap(), &want, n);
    }
}

#[test]
fn raw_to_vhd_reads_back_through_qemu_and_through_us() {
    let d = tempdir();
    // Not CHS-representable: only the current size can carry it exactly.
    let size = (37 << 20) + 5 * 512;
    let raw = d.path().join("src.raw");
    patterned_raw(&raw, size);
    let want = fs::read(&raw).unwrap();
    for (name, to) in [("dyn.vhd", "vhd"), ("fixed.vhd", "vhd-fixed")] {
        let vhd = d.path().join(name);
        convert_ok(&raw, &vhd, &["--to", to]);
        assert_eq!(qemu_virtual_size(&vhd), size, "{name}: qemu-img info size");
        assert_same(&qemu_raw(&vhd, d.path()), &want, name);
        assert_same(&read_all(&vhd), &want, name);
        // `qemu-img check` does not support vpc ("does not support checks"), so our checker,
        // which follows vhd-util's list, is the structural check here.
        let o = run(&["check", vhd.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stdout(&o));
    }
    // Only blocks holding data are allocated: 5 of the 19.
    let dyn_len = fs::metadata(d.path().join("dyn.vhd")).unwrap().len();
    assert!(dyn_len < 6 * (2 << 20), "dynamic VHD is {dyn_len} bytes");
}

#[test]
fn default_format_follows_the_extension_and_unknown_ones_are_refused() {
    let d = tempdir();
    let raw = d.path().join("src.raw");
    patterned_raw(&raw, 6 << 20);
    let vhd = d.path().join("out.vhd");
    convert_ok(&raw, &vhd, &[]);
    let img = imgtool::image::open(&vhd).unwrap();
    assert_eq!(img.format_name(), "vhd");
    let back = d.path().join("back.img");
    convert_ok(&vhd, &back, &[]);
    assert_same(&fs::read(&back).unwrap(), &fs::read(&raw).unwrap(), "img");
    let o = convert(&[&raw, &d.path().join("out.qcow2")], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--to"), "{}", stderr(&o));
    assert!(!d.path().join("out.qcow2").exists());
}

#[test]
fn mostly_empty_4gib_vhd_converts_to_a_sparse_raw_quickly() {
    let d = tempdir();
    let size = 4u64 << 30;
    let vhd = qemu_vhd(d.path(), "big", size, "subformat=dynamic");
    let out = d.path().join("big.raw");
    let t = Instant::now();
    let o = convert(&[&vhd, &out], &["--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    // qemu rounded the size up to whole CHS geometry when it made the image.
    let vsize = qemu_virtual_size(&vhd);
    assert!(vsize >= size);
    assert_eq!(fs::metadata(&out).unwrap().len(), vsize);
    // patterned_raw writes 6 x 64 KiB: a few blocks, nowhere near 4 GiB.
    assert!(
        allocated(&out) < 4 << 20,
        "{} bytes allocated",
        allocated(&out)
    );
    let f = fs::File::open(&out).unwrap();
    let hole = crate::sys::seek_hole(&f, 1 << 20);
    assert!(hole > 0 && (hole as u64) < size / 2, "first hole at {hole}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["convert"];
    assert_eq!(c["virtual_size"], vsize);
    assert_eq!(c["format"], "raw");
    assert!(c["holes"].as_u64().unwrap() > size - (4 << 20));
    assert!(
        c["bytes_read"].as_u64().unwrap() < 16 << 20,
        "holes are not read"
    );
    // Too big to hold twice in memory: compare with qemu's RAW through the library.
    let q = d.path().join("big.qemu.raw");
    let st = qemu_img()
        .args(["convert", "-f", "vpc", "-O", "raw"])
        .arg(&vhd)
        .arg(&q)
        .status()
        .unwrap();
    assert!(st.success());
    let ours = imgtool::image::open(&out).unwrap();
    let theirs = imgtool::image::open(&q).unwrap();
    assert_eq!(
        imgtool::convert::first_difference(&ours, &theirs).unwrap(),
        None
    );
}

/// A sparse RAW with data runs at random places and lengths, some of them written zeros
/// (allocated but empty, which must still come out as zeros).
fn random_sparse_raw(path: &Path, rng: &mut Rng) -> u64 {
    let size = (1 + rng.below(40 << 11)) * 512;
    let f = fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    for _ in 0..rng.below(12) {
        let at = rng.below(size);
        let len = (1 + rng.below(3 << 20)).min(size - at) as usize;
        let zero = rng.below(4) == 0;
        let buf: Vec<u8> = (0..len)
            .map(|i| {
                if zero {
                    0
                } else {
                    (i as u8) ^ (rng.0 as u8) | 1
                }
            })
            .collect();
        f.write_all_at(&buf, at).unwrap();
    }
    size
}

#[test]
fn raw_vhd_raw_is_the_identity_on_random_sparse_images() {
    let d = tempdir();
    for seed in [1u64, 7, 42, 1234, 99_991] {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let raw = d.path().join(format!("{seed}.raw"));
        let size = random_sparse_raw(&raw, &mut rng);
        let want = fs::read(&raw).unwrap();
        for to in ["vhd", "vhd-fixed"] {
            let vhd = d.path().join(format!("{seed}.{to}.vhd"));
            let back = d.path().join(format!("{seed}.{to}.back.raw"));
            convert_ok(&raw, &vhd, &["--to", to, "--verify"]);
            convert_ok(&vhd, &back, &["--verify"]);
            let what = format!("seed {seed} size {size} via {to}");
            assert_same(&fs::read(&back).unwrap(), &want, &what);
            assert_same(&qemu_raw(&vhd, d.path()), &want, &what);
            inspect_agrees(&vhd, &want, to, &what);
        }
    }
}

/// What `inspect` says of a VHD that convert wrote agrees with the data it came from: the
/// virtual size is the RAW's size, and a dynamic VHD allocates exactly the 2 MiB blocks that
/// hold a non-zero byte.
fn inspect_agrees(vhd: &Path, raw: &[u8], to: &str, what: &str) {
    let o = crate::util::run(&["inspect", "--json", vhd.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{what}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["virtual_size"], raw.len() as u64, "{what}");
    let want_disk_type = if to == "vhd" { "dynamic" } else { "fixed" };
    assert_eq!(j["vhd"]["disk_type"], want_disk_type, "{what}");
    if to == "vhd" {
        let blocks = raw
            .chunks(2 << 20)
            .filter(|c| c.iter().any(|&b| b != 0))
            .count();
        assert_eq!(
            j["vhd"]["dynamic"]["allocated_blocks"], blocks as u64,
            "{what}"
        );
    }
    let c = crate::util::run(&["check", vhd.to_str().unwrap()]);
    assert_eq!(
        c.status.code(),
        Some(0),
        "{what}: check finds problems in our own output"
    );
}

/// A RAW big enough that converting it takes a while even in a debug build: every 4 KiB
/// granule holds one byte at its end, so the zero check must scan it whole.
fn slow_raw(path: &Path, mib: u64) {
    let f = fs::File::create(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for g in buf.chunks_mut(4096) {
        g[4095] = 0x5a;
    }
    for i in 0..mib {
        f.write_all_at(&buf, i << 20).unwrap();
    }
}

fn wait_for_temp(dir: &Path) {
    let t = Instant::now();
    while temp_files(dir).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no temp file appeared"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn interrupted_conversions_leave_no_destination_and_no_temp_file() {
    use std::os::unix::process::ExitStatusExt;
    let d = tempdir();
    let src = d.path().join("src.raw");
    slow_raw(&src, 768);
    let dst = d.path().join("out.vhd");
    // SIGKILL: nothing can clean up, so the temp file stays until the next run for DST.
    let mut child = crate::util::imgtool()
        .args(["convert", "--quiet"])
        .arg(&src)
        .arg(&dst)
        .spawn()
        .unwrap();
    wait_for_temp(d.path());
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert_eq!(st.signal(), Some(libc::SIGKILL), "killed mid-run: {st:?}");
    assert!(!dst.exists(), "no destination after a kill");
    assert_eq!(temp_files(d.path()).len(), 1, "the killed run's temp file");
    // SIGTERM: the handler stops the copy and removes the temp file itself.
    let mut child = crate::util::imgtool()
        .args(["convert", "--quiet"])
        .arg(&src)
        .arg(&dst)
        .spawn()
        .unwrap();
    wait_for_temp(d.path());
    crate::sys::kill(child.id(), libc::SIGTERM);
    let st = child.wait().unwrap();
    // 130, as a shell reports Ctrl-C, and the same code `import` exits with (issue 18).
    assert_eq!(
        st.code(),
        Some(130),
        "interrupted is exit 130, not a crash: {st:?}"
    );
    assert!(!dst.exists());
    assert!(
        temp_files(d.path()).is_empty(),
        "{:?}",
        temp_files(d.path())
    );
    // The next complete run for the same DST works and leaves nothing behind.
    let small = d.path().join("small.raw");
    patterned_raw(&small, 8 << 20);
    convert_ok(&small, &dst, &[]);
    assert!(temp_files(d.path()).is_empty());
}

#[test]
fn existing_destination_is_replaced_only_with_force() {
    let d = tempdir();
    let src = d.path().join("src.raw");
    patterned_raw(&src, 6 << 20);
    let dst = d.path().join("dst.raw");
    fs::write(&dst, b"precious").unwrap();
    let o = convert(&[&src, &dst], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(fs::read(&dst).unwrap(), b"precious");
    convert_ok(&src, &dst, &["--force"]);
    assert_same(&fs::read(&dst).unwrap(), &fs::read(&src).unwrap(), "forced");
}

#[test]
fn the_source_cannot_be_the_destination_even_through_links() {
    let d = tempdir();
    let src = d.path().join("src.raw");
    patterned_raw(&src, 6 << 20);
    let want = fs::read(&src).unwrap();
    let sym = d.path().join("sym.raw");
    std::os::unix::fs::symlink(&src, &sym).unwrap();
    let hard = d.path().join("hard.img");
    fs::hard_link(&src, &hard).unwrap();
    for dst in [&src, &sym, &hard] {
        let o = convert(&[&src, dst], &["--force", "--to", "raw"]);
        assert_eq!(o.status.code(), Some(2), "{}", dst.display());
        assert!(stderr(&o).contains("same file"), "{}", stderr(&o));
    }
    // A differencing chain's parent is a source too.
    generate(d.path(), &["chain2"]);
    let parent = d.path().join("chain2.base.vhd");
    let before = fs::read(&parent).unwrap();
    let o = convert(&[&d.path().join("chain2.vhd"), &parent], &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read(&parent).unwrap(), before);
    assert_eq!(fs::read(&src).unwrap(), want);
}

#[test]
fn in_place_both_ways_in_constant_time_and_refused_on_dynamic() {
    let d = tempdir();
    let raw = d.path().join("disk.raw");
    patterned_raw(&raw, (37 << 20) + 5 * 512);
    let want = fs::read(&raw).unwrap();
    let vhd = d.path().join("disk.vhd");
    let o = convert(&[&raw, &vhd], &["--in-place", "--to", "vhd-fixed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!raw.exists(), "renamed to the VHD name");
    assert_eq!(fs::metadata(&vhd).unwrap().len(), want.len() as u64 + 512);
    assert_same(&qemu_raw(&vhd, d.path()), &want, "raw -> fixed in place");
    // Without DST the `.vhd` name would be left on RAW data: refused, file untouched
    // (issue 18 point 4).
    let before = fs::read(&vhd).unwrap();
    let o = convert(&[&vhd], &["--in-place"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("disk.raw"),
        "suggests a name: {}",
        stderr(&o)
    );
    assert_eq!(fs::read(&vhd).unwrap(), before);
    let o = convert(&[&vhd, &raw], &["--in-place"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!vhd.exists(), "renamed to the RAW name");
    assert_eq!(
        fs::read(&raw).unwrap(),
        want,
        "footer dropped, bytes untouched"
    );
    // Running it again cannot flip the file back under its RAW name.
    let o = convert(&[&raw], &["--in-place"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(fs::read(&raw).unwrap(), want);
    // A RAW "converted" in place to a .raw name would become a VHD called .raw: refused.
    let other = d.path().join("other.raw");
    let o = convert(&[&raw, &other], &["--in-place"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!other.exists());
    assert_eq!(fs::read(&raw).unwrap(), want);
    // --to and the name must agree.
    let o = convert(&[&raw, &vhd], &["--in-place", "--to", "raw"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(raw.exists() && !vhd.exists());

    // A 1 TiB sparse RAW: constant time means no data is touched.
    let huge = d.path().join("huge.disk");
    fs::File::create(&huge).unwrap().set_len(1 << 40).unwrap();
    let t = Instant::now();
    let o = convert(&[&huge], &["--in-place", "--to", "vhd-fixed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(qemu_virtual_size(&huge), 1 << 40);

    let dynamic = qemu_vhd(d.path(), "dyn", 8 << 20, "subformat=dynamic");
    let before = fs::read(&dynamic).unwrap();
    let o = convert(&[&dynamic], &["--in-place"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("dynamic"), "{}", stderr(&o));
    assert_eq!(fs::read(&dynamic).unwrap(), before);
    // RAW that is not whole sectors cannot become a VHD.
    let odd = d.path().join("odd.disk");
    fs::write(&odd, vec![1u8; 1000]).unwrap();
    let o = convert(&[&odd], &["--in-place"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(fs::metadata(&odd).unwrap().len(), 1000);
}

#[test]
fn verify_says_so_in_text_and_json() {
    let d = tempdir();
    let src = d.path().join("src.raw");
    patterned_raw(&src, 6 << 20);
    let o = convert(&[&src, &d.path().join("a.vhd")], &["--verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    let o = convert(&[&src, &d.path().join("b.raw")], &["--verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["schema"], "imgtool.convert/1");
    assert_eq!(v["convert"]["verified"], true);
    for k in [
        "source",
        "destination",
        "format",
        "virtual_size",
        "bytes_read",
        "bytes_written",
        "holes",
        "seconds",
    ] {
        assert!(!v["convert"][k].is_null(), "{k} missing");
    }
}

#[test]
fn killed_at_random_points_an_existing_dst_is_untouched() {
    // With --force over an existing DST, a SIGKILL at any moment leaves the old DST as it was
    // (the new one only ever replaces it by rename), and the next run sweeps the temp files.
    let d = tempdir();
    let src = d.path().join("src.raw");
    slow_raw(&src, 256);
    let dst = d.path().join("out.raw");
    fs::write(&dst, b"the user's previous output").unwrap();
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    for round in 0..5 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = crate::util::imgtool()
            .args(["convert", "--quiet", "--force"])
            .arg(&src)
            .arg(&dst)
            .spawn()
            .unwrap();
        wait_for_temp(d.path());
        std::thread::sleep(Duration::from_millis(x % 200));
        let _ = child.kill();
        let _ = child.wait();
        let now = fs::read(&dst).unwrap();
        // Either untouched, or (if the kill came after the rename) the complete conversion.
        if now != b"the user's previous output" {
            assert_eq!(now.len() as u64, 256 << 20, "round {round}: a partial DST");
            assert_same(&now, &fs::read(&src).unwrap(), "a complete DST");
            fs::write(&dst, b"the user's previous output").unwrap();
        }
    }
    let small = d.path().join("small.raw");
    patterned_raw(&small, 8 << 20);
    convert_ok(&small, &dst, &["--force"]);
    assert!(
        temp_files(d.path()).is_empty(),
        "{:?}",
        temp_files(d.path())
    );
}

/// A RAW whose data is almost all zero bytes (written, not holes) with one non-zero byte at
/// the end of each 2 MiB block: converting it is nearly all scanning, little writing.
fn zero_heavy_raw(path: &Path, mib: u64) {
    let f = fs::File::create(path).unwrap();
    let mut block = vec![0u8; 2 << 20];
    block[(2 << 20) - 1] = 0x5a;
    for i in 0..mib / 2 {
        f.write_all_at(&block, i << 21).unwrap();
    }
}

#[test]
fn a_source_that_shrinks_mid_conversion_is_a_clean_error() {
    // The source is read through maps; truncating it under them makes the scan fault
    // (SIGBUS) or the write from the map fail (EFAULT). Either must end as exit 2 naming the
    // file, with no temp file and no DST: never a death by signal.
    use std::os::unix::process::ExitStatusExt;
    let d = tempdir();
    let src = d.path().join("src.raw");
    let (mut shrunk_mid_run, mut bus_errors) = (0, 0);
    // Both writers read through maps: RAW (and fixed VHD) output, and dynamic VHD output.
    for (delay_ms, ext) in [(0u64, "raw"), (20, "vhd"), (60, "raw"), (5, "vhd")] {
        let dst = d.path().join(format!("out.{ext}"));
        zero_heavy_raw(&src, 1024);
        let child = crate::util::imgtool()
            .args(["convert", "--quiet"])
            .arg(&src)
            .arg(&dst)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_temp(d.path());
        std::thread::sleep(Duration::from_millis(delay_ms));
        fs::OpenOptions::new()
            .write(true)
            .open(&src)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.signal(), None, "killed by a signal: {err}");
        match o.status.code() {
            Some(2) => {
                shrunk_mid_run += 1;
                bus_errors += usize::from(err.contains("bus error"));
                assert!(
                    err.contains(src.to_str().unwrap()) && err.contains("shrank"),
                    "names the source and what happened: {err}"
                );
                assert!(!dst.exists(), "no DST from a failed run");
            }
            // Finished before the truncation: then the output is whole.
            Some(0) => {
                let img = imgtool::image::open(&dst).unwrap();
                assert_eq!(imgtool::image::VirtualDisk::size(&img), 1 << 30);
                fs::remove_file(&dst).unwrap();
            }
            other => panic!("exit {other:?}: {err}"),
        }
        assert!(
            temp_files(d.path()).is_empty(),
            "{:?}",
            temp_files(d.path())
        );
    }
    assert!(
        shrunk_mid_run > 0,
        "no run was caught mid-way; the test proved nothing"
    );
    // Nearly all the time goes to scanning mapped pages, so the SIGBUS path is taken.
    assert!(bus_errors > 0, "no run met the SIGBUS handler");
}

/// A scratch XFS file system with reflink, loop-mounted for one test, unmounted on drop.
/// `None` where this machine cannot make one (not root, no mkfs.xfs, no loop devices).
struct ScratchXfs {
    mnt: tempfile::TempDir,
    _img: tempfile::TempDir,
}

impl ScratchXfs {
    fn new() -> Option<ScratchXfs> {
        if !crate::sys::is_root() {
            return None;
        }
        let img_dir = tempdir();
        let img = img_dir.path().join("xfs.img");
        fs::File::create(&img).ok()?.set_len(512 << 20).ok()?;
        let made = std::process::Command::new("mkfs.xfs")
            .args(["-q", "-m", "reflink=1"])
            .arg(&img)
            .status()
            .ok()?;
        let mnt = tempdir();
        let mounted = made.success()
            && std::process::Command::new("mount")
                .args(["-o", "loop"])
                .arg(&img)
                .arg(mnt.path())
                .status()
                .ok()?
                .success();
        mounted.then_some(ScratchXfs { mnt, _img: img_dir })
    }
}

impl Drop for ScratchXfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.mnt.path())
            .status();
    }
}

#[test]
fn on_a_reflink_file_system_data_is_shared_not_copied() {
    let Some(xfs) = ScratchXfs::new() else {
        eprintln!("skipped: cannot make a loop-mounted XFS here (needs root and mkfs.xfs)");
        return;
    };
    let d = xfs.mnt.path();
    let raw = d.join("src.raw");
    patterned_raw(&raw, 64 << 20);
    let data: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8 + 1).collect();
    fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .write_all_at(&data, 16 << 20)
        .unwrap();
    let vhd = d.join("fixed.vhd");
    let st = qemu_img()
        .args(["convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed"])
        .arg(&raw)
        .arg(&vhd)
        .status()
        .unwrap();
    assert!(st.success());
    let out = d.join("out.raw");
    convert_ok(&vhd, &out, &[]);
    assert_same(
        &fs::read(&out).unwrap(),
        &qemu_raw(&vhd, d),
        "reflinked output",
    );
    assert_shares_blocks(&out, "fixed VHD -> RAW");
    // RAW -> dynamic VHD: our blocks' data starts on page boundaries, so it is shared too,
    // and so is the way back to RAW.
    let dynamic = d.join("out.vhd");
    convert_ok(&raw, &dynamic, &[]);
    let want = fs::read(&raw).unwrap();
    assert_same(
        &qemu_raw(&dynamic, d),
        &want,
        "qemu-img reading our dynamic VHD",
    );
    assert_shares_blocks(&dynamic, "RAW -> dynamic VHD");
    let back = d.join("back.raw");
    convert_ok(&dynamic, &back, &[]);
    assert_same(&fs::read(&back).unwrap(), &want, "back to RAW");
    assert_shares_blocks(&back, "our dynamic VHD -> RAW");
}

fn assert_shares_blocks(p: &Path, what: &str) {
    let frag = std::process::Command::new("filefrag")
        .arg("-v")
        .arg(p)
        .output()
        .expect("filefrag");
    let extents = String::from_utf8_lossy(&frag.stdout);
    assert!(
        extents.contains("shared"),
        "{what}: the 8 MiB data run should share the source's blocks:\n{extents}"
    );
}
