//! Helpers to run the built binary in a temporary directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The imgtool binary cargo built for these tests.
pub fn imgtool() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imgtool"));
    // Tests never reach a real cloud: no credentials or config from the environment leak in.
    for (k, _) in std::env::vars() {
        if k.starts_with("ALIBABA_CLOUD_")
            || k.starts_with("ALIBABACLOUD_")
            || k.starts_with("ALICLOUD_")
            || k.starts_with("IMGTOOL_")
        {
            c.env_remove(k);
        }
    }
    c.env("NO_COLOR", "1");
    c
}

/// Run imgtool with `args`, returning its output.
pub fn run(args: &[&str]) -> Output {
    imgtool().args(args).output().expect("run imgtool")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The committed fixtures folder.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// True when `qemu-img` is on PATH (it is on every machine of this project; tests that use it
/// as a reference fail loudly rather than skip when it is missing, so CI cannot pass silently).
pub fn qemu_img() -> Command {
    Command::new("qemu-img")
}

/// `qemu-img ARGS`, which must succeed.
pub fn qemu_img_ok(args: &[&str]) {
    let o = qemu_img().args(args).output().expect("qemu-img");
    assert!(o.status.success(), "qemu-img {args:?}: {}", stderr(&o));
}

/// `len` pseudo-random bytes (xorshift) that differ with `seed`: hard to compress, and a
/// part sent twice, in the wrong place or from another file shows.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// xorshift64*: a fixed-seed generator, so a failing seed can be rerun.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
