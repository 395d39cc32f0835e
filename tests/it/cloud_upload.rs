//! `imgtool import` end to end with the upload: the fake cloud (ECS, RAM, STS) and the fake
//! OSS, each checking signatures with its own implementation.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cloud_support::{
    Setup, all_output, assert_no_secrets, bucket_bkt, json_of, oss_with_bkt, run, setup,
};
use crate::fake_cloud::{self, FakeCloud, Glitch, Scenario};
use crate::fake_oss::{self, FakeOss, OssScenario};
use crate::util::{noise, stderr, stdout};

const PART: u64 = 100 * 1024;

/// A RAW image of `len` noisy bytes at `s.image`.
fn raw_image(s: &mut Setup, len: usize) -> Vec<u8> {
    let data = noise(len, 42);
    s.image = s.dir.path().join("disk.raw");
    std::fs::write(&s.image, &data).expect("write image");
    data
}

/// `import` against both fakes with a small part size.
fn args(s: &Setup, cloud: &FakeCloud, oss: &FakeOss) -> Vec<String> {
    s.upload_args(cloud, oss, &["--part-size", "100K", "--parallel", "3"])
}

fn state_files(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join(".cache/imgtool/uploads"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn dynamic_vhd_goes_up_as_vhd_byte_for_byte() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    crate::vhd_read::generate(s.dir.path(), &["small-dynamic"]);
    s.image = s.dir.path().join("small-dynamic.vhd");
    let file = std::fs::read(&s.image).unwrap();
    assert!(file.len() as u64 > 2 * PART, "needs several parts");
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let obj = oss
        .object("bkt", "imgtool/small-dynamic.vhd")
        .expect("object");
    assert!(obj.data == file, "the object is the VHD file as it is");
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD");
    assert_eq!(v["upload"]["object_size"], file.len() as u64);
    assert_eq!(v["upload"]["crc64"], obj.crc.to_string());
    assert_eq!(v["upload"]["parts"], (file.len() as u64).div_ceil(PART));
    assert_eq!(v["upload"]["converted_to_raw"], false);
    assert_eq!(v["status"], "Available");
    for step in [
        "inspect", "plan", "role", "bucket", "upload", "import", "follow",
    ] {
        assert!(v["timings_ms"][step].is_u64(), "timing for {step}: {v}");
    }
    let imp = cloud.calls("ImportImage");
    assert_eq!(
        imp[0].params["DiskDeviceMapping.1.OSSObject"],
        "imgtool/small-dynamic.vhd"
    );
    assert!(
        state_files(s.home()).is_empty(),
        "the resume record goes on completion"
    );
}

#[test]
fn format_raw_sends_a_differencing_chain_as_the_raw_of_the_whole_chain() {
    // Without --format the chain goes up as the streamed VHD (cloud_stream.rs).
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    crate::vhd_read::generate(s.dir.path(), &["chain2"]);
    s.image = s.dir.path().join("chain2.vhd");
    let want = std::fs::read(s.dir.path().join("chain2.raw")).unwrap();
    let a = s.upload_args(&cloud, &oss, &["--part-size", "1M", "--parallel", "3"]);
    let o = run(s.cmd(), &a, &["--format", "raw"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let obj = oss.object("bkt", "imgtool/chain2.raw").expect("object");
    assert_eq!(obj.size, want.len() as u64, "the virtual size");
    assert!(obj.data == want, "the object is the chain's virtual disk");
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "RAW");
    assert_eq!(v["upload"]["converted_to_raw"], true);
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary copy: {leftovers:?}");
}

#[test]
fn format_raw_converts_a_single_vhd_while_uploading() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    crate::vhd_read::generate(s.dir.path(), &["small-dynamic"]);
    s.image = s.dir.path().join("small-dynamic.vhd");
    let want = std::fs::read(s.dir.path().join("small-dynamic.raw")).unwrap();
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &["--format", "raw"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let obj = oss
        .object("bkt", "imgtool/small-dynamic.raw")
        .expect("object");
    assert!(
        obj.data == want,
        "the object is the virtual disk, not the file"
    );
    let v = json_of(&o);
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "RAW");
    assert_eq!(v["upload"]["object_size"], want.len() as u64);
}

#[test]
fn killed_upload_resumes_sending_only_the_missing_parts() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    oss.set_scenario(|sc| {
        sc.stall_after = Some(6);
        sc.page_limit = Some(4);
    });
    let mut s = setup();
    let data = raw_image(&mut s, 20 * PART as usize + 777);
    let mut child = s
        .cmd()
        .args(args(&s, &cloud, &oss))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn imgtool");
    let start = Instant::now();
    while oss.parts_stored() < 6 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no parts arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let the record catch up with the stored parts; the next parts are stalled.
    std::thread::sleep(Duration::from_millis(300));
    child.kill().expect("kill");
    let _ = child.wait();

    let records = state_files(s.home());
    assert_eq!(records.len(), 1, "one resume record");
    let text = std::fs::read_to_string(&records[0]).unwrap();
    for secret in [fake_cloud::SECRET, fake_cloud::KEY_ID] {
        assert!(
            !text.contains(secret),
            "the record holds a credential:\n{text}"
        );
    }
    assert!(text.contains("FAKEUPLOAD0001"), "{text}");

    oss.set_scenario(|sc| sc.stall_after = None);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    assert_eq!(v["upload"]["parts"], 21);
    assert_eq!(v["upload"]["resumed_parts"], 6, "{v}");
    let per_part = oss.part_successes();
    assert_eq!(per_part.len(), 21);
    assert!(
        per_part.values().all(|&n| n == 1),
        "each part stored once across both runs: {per_part:?}"
    );
    let inits = oss
        .seen()
        .iter()
        .filter(|r| r.query.iter().any(|(k, _)| k == "uploads"))
        .count();
    assert_eq!(inits, 1, "the second run continued the first upload");
    let list_pages = oss
        .seen()
        .iter()
        .filter(|r| r.method == "GET" && r.query.iter().any(|(k, _)| k == "uploadId"))
        .count();
    assert_eq!(list_pages, 2, "6 parts listed 4 a page");
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == data);
    assert!(state_files(s.home()).is_empty());
}

