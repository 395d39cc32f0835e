//! `imgtool convert` against `qemu-img convert`, side by side in the same run, on the same
//! files, page cache warm: wall time (and the ratio), peak RSS of each child (wait4), and
//! `--in-place` on a large fixed VHD.
//!
//!     cargo bench --bench convert                        # 8 GiB, 5 rounds
//!     IMGTOOL_BENCH_GIB=1 IMGTOOL_BENCH_ROUNDS=1 cargo bench --bench convert
//!
//! The image: a sparse RAW with non-zero data in about a quarter of its 2 MiB blocks (chosen
//! by a fixed-seed generator), made into a dynamic and a fixed VHD by qemu-img itself.
//!
//! Each line also gives the floor for that output on this file system: one thread writing the
//! same data bytes from memory into a new file, no read, no check (`floor`). No converter that
//! writes the data can beat it; where sharing blocks is possible (XFS, Btrfs) imgtool does
//! not write them and goes below it. Times on a shared virtual machine vary by 2-3x from run
//! to run, so both the median and the best of the rounds are printed.
// A bench measures child processes and the file system with a few raw calls (wait4,
// getrusage, lseek, statfs); the crate-wide rule against unsafe code is for src/.
#![allow(unsafe_code)]

mod common;

use common::{BLOCK, bench_dir, benching, env_u64, fill_pattern, make_sparse, median, sync};
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    wall: Duration,
    /// Peak resident set, KiB.
    max_rss: u64,
}

/// Run `cmd` to completion, timing it and reading its peak RSS from wait4's rusage (the
/// child's own, not accumulated over earlier children as RUSAGE_CHILDREN would be).
#[allow(
    clippy::zombie_processes,
    reason = "the child is reaped by wait4, which std cannot see"
)]
fn measure(cmd: &mut Command) -> Run {
    let t = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: wait4 on our own child with valid out-pointers; a zeroed rusage is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let wall = t.elapsed();
    assert!(pid > 0, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed: status {status}"
    );
    Run {
        wall,
        max_rss: ru.ru_maxrss as u64,
    }
}

fn imgtool() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_imgtool"));
    c.args(["convert", "--quiet"]);
    c
}

fn qemu_img() -> Command {
    let mut c = Command::new("qemu-img");
    c.arg("convert");
    c
}

fn qemu_make(src: &Path, dst: &Path, subformat: &str) {
    let st = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "vpc", "-o"])
        .arg(format!("subformat={subformat}"))
        .arg(src)
        .arg(dst)
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img convert to {subformat}");
}

/// The file's data ranges (SEEK_DATA / SEEK_HOLE).
fn data_ranges(f: &File) -> Vec<(u64, u64)> {
    use std::os::fd::AsRawFd;
    let (fd, mut off, mut v) = (f.as_raw_fd(), 0i64, Vec::new());
    loop {
        // SAFETY: lseek on a descriptor we own.
        let d = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
        if d < 0 {
            return v;
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        v.push((d as u64, h as u64));
        off = h;
    }
}

/// Read a file's data once so both tools start from the same warm page cache. Only the data:
/// neither tool reads holes, and caching gigabytes of zero pages for them would only press
/// on memory and make both slower.
fn warm(path: &Path) {
    let f = File::open(path).expect("open");
    let mut buf = vec![0u8; 8 << 20];
    for (mut at, end) in data_ranges(&f) {
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            f.read_exact_at(&mut buf[..n], at).expect("read");
            at += n as u64;
        }
    }
}

/// The floor: write `ranges` (the source's data ranges) into a new file at `out` from one
/// in-memory buffer, one thread, no sync, as fast as the file system takes writes.
fn floor(out: &Path, ranges: &[(u64, u64)], size: u64) -> Duration {
    let buf = vec![0x5au8; BLOCK as usize];
    let t = Instant::now();
    let f = File::create(out).expect("create floor output");
    for &(mut at, end) in ranges {
        while at < end {
            let n = (end - at).min(BLOCK) as usize;
            f.write_all_at(&buf[..n], at).expect("write floor");
            at += n as u64;
        }
    }
    f.set_len(size).expect("set_len");
    drop(f);
    t.elapsed()
}

