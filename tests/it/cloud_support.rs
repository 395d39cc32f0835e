//! Shared set-up for the cloud tests: an image file, a temporary HOME, and an imgtool
//! command pointed at the fake cloud with fast timings.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::fake_cloud::{self, FakeCloud};
use crate::fake_oss::{FakeOss, OssScenario};
use crate::util;

pub const GIB: u64 = 1 << 30;

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub image: PathBuf,
}

/// A sparse 3 GiB + 1 byte RAW image named `disk.raw` in an empty temporary HOME.
pub fn setup() -> Setup {
    let dir = util::tempdir();
    let image = dir.path().join("disk.raw");
    let f = std::fs::File::create(&image).expect("create image");
    f.set_len(3 * GIB + 1).expect("size image");
    Setup { dir, image }
}

impl Setup {
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, json: &str) {
        std::fs::create_dir_all(self.home().join(".aliyun")).expect("mkdir");
        std::fs::write(self.home().join(".aliyun/config.json"), json).expect("write config");
    }

    /// imgtool with HOME at the temp dir, no credentials, fast timings.
    pub fn bare(&self) -> Command {
        let mut c = util::imgtool();
        // The fake is on 127.0.0.1; a proxy from the environment must not carry requests
        // anywhere else.
        for v in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            c.env_remove(v);
        }
        c.env("HOME", self.home())
            .env("IMGTOOL_POLL_INTERVAL_MS", "10")
            .env("IMGTOOL_RETRY_BASE_MS", "5")
            .env("IMGTOOL_ROLE_WAIT_MS", "5000")
            .env("IMGTOOL_HTTP_TIMEOUT_MS", "5000");
        c
    }

    /// `bare()` plus the fake's environment credentials.
    pub fn cmd(&self) -> Command {
        let mut c = self.bare();
        c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", fake_cloud::KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", fake_cloud::SECRET);
        c
    }

    /// `cmd()` with nothing else but a region and the endpoints of both fakes in the
    /// environment (loopback endpoints need no flag): the zero-config import.
    pub fn zero_config(&self, cloud: &FakeCloud, oss: &FakeOss, region: &str) -> Command {
        let mut c = self.cmd();
        c.env("ALIBABA_CLOUD_REGION_ID", region)
            .env("IMGTOOL_ECS_ENDPOINT", &cloud.url)
            .env("IMGTOOL_RAM_ENDPOINT", &cloud.url)
            .env("IMGTOOL_STS_ENDPOINT", &cloud.url)
            .env("IMGTOOL_OSS_ENDPOINT", &oss.url);
        c
    }

    /// `import IMAGE` against `fake`, ready for more flags.
    pub fn import_args(&self, fake: &FakeCloud) -> Vec<String> {
        self.import_args_in(fake, "bkt")
    }

    /// `import_args` naming another bucket.
    pub fn import_args_in(&self, fake: &FakeCloud, bucket: &str) -> Vec<String> {
        let mut a: Vec<String> = vec!["import".into(), self.image.display().to_string()];
        a.extend(endpoint_args(fake));
        a.extend(
            [
                "--region",
                "cn-hangzhou",
                "--bucket",
                bucket,
                "--skip-upload",
                // The blank test image has no OS: the readiness gate (issue 17) would stop
                // every import; these tests are about the cloud half.
                "--force",
            ]
            .map(String::from),
        );
        a
    }

    /// `import IMAGE` uploading to `bkt` on `oss`, then importing on `cloud`, JSON out, with
    /// `extra` flags (part size, parallelism...).
    pub fn upload_args(&self, cloud: &FakeCloud, oss: &FakeOss, extra: &[&str]) -> Vec<String> {
        // --force: these disks hold no OS, which the readiness gate (issue 17) refuses.
        let mut a: Vec<String> = vec![
            "import".into(),
            self.image.display().to_string(),
            "--force".into(),
        ];
        a.extend(endpoint_args(cloud));
        a.extend(
            [
                "--oss-endpoint",
                &oss.url,
                "--region",
                "cn-hangzhou",
                "--bucket",
                "bkt",
                "--json",
            ]
            .map(String::from),
        );
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    }
}

/// The fake OSS (service region cn-hangzhou) holding the bucket `bkt` in `region`: the
/// scenario, for tests that change more of it ...
pub fn bucket_bkt(region: &str) -> OssScenario {
    OssScenario {
        buckets: vec![("bkt".into(), region.into())],
        region: "cn-hangzhou".into(),
        ..OssScenario::default()
    }
}

/// ... and the fake started with it, on 127.0.0.1.
pub fn oss_with_bkt(region: &str) -> FakeOss {
    FakeOss::start(bucket_bkt(region))
}

pub fn endpoint_args(fake: &FakeCloud) -> Vec<String> {
    [
        "--ecs-endpoint",
        &fake.url,
        "--ram-endpoint",
        &fake.url,
        "--allow-http",
    ]
    .map(String::from)
    .to_vec()
}

pub fn run(mut c: Command, args: &[String], extra: &[&str]) -> Output {
    c.args(args).args(extra).output().expect("run imgtool")
}

/// The one JSON document on stdout.
pub fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("one JSON document ({e}):\n{}", all_output(o)))
}

/// Everything the process printed.
pub fn all_output(o: &Output) -> String {
    format!("{}{}", util::stdout(o), util::stderr(o))
}

/// Neither the secret nor the STS token may ever be printed.
pub fn assert_no_secrets(o: &Output) {
    let text = all_output(o);
    for s in [
        fake_cloud::SECRET,
        fake_cloud::CFG_SECRET,
        fake_cloud::STS_SECRET,
        fake_cloud::STS_TOKEN,
    ] {
        assert!(!text.contains(s), "secret {s:?} printed:\n{text}");
    }
}