#[test]
fn restart_aborts_the_earlier_upload() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    oss.set_scenario(|sc| sc.stall_after = Some(2));
    let mut s = setup();
    let data = raw_image(&mut s, 8 * PART as usize);
    let mut child = s
        .cmd()
        .args(args(&s, &cloud, &oss))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while oss.parts_stored() < 2 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    let _ = child.wait();
    oss.set_scenario(|sc| sc.stall_after = None);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &["--restart"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_of(&o)["upload"]["resumed_parts"], 0);
    let aborted = oss.seen().iter().any(|r| {
        r.method == "DELETE"
            && r.query
                .iter()
                .any(|(k, v)| k == "uploadId" && v.as_deref() == Some("FAKEUPLOAD0001"))
    });
    assert!(aborted, "the first upload was aborted");
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == data);
}

#[test]
fn part_failures_and_rpc_throttling_still_finish() {
    let cloud = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Throttle, Glitch::Throttle, Glitch::Unavailable],
        ..Scenario::default()
    });
    let oss = FakeOss::start(OssScenario {
        fail_parts: vec![2, 5],
        reset_parts: vec![3],
        bad_crc_parts: vec![4],
        ..bucket_bkt("cn-hangzhou")
    });
    let mut s = setup();
    let data = raw_image(&mut s, 7 * PART as usize + 5);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == data);
    let per_part = oss.part_successes();
    assert_eq!(
        per_part[&4], 2,
        "a part answered with a wrong CRC is sent again"
    );
    assert_eq!(per_part[&2], 1);
    let attempts = |n: u32| oss.seen().iter().filter(|r| r.part == Some(n)).count();
    assert_eq!(attempts(2), 2, "503 then success");
    assert_eq!(attempts(3), 2, "dropped then success");
    assert_no_secrets(&o);
}

