//! `imgtool inspect --json` of a 1 TiB VHDX with 1 MiB blocks (a 8 MiB BAT) against
//! `qemu-img info`, side by side in the same run, interleaved, medians (issue 16: "inspect of a
//! 1 TiB VHDX in milliseconds"). The disk holds data at three places, written by qemu-io.
//!
//!     cargo bench --bench vhdx
//!     IMGTOOL_BENCH_ROUNDS=50 cargo bench --bench vhdx

mod common;

use common::{inspect_against_qemu, one_tib_image};

fn main() {
    let rounds: usize = std::env::var("IMGTOOL_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir_in(std::env::var("IMGTOOL_BENCH_DIR").unwrap_or("/var/tmp".into()))
        .expect("tempdir");
    let big = dir.path().join("big.vhdx");
    one_tib_image(&big, "vhdx", &["-o", "block_size=1M"]);
    let (a, b) = inspect_against_qemu(&big, rounds);
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
