//! `imgtool import` sends only the data (issue 14): a sparse RAW, a differencing chain and a
//! fixed VHD go up as the streamed compact dynamic VHD, which qemu-img and imgtool read back
//! as exactly the disk; an interrupted stream resumes sending only the missing parts;
//! `--format raw` still sends RAW; the upload's memory stays small at default settings.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cloud_support::{Setup, all_output, bucket_bkt, json_of, oss_with_bkt, run, setup};
use crate::fake_cloud::{FakeCloud, Scenario};
use crate::fake_oss::{FakeOss, OssScenario};
use crate::util::{self, noise, stderr};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A sparse RAW of `size` bytes with `runs` runs of `run` noisy bytes at the offsets given.
fn sparse_raw(path: &Path, size: u64, at: &[u64], run: usize) {
    let f = std::fs::File::create(path).expect("create");
    f.set_len(size).expect("size");
    for (i, &o) in at.iter().enumerate() {
        f.write_all_at(&noise(run, 7 + i as u64), o).expect("write");
    }
}

/// `import` against both fakes, JSON out, with the part size given (none: the default).
fn args(s: &Setup, cloud: &FakeCloud, oss: &FakeOss, part: Option<&str>) -> Vec<String> {
    match part {
        Some(p) => s.upload_args(cloud, oss, &["--part-size", p]),
        None => s.upload_args(cloud, oss, &[]),
    }
}

