//! Issue 18's cloud half (points 5, 6, 7, progress and `-v`) and issue 12's leftovers
//! (Platform list, ImportImage DryRun, the fakes' V1 refusals): each test reproduces what a
//! new user hit and asserts what they need.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cloud_support::{all_output, assert_no_secrets, endpoint_args, run, setup};
use crate::fake_cloud::{self, FakeCloud, Glitch, Scenario};
use crate::fake_oss::{FakeOss, OssScenario};
use crate::util::{stderr, stdout};

/// `import IMAGE --dry-run` with `args`, no credentials, and `--force`: the blank test image
/// has no OS, which the readiness gate (issue 17) refuses; these tests are about the flags.
fn dry(args: &[&str]) -> std::process::Output {
    dry_with(args, true)
}

/// [`dry`], with `--force` only when `force` (or when `args` has it).
fn dry_with(args: &[&str], force: bool) -> std::process::Output {
    let s = setup();
    let mut a = vec![
        "import".to_string(),
        s.image.display().to_string(),
        "--dry-run".into(),
    ];
    a.extend(args.iter().map(|x| x.to_string()));
    if force && !args.contains(&"--force") {
        a.push("--force".into());
    }
    run(s.bare(), &a, &[])
}

#[test]
fn dry_run_refuses_the_part_sizes_the_real_run_refuses() {
    for bad in ["0", "1K", "10G"] {
        let o = dry(&["--region", "cn-hangzhou", "--part-size", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", all_output(&o));
        let e = stderr(&o);
        for want in ["--part-size", bad, "100K", "5G", "10000 parts"] {
            assert!(e.contains(want), "{bad}: {want} missing from {e}");
        }
    }
    for good in ["100K", "64M", "5G"] {
        let o = dry(&["--region", "cn-hangzhou", "--part-size", good]);
        assert_eq!(o.status.code(), Some(0), "{good}: {}", all_output(&o));
    }
}

#[test]
fn dry_run_refuses_an_unknown_region_and_suggests_the_closest() {
    let o = dry_with(&["--region", "cn-hangzhuo"], false);
    assert_eq!(o.status.code(), Some(2), "{}", all_output(&o));
    assert!(
        stderr(&o).contains("did you mean cn-hangzhou?") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    // A region newer than imgtool's list goes through with --force.
    let o = dry(&["--region", "cn-hangzhuo", "--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(
        stdout(&o).contains("RegionId: cn-hangzhuo"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn contradictory_flags_are_refused_together() {
    for pair in [
        ["--skip-upload", "--restart"],
        ["--oss-internal", "--oss-endpoint=https://oss.example"],
        ["--no-wait", "--timeout=60"],
    ] {
        let mut a = vec!["--region", "cn-hangzhou"];
        a.extend(pair);
        let o = dry(&a);
        assert_eq!(o.status.code(), Some(2), "{pair:?}: {}", all_output(&o));
        assert!(
            stderr(&o).contains("cannot be used with"),
            "{pair:?}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn dry_run_without_credentials_says_the_account_is_unknown() {
    let o = dry(&["--region", "cn-hangzhou"]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let text = all_output(&o);
    assert!(
        !text.contains("imgtool-account-"),
        "a placeholder shown as if real:\n{text}"
    );
    assert!(text.contains("imgtool-<account id>-cn-hangzhou"), "{text}");
    assert!(text.contains("account id is unknown"), "{text}");
    assert!(text.contains("without credentials"), "{text}");
    // The ClientToken derived from an unknown bucket is not shown as a value.
    let o = dry(&["--region", "cn-hangzhou", "--json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(doc["plan"]["ClientToken"].is_null(), "{doc}");
    assert_eq!(
        doc["plan"]["DiskDeviceMapping.1.OSSBucket"],
        "imgtool-<account id>-cn-hangzhou"
    );
    // With --bucket the token is real and shown.
    let o = dry(&["--region", "cn-hangzhou", "--bucket", "bkt", "--json"]);
    let doc: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(
        doc["plan"]["ClientToken"]
            .as_str()
            .is_some_and(|t| t.starts_with("imgtool-")),
        "{doc}"
    );
}

#[test]
fn region_from_the_environment_is_used_without_credentials() {
    let s = setup();
    let mut c = s.bare();
    c.env("ALIBABA_CLOUD_REGION_ID", "cn-beijing");
    let a = [
        "import".to_string(),
        s.image.display().to_string(),
        "--dry-run".into(),
        // The blank image has no OS (readiness gate, issue 17).
        "--force".into(),
    ];
    let o = run(c, &a, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(
        stdout(&o).contains("RegionId: cn-beijing"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("from ALIBABA_CLOUD_REGION_ID"),
        "{}",
        stderr(&o)
    );
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn connection_refused_on_loopback_is_fast_and_named() {
    let s = setup();
    let port = closed_port();
    let mut c = s.cmd();
    c.env("IMGTOOL_ECS_ENDPOINT", format!("http://127.0.0.1:{port}"))
        // The default timing: a retry loop would take seconds.
        .env_remove("IMGTOOL_RETRY_BASE_MS");
    let t = Instant::now();
    let o = run(
        c,
        &["task", "status", "t-1", "--region", "cn-hangzhou"].map(String::from),
        &[],
    );
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", all_output(&o));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let e = stderr(&o);
    assert!(e.contains(&format!("http://127.0.0.1:{port}/")), "{e}");
    assert!(e.contains("connection refused"), "{e}");
    assert!(!e.contains("retrying"), "not retried: {e}");
}

#[test]
fn each_retry_is_shown_with_its_cause_unless_quiet() {
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Throttle, Glitch::Unavailable],
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("retrying in") && e.contains("(attempt 2 of 6)") && e.contains("Throttling"),
        "{e}"
    );
    assert!(
        e.contains("(attempt 3 of 6)") && e.contains("HTTP 503"),
        "{e}"
    );
    let fake = FakeCloud::start(Scenario {
        glitches: vec![Glitch::Throttle],
        polls: 1,
        ..Scenario::default()
    });
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait", "--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("retrying"), "{}", stderr(&o));
}

#[test]
fn verbose_logs_each_request_and_never_a_secret() {
    let fake = FakeCloud::start(Scenario {
        polls: 1,
        ..Scenario::default()
    });
    let s = setup();
    // V1 puts the AccessKeyId, the Signature (and a token) in the URL of a GET: the log must
    // drop the query. V3 puts them in headers, which are never logged.
    for sig in ["v1", "v3"] {
        let mut c = s.cmd();
        c.env("ALIBABA_CLOUD_SECURITY_TOKEN", fake_cloud::STS_TOKEN);
        let o = run(c, &s.import_args(&fake), &["-v", "--rpc-signature", sig]);
        let e = stderr(&o);
        assert!(
            e.contains(&format!("POST {}/ (ImportImage) -> HTTP", fake.url))
                && e.contains("GET")
                && e.contains(" ms"),
            "{sig}: {e}"
        );
        assert_no_secrets(&o);
        for never in [
            "Signature=",
            "SecurityToken=",
            "Authorization",
            "AccessKeyId=",
        ] {
            assert!(!e.contains(never), "{sig}: {never} in {e}");
        }
    }
}

#[test]
fn remote_check_sends_importimage_with_dryrun_and_imports_nothing() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--dry-run", "--remote-check"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let calls = fake.calls("ImportImage");
    assert_eq!(calls.len(), 1, "{:?}", fake.actions());
    assert_eq!(calls[0].params["DryRun"], "true");
    assert_eq!(fake.image_count(), 0);
    assert!(stderr(&o).contains("DryRunOperation"), "{}", stderr(&o));
    // What the service would refuse, the remote check reports (exit 2 for bad input).
    let fake = FakeCloud::start(Scenario {
        existing_names: vec!["disk".into()],
        ..Scenario::default()
    });
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--dry-run", "--remote-check"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all_output(&o));
    assert!(
        stderr(&o).contains("InvalidImageName.Duplicated"),
        "{}",
        stderr(&o)
    );
    // Without credentials there is nothing to check with.
    let o = run(
        s.bare(),
        &s.import_args(&fake),
        &["--dry-run", "--remote-check"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", all_output(&o));
}

#[test]
fn other_windows_is_not_a_platform_any_more() {
    let o = dry(&[
        "--region",
        "cn-hangzhou",
        "--os-type",
        "windows",
        "--platform",
        "Other Windows",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", all_output(&o));
    assert!(
        stderr(&o).contains("InvalidPlatform.Malformed"),
        "{}",
        stderr(&o)
    );
    // A Windows of no listed version: the closest listed value, not a refused one.
    let o = dry(&["--region", "cn-hangzhou", "--os-type", "windows"]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(
        stdout(&o).contains("Platform: Windows Server 2022"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn oss_refusing_v1_answers_as_documented() {
    let cloud = FakeCloud::start(Scenario::default());
    let oss = FakeOss::start(OssScenario {
        region: "cn-hangzhou".into(),
        refuse_v1: true,
        ..OssScenario::default()
    });
    let s = setup();
    let mut a: Vec<String> = vec![
        "import".into(),
        s.image.display().to_string(),
        // The blank image has no OS (readiness gate, issue 17).
        "--force".into(),
    ];
    a.extend(endpoint_args(&cloud));
    a.extend(
        [
            "--region",
            "cn-hangzhou",
            "--bucket",
            "bkt",
            "--oss-signature",
            "v1",
            "--oss-endpoint",
            &oss.url,
        ]
        .map(String::from),
    );
    let o = run(s.cmd(), &a, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(
        stderr(&o).contains("AccessDenied") && stderr(&o).contains("V1"),
        "{}",
        stderr(&o)
    );
    assert!(oss.writes().is_empty());
}

#[test]
fn progress_off_a_terminal_logs_changes_of_state_not_every_percentage() {
    let fake = FakeCloud::start(Scenario {
        polls: 6,
        ..Scenario::default()
    });
    let s = setup();
    // stderr is a pipe here: no live line, no line per percentage.
    let o = run(s.cmd(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let e = stderr(&o);
    let states: Vec<String> = e
        .lines()
        .filter(|l| l.starts_with("imgtool: task "))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| !w.trim_end_matches(',').ends_with('%'))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(!states.is_empty(), "{e}");
    for w in states.windows(2) {
        assert_ne!(w[0], w[1], "the same state logged twice:\n{e}");
    }
    // The steps are there, and --quiet silences all of it.
    assert!(e.contains("[import] calling ImportImage"), "{e}");
    let o = run(s.cmd(), &s.import_args(&fake), &["--quiet"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}
