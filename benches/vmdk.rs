//! `imgtool convert` of a streamOptimized VMDK to RAW against `qemu-img convert`, side by side
//! in the same run, at equal durability: imgtool fsyncs its output, so qemu-img is timed
//! followed by `sync OUT`. Page cache warm (the VMDK is read once first).
//!
//!     cargo bench --bench vmdk                            # 4 GiB disk, 3 rounds
//!     IMGTOOL_BENCH_GIB=1 IMGTOOL_BENCH_ROUNDS=1 cargo bench --bench vmdk
//!
//! The disk: a sparse RAW with non-zero, compressible-but-not-trivial data in about a quarter of
//! its 2 MiB blocks (fixed-seed generator), made into a streamOptimized VMDK by qemu-img.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BLOCK: u64 = 2 << 20;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Data that deflate shrinks to about a half: random bytes from a 16-symbol alphabet.
fn make_source(path: &Path, size: u64) -> u64 {
    let f = File::create(path).expect("create source");
    f.set_len(size).expect("set_len");
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; BLOCK as usize];
    let mut data = 0;
    for b in 0..size / BLOCK {
        if next(&mut rng) % 4 != 0 {
            continue;
        }
        for w in buf.chunks_exact_mut(16) {
            let x = next(&mut rng);
            for (i, c) in w.iter_mut().enumerate() {
                *c = b'a' + ((x >> (i * 4)) & 15) as u8;
            }
        }
        f.write_all_at(&buf, b * BLOCK).expect("write source");
        data += BLOCK;
    }
    data
}

fn time(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
    t.elapsed()
}

fn sync() {
    assert!(Command::new("sync").status().expect("sync").success());
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let gib = env_u64("IMGTOOL_BENCH_GIB", 4);
    let rounds = env_u64("IMGTOOL_BENCH_ROUNDS", 3).max(1);
    let base = std::env::var_os("IMGTOOL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::tempdir_in(base).expect("bench dir");
    let d = dir.path();
    let (raw, vmdk) = (d.join("src.raw"), d.join("disk.vmdk"));
    let data = make_source(&raw, gib << 30);
    let st = Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
        ])
        .arg(&raw)
        .arg(&vmdk)
        .status()
        .expect("qemu-img");
    assert!(st.success());
    fs::remove_file(&raw).ok();
    let _ = fs::read(&vmdk).expect("warm the VMDK");
    let vlen = fs::metadata(&vmdk).unwrap().len();
    let (ours_out, theirs_out) = (d.join("ours.raw"), d.join("theirs.raw"));
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for k in 0..2 {
            sync();
            if (k + round) % 2 == 0 {
                fs::remove_file(&ours_out).ok();
                let t = time(
                    Command::new(env!("CARGO_BIN_EXE_imgtool"))
                        .args(["convert", "--quiet"])
                        .arg(&vmdk)
                        .arg(&ours_out),
                );
                ours.push(t.as_secs_f64());
            } else {
                fs::remove_file(&theirs_out).ok();
                let t = time(
                    Command::new("qemu-img")
                        .args(["convert", "-f", "vmdk", "-O", "raw"])
                        .arg(&vmdk)
                        .arg(&theirs_out),
                ) + time(Command::new("sync").arg(&theirs_out));
                theirs.push(t.as_secs_f64());
            }
        }
    }
    let same = fs::read(&ours_out).ok() == fs::read(&theirs_out).ok();
    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!(
        "streamOptimized VMDK -> RAW, {gib} GiB disk, {} MiB of data, {} MiB VMDK, median of {rounds}: \
         imgtool {o:.3}s vs qemu-img+sync {t:.3}s = {:.2}{}",
        data >> 20,
        vlen >> 20,
        o / t,
        if same { "" } else { "  OUTPUTS DIFFER" }
    );
}
