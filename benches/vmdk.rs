//! `imgtool convert` of a streamOptimized VMDK to RAW against `qemu-img convert`, side by side
//! in the same run, at equal durability: imgtool fsyncs its output, so qemu-img is timed
//! followed by `sync OUT`. Page cache warm (the VMDK is read once first).
//!
//!     cargo bench --bench vmdk                            # 4 GiB disk, 3 rounds
//!     IMGTOOL_BENCH_GIB=1 IMGTOOL_BENCH_ROUNDS=1 cargo bench --bench vmdk
//!
//! The disk: a sparse RAW with non-zero, compressible-but-not-trivial data in about a quarter of
//! its 2 MiB blocks (fixed-seed generator), made into a streamOptimized VMDK by qemu-img.

mod common;

use common::{bench_dir, benching, env_u64, fill_letters, make_sparse, median, sync, time};
use std::fs;
use std::process::Command;

fn main() {
    if !benching() {
        return;
    }
    let gib = env_u64("IMGTOOL_BENCH_GIB", 4);
    let rounds = env_u64("IMGTOOL_BENCH_ROUNDS", 3).max(1);
    let dir = bench_dir();
    let d = dir.path();
    let (raw, vmdk) = (d.join("src.raw"), d.join("disk.vmdk"));
    let data = make_sparse(&raw, gib << 30, fill_letters);
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