/// The file system `path` is on, by name where we know it.
fn fs_name(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path");
    // SAFETY: statfs fills a zeroed struct for a valid path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    match st.f_type as u64 {
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0xCA45_1A4E => "bcachefs".into(),
        t => format!("f_type {t:#x}"),
    }
}

fn remove(p: &Path) {
    let _ = fs::remove_file(p);
}

struct Case {
    name: &'static str,
    ours: Box<dyn Fn(&Path) -> Command>,
    theirs: Box<dyn Fn(&Path) -> Command>,
    ext: &'static str,
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(x), Ok(y)) = (imgtool::image::open(a), imgtool::image::open(b)) else {
        return false;
    };
    matches!(imgtool::convert::first_difference(&x, &y), Ok(None))
}

/// One side of a comparison: its wall times and peak RSS over the rounds.
#[derive(Default)]
struct Series {
    walls: Vec<f64>,
    max_rss: u64,
}

impl Series {
    fn push(&mut self, r: &Run, extra: Duration) {
        self.walls.push((r.wall + extra).as_secs_f64());
        self.max_rss = self.max_rss.max(r.max_rss);
    }
    fn median(&mut self) -> f64 {
        median(&mut self.walls)
    }
    fn best(&self) -> f64 {
        self.walls.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn mib(&self) -> f64 {
        self.max_rss as f64 / 1024.0
    }
}

/// imgtool fsyncs its output before renaming it into place and qemu-img does not sync at
/// all, so each is compared with its like: imgtool against qemu-img followed by `sync OUT`,
/// and `imgtool --no-sync` against plain qemu-img.
fn run_case(dir: &Path, c: &Case, rounds: u64, ranges: &[(u64, u64)], size: u64) {
    let ours_out = dir.join(format!("ours.{}", c.ext));
    let theirs_out = dir.join(format!("theirs.{}", c.ext));
    let floor_out = dir.join("floor.out");
    let [mut ours, mut ours_ns, mut theirs, mut theirs_s, mut fl]: [Series; 5] = Default::default();
    for round in 0..rounds {
        // Rotate who goes first, so nobody always inherits the others' cache state.
        for k in 0..4 {
            let who = (k + round) % 4;
            remove(match who {
                2 => &theirs_out,
                3 => &floor_out,
                _ => &ours_out,
            });
            // Start each run with nothing dirty in the page cache: otherwise the flusher
            // writes the previous run's output (or frees a deleted one) during this one.
            sync();
            match who {
                0 => ours.push(&measure(&mut (c.ours)(&ours_out)), Duration::ZERO),
                1 => ours_ns.push(
                    &measure((c.ours)(&ours_out).arg("--no-sync")),
                    Duration::ZERO,
                ),
                3 => fl.walls.push(floor(&floor_out, ranges, size).as_secs_f64()),
                _ => {
                    let r = measure(&mut (c.theirs)(&theirs_out));
                    let s = measure(Command::new("sync").arg(&theirs_out));
                    theirs.push(&r, Duration::ZERO);
                    theirs_s.push(&r, s.wall);
                }
            }
        }
    }
    let same = c.ext != "raw" || same_bytes(&ours_out, &theirs_out);
    remove(&ours_out);
    remove(&theirs_out);
    remove(&floor_out);
    let (ob, onsb, tb, tsb, fb) = (
        ours.best(),
        ours_ns.best(),
        theirs.best(),
        theirs_s.best(),
        fl.best(),
    );
    let (o, ons, t, ts, f) = (
        ours.median(),
        ours_ns.median(),
        theirs.median(),
        theirs_s.median(),
        fl.median(),
    );
    println!(
        "{:<20} no sync: imgtool {ons:>6.3}s vs qemu-img {t:>6.3}s = {:.2} (best {onsb:.3} vs {tb:.3} = {:.2}) | synced: imgtool {o:>6.3}s vs qemu-img+sync {ts:>6.3}s = {:.2} (best {:.2}) | floor {f:.3}s = {:.2} of qemu-img (best {:.2}) | peak RSS {:.1} / {:.1} MiB{}",
        c.name,
        ons / t,
        onsb / tb,
        o / ts,
        ob / tsb,
        f / t,
        fb / tb,
        ours.mib().max(ours_ns.mib()),
        theirs.mib(),
        if same { "" } else { "  OUTPUTS DIFFER" }
    );
}

fn cases(dyn_vhd: PathBuf, fixed_vhd: PathBuf, raw: PathBuf) -> Vec<Case> {
    let (d1, d2, f1, f2, r1, r2) = (
        dyn_vhd.clone(),
        dyn_vhd,
        fixed_vhd.clone(),
        fixed_vhd,
        raw.clone(),
        raw,
    );
    vec![
        Case {
            name: "dynamic VHD -> RAW",
            ours: Box::new(move |o| {
                let mut c = imgtool();
                c.arg(&d1).arg(o);
                c
            }),
            theirs: Box::new(move |o| {
                let mut c = qemu_img();
                c.args(["-f", "vpc", "-O", "raw"]).arg(&d2).arg(o);
                c
            }),
            ext: "raw",
        },
        Case {
            name: "fixed VHD -> RAW",
            ours: Box::new(move |o| {
                let mut c = imgtool();
                c.arg(&f1).arg(o);
                c
            }),
            theirs: Box::new(move |o| {
                let mut c = qemu_img();
                c.args(["-f", "vpc", "-O", "raw"]).arg(&f2).arg(o);
                c
            }),
            ext: "raw",
        },
        Case {
            name: "RAW -> dynamic VHD",
            ours: Box::new(move |o| {
                let mut c = imgtool();
                c.arg(&r1).arg(o);
                c
            }),
            theirs: Box::new(move |o| {
                let mut c = qemu_img();
                c.args(["-f", "raw", "-O", "vpc", "-o", "subformat=dynamic"])
                    .arg(&r2)
                    .arg(o);
                c
            }),
            ext: "vhd",
        },
    ]
}

fn in_place(dir: &Path, size: u64) {
    // No extension: a name that neither RAW nor fixed VHD contradicts, so both
    // directions run on the same file (a `.raw` name is refused for VHD data).
    let p = dir.join("inplace-disk");
    File::create(&p)
        .and_then(|f| f.set_len(size))
        .expect("inplace file");
    // As before every other run: nothing dirty left by the cases above, whose deleted
    // outputs would otherwise be flushed by this run's fsync (seen: 3 s on XFS).
    sync();
    let to_vhd = measure(imgtool().args(["--in-place", "--to", "vhd-fixed"]).arg(&p));
    sync();
    let to_raw = measure(imgtool().args(["--in-place", "--to", "raw"]).arg(&p));
    println!(
        "{:<20} RAW -> fixed VHD {:.4}s, fixed VHD -> RAW {:.4}s, peak {:.1} MiB",
        format!("--in-place ({} GiB)", size >> 30),
        to_vhd.wall.as_secs_f64(),
        to_raw.wall.as_secs_f64(),
        to_vhd.max_rss.max(to_raw.max_rss) as f64 / 1024.0
    );
    remove(&p);
}

fn main() {
    // `cargo test --benches` passes --bench-less arguments; run only under `cargo bench`.
    if !benching() {
        return;
    }
    let gib = env_u64("IMGTOOL_BENCH_GIB", 8);
    let rounds = env_u64("IMGTOOL_BENCH_ROUNDS", 5).max(1);
    let dir = bench_dir();
    let d = dir.path();
    let size = gib << 30;
    let (raw, dyn_vhd, fixed_vhd) = (d.join("src.raw"), d.join("dyn.vhd"), d.join("fixed.vhd"));
    let t = Instant::now();
    let data = make_sparse(&raw, size, fill_pattern);
    let ranges = data_ranges(&File::open(&raw).expect("open source"));
    qemu_make(&raw, &dyn_vhd, "dynamic");
    qemu_make(&raw, &fixed_vhd, "fixed");
    println!(
        "image: {gib} GiB virtual, {} MiB of data in 2 MiB blocks ({:.0}%), made in {:.1}s; {rounds} rounds, median and best; {} threads available; file system {}",
        data >> 20,
        data as f64 * 100.0 / size as f64,
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        fs_name(d)
    );
    for p in [&raw, &dyn_vhd, &fixed_vhd] {
        warm(p);
    }
    for c in cases(dyn_vhd, fixed_vhd, raw) {
        run_case(d, &c, rounds, &ranges, size);
    }
    in_place(d, size);
}
