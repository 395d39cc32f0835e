//! Helpers every benchmark uses: settings from the environment, the fixed-seed generator
//! and the sparse test disk, timing a command, medians, `sync`, the load average and peak
//! memory. Each bench takes what it needs (`mod common;`), so some go unused in each.
#![allow(dead_code)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The disk's allocation unit for the sparse sources: one dynamic-VHD block.
pub const BLOCK: u64 = 2 << 20;

/// A setting from the environment (IMGTOOL_BENCH_*), or its default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*, fixed seed: the same image every run.
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Incompressible block contents: a salted multiplicative pattern.
pub fn fill_pattern(rng: &mut u64, buf: &mut [u8]) {
    let salt = next(rng);
    for (i, w) in buf.chunks_exact_mut(8).enumerate() {
        w.copy_from_slice(&(salt ^ i as u64).wrapping_mul(0x9e37_79b9).to_le_bytes());
    }
}

/// Block contents deflate shrinks to about a half: random letters from a 16-symbol alphabet.
pub fn fill_letters(rng: &mut u64, buf: &mut [u8]) {
    for w in buf.chunks_exact_mut(16) {
        let x = next(rng);
        for (i, c) in w.iter_mut().enumerate() {
            *c = b'a' + ((x >> (i * 4)) & 15) as u8;
        }
    }
}

/// A sparse RAW of `size` bytes with data in about a quarter of its 2 MiB blocks, each
/// filled by `fill`; returns the data bytes. The same file every run (fixed seed).
pub fn make_sparse(path: &Path, size: u64, fill: fn(&mut u64, &mut [u8])) -> u64 {
    let f = File::create(path).expect("create source");
    f.set_len(size).expect("set_len");
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; BLOCK as usize];
    let mut data = 0;
    for b in 0..size / BLOCK {
        if next(&mut rng) % 4 != 0 {
            continue;
        }
        fill(&mut rng, &mut buf);
        f.write_all_at(&buf, b * BLOCK).expect("write source");
        data += BLOCK;
    }
    f.sync_all().expect("sync source");
    data
}

/// Run `cmd` to success with its output discarded (stderr kept); its wall time.
pub fn time(cmd: &mut Command) -> Duration {
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
    t.elapsed()
}

/// The middle value (sorts `v`).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Write out everything dirty, so a timed run does not pay for the previous one's writes.
pub fn sync() {
    assert!(Command::new("sync").status().expect("sync").success());
}

/// The 1-minute load average: the benchmark's numbers mean little on a busy machine.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Peak resident set size of this process so far, in KiB (VmHWM).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Start the peak resident set size (VmHWM) again from the current one.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// True when cargo runs the bench for real (`cargo bench`), not as a test (`cargo test`).
pub fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A temporary folder for the bench's files, under IMGTOOL_BENCH_DIR when set.
pub fn bench_dir() -> tempfile::TempDir {
    let base = std::env::var_os("IMGTOOL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::tempdir_in(base).expect("bench dir")
}

/// A 1 TiB image of `format` made by `qemu-img create` with `options`, with 1 MiB of data
/// written by qemu-io at its start, its middle and its last GiB: the metadata is as large as
/// the format makes it for 1 TiB, the data small.
pub fn one_tib_image(path: &Path, format: &str, options: &[&str]) {
    time(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", format])
            .args(options)
            .arg(path)
            .arg("1T"),
    );
    time(
        Command::new("qemu-io")
            .args(["-f", format])
            .arg(path)
            .args([
                "-c",
                "write -P 1 0 1M",
                "-c",
                "write -P 2 512G 1M",
                "-c",
                "write -P 3 1023G 1M",
            ]),
    );
}

/// `imgtool inspect --json` against `qemu-img info --output=json` on the same file, `rounds`
/// times each, interleaved; the two medians in milliseconds.
pub fn inspect_against_qemu(path: &Path, rounds: usize) -> (f64, f64) {
    let ms = |cmd: &mut Command| time(cmd).as_secs_f64() * 1e3;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        ours.push(ms(Command::new(env!("CARGO_BIN_EXE_imgtool"))
            .args(["inspect", "--json"])
            .arg(path)));
        theirs.push(ms(Command::new("qemu-img")
            .args(["info", "--output=json"])
            .arg(path)));
    }
    (median(&mut ours), median(&mut theirs))
}
