//! Shared set-up for the cloud tests: an image file, a temporary HOME, and an imgtool
//! command pointed at the fake cloud with fast timings.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::fake_cloud::{self, FakeCloud};
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

    /// `import IMAGE` against `fake`, ready for more flags.
    pub fn import_args(&self, fake: &FakeCloud) -> Vec<String> {
        let mut a: Vec<String> = vec!["import".into(), self.image.display().to_string()];
        a.extend(endpoint_args(fake));
        a.extend(
            [
                "--region",
                "cn-hangzhou",
                "--bucket",
                "bkt",
                "--skip-upload",
                // The blank test image has no OS: the readiness gate (issue 17) would stop
                // every import; these tests are about the cloud half.
                "--force",
            ]
            .map(String::from),
        );
        a
    }
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