#[test]
fn completion_answer_lost_is_confirmed_by_the_object() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario {
        drop_first_complete: true,
        ..bucket_bkt("cn-hangzhou")
    });
    let mut s = setup();
    let data = raw_image(&mut s, 3 * PART as usize + 3);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == data);
    let completes = oss
        .seen()
        .iter()
        .filter(|r| r.method == "POST" && r.query.iter().any(|(k, _)| k == "uploadId"))
        .count();
    assert_eq!(completes, 2, "retried once, then confirmed by HEAD");
}

#[test]
fn whole_object_crc_mismatch_fails_loudly_before_import() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario {
        bad_object_crc: true,
        ..bucket_bkt("cn-hangzhou")
    });
    let mut s = setup();
    raw_image(&mut s, 3 * PART as usize);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    assert!(cloud.calls("ImportImage").is_empty());
}

#[test]
fn bucket_in_another_region_is_refused_before_any_byte_is_sent() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-beijing");
    let mut s = setup();
    raw_image(&mut s, 3 * PART as usize);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("oss-cn-beijing") && stderr(&o).contains("--region cn-beijing"),
        "{}",
        stderr(&o)
    );
    assert!(oss.writes().is_empty(), "nothing sent: {:?}", oss.writes());
    assert!(cloud.calls("ImportImage").is_empty());
}

#[test]
fn explicit_missing_bucket_is_not_created() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario::default());
    let mut s = setup();
    raw_image(&mut s, 3 * PART as usize);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    assert!(oss.writes().is_empty());
}

#[test]
fn identical_object_is_not_uploaded_again() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let data = raw_image(&mut s, 3 * PART as usize + 1);
    oss.put_object("bkt", "imgtool/disk.raw", data);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(oss.writes().is_empty(), "nothing sent: {:?}", oss.writes());
    let v = json_of(&o);
    assert_eq!(v["upload"]["already_there"], true);
    assert_eq!(v["upload"]["sent_bytes"], 0);
    assert_eq!(cloud.calls("ImportImage").len(), 1);

    // A different object of the same size is replaced.
    oss.put_object("bkt", "imgtool/disk.raw", vec![0u8; 3 * PART as usize + 1]);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json_of(&o)["upload"]["already_there"], false);
    assert!(!oss.writes().is_empty());
}

#[test]
fn small_image_goes_up_in_one_put() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let data = raw_image(&mut s, 50_000);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let w = oss.writes();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!((w[0].method.as_str(), w[0].query.is_empty()), ("PUT", true));
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == data);
}

#[test]
fn delete_object_waits_for_available() {
    let cloud = FakeCloud::start(Scenario {
        polls: 3,
        ..Scenario::default()
    });
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    raw_image(&mut s, 2 * PART as usize + 3);
    let mut a = args(&s, &cloud, &oss);
    a.retain(|x| x != "--json");
    let o = run(s.cmd(), &a, &["--delete-object"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(oss.object("bkt", "imgtool/disk.raw").is_none(), "deleted");
    assert!(
        stderr(&o).contains("deleted oss://bkt/imgtool/disk.raw"),
        "{}",
        stderr(&o)
    );
    let delete = oss
        .seen()
        .into_iter()
        .find(|r| r.method == "DELETE" && r.query.is_empty())
        .expect("DeleteObject");
    let last_poll = cloud.calls("DescribeImages").last().expect("polled").at;
    assert!(
        delete.at > last_poll,
        "DeleteObject came after the image was Available"
    );
    let o = run(s.cmd(), &a, &["--delete-object", "--no-wait"]);
    assert_eq!(o.status.code(), Some(2), "--delete-object needs the wait");
}

#[test]
fn zero_config_uses_and_creates_the_default_bucket() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario {
        region: "cn-shanghai".into(),
        ..OssScenario::default()
    });
    let mut s = setup();
    let data = raw_image(&mut s, 2 * PART as usize);
    let c = s.zero_config(&cloud, &oss, "cn-shanghai");
    let a = vec![
        "import".to_string(),
        s.image.display().to_string(),
        "--force".into(),
        "--auto-size".into(),
        "--allow-http".into(),
    ];
    let o = run(c, &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bucket = format!("imgtool-{}-cn-shanghai", fake_cloud::ACCOUNT_ID);
    assert_eq!(
        oss.bucket_region(&bucket).as_deref(),
        Some("cn-shanghai"),
        "created"
    );
    assert!(oss.object(&bucket, "imgtool/disk.raw").unwrap().data == data);
    let e = stderr(&o);
    assert!(
        e.contains(&format!("bucket: {bucket}")) && e.contains("creating it"),
        "{e}"
    );
    assert!(e.contains("object: imgtool/disk.raw"), "{e}");
    let imp = cloud.calls("ImportImage");
    assert_eq!(imp[0].params["RegionId"], "cn-shanghai");
    assert_eq!(imp[0].params["DiskDeviceMapping.1.OSSBucket"], bucket);
    assert_eq!(cloud.calls("GetCallerIdentity").len(), 1);
    assert!(stdout(&o).contains("is Available"));
}

#[test]
fn sts_credentials_carry_the_token_to_oss() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    raw_image(&mut s, 2 * PART as usize + 1);
    let mut c = s.bare();
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", fake_cloud::STS_KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", fake_cloud::STS_SECRET)
        .env("ALIBABA_CLOUD_SECURITY_TOKEN", fake_cloud::STS_TOKEN);
    let o = run(c, &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let refused: Vec<_> = oss.seen().into_iter().filter(|r| r.status == 403).collect();
    assert!(
        refused.is_empty(),
        "signature and token accepted: {refused:?}"
    );
    assert!(oss.object("bkt", "imgtool/disk.raw").is_some());
    assert_no_secrets(&o);
}

