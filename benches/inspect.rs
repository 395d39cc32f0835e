//! `imgtool inspect` against `qemu-img info` on a 2040 GiB sparse dynamic VHD (the largest
//! qemu-img makes), in the same run: wall time of each, their ratio, and peak memory. Then the
//! same on a 1 TiB dynamic VHDX, with qemu-img's default block size and with 1 MiB blocks (the
//! largest BAT: 1 Mi entries, 8 MiB).
//!
//!     cargo bench --bench inspect
//!
//! IMGTOOL_BENCH_RUNS sets the runs per tool (default 20).
// A bench measures child processes and the file system with a few raw calls (wait4,
// getrusage, lseek, statfs); the crate-wide rule against unsafe code is for src/.
#![allow(unsafe_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let runs: u32 = std::env::var("IMGTOOL_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let vhd = dir.path().join("big.vhd");
    let ok = Command::new("qemu-img")
        .args(["create", "-q", "-f", "vpc", "-o", "subformat=dynamic"])
        .arg(&vhd)
        .arg("2040G")
        .status()
        .expect("qemu-img");
    assert!(ok.success());
    let imgtool = env!("CARGO_BIN_EXE_imgtool");
    let ours = time(runs, imgtool, &["inspect", "--json"], &vhd);
    let ours_rss = peak_child_rss_kib();
    let qemu = time(runs, "qemu-img", &["info", "--output=json"], &vhd);
    let all_rss = peak_child_rss_kib();
    println!(
        "inspect of a 2040 GiB dynamic VHD ({} runs each, median wall time)",
        runs
    );
    println!(
        "  imgtool inspect --json : {:>8.2} ms  peak RSS {:>6} KiB",
        ms(ours),
        ours_rss
    );
    println!(
        "  qemu-img info          : {:>8.2} ms  peak RSS {:>6} KiB{}",
        ms(qemu),
        all_rss,
        if all_rss == ours_rss {
            " (at most; imgtool's was higher)"
        } else {
            ""
        }
    );
    println!(
        "  ratio imgtool/qemu-img : {:.2} (below 1 is faster)",
        ms(ours) / ms(qemu)
    );
    println!(
        "  imgtool peak memory    : {:.1} MiB (target < 32 MiB)",
        ours_rss as f64 / 1024.0
    );
    for (label, opts) in [
        ("default block size", "subformat=dynamic"),
        ("1 MiB blocks", "subformat=dynamic,block_size=1M"),
    ] {
        let vhdx = dir.path().join("big.vhdx");
        let _ = std::fs::remove_file(&vhdx);
        let ok = Command::new("qemu-img")
            .args(["create", "-q", "-f", "vhdx", "-o", opts])
            .arg(&vhdx)
            .arg("1T")
            .status()
            .expect("qemu-img");
        assert!(ok.success());
        let ours = time(runs, imgtool, &["inspect", "--json"], &vhdx);
        let qemu = time(runs, "qemu-img", &["info", "--output=json"], &vhdx);
        println!("inspect of a 1 TiB dynamic VHDX, {label} ({runs} runs each, median wall time)");
        println!("  imgtool inspect --json : {:>8.2} ms", ms(ours));
        println!("  qemu-img info          : {:>8.2} ms", ms(qemu));
        println!(
            "  ratio imgtool/qemu-img : {:.2} (below 1 is faster)",
            ms(ours) / ms(qemu)
        );
    }
}

fn time(runs: u32, prog: &str, args: &[&str], file: &Path) -> Duration {
    let mut v: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            let o = Command::new(prog)
                .args(args)
                .arg(file)
                .output()
                .expect("run");
            assert!(
                o.status.success(),
                "{prog}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The largest peak RSS of any child waited for so far (Linux reports KiB).
fn peak_child_rss_kib() -> i64 {
    // SAFETY: getrusage writes into the struct we pass and nothing else.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru.ru_maxrss
    }
}
