//! The streamed dynamic VHD (`convert::VhdStream`) against `qemu-img convert -O vpc -o
//! subformat=dynamic` of the same image, in the same run, page cache warm.
//!
//!     cargo bench --bench stream                         # 8 GiB with 2 GiB of data, 3 rounds
//!     IMGTOOL_BENCH_GIB=1 IMGTOOL_BENCH_ROUNDS=1 cargo bench --bench stream
//!
//! For each round it times, in this process:
//! - `sink`: the data map (extents and zero scan) plus generating every byte into a sink, one
//!   thread, 8 MiB at a time through `read_at` (what one upload connection does);
//! - `sink x2`: the same with two threads taking 64 MiB parts in turn (parallel parts);
//! - `file`: the stream written into a file and fsynced,
//!
//! and `qemu-img convert` into a file followed by `sync FILE` (equal durability). It prints
//! GiB/s of allocated data (the 2 GiB), the ratio file / qemu-img, the bytes of the stream per
//! byte of data, and the peak RSS of this process.
// A bench measures child processes and the file system with a few raw calls (wait4,
// getrusage, lseek, sync_file_range); the crate-wide rule against unsafe code is for src/.
#![allow(unsafe_code)]

mod common;

use common::{
    BLOCK, bench_dir, benching, env_u64, fill_pattern, make_sparse, median, peak_rss_kib, sync,
};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use imgtool::convert::{Identity, VhdStream};

const BUF: usize = 8 << 20;
const PART: u64 = 64 << 20;

/// Read the source's data once so every contender starts from a warm page cache.
fn warm(path: &Path, size: u64) {
    let f = File::open(path).expect("open");
    let mut buf = vec![0u8; BLOCK as usize];
    let mut at = 0;
    while at < size {
        f.read_exact_at(&mut buf, at).expect("read");
        at += BLOCK;
    }
}

/// The stream's bytes into a sink, `threads` threads taking parts in turn; returns the
/// seconds including the data map.
fn to_sink(img: &imgtool::image::Image, threads: u64) -> (f64, u64) {
    let t = Instant::now();
    let s = VhdStream::new(img, id()).expect("stream");
    let next_part = AtomicU64::new(0);
    let check = AtomicU64::new(0);
    std::thread::scope(|sc| {
        for _ in 0..threads {
            sc.spawn(|| {
                let mut buf = vec![0u8; BUF];
                let mut x = 0u64;
                loop {
                    let part = next_part.fetch_add(1, Ordering::Relaxed) * PART;
                    if part >= s.len() {
                        break;
                    }
                    let end = (part + PART).min(s.len());
                    let mut at = part;
                    while at < end {
                        let n = (end - at).min(BUF as u64) as usize;
                        s.read_at(at, &mut buf[..n]).expect("read_at");
                        // Touch the bytes as a consumer would (one word per page).
                        x ^= buf[..n]
                            .iter()
                            .step_by(4096)
                            .map(|&b| u64::from(b))
                            .sum::<u64>();
                        at += n as u64;
                    }
                }
                check.fetch_xor(x, Ordering::Relaxed);
            });
        }
    });
    std::hint::black_box(check.load(Ordering::Relaxed));
    (t.elapsed().as_secs_f64(), s.len())
}