#[test]
fn object_key_is_encoded_in_the_url_and_signed_raw() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let data = raw_image(&mut s, 2 * PART as usize + 9);
    let key = "dir/镜像 1+x.raw";
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &["--object", key]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        oss.object("bkt", key)
            .expect("stored under the raw key")
            .data
            == data
    );
    let seen = oss.seen();
    let head = &seen.iter().find(|r| r.method == "HEAD").expect("HEAD").head;
    assert!(
        head.contains("/bkt/dir/%E9%95%9C%E5%83%8F%201%2Bx.raw"),
        "{head}"
    );
}

// The fake's own algorithms, pinned by the documented check value and vector.

#[test]
fn fake_crc_is_crc64_xz_and_combines() {
    assert_eq!(
        fake_oss::crc64(!0, b"123456789") ^ !0,
        11_051_210_869_376_104_954
    );
    let (a, b) = (b"12345".as_slice(), b"6789".as_slice());
    let ca = fake_oss::crc64(!0, a) ^ !0;
    let cb = fake_oss::crc64(!0, b) ^ !0;
    assert_eq!(fake_oss::combine(ca, cb, 4), 11_051_210_869_376_104_954);
    assert_eq!(fake_oss::combine(0, ca, 5), ca);
}

#[test]
fn fake_signature_matches_the_official_vector() {
    let headers = vec![
        (
            "content-md5".to_string(),
            "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=".to_string(),
        ),
        ("content-type".to_string(), "text/html".to_string()),
        (
            "date".to_string(),
            "Thu, 17 Nov 2005 18:49:58 GMT".to_string(),
        ),
        ("x-oss-meta-author".to_string(), "foo@bar.com".to_string()),
        ("x-oss-magic".to_string(), "abracadabra".to_string()),
    ];
    assert_eq!(
        fake_oss::expected_signature(
            "OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV",
            "PUT",
            &headers,
            "/oss-example/nelson"
        ),
        "26NBxoKdsyly4EDv6inkoDft/yA="
    );
}

