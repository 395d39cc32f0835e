//! `imgtool inspect --json` of a 1 TiB VHDX with 1 MiB blocks (a 8 MiB BAT) against
//! `qemu-img info`, side by side in the same run, interleaved, medians (issue 16: "inspect of a
//! 1 TiB VHDX in milliseconds"). The disk holds data at three places, written by qemu-io.
//!
//!     cargo bench --bench vhdx
//!     IMGTOOL_BENCH_ROUNDS=50 cargo bench --bench vhdx

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
    t.elapsed()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("IMGTOOL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir_in(std::env::var("IMGTOOL_BENCH_DIR").unwrap_or("/var/tmp".into()))
        .expect("tempdir");
    let big = dir.path().join("big.vhdx");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "vhdx", "-o", "block_size=1M"])
        .arg(&big)
        .arg("1T"));
    run(Command::new("qemu-io")
        .args(["-f", "vhdx"])
        .arg(&big)
        .args([
            "-c",
            "write -P 1 0 1M",
            "-c",
            "write -P 2 512G 1M",
            "-c",
            "write -P 3 1023G 1M",
        ]));
    let imgtool = env!("CARGO_BIN_EXE_imgtool");
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        a.push(
            run(Command::new(imgtool).args(["inspect", "--json"]).arg(&big)).as_secs_f64() * 1e3,
        );
        b.push(
            run(Command::new("qemu-img")
                .args(["info", "--output=json"])
                .arg(&big))
            .as_secs_f64()
                * 1e3,
        );
    }
    let (a, b) = (median(&mut a), median(&mut b));
    println!(
        "inspect of a 1 TiB VHDX with 1 MiB blocks ({rounds} runs each, interleaved, median):"
    );
    println!("  imgtool inspect --json     : {a:>8.2} ms");
    println!("  qemu-img info              : {b:>8.2} ms");
    println!("  ratio imgtool/qemu-img     : {:.2}", a / b);
    println!(
        "load average: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