/// The stream written into `out` and fsynced, starting writeback every 64 MiB as imgtool's
/// own file writer does (the disk works while we generate; the final fsync has little left).
fn to_file(img: &imgtool::image::Image, out: &Path) -> f64 {
    use std::os::fd::AsRawFd;
    let t = Instant::now();
    let s = VhdStream::new(img, id()).expect("stream");
    let mut f = File::create(out).expect("create");
    let mut buf = vec![0u8; BUF];
    let (mut at, mut kicked) = (0, 0);
    while at < s.len() {
        let n = (s.len() - at).min(BUF as u64) as usize;
        s.read_at(at, &mut buf[..n]).expect("read_at");
        f.write_all(&buf[..n]).expect("write");
        at += n as u64;
        if kick_every() > 0 && at - kicked >= kick_every() {
            // SAFETY: sync_file_range on a descriptor we own; it only starts writeback.
            unsafe {
                libc::sync_file_range(
                    f.as_raw_fd(),
                    kicked as i64,
                    (at - kicked) as i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            kicked = at;
        }
    }
    let written = t.elapsed().as_secs_f64();
    f.sync_all().expect("fsync");
    let all = t.elapsed().as_secs_f64();
    eprintln!(
        "  stream -> file: written {written:.3}s, fsync {:.3}s",
        all - written
    );
    all
}

/// Bytes between two writeback starts (`IMGTOOL_BENCH_KICK_MIB`, 0 for none; default 64 MiB).
fn kick_every() -> u64 {
    env_u64("IMGTOOL_BENCH_KICK_MIB", PART >> 20) << 20
}

/// The floor: read the source's data (2 MiB blocks with any data) into one buffer, one thread,
/// nothing else. No generator that reads the data can beat it.
fn floor(src: &Path, size: u64) -> f64 {
    let t = Instant::now();
    let f = File::open(src).expect("open");
    let mut buf = vec![0u8; BLOCK as usize];
    let mut x = 0u64;
    for (mut at, end) in data_ranges(&f, size) {
        while at < end {
            let n = (end - at).min(BLOCK) as usize;
            f.read_exact_at(&mut buf[..n], at).expect("read");
            x ^= buf[..n]
                .iter()
                .step_by(4096)
                .map(|&b| u64::from(b))
                .sum::<u64>();
            at += n as u64;
        }
    }
    std::hint::black_box(x);
    t.elapsed().as_secs_f64()
}

/// The file's data ranges (SEEK_DATA / SEEK_HOLE).
fn data_ranges(f: &File, size: u64) -> Vec<(u64, u64)> {
    use std::os::fd::AsRawFd;
    let (fd, mut off, mut v) = (f.as_raw_fd(), 0i64, Vec::new());
    while (off as u64) < size {
        // SAFETY: lseek on a descriptor we own.
        let d = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
        if d < 0 {
            break;
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        v.push((d as u64, h as u64));
        off = h;
    }
    v
}

/// Seconds to build the data map alone.
fn map_only(img: &imgtool::image::Image) -> f64 {
    let t = Instant::now();
    std::hint::black_box(VhdStream::new(img, id()).expect("stream").len());
    t.elapsed().as_secs_f64()
}

fn qemu_to_file(src: &Path, out: &Path) -> f64 {
    let t = Instant::now();
    let st = Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            "subformat=dynamic",
        ])
        .arg(src)
        .arg(out)
        .status()
        .expect("qemu-img");
    assert!(st.success());
    let written = t.elapsed().as_secs_f64();
    let st = Command::new("sync").arg(out).status().expect("sync");
    assert!(st.success());
    let all = t.elapsed().as_secs_f64();
    eprintln!(
        "  qemu-img -> file: written {written:.3}s, sync {:.3}s",
        all - written
    );
    all
}

fn id() -> Identity {
    Identity {
        unique_id: [7; 16],
        timestamp: 0x2e00_0000,
    }
}

fn main() {
    if !benching() {
        return;
    }
    let gib = env_u64("IMGTOOL_BENCH_GIB", 8);
    let rounds = env_u64("IMGTOOL_BENCH_ROUNDS", 3).max(1);
    let dir = bench_dir();
    let (raw, ours, theirs) = (
        dir.path().join("src.raw"),
        dir.path().join("ours.vhd"),
        dir.path().join("theirs.vhd"),
    );
    let size = gib << 30;
    let data = make_sparse(&raw, size, fill_pattern);
    warm(&raw, size);
    let img = imgtool::image::open(&raw).expect("open");
    let gibs = |secs: f64| data as f64 / secs / f64::from(1u32 << 30);
    let (mut s1, mut s2, mut fo, mut q) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut fl, mut mp) = (Vec::new(), Vec::new());
    let mut len = 0;
    for _ in 0..rounds {
        fl.push(floor(&raw, size));
        mp.push(map_only(&img));
        let (t, l) = to_sink(&img, 1);
        s1.push(t);
        len = l;
        s2.push(to_sink(&img, 2).0);
        let _ = fs::remove_file(&ours);
        sync();
        fo.push(to_file(&img, &ours));
        let _ = fs::remove_file(&theirs);
        sync();
        q.push(qemu_to_file(&raw, &theirs));
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (fo_best, q_best) = (best(&fo), best(&q));
    let (fl, mp) = (median(&mut fl), median(&mut mp));
    let (s1, s2, fo, q) = (
        median(&mut s1),
        median(&mut s2),
        median(&mut fo),
        median(&mut q),
    );
    println!(
        "image: {gib} GiB virtual, {} MiB of data; {rounds} rounds, medians; {} threads available",
        data >> 20,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "stream -> sink:   {s1:.3}s = {:.2} GiB/s of data (two threads, parallel parts: {s2:.3}s = {:.2} GiB/s)",
        gibs(s1),
        gibs(s2)
    );
    println!(
        "floor (read the data once, one thread): {fl:.3}s = {:.2} GiB/s; stream / floor = {:.2}; data map alone {mp:.3}s",
        gibs(fl),
        s1 / fl
    );
    println!(
        "stream -> file + fsync {fo:.3}s vs qemu-img convert + sync {q:.3}s = {:.2} (best {fo_best:.3}s vs {q_best:.3}s = {:.2})",
        fo / q,
        fo_best / q_best
    );
    let qlen = fs::metadata(&theirs).map(|m| m.len()).unwrap_or(0);
    println!(
        "bytes: stream {len} = {:.5} per byte of data (qemu-img's file {qlen}); peak RSS {:.1} MiB",
        len as f64 / data as f64,
        peak_rss_kib() as f64 / 1024.0
    );
}