#[test]
fn killed_at_random_moments_the_final_object_is_byte_identical() {
    // Kill the upload at a different moment in each round (after a pseudo-random number of
    // parts, plus a pseudo-random delay), then let a last run finish: the object is exactly the
    // file, however many runs were cut short.
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let data = raw_image(&mut s, 24 * PART as usize + 12_345);
    let mut x: u64 = 0x0BAD_5EED_1234_5678;
    let mut next = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for round in 0..3 {
        let stored = oss.parts_stored();
        let stop_at = stored + 1 + next(5) as usize;
        // Parts past `stop_at` hang, so the kill lands mid-upload whatever the machine's speed.
        oss.set_scenario(|sc| sc.stall_after = Some(stop_at));
        let mut child = s
            .cmd()
            .args(args(&s, &cloud, &oss))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn imgtool");
        let start = Instant::now();
        while oss.parts_stored() < stop_at && start.elapsed() < Duration::from_secs(30) {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(next(40)));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            oss.parts_stored() >= stop_at.min(25),
            "round {round}: parts arrived"
        );
    }
    oss.set_scenario(|sc| sc.stall_after = None);
    let o = run(s.cmd(), &args(&s, &cloud, &oss), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json_of(&o);
    let key = v["upload"]["object"]
        .as_str()
        .or(v["plan"]["DiskDeviceMapping.1.OSSObject"].as_str())
        .unwrap_or("")
        .to_string();
    let obj = oss
        .object("bkt", &key)
        .unwrap_or_else(|| panic!("object {key} stored: {v}"));
    assert_eq!(obj.size, data.len() as u64);
    assert!(obj.data == data, "the object is byte-identical to the file");
    let resumed = v["upload"]["resumed_parts"].as_u64().unwrap_or(0);
    assert!(
        resumed >= 3,
        "the last run resumed the earlier ones: {}",
        v["upload"]
    );
}

#[test]
fn system_disk_and_two_data_disks_go_up_and_are_mapped_2_and_3() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = oss_with_bkt("cn-hangzhou");
    let mut s = setup();
    let sys = raw_image(&mut s, 3 * PART as usize);
    let d1 = s.dir.path().join("data1.raw");
    let d1_bytes = noise(2 * PART as usize + 7, 7);
    std::fs::write(&d1, &d1_bytes).unwrap();
    crate::vhd_read::generate(s.dir.path(), &["small-dynamic"]);
    let d2 = s.dir.path().join("small-dynamic.vhd");
    let d2_bytes = std::fs::read(&d2).unwrap();
    let mut a = args(&s, &cloud, &oss);
    for d in [&d1, &d2] {
        a.push("--data-disk".into());
        a.push(d.display().to_string());
    }
    let o = run(s.cmd(), &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(oss.object("bkt", "imgtool/disk.raw").unwrap().data == sys);
    assert!(oss.object("bkt", "imgtool/data1.raw").unwrap().data == d1_bytes);
    assert!(oss.object("bkt", "imgtool/small-dynamic.vhd").unwrap().data == d2_bytes);
    let imp = cloud.calls("ImportImage");
    let p = &imp[0].params;
    for (k, v) in [
        ("DiskDeviceMapping.2.OSSObject", "imgtool/data1.raw"),
        ("DiskDeviceMapping.2.Format", "RAW"),
        ("DiskDeviceMapping.2.DiskImageSize", "1"),
        ("DiskDeviceMapping.2.OSSBucket", "bkt"),
        ("DiskDeviceMapping.3.OSSObject", "imgtool/small-dynamic.vhd"),
        ("DiskDeviceMapping.3.Format", "VHD"),
    ] {
        assert_eq!(p.get(k).map(String::as_str), Some(v), "{k}: {p:?}");
    }
    assert!(!p.contains_key("DiskDeviceMapping.4.OSSObject"));
    let v = json_of(&o);
    assert_eq!(v["data_disks"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["data_disks"][0]["device"], 2);
    assert_eq!(v["data_disks"][0]["object"], "imgtool/data1.raw");
    assert_eq!(
        v["data_disks"][0]["upload"]["object_size"],
        d1_bytes.len() as u64
    );
    assert_eq!(v["data_disks"][1]["format"], "VHD");
    assert_eq!(
        v["data_disks"][1]["upload"]["crc64"],
        oss.object("bkt", "imgtool/small-dynamic.vhd")
            .unwrap()
            .crc
            .to_string()
    );
    // Re-running finds every object there: nothing is sent again, the same image answers.
    let before = oss.writes().len();
    let o = run(s.cmd(), &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert_eq!(oss.writes().len(), before, "nothing uploaded twice");
    let v = json_of(&o);
    assert_eq!(v["data_disks"][0]["upload"]["already_there"], true);
}
