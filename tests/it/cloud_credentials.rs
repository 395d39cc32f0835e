//! Where credentials come from, in which order, and that secrets never reach output.

use crate::cloud_support::{assert_no_secrets, run, setup};
use crate::fake_cloud::{self, FakeCloud, Scenario};
use crate::util::stderr;

fn config() -> String {
    format!(
        r#"{{"current":"main","profiles":[
        {{"name":"main","mode":"AK","access_key_id":"{}","access_key_secret":"{}","region_id":"cn-hangzhou"}},
        {{"name":"sts","mode":"StsToken","access_key_id":"{}","access_key_secret":"{}","sts_token":"{}"}}]}}"#,
        fake_cloud::CFG_KEY_ID,
        fake_cloud::CFG_SECRET,
        fake_cloud::STS_KEY_ID,
        fake_cloud::STS_SECRET,
        fake_cloud::STS_TOKEN
    )
}

fn key_used(fake: &FakeCloud) -> String {
    fake.seen()
        .last()
        .map(|r| r.params["AccessKeyId"].clone())
        .unwrap_or_default()
}

#[test]
fn config_file_current_profile_is_used_without_env() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    s.write_config(&config());
    let o = run(s.bare(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(key_used(&fake), fake_cloud::CFG_KEY_ID);
    assert_no_secrets(&o);
}

#[test]
fn environment_beats_config_file() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    s.write_config(&config());
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(key_used(&fake), fake_cloud::KEY_ID);
}

#[test]
fn terraform_variable_names_work() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let mut c = s.bare();
    c.env("ALICLOUD_ACCESS_KEY", fake_cloud::KEY_ID)
        .env("ALICLOUD_SECRET_KEY", fake_cloud::SECRET);
    let o = run(c, &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(key_used(&fake), fake_cloud::KEY_ID);
}

#[test]
fn profile_flag_picks_sts_profile_over_env() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    s.write_config(&config());
    let o = run(
        s.cmd(),
        &s.import_args(&fake),
        &["--no-wait", "--profile", "sts"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let last = fake.seen().pop().expect("a request");
    assert_eq!(last.params["AccessKeyId"], fake_cloud::STS_KEY_ID);
    assert_eq!(
        last.params["SecurityToken"],
        fake_cloud::STS_TOKEN,
        "STS token is sent"
    );
    assert_no_secrets(&o);
}

#[test]
fn env_profile_selects_config_profile() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    s.write_config(&config());
    let mut c = s.bare();
    c.env("ALIBABA_CLOUD_PROFILE", "sts");
    let o = run(c, &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(key_used(&fake), fake_cloud::STS_KEY_ID);
}

#[test]
fn region_from_config_profile() {
    let s = setup();
    s.write_config(&config());
    let o = run(
        s.bare(),
        &[
            "import".into(),
            s.image.display().to_string(),
            "--bucket".into(),
            "bkt".into(),
            "--dry-run".into(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(crate::util::stdout(&o).contains("RegionId: cn-hangzhou"));
}

#[test]
fn no_credentials_lists_every_place() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.bare(), &s.import_args(&fake), &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    for want in [
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABACLOUD_",
        "ALICLOUD_ACCESS_KEY",
        ".aliyun/config.json",
        "--profile",
    ] {
        assert!(e.contains(want), "{want} missing: {e}");
    }
    assert!(fake.seen().is_empty());
}

#[test]
fn secrets_never_printed_on_any_path() {
    let fake = FakeCloud::start(Scenario {
        existing_names: vec!["disk".into()],
        ..Scenario::default()
    });
    let s = setup();
    s.write_config(&config());
    for extra in [
        &["--dry-run"][..],
        &["--dry-run", "--json"],
        &[],
        &["--profile", "sts"],
        &["--profile", "sts", "--dry-run"],
    ] {
        let o = run(s.cmd(), &s.import_args(&fake), extra);
        assert_no_secrets(&o);
    }
    for r in fake.seen() {
        assert!(
            !r.raw.contains(fake_cloud::SECRET) && !r.raw.contains(fake_cloud::STS_SECRET),
            "secret sent on the wire"
        );
    }
}
