//! qcow2 side by side with qemu-img, in the same run:
//!
//! - `imgtool convert` of a zlib-compressed and of an uncompressed qcow2 to RAW against
//!   `qemu-img convert -O raw`, at equal durability: imgtool fsyncs its output before the
//!   rename, so qemu-img's time is that of `qemu-img convert` followed by `sync FILE` (fsync of
//!   its output). Rounds interleaved, medians and each round's ratio printed, with the load
//!   average (on a shared machine the ratio moves with the others' load). Target: at most 0.7.
//! - `imgtool inspect --json` of a 1 TiB qcow2 with data at three places: target under 10 ms.
//!
//! Run it:
//!
//!     cargo bench --bench qcow2
//!     IMGTOOL_BENCH_MIB=512 IMGTOOL_BENCH_ROUNDS=5 cargo bench --bench qcow2
//!
//! The source: a RAW of IMGTOOL_BENCH_MIB (default 1024) MiB, three quarters filled with
//! compressible pseudo-random text, one quarter holes, made a qcow2 by `qemu-img convert` (with
//! `-c` for the compressed case).

mod common;

use common::{
    env_u64, inspect_against_qemu, load_average, median, one_tib_image, sync, time as run,
};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// Words from a fixed-seed xorshift: compresses about 3:1, like a real file system's text.
fn make_source(path: &Path, mib: u64) {
    let mut f = fs::File::create(path).unwrap();
    let words = [
        "the ", "disk ", "image ", "cluster ", "qcow2 ", "kernel ", "0x7f3a ", "usr/lib ",
    ];
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = Vec::with_capacity(1 << 20);
    for m in 0..mib {
        block.clear();
        if m % 4 == 3 {
            f.write_all(&vec![0u8; 1 << 20]).unwrap();
            continue;
        }
        while block.len() < 1 << 20 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            block.extend_from_slice(words[(s % 8) as usize].as_bytes());
            if s % 5 == 0 {
                block.extend_from_slice(&s.to_le_bytes()[..3]);
            }
        }
        block.truncate(1 << 20);
        f.write_all(&block).unwrap();
    }
}

fn main() {
    let mib = env_u64("IMGTOOL_BENCH_MIB", 1024);
    let rounds = env_u64("IMGTOOL_BENCH_ROUNDS", 3).max(1);
    let dir = tempfile::tempdir_in(std::env::var("IMGTOOL_BENCH_DIR").unwrap_or("/var/tmp".into()))
        .expect("tempdir");
    let d = dir.path();
    let raw = d.join("src.raw");
    let q = d.join("src.qcow2");
    make_source(&raw, mib);
    let imgtool = env!("CARGO_BIN_EXE_imgtool");
    let load_before = load_average();
    for (name, compressed) in [("zlib-compressed", true), ("uncompressed", false)] {
        let mut args = vec!["convert", "-f", "raw", "-O", "qcow2"];
        if compressed {
            args.insert(1, "-c");
        }
        let _ = fs::remove_file(&q);
        run(Command::new("qemu-img").args(&args).arg(&raw).arg(&q));
        // Page cache warm for both: read the source once.
        let _ = fs::read(&q);
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        // Interleaved, so a change in the machine's load falls on both alike.
        for _ in 0..rounds {
            let out = d.join("ours.raw");
            let _ = fs::remove_file(&out);
            sync();
            ours.push(
                run(Command::new(imgtool)
                    .args(["convert", "--quiet", "--to", "raw"])
                    .arg(&q)
                    .arg(&out))
                .as_secs_f64(),
            );
            let out2 = d.join("qemu.raw");
            let _ = fs::remove_file(&out2);
            sync();
            let t = run(Command::new("qemu-img")
                .args(["convert", "-f", "qcow2", "-O", "raw"])
                .arg(&q)
                .arg(&out2))
                + run(Command::new("sync").arg(&out2));
            theirs.push(t.as_secs_f64());
            assert_eq!(
                fs::read(&out).unwrap(),
                fs::read(&out2).unwrap(),
                "same bytes"
            );
            let _ = fs::remove_file(&out);
            let _ = fs::remove_file(&out2);
        }
        let ratios: Vec<String> = ours
            .iter()
            .zip(&theirs)
            .map(|(o, t)| format!("{:.2}", o / t))
            .collect();
        let (o, t) = (median(&mut ours), median(&mut theirs));
        println!(
            "convert of a {mib} MiB {name} qcow2 ({} bytes) to RAW, both outputs synced, interleaved, median of {rounds}:",
            fs::metadata(&q).unwrap().len()
        );
        println!("  imgtool convert            : {:>8.3} s", o);
        println!("  qemu-img convert + sync    : {:>8.3} s", t);
        println!(
            "  ratio imgtool/qemu-img     : {:.2} (target at most 0.70); per round: {}",
            o / t,
            ratios.join(" ")
        );
    }
    fs::remove_file(&raw).unwrap();
    println!(
        "load average (1 min) before: {load_before}, after: {} on {} cores",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let big = d.join("big.qcow2");
    one_tib_image(&big, "qcow2", &[]);
    let (a, b) = inspect_against_qemu(&big, 20);
    println!("inspect of a 1 TiB qcow2 (20 runs each, median):");
    println!("  imgtool inspect --json     : {a:>8.2} ms (target under 10 ms)");
    println!("  qemu-img info              : {b:>8.2} ms");
    println!("  ratio imgtool/qemu-img     : {:.2}", a / b);
}
