//! `imgtool import` against the fake cloud.

use std::collections::HashSet;

use crate::cloud_support::{assert_no_secrets, run, setup};
use crate::fake_cloud::{FakeCloud, Glitch, Scenario};
use crate::util::{stderr, stdout};

#[test]
fn import_follows_progress_to_available() {
    let fake = FakeCloud::start(Scenario {
        polls: 3,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("m-fake0001") && stdout(&o).contains("is Available"),
        "{}",
        stdout(&o)
    );
    let imp = fake.calls("ImportImage");
    assert_eq!(imp.len(), 1);
    let p = &imp[0].params;
    assert_eq!(imp[0].method, "POST");
    assert_eq!(
        p["DiskDeviceMapping.1.DiskImageSize"], "4",
        "3 GiB + 1 byte needs 4 GiB"
    );
    assert_eq!(p["DiskDeviceMapping.1.Format"], "RAW");
    assert_eq!(p["DiskDeviceMapping.1.OSSObject"], "imgtool/disk.raw");
    assert_eq!(p["ImageName"], "disk");
    assert!(p["ClientToken"].starts_with("imgtool-"));
    let images = fake.calls("DescribeImages");
    assert!(images.len() >= 3, "followed over several polls");
    assert!(
        images
            .iter()
            .all(|r| r.params["Status"] == "Creating,Waiting,Available,UnAvailable,CreateFailed")
    );
    let tasks = fake.calls("DescribeTasks");
    assert!(tasks.iter().all(|r| r.params["TaskAction"] == "ImportImage" && r.params["TaskIds"] == "t-fake0001"));
    assert!(!fake.calls("DescribeTaskAttribute").is_empty());
    assert_eq!(
        fake.actions()[0],
        "GetRole",
        "the role is checked before ImportImage"
    );
    assert_no_secrets(&o);
}

#[test]
fn create_failed_image_exits_1_with_the_reason() {
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        create_fails: true,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("CreateFailed") && stderr(&o).contains("no bootable partition"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn failed_task_exits_1() {
    let fake = FakeCloud::start(Scenario {
        polls: 2,
        task_fails: true,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Failed") && stderr(&o).contains("ImageCheckFailed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_role_without_flag_names_the_fix_and_imports_nothing() {
    let fake = FakeCloud::start(Scenario {
        role_exists: false,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("--create-role")
            && e.contains("aliyun ram CreateRole")
            && e.contains("AttachPolicyToRole"),
        "{e}"
    );
    assert!(fake.calls("ImportImage").is_empty());
    assert!(fake.calls("CreateRole").is_empty());
}

fn create_role_rides_out_delay(spelling: &'static str) {
    let fake = FakeCloud::start(Scenario {
        role_exists: false,
        role_delay: 2,
        role_error: spelling,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--create-role"]);
    assert_eq!(o.status.code(), Some(0), "{spelling}: {}", stderr(&o));
    assert_eq!(fake.calls("CreateRole").len(), 1);
    assert_eq!(fake.calls("AttachPolicyToRole").len(), 1);
    let imports = fake.calls("ImportImage");
    assert_eq!(imports.len(), 3, "two role errors, then success");
    let tokens: HashSet<_> = imports
        .iter()
        .map(|r| r.params["ClientToken"].clone())
        .collect();
    assert_eq!(tokens.len(), 1, "every retry sends the same ClientToken");
}

#[test]
fn create_role_then_retry_import_old_spelling() {
    create_role_rides_out_delay("NoSetRoletoECSServiceAcount");
}

#[test]
fn create_role_then_retry_import_new_spelling() {
    create_role_rides_out_delay("NoSetRoletoECSServiceAccount");
}

#[test]
fn role_wait_is_bounded() {
    let fake = FakeCloud::start(Scenario {
        role_exists: false,
        role_delay: 1000,
        ..Scenario::default()
    });
    let s = setup();
    let mut c = s.cmd();
    c.env("IMGTOOL_ROLE_WAIT_MS", "200");
    let o = run(c, &s.import_args(&fake), &["--create-role"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("NoSetRoletoECSServiceAcount"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn retries_throttling_503_and_dropped_connection() {
    let glitches = vec![Glitch::Drop, Glitch::Throttle, Glitch::Unavailable];
    let fake = FakeCloud::start(Scenario {
        glitches,
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = fake.seen();
    let nonces: HashSet<_> = seen
        .iter()
        .filter_map(|r| r.params.get("SignatureNonce"))
        .collect();
    assert_eq!(nonces.len(), seen.len(), "every attempt has a fresh nonce");
    assert_eq!(
        seen.iter().filter(|r| r.action == "GetRole").count(),
        4,
        "three glitches, then an answer"
    );
}

#[test]
fn rerunning_the_same_import_reuses_the_image() {
    let fake = FakeCloud::start(Scenario {
        glitches: vec![],
        ..Scenario::default()
    });
    let s = setup();
    // GetRole answers at once; the first two ImportImage attempts hit glitches.
    let fake2 = FakeCloud::start(Scenario {
        glitches: vec![],
        ..Scenario::default()
    });
    drop(fake2);
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o2 = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));
    let imports = fake.calls("ImportImage");
    assert_eq!(imports.len(), 2);
    assert_eq!(
        imports[0].params["ClientToken"],
        imports[1].params["ClientToken"]
    );
    assert_eq!(
        fake.image_count(),
        1,
        "re-running the same import creates no second image"
    );
    assert!(stdout(&o2).contains("m-fake0001"));
}

#[test]
fn retries_are_bounded() {
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Throttle; 20],
        ..Scenario::default()
    });
    let s = setup();
    let mut c = s.cmd();
    c.env("IMGTOOL_RETRY_ATTEMPTS", "3");
    let o = run(c, &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("Throttling.User"), "{}", stderr(&o));
    // GetRole gives up after 3 attempts (the import goes on: ImportImage reports a missing
    // role itself), then ImportImage gives up after 3.
    assert!(
        stderr(&o).contains("could not check the RAM role"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fake.calls("GetRole").len(), 3);
    assert_eq!(fake.calls("ImportImage").len(), 3);
}

#[test]
fn duplicated_name_is_explained() {
    let fake = FakeCloud::start(Scenario {
        existing_names: vec!["disk".into()],
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("InvalidImageName.Duplicated")
            && e.contains("--image-name")
            && e.contains("FAKE-REQ-1"),
        "{e}"
    );
}

#[test]
fn missing_bucket_is_explained() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let args = s.import_args_in(&fake, "missing-bucket");
    let o = run(s.cmd(), &args, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("InvalidOSSBucket.NotFound") && stderr(&o).contains("--bucket"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn server_text_is_escaped() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let args = s.import_args_in(&fake, "evil-bucket");
    let o = run(s.cmd(), &args, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stderr.contains(&0x1b), "raw ESC reached the terminal");
    assert!(stderr(&o).contains("\\u{1b}[31mgone"), "{}", stderr(&o));
}

#[test]
fn wrong_secret_is_signature_mismatch_and_not_printed() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let mut c = s.cmd();
    c.env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-secret-123");
    let o = run(c, &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("SignatureDoesNotMatch") && stderr(&o).contains("secret is wrong"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("wrong-secret-123"));
}

#[test]
fn dry_run_sends_nothing_and_masks() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let mut c = s.cmd();
    c.env("ALIBABA_CLOUD_SECURITY_TOKEN", crate::fake_cloud::STS_TOKEN);
    let o = run(c, &s.import_args(&fake), &["--dry-run", "--create-role"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(fake.seen().is_empty());
    let out = stdout(&o);
    // V3 by default: the headers and the canonical request as signed, token and signature
    // redacted.
    for want in [
        "ImportImage: POST",
        "GetRole: GET",
        "CreateRole: POST",
        "header Authorization: ACS3-HMAC-SHA256 Credential=LTAI****0001,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature=(redacted)",
        "header x-acs-security-token: (redacted)",
        "canonical request (ACS3-HMAC-SHA256):",
        "| x-acs-action:ImportImage",
        "| x-acs-security-token:(redacted)",
        "DiskDeviceMapping.1.DiskImageSize=4",
        "ClientToken=imgtool-",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert!(!out.contains(crate::fake_cloud::KEY_ID));
    assert_no_secrets(&o);
    // V1 on request: the old parameter list, masked the same way.
    let mut c = s.cmd();
    c.env("ALIBABA_CLOUD_SECURITY_TOKEN", crate::fake_cloud::STS_TOKEN);
    let o = run(
        c,
        &s.import_args(&fake),
        &["--dry-run", "--rpc-signature", "v1"],
    );
    let out = stdout(&o);
    for want in [
        "AccessKeyId=LTAI****0001",
        "SecurityToken=(redacted)",
        "Signature=(redacted)",
        "SignatureVersion=1.0",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert!(!out.contains("ACS3-HMAC-SHA256"), "{out}");
    assert_no_secrets(&o);
}

#[test]
fn dry_run_shows_the_oss_v4_canonical_request_without_the_token() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let mut c = s.cmd();
    c.env("ALIBABA_CLOUD_SECURITY_TOKEN", crate::fake_cloud::STS_TOKEN);
    let mut args: Vec<String> = s.import_args(&fake);
    args.retain(|a| a != "--skip-upload");
    let o = run(c, &args, &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "GetBucketLocation canonical request (OSS4-HMAC-SHA256):",
        "| GET",
        "| /bkt/",
        "| location",
        "| x-oss-content-sha256:UNSIGNED-PAYLOAD",
        "| x-oss-security-token:(redacted)",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert_no_secrets(&o);
}

#[test]
fn dry_run_json_is_one_document() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["schema"], "imgtool.import/1");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["status"], "planned");
    assert_eq!(v["plan"]["DiskDeviceMapping.1.DiskImageSize"], "4");
    assert_eq!(v["requests"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["signatures"]["rpc"], "v3");
    assert_eq!(v["signatures"]["oss"], "v4");
    let auth = v["requests"][1]["headers"]["Authorization"]
        .as_str()
        .unwrap_or("");
    assert!(auth.ends_with(",Signature=(redacted)"), "{auth}");
    let canonical = v["requests"][1]["canonical_request"].as_str().unwrap_or("");
    assert!(canonical.starts_with("POST\n/\n"), "{canonical}");
    assert!(
        canonical.contains("x-acs-action:ImportImage\n"),
        "{canonical}"
    );
}

#[test]
fn json_after_import_has_ids() {
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--json", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["status"], "Available");
    assert_eq!(v["image_id"], "m-fake0001");
    assert_eq!(v["task_id"], "t-fake0001");
}

#[test]
fn no_wait_prints_how_to_follow() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("imgtool task wait t-fake0001 --region cn-hangzhou"),
        "{}",
        stderr(&o)
    );
    assert!(fake.calls("DescribeImages").is_empty());
}

#[test]
fn timeout_stops_following_and_says_how_to_resume() {
    let fake = FakeCloud::start(Scenario {
        polls: 1_000_000,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--timeout", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("imgtool task wait t-fake0001"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ctrl_c_stops_following_and_says_how_to_resume_and_cancel() {
    let fake = FakeCloud::start(Scenario {
        polls: 1_000_000,
        ..Scenario::default()
    });
    let s = setup();
    let mut c = s.cmd();
    c.args(s.import_args(&fake))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fake.calls("DescribeImages").len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::sys::kill(child.id(), libc::SIGINT);
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("imgtool task wait t-fake0001") && e.contains("imgtool task cancel t-fake0001"),
        "{e}"
    );
}

#[test]
fn plan_errors_stop_before_sending() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--disk-image-size", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("3 GiB") && e.contains("4 GiB") && e.contains("InvalidImageSize"),
        "{e}"
    );
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--image-name", "aliyun-x"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("InvalidImageName.Malformed"));
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--architecture", "arm64", "--boot-mode", "BIOS"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("UEFI"));
    assert!(fake.seen().is_empty());
}

#[test]
fn chinese_name_and_platform_with_space_are_signed_right() {
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &[
            "--image-name",
            "镜像-web:1.0",
            "--platform",
            "Rocky Linux",
            "--description",
            "a*b~c/d+e f",
            "--no-wait",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p = &fake.calls("ImportImage")[0].params;
    assert_eq!(p["ImageName"], "镜像-web:1.0");
    assert_eq!(p["Platform"], "Rocky Linux");
    assert_eq!(p["Description"], "a*b~c/d+e f");
}

#[test]
fn plain_http_is_taken_only_for_this_machine_or_with_allow_http() {
    // An explicit http endpoint on loopback (a test server, a local proxy) works as given...
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let args: Vec<String> = s
        .import_args(&fake)
        .into_iter()
        .filter(|a| a != "--allow-http")
        .collect();
    let o = run(s.cmd(), &args, &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // ...but one on another machine, from a flag or a leftover environment variable, is
    // refused before anything is sent (a dry run, with a name that can never resolve, so a
    // regression here could not send traffic anywhere).
    let mut c = s.cmd();
    c.env("IMGTOOL_ECS_ENDPOINT", "http://ecs.imgtool-test.invalid");
    let plain: Vec<String> = [
        "import",
        &s.image.display().to_string(),
        "--force",
        "--region",
        "cn-hangzhou",
        "--bucket",
        "bkt",
        "--skip-upload",
        "--dry-run",
    ]
    .map(String::from)
    .to_vec();
    let o = run(c, &plain, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-http"), "{}", stderr(&o));
    let mut c = s.cmd();
    c.env("IMGTOOL_ECS_ENDPOINT", "http://ecs.imgtool-test.invalid");
    let o = run(c, &plain, &["--allow-http"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_silent_server_times_out_and_is_retried() {
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Hang],
        ..Scenario::default()
    });
    let s = setup();
    let mut c = s.cmd();
    c.env("IMGTOOL_HTTP_TIMEOUT_MS", "300");
    let started = std::time::Instant::now();
    let o = run(c, &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the timeout, not the server, ended the first attempt"
    );
    assert_eq!(fake.calls("GetRole").len(), 2);
}

#[test]
fn redirects_are_not_followed() {
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Redirect; 10],
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("HTTP307"), "{}", stderr(&o));
    // GetRole got a 307 (not retried, not followed: the import goes on without the role
    // check), then ImportImage got one too; nothing reached the redirect target.
    assert_eq!(fake.actions(), ["GetRole", "ImportImage"]);
    assert_no_secrets(&o);
}

#[test]
fn losing_sight_of_the_import_says_how_to_resume() {
    let fake = FakeCloud::start(Scenario {
        forbid_describe: true,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("Forbidden.RAM")
            && e.contains(
                "imgtool task wait t-fake0001 --region cn-hangzhou --image-id m-fake0001"
            ),
        "{e}"
    );
}

#[test]
fn vhd_is_planned_as_vhd_and_a_differencing_chain_as_raw() {
    let fake = FakeCloud::start(Scenario::default());
    let mut s = setup();
    crate::vhd_read::generate(s.dir.path(), &["small-dynamic", "small-chain"]);
    s.image = s.dir.path().join("small-dynamic.vhd");
    let o = run(s.cmd(), &s.import_args(&fake), &["--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "VHD");
    assert_eq!(v["plan"]["DiskDeviceMapping.1.DiskImageSize"], "1");

    s.image = s.dir.path().join("small-chain.vhd");
    let o = run(s.cmd(), &s.import_args(&fake), &["--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "RAW");
    assert_eq!(
        v["plan"]["DiskDeviceMapping.1.OSSObject"],
        "imgtool/small-chain.raw"
    );
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--dry-run", "--format", "vhd"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("differencing VHD"), "{}", stderr(&o));
    assert!(fake.seen().is_empty());
}

/// The plan's guest parameters come from what inspect finds inside the image.
fn dry_run_plan(
    s: &crate::cloud_support::Setup,
    fake: &FakeCloud,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let mut args: Vec<&str> = vec!["--dry-run", "--json"];
    args.extend(extra);
    // Without the harness's --force unless the test passes it: these tests are about it.
    let base: Vec<String> = s
        .import_args(fake)
        .into_iter()
        .filter(|a| a != "--force")
        .collect();
    let o = run(s.cmd(), &base, &args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code(), v, stderr(&o))
}

#[test]
fn guest_facts_fill_the_plan() {
    let fake = FakeCloud::start(Scenario::default());
    for (fixture, arch, platform, boot) in [
        ("uefi-x86_64", "x86_64", "Debian", "UEFI"),
        ("uefi-arm64", "arm64", "Debian", "UEFI"),
        ("bios-i386", "i386", "Debian", "BIOS"),
        ("windows-ntfs", "x86_64", "Windows Server 2022", "BIOS"),
    ] {
        let u = crate::disk_util::unpack(fixture);
        let mut s = setup();
        s.image = u.raw.clone();
        let (code, v, err) = dry_run_plan(&s, &fake, &["--force"]);
        assert_eq!(code, Some(0), "{fixture}: {err}");
        let p = &v["plan"];
        assert_eq!(p["Architecture"], arch, "{fixture}");
        assert_eq!(p["Platform"], platform, "{fixture}");
        assert_eq!(p["BootMode"], boot, "{fixture}");
        let os = if platform.contains("Windows") {
            "windows"
        } else {
            "linux"
        };
        assert_eq!(p["OSType"], os, "{fixture}");
    }
    assert!(fake.seen().is_empty());
}

#[test]
fn a_flag_contradicting_the_image_needs_force() {
    let fake = FakeCloud::start(Scenario::default());
    let u = crate::disk_util::unpack("uefi-x86_64");
    let mut s = setup();
    s.image = u.raw.clone();
    let (code, _, err) = dry_run_plan(&s, &fake, &["--architecture", "arm64"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("contradicts") && err.contains("ELF header of /bin/bash"),
        "{err}"
    );
    let (code, v, err) = dry_run_plan(&s, &fake, &["--boot-mode", "BIOS", "--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["plan"]["BootMode"], "BIOS");
}

#[test]
fn a_huge_answer_is_refused_after_bounded_retries() {
    // A server answering garbage of megabytes: each answer is cut off at 1 MiB and called what
    // it is; the retries are bounded and the command ends with a clear error.
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Huge; 20],
        ..Scenario::default()
    });
    let s = setup();
    let mut c = s.cmd();
    c.env("IMGTOOL_RETRY_ATTEMPTS", "3");
    let o = run(c, &s.import_args(&fake), &["--no-wait"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("larger than 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    assert!(
        fake.seen().len() <= 8,
        "bounded: {} requests",
        fake.seen().len()
    );
}

#[test]
fn tags_features_group_and_detection_are_sent() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &[
            "--tag",
            "env=prod",
            "--tag",
            "team=image builders",
            "--nvme",
            "supported",
            "--imds",
            "v2",
            "--resource-group",
            "rg-acfm2x",
            "--detect",
            "--no-wait",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let imp = fake.calls("ImportImage");
    let p = &imp[0].params;
    for (k, v) in [
        ("Tag.1.Key", "env"),
        ("Tag.1.Value", "prod"),
        ("Tag.2.Key", "team"),
        ("Tag.2.Value", "image builders"),
        ("Features.NvmeSupport", "supported"),
        ("Features.ImdsSupport", "v2"),
        ("ResourceGroupId", "rg-acfm2x"),
        ("DetectionStrategy", "Standard"),
    ] {
        assert_eq!(p.get(k).map(String::as_str), Some(v), "{k} in {p:?}");
    }
}

#[test]
fn an_acs_tag_is_refused_before_any_request() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    // No --bucket: the default bucket needs the account id from STS, the first request.
    let mut args: Vec<String> = vec![
        "import".into(),
        s.image.display().to_string(),
        "--force".into(),
    ];
    args.extend(crate::cloud_support::endpoint_args(&fake));
    args.extend(
        [
            "--sts-endpoint",
            &fake.url,
            "--region",
            "cn-hangzhou",
            "--skip-upload",
        ]
        .map(String::from),
    );
    for bad in ["acs:owner=me", "env=1"] {
        let mut extra = vec!["--tag", bad];
        if bad == "env=1" {
            extra.extend(["--tag", "env=2"]);
        }
        let o = run(s.cmd(), &args, &extra);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let want = if bad == "env=1" {
            "TagKey.Duplication"
        } else {
            "InvalidTagKey.Malformed"
        };
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
        assert!(fake.seen().is_empty(), "sent: {:?}", fake.actions());
    }
}

#[test]
fn detect_reads_the_image_check_once_available() {
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--detect", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let imp = fake.calls("ImportImage");
    assert_eq!(imp[0].params["DetectionStrategy"], "Standard");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["detection"]["status"], "Finished", "{v}");
    assert_eq!(v["detection"]["items"][0]["name"], "virtio");
    assert_eq!(v["detection"]["items"][0]["risk_level"], "High");
    assert_eq!(
        v["detection"]["items"][1]["risk_code"],
        "ImageCheck.CloudInitOld"
    );
    // Text mode prints every item.
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        ..Scenario::default()
    });
    let o = run(s.cmd(), &s.import_args(&fake), &["--detect"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("image check: Finished (2 findings)"), "{out}");
    assert!(
        out.contains("virtio: not found in the initramfs [High ImageCheck.VirtioNotFound]"),
        "{out}"
    );
    // Without --detect nothing is read and the field is null.
    let fake = FakeCloud::start(Scenario::default());
    let o = run(s.cmd(), &s.import_args(&fake), &["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert!(v["detection"].is_null());
}

#[test]
fn current_error_codes_say_what_to_do() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let args = s.import_args_in(&fake, "archive-bucket");
    let o = run(s.cmd(), &args, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("InvalidOSSObject.NeedRestore")
            && e.contains("what to do")
            && e.contains("restore it first"),
        "{e}"
    );
}

#[test]
fn format_qcow2_uploads_a_self_contained_qcow2_as_it_is_and_refuses_anything_else() {
    let fake = FakeCloud::start(Scenario::default());
    let mut s = setup();
    // zstd: the rule sends it read through imgtool's reader; asked for, it goes up as QCOW2.
    s.image = crate::qcow2_read::image("compressed-zstd.qcow2");
    let o = run(s.cmd(), &s.import_args(&fake), &["--dry-run", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_ne!(v["plan"]["DiskDeviceMapping.1.Format"], "QCOW2", "{v}");
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--dry-run", "--json", "--format", "qcow2"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["plan"]["DiskDeviceMapping.1.Format"], "QCOW2", "{v}");
    // Not a qcow2, or a qcow2 that needs its backing file: refused, saying why; nothing sent.
    for (image, says) in [
        (s.dir.path().join("small-dynamic.vhd"), "not a qcow2 image"),
        (
            crate::qcow2_read::image("chain-raw.qcow2"),
            "does not hold the whole disk alone",
        ),
    ] {
        crate::vhd_read::generate(s.dir.path(), &["small-dynamic"]);
        s.image = image;
        let o = run(
            s.cmd(),
            &s.import_args(&fake),
            &["--dry-run", "--format", "qcow2"],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    assert!(fake.seen().is_empty());
}
