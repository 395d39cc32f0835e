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
            "--force".into(),
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

/// `import` against `fake` with STS at the fake too (AssumeRole).
fn args_with_sts(s: &crate::cloud_support::Setup, fake: &FakeCloud) -> Vec<String> {
    let mut a = s.import_args(fake);
    a.extend([
        "--sts-endpoint".to_string(),
        fake.url.clone(),
        "--no-wait".to_string(),
    ]);
    a
}

fn write_ini(s: &crate::cloud_support::Setup, path: &std::path::Path, text: &str) {
    let _ = s;
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write ini");
}

/// The key every ECS call (not STS, not metadata) was signed with, and its token.
fn ecs_keys(fake: &FakeCloud) -> Vec<(String, Option<String>)> {
    fake.seen()
        .iter()
        .filter(|r| r.params.get("Version").is_some_and(|v| v == "2014-05-26"))
        .map(|r| {
            (
                r.params["AccessKeyId"].clone(),
                r.params.get("SecurityToken").cloned(),
            )
        })
        .collect()
}

/// Every ECS call was signed with the STS key and carried its token (`what`: the source).
fn assert_ecs_signed_with_sts(fake: &FakeCloud, what: &str) {
    let keys = ecs_keys(fake);
    assert!(!keys.is_empty(), "{what}: no ECS call");
    for (k, t) in keys {
        assert_eq!(k, fake_cloud::STS_KEY_ID, "{what}");
        assert_eq!(t.as_deref(), Some(fake_cloud::STS_TOKEN), "{what}");
    }
}

#[test]
fn alibabacloud_credentials_file_access_key_and_sts() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    write_ini(
        &s,
        &s.home().join(".alibabacloud/credentials"),
        &format!(
            "[default]\ntype = access_key\naccess_key_id = {}\naccess_key_secret = {}\n",
            fake_cloud::CFG_KEY_ID,
            fake_cloud::CFG_SECRET
        ),
    );
    let o = run(s.bare(), &args_with_sts(&s, &fake), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(key_used(&fake), fake_cloud::CFG_KEY_ID);
    // Another file, another profile, type sts: the token goes along.
    let other = s.home().join("elsewhere/creds.ini");
    write_ini(
        &s,
        &other,
        &format!(
            "[default]\naccess_key_id = X\naccess_key_secret = Y\n[tmp]\ntype = sts\naccess_key_id = {}\naccess_key_secret = {}\nsecurity_token = {}\n",
            fake_cloud::STS_KEY_ID,
            fake_cloud::STS_SECRET,
            fake_cloud::STS_TOKEN
        ),
    );
    let fake = FakeCloud::start(Scenario::default());
    let mut c = s.bare();
    c.env("ALIBABA_CLOUD_CREDENTIALS_FILE", &other)
        .env("ALIBABA_CLOUD_PROFILE", "tmp");
    let o = run(c, &args_with_sts(&s, &fake), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ecs_signed_with_sts(&fake, "a credentials file's sts profile");
    assert_no_secrets(&o);
}

#[test]
fn ram_role_arn_assumes_the_role_and_renews_it() {
    for source in ["ini", "cli"] {
        let fake = FakeCloud::start(Scenario::default());
        let s = setup();
        if source == "ini" {
            write_ini(
                &s,
                &s.home().join(".alibabacloud/credentials"),
                &format!(
                    "[default]\ntype = ram_role_arn\naccess_key_id = {}\naccess_key_secret = {}\nrole_arn = acs:ram::1234567890123456:role/importer\nrole_session_name = imgtool-test\n",
                    fake_cloud::CFG_KEY_ID,
                    fake_cloud::CFG_SECRET
                ),
            );
        } else {
            s.write_config(&format!(
                r#"{{"current":"r","profiles":[{{"name":"r","mode":"RamRoleArn","access_key_id":"{}","access_key_secret":"{}","ram_role_arn":"acs:ram::1234567890123456:role/importer","ram_session_name":"imgtool-test","region_id":"cn-hangzhou"}}]}}"#,
                fake_cloud::CFG_KEY_ID,
                fake_cloud::CFG_SECRET
            ));
        }
        let mut c = s.bare();
        // Renew before every request: a long upload's case, made short.
        c.env("IMGTOOL_CREDENTIAL_REFRESH_SECS", "0");
        let o = run(c, &args_with_sts(&s, &fake), &[]);
        assert_eq!(o.status.code(), Some(0), "{source}: {}", stderr(&o));
        let assumed = fake.calls("AssumeRole");
        assert!(assumed.len() >= 2, "{source}: renewed: {}", assumed.len());
        assert_eq!(assumed[0].params["AccessKeyId"], fake_cloud::CFG_KEY_ID);
        assert_eq!(
            assumed[0].params["RoleArn"],
            "acs:ram::1234567890123456:role/importer"
        );
        assert_eq!(assumed[0].params["RoleSessionName"], "imgtool-test");
        assert_ecs_signed_with_sts(&fake, source);
        assert_no_secrets(&o);
    }
}

#[test]
fn ecs_ram_role_reads_instance_metadata() {
    for source in ["ini", "cli"] {
        let fake = FakeCloud::start(Scenario::default());
        let s = setup();
        if source == "ini" {
            write_ini(
                &s,
                &s.home().join(".alibabacloud/credentials"),
                &format!(
                    "[default]\ntype = ecs_ram_role\nrole_name = {}\n",
                    fake_cloud::ECS_ROLE
                ),
            );
        } else {
            s.write_config(&format!(
                r#"{{"current":"e","profiles":[{{"name":"e","mode":"EcsRamRole","ram_role_name":"{}","region_id":"cn-hangzhou"}}]}}"#,
                fake_cloud::ECS_ROLE
            ));
        }
        let mut c = s.bare();
        c.env("IMGTOOL_METADATA_ENDPOINT", &fake.url);
        let o = run(c, &args_with_sts(&s, &fake), &[]);
        assert_eq!(o.status.code(), Some(0), "{source}: {}", stderr(&o));
        assert!(fake.actions().iter().any(|a| a == "metadata"));
        assert_ecs_signed_with_sts(&fake, source);
        assert_no_secrets(&o);
    }
}
