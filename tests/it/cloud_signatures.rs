//! Signature versions end to end: V4 (OSS) and V3 (ECS, RAM, STS) by default, each checked by
//! the fakes' own implementations; V1 on request for deployments that know only V1.

use crate::cloud_support::{Setup, all_output, assert_no_secrets, setup};
use crate::fake_cloud::{FakeCloud, Scenario};
use crate::fake_oss::{FakeOss, OssScenario};
use crate::util::stderr;

/// A small dynamic VHD as `s.image`.
fn vhd(s: &mut Setup) {
    crate::vhd_read::generate(s.dir.path(), &["small-dynamic"]);
    s.image = s.dir.path().join("small-dynamic.vhd");
}

/// `imgtool import IMAGE --auto-size` with nothing but credentials, a region and the
/// endpoints in the environment (`Setup::zero_config`).
fn zero_config(
    s: &Setup,
    cloud: &FakeCloud,
    oss: &FakeOss,
    extra: &[&str],
) -> std::process::Output {
    let mut c = s.zero_config(cloud, oss, "cn-hangzhou");
    c.args([
        "import",
        &s.image.display().to_string(),
        "--force",
        "--auto-size",
        "--part-size",
        "100K",
    ])
    .args(extra);
    c.output().expect("run imgtool")
}

#[test]
fn zero_config_import_speaks_only_v4_and_v3() {
    let cloud = FakeCloud::start(Scenario {
        refuse_v1: true,
        ..Scenario::default()
    });
    let oss = FakeOss::start(OssScenario {
        region: "cn-hangzhou".into(),
        refuse_v1: true,
        ..OssScenario::default()
    });
    let mut s = setup();
    vhd(&mut s);
    let o = zero_config(&s, &cloud, &oss, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    let bucket = "imgtool-1234567890123456-cn-hangzhou";
    assert!(oss.object(bucket, "imgtool/small-dynamic.vhd").is_some());
    let rpc: Vec<&str> = cloud.seen().iter().map(|r| r.signature).collect();
    assert!(rpc.len() >= 4 && rpc.iter().all(|v| *v == "v3"), "{rpc:?}");
    let actions = cloud.actions();
    for a in [
        "GetCallerIdentity",
        "GetRole",
        "ImportImage",
        "DescribeImages",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let seen = oss.seen();
    assert!(seen.len() > 4);
    for r in &seen {
        assert_eq!(r.signature, "v4", "{} {}", r.method, r.key);
        assert_eq!(r.scope_region.as_deref(), Some("cn-hangzhou"));
        // Only "not there yet" answers (GetBucketLocation, HEAD) besides success.
        assert!(
            r.status / 100 == 2 || r.status == 404,
            "{} {} {:?}: {}",
            r.method,
            r.key,
            r.query,
            r.status
        );
    }
    assert_no_secrets(&o);
}

#[test]
fn v1_on_request_against_a_v1_only_deployment() {
    let cloud = FakeCloud::start(Scenario {
        refuse_v3: true,
        ..Scenario::default()
    });
    let oss = FakeOss::start(OssScenario {
        region: "cn-hangzhou".into(),
        refuse_v4: true,
        ..OssScenario::default()
    });
    let mut s = setup();
    vhd(&mut s);
    // The defaults are refused by such a deployment, before anything is uploaded.
    let o = zero_config(&s, &cloud, &oss, &[]);
    assert_ne!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(oss.writes().is_empty());
    let o = zero_config(
        &s,
        &cloud,
        &oss,
        &["--oss-signature", "v1", "--rpc-signature", "v1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", all_output(&o));
    assert!(
        oss.object(
            "imgtool-1234567890123456-cn-hangzhou",
            "imgtool/small-dynamic.vhd"
        )
        .is_some()
    );
    let ok_rpc: Vec<&str> = cloud
        .calls("ImportImage")
        .iter()
        .map(|r| r.signature)
        .collect();
    assert_eq!(ok_rpc, ["v1"]);
    assert!(oss.writes().iter().all(|r| r.signature == "v1"));
    // The environment variables do the same as the flags.
    let mut c = s.zero_config(&cloud, &oss, "cn-hangzhou");
    c.env("IMGTOOL_RPC_SIGNATURE", "v1")
        .env("IMGTOOL_OSS_SIGNATURE", "v1")
        .args([
            "import",
            &s.image.display().to_string(),
            "--auto-size",
            "--force",
        ]);
    let o = c.output().expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn v1_refused_by_the_service_is_an_error_naming_the_code() {
    let cloud = FakeCloud::start(Scenario {
        refuse_v1: true,
        ..Scenario::default()
    });
    let oss = FakeOss::start(OssScenario {
        region: "cn-hangzhou".into(),
        refuse_v1: true,
        ..OssScenario::default()
    });
    let mut s = setup();
    vhd(&mut s);
    let o = zero_config(&s, &cloud, &oss, &["--rpc-signature", "v1"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("InvalidSignatureVersion"),
        "{}",
        stderr(&o)
    );
    assert!(oss.writes().is_empty());
}