/// Save the object to `dir/name` and check that qemu-img and imgtool both read it as a
/// dynamic VHD holding exactly the disk in `want` (a RAW file).
fn object_reads_back_as(oss: &FakeOss, key: &str, dir: &Path, want: &Path) -> PathBuf {
    let obj = oss
        .object("bkt", key)
        .unwrap_or_else(|| panic!("object {key}"));
    let saved = dir.join("object.vhd");
    std::fs::write(&saved, &obj.data).expect("save object");
    let info = util::qemu_img()
        .args(["info", "--output=json", "-f", "vpc"])
        .arg(&saved)
        .output()
        .expect("qemu-img info");
    let info: Value = serde_json::from_slice(&info.stdout).expect("qemu-img info JSON");
    let want_size = std::fs::metadata(want).unwrap().len();
    assert_eq!(
        info["virtual-size"], want_size,
        "qemu-img sees the disk's size"
    );
    // qemu-img reads the object as RAW ...
    let by_qemu = dir.join("object.qemu.raw");
    let st = util::qemu_img()
        .args(["convert", "-f", "vpc", "-O", "raw"])
        .arg(&saved)
        .arg(&by_qemu)
        .status()
        .expect("qemu-img convert");
    assert!(st.success());
    assert_same_disk(&by_qemu, want, "qemu-img convert -O raw of the object");
    // ... and so does imgtool, which also finds nothing wrong in it.
    let by_us = dir.join("object.imgtool.raw");
    let o = util::run(&["convert", saved.to_str().unwrap(), by_us.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_same_disk(&by_us, want, "imgtool convert of the object");
    let o = util::run(&["check", saved.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "imgtool check: {}",
        all_output(&o)
    );
    std::fs::remove_file(&by_qemu).ok();
    std::fs::remove_file(&by_us).ok();
    saved
}

/// Two RAW files hold the same bytes (compared in 4 MiB pieces; holes read as zeros).
fn assert_same_disk(a: &Path, b: &Path, what: &str) {
    let (fa, fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let len = fb.metadata().unwrap().len();
    assert_eq!(fa.metadata().unwrap().len(), len, "{what}: size");
    let (mut x, mut y) = (vec![0u8; 4 << 20], vec![0u8; 4 << 20]);
    let mut at = 0;
    while at < len {
        let n = (len - at).min(x.len() as u64) as usize;
        fa.read_exact_at(&mut x[..n], at).unwrap();
        fb.read_exact_at(&mut y[..n], at).unwrap();
        assert!(x[..n] == y[..n], "{what}: differs in the 4 MiB at {at}");
        at += n as u64;
    }
}

#[test]
fn a_sparse_8_gib_raw_with_256_mib_of_data_goes_up_as_about_256_mib() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    s.image = s.dir.path().join("big.raw");
    // 64 runs of 4 MiB, each starting on a 2 MiB boundary, spread over the 8 GiB (the last
    // one ends the disk): 256 MiB of data in 128 blocks.
    let at: Vec<u64> = (0..64u64)
        .map(|i| i * 128 * MIB + (i % 3) * 2 * MIB)
        .collect();
    let mut at = at;
    *at.last_mut().unwrap() = 8 * GIB - 4 * MIB;
    sparse_raw(&s.image, 8 * GIB, &at, 4 << 20);
    let o = run(s.cmd(), &args(&s, &cloud, &oss, Some("16M")), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD", "{v}");
    assert_eq!(
        v["plan"]["DiskDeviceMapping.1.OSSObject"],
        "imgtool/big.vhd"
    );
    assert_eq!(
        v["plan"]["DiskDeviceMapping.1.DiskImageSize"], "8",
        "the floor comes from the virtual disk, not the object"
    );
    let send = &v["send"];
    assert_eq!(send["as"], "vhd-stream", "{send}");
    assert_eq!(send["format"], "VHD");
    assert_eq!(send["file_size"], 8 * GIB);
    assert_eq!(send["virtual_size"], 8 * GIB);
    let size = send["bytes_to_send"].as_u64().unwrap();
    assert!(
        (256 * MIB..257 * MIB).contains(&size),
        "about 256 MiB to send, not 8 GiB: {size}"
    );
    assert_eq!(v["upload"]["object_size"], size);
    assert_eq!(v["upload"]["sent_bytes"], size);
    assert_eq!(v["upload"]["sent_as"], "vhd-stream");
    assert_eq!(v["upload"]["converted_to_raw"], false);
    let obj = oss.object("bkt", "imgtool/big.vhd").expect("object");
    assert_eq!(obj.size, size);
    assert_eq!(v["upload"]["crc64"], obj.crc.to_string());
    object_reads_back_as(&oss, "imgtool/big.vhd", s.dir.path(), &s.image);
}

#[test]
fn a_differencing_chain_goes_up_as_the_stream_of_the_whole_chain() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    crate::vhd_read::generate(s.dir.path(), &["chain2"]);
    s.image = s.dir.path().join("chain2.vhd");
    let want = s.dir.path().join("chain2.raw");
    let o = run(s.cmd(), &args(&s, &cloud, &oss, Some("1M")), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD", "{v}");
    assert_eq!(v["send"]["as"], "vhd-stream");
    let virt = std::fs::metadata(&want).unwrap().len();
    assert_eq!(v["send"]["virtual_size"], virt);
    assert!(v["send"]["bytes_to_send"].as_u64().unwrap() < virt);
    object_reads_back_as(&oss, "imgtool/chain2.vhd", s.dir.path(), &want);
}

#[test]
fn a_fixed_vhd_goes_up_as_the_stream_of_its_data() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let raw = s.dir.path().join("src.raw");
    sparse_raw(&raw, 96 * MIB, &[0, 40 * MIB + 4096, 95 * MIB], 1 << 20);
    s.image = s.dir.path().join("fixed.vhd");
    let st = util::qemu_img()
        .args(["convert", "-f", "raw", "-O", "vpc"])
        .args(["-o", "subformat=fixed,force_size=on"])
        .arg(&raw)
        .arg(&s.image)
        .status()
        .expect("qemu-img convert");
    assert!(st.success());
    let o = run(s.cmd(), &args(&s, &cloud, &oss, Some("1M")), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD");
    assert_eq!(v["send"]["as"], "vhd-stream", "{v}");
    assert_eq!(v["send"]["file_size"], 96 * MIB + 512);
    // 1 MiB at 0, 1 MiB straddling 40 MiB + 4 KiB (two blocks), 1 MiB at 95 MiB: 4 blocks.
    let size = v["send"]["bytes_to_send"].as_u64().unwrap();
    assert!(size < 9 * MIB, "{size}");
    object_reads_back_as(&oss, "imgtool/fixed.vhd", s.dir.path(), &raw);
}

#[test]
fn format_raw_still_sends_the_raw_file() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    s.image = s.dir.path().join("disk.raw");
    sparse_raw(&s.image, 16 * MIB, &[3 * MIB], 1 << 20);
    let o = run(
        s.cmd(),
        &args(&s, &cloud, &oss, Some("1M")),
        &["--format", "raw"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "RAW");
    assert_eq!(v["send"]["as"], "file");
    assert_eq!(v["send"]["bytes_to_send"], 16 * MIB);
    let obj = oss.object("bkt", "imgtool/disk.raw").expect("object");
    assert!(obj.data == std::fs::read(&s.image).unwrap());
    // Without the flag the same file goes up as the stream (another image: the fake cloud
    // refuses a name twice).
    let o = run(
        s.cmd(),
        &args(&s, &cloud, &oss, Some("1M")),
        &["--image-name", "disk-stream"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD");
    assert_eq!(
        v["plan"]["DiskDeviceMapping.1.OSSObject"],
        "imgtool/disk.vhd"
    );
    object_reads_back_as(&oss, "imgtool/disk.vhd", s.dir.path(), &s.image);
}

#[test]
fn a_dense_raw_stays_raw_and_a_dry_run_says_what_goes_up() {
    let cloud = FakeCloud::start(Scenario::default());
    let mut s = setup();
    s.image = s.dir.path().join("dense.raw");
    std::fs::write(&s.image, noise(8 << 20, 3)).unwrap();
    let mut a = crate::cloud_support::endpoint_args(&cloud);
    a.insert(0, s.image.display().to_string());
    a.insert(0, "import".into());
    a.extend(
        [
            "--region",
            "cn-hangzhou",
            "--bucket",
            "bkt",
            "--dry-run",
            "--force",
        ]
        .map(String::from),
    );
    let o = run(s.cmd(), &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = util::stdout(&o);
    assert!(
        text.contains("upload: file as RAW: 8388608 bytes to send (file 8388608 bytes, virtual disk 8388608 bytes)"),
        "{text}"
    );
    let o = run(s.cmd(), &a, &["--json"]);
    let v = json_of(&o);
    assert_eq!(v["send"]["as"], "file");
    assert!(
        v["send"]["why"]
            .as_str()
            .unwrap()
            .contains("would not be smaller"),
        "{v}"
    );
}

#[test]
fn a_killed_stream_upload_resumes_sending_only_the_missing_parts() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    s.image = s.dir.path().join("disk.raw");
    // 12 MiB of data in a 256 MiB disk, each 2 MiB run straddling two blocks: a stream of
    // 12 blocks (24 MiB), 97 parts of 256 KiB.
    let at: Vec<u64> = (0..6u64).map(|i| i * 40 * MIB + 8192).collect();
    sparse_raw(&s.image, 256 * MIB, &at, 2 << 20);
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let stop_at = 3 + next(30) as usize;
    oss.set_scenario(|sc| sc.stall_after = Some(stop_at));
    let a = args(&s, &cloud, &oss, Some("256K"));
    let mut child = s
        .cmd()
        .args(&a)
        .args(["--parallel", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn imgtool");
    let start = Instant::now();
    while oss.parts_stored() < stop_at {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no parts arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200 + next(200)));
    child.kill().expect("kill");
    let _ = child.wait();
    let before = oss.part_successes();
    assert_eq!(before.len(), stop_at, "stop at {stop_at}");

    oss.set_scenario(|sc| sc.stall_after = None);
    let o = run(s.cmd(), &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    let parts = v["upload"]["parts"].as_u64().unwrap() as usize;
    assert_eq!(v["upload"]["resumed_parts"], stop_at as u64, "{v}");
    let per_part = oss.part_successes();
    assert_eq!(per_part.len(), parts);
    assert!(
        per_part.values().all(|&n| n == 1),
        "each part stored once across both runs (stop at {stop_at}): {per_part:?}"
    );
    let size = v["upload"]["object_size"].as_u64().unwrap();
    let part = 256 * 1024;
    let missing: u64 = (1..=parts as u64)
        .filter(|n| !before.contains_key(&(*n as u32)))
        .map(|n| part.min(size - (n - 1) * part))
        .sum();
    assert_eq!(v["upload"]["sent_bytes"], missing, "only the missing parts");
    object_reads_back_as(&oss, "imgtool/disk.vhd", s.dir.path(), &s.image);
}

/// The largest VmHWM (peak resident set, KiB) seen for `pid` until it exits.
fn watch_peak_rss(child: &mut std::process::Child) -> u64 {
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            return peak;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_multi_gib_upload_at_default_settings_stays_under_64_mib_of_memory() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario {
        discard_data: true,
        ..bucket_bkt("cn-hangzhou")
    });
    let mut s = setup();
    s.image = s.dir.path().join("big.raw");
    // 1 GiB of data in a 4 GiB disk, as the stream (default part size and parallelism) and
    // as RAW with --format raw (4 GiB sent).
    let at: Vec<u64> = (0..64u64).map(|i| i * 64 * MIB).collect();
    sparse_raw(&s.image, 4 * GIB, &at, 16 << 20);
    for extra in [
        &["--image-name", "big-stream"][..],
        &["--format", "raw", "--image-name", "big-raw"][..],
    ] {
        let mut child = s
            .cmd()
            .args(args(&s, &cloud, &oss, None))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn imgtool");
        let peak_kib = watch_peak_rss(&mut child);
        let o = child.wait_with_output().expect("wait");
        assert_eq!(o.status.code(), Some(0), "{extra:?}");
        let v = json_of(&o);
        let sent = v["upload"]["sent_bytes"].as_u64().unwrap();
        assert!(sent >= GIB, "{extra:?}: {sent}");
        eprintln!("{extra:?}: sent {sent} bytes, peak RSS {} KiB", peak_kib);
        assert!(
            peak_kib > 0 && peak_kib < 64 * 1024,
            "{extra:?}: peak RSS {peak_kib} KiB"
        );
    }
}

/// What a dry run says goes up for `image` (stdout's `upload:` line).
fn planned_upload(image: &Path) -> String {
    let o = util::imgtool()
        .arg("import")
        .arg(image)
        .args(["--region", "cn-hangzhou", "--bucket", "bkt", "--dry-run"])
        // These disks hold no OS (readiness gate, issue 17).
        .arg("--force")
        .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
        .output()
        .expect("run imgtool");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    util::stdout(&o)
        .lines()
        .find(|l| l.starts_with("upload: "))
        .unwrap_or_default()
        .to_string()
}

fn qemu(tool: &str, args: &[&str]) {
    let o = std::process::Command::new(tool)
        .args(args)
        .output()
        .expect(tool);
    assert!(o.status.success(), "{tool} {args:?}: {}", stderr(&o));
}

/// Issue 15 point 5: a self-contained qcow2 goes up as QCOW2 unless the streamed VHD is
/// smaller (a preallocated qcow2 holding 2 MiB of data); a qcow2 ImportImage cannot take as
/// it is (a backing file) goes up as the stream even when that is not smaller than RAW:
/// never RAW unless --format raw.
#[test]
fn a_qcow2_goes_up_as_is_unless_the_stream_is_smaller_and_never_as_raw() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    // Compact: 2 MiB of data in a 64 MiB disk, the file about 2 MiB: as it is.
    qemu(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", &p("compact.qcow2"), "64M"],
    );
    qemu(
        "qemu-io",
        &["-c", "write -P 0x5a 0 2M", &p("compact.qcow2")],
    );
    let up = planned_upload(Path::new(&p("compact.qcow2")));
    assert!(up.starts_with("upload: file as QCOW2"), "{up}");
    // Preallocated: the file is 64 MiB for the same 2 MiB of data: the stream.
    qemu(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            "preallocation=full",
            &p("full.qcow2"),
            "64M",
        ],
    );
    qemu("qemu-io", &["-c", "write -P 0x5a 0 2M", &p("full.qcow2")]);
    let up = planned_upload(Path::new(&p("full.qcow2")));
    assert!(up.starts_with("upload: vhd-stream as VHD"), "{up}");
    // Behind a backing file, every block holding data: the stream, not RAW.
    qemu(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", &p("base.qcow2"), "64M"],
    );
    qemu("qemu-io", &["-c", "write -P 0x33 0 64M", &p("base.qcow2")]);
    qemu(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-F",
            "qcow2",
            "-b",
            &p("base.qcow2"),
            &p("top.qcow2"),
        ],
    );
    let up = planned_upload(Path::new(&p("top.qcow2")));
    assert!(up.starts_with("upload: vhd-stream as VHD"), "{up}");
}
