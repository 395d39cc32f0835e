//! Upload throughput against a plain loopback copy of the same bytes.
//!
//! Uploads a sparse image with data (2 GiB; `IMGTOOL_BENCH_GIB` to change) to the fake OSS
//! of the integration tests, started in this process on 127.0.0.1, with the same part size
//! and parallelism `imgtool import` uses by default. Then copies the same bytes over a TCP
//! socket on loopback (read file, write socket, read and discard) as the ceiling, and prints
//! both rates, their ratio, and the peak resident memory of the upload.
//!
//! The fake computes a CRC-64 of every byte it receives (slice-by-8), so the upload's ceiling
//! is also bounded by the fake; the ratio is therefore a floor for imgtool's own overhead.

#[path = "../tests/it/fake_oss.rs"]
mod fake_oss;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use imgtool::cloud::credentials::{Credentials, Secret};
use imgtool::cloud::oss::{Endpoint, Oss, OssSigning};
use imgtool::cloud::rpc::RetryPolicy;
use imgtool::cloud::upload::{self, FileSource, Source};

const MIB: u64 = 1 << 20;

fn main() {
    let gib: f64 = std::env::var("IMGTOOL_BENCH_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let size = (gib * (1u64 << 30) as f64) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.raw");
    make_image(&path, size);

    let (secs, parts, parallel, part_size) = upload_once(&path);
    let peak_mib = peak_rss_kib() / 1024;
    let copy_secs = loopback_copy(&path, size);
    let rate = |s: f64| size as f64 / MIB as f64 / s;
    println!("image: {size} bytes ({gib} GiB), sparse with data every 4 MiB");
    println!(
        "upload: {secs:.2} s, {:.0} MiB/s ({parts} parts of {} MiB, {parallel} in flight)",
        rate(secs),
        part_size / MIB
    );
    println!(
        "loopback copy: {copy_secs:.2} s, {:.0} MiB/s",
        rate(copy_secs)
    );
    println!("ratio upload/copy: {:.2}", copy_secs / secs);
    println!(
        "peak RSS during upload: {peak_mib} MiB (bound: {parallel} x {} MiB part buffers + the fake)",
        part_size / MIB
    );
}

/// A sparse file with 1 MiB of data at the start of every 4 MiB.
fn make_image(path: &std::path::Path, size: u64) {
    let f = std::fs::File::create(path).expect("create");
    f.set_len(size).expect("size");
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let chunk: Vec<u8> = (0..MIB)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    let mut at = 0;
    while at < size {
        let n = chunk.len().min((size - at) as usize);
        f.write_all_at(&chunk[..n], at).expect("write");
        at += 4 * MIB;
    }
}

fn upload_once(path: &std::path::Path) -> (f64, u32, usize, u64) {
    let oss_fake = fake_oss::FakeOss::start(fake_oss::OssScenario {
        buckets: vec![("bkt".into(), "cn-hangzhou".into())],
        discard_data: true,
        ..fake_oss::OssScenario::default()
    });
    let (id, secret, _) = fake_oss::ACCOUNTS[0];
    let creds = Credentials {
        access_key_id: id.into(),
        access_key_secret: Secret::new(secret),
        security_token: None,
        region: None,
        source: "bench".into(),
        role: None,
    };
    let oss = Oss::new(
        creds,
        Endpoint::parse(&oss_fake.url),
        OssSigning::V4 {
            region: "cn-hangzhou".into(),
        },
        RetryPolicy::default(),
        Duration::from_secs(120),
    )
    .expect("client");
    let src = FileSource::open(path).expect("open");
    let opts = upload::Options {
        bucket: "bkt".into(),
        key: "bench.raw".into(),
        part_size: upload::part_size(src.len(), None).expect("part size"),
        parallel: upload::default_parallel(),
        restart: false,
        identity: "bench".into(),
        state_dir: None,
        progress: false,
    };
    let t = Instant::now();
    let out = upload::upload(&oss, &src, &opts, &mut |_| {}).expect("upload");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.size, src.len());
    (secs, out.parts, opts.parallel, opts.part_size)
}

/// Read the file in 64 MiB chunks and write it to a loopback socket whose other end reads
/// and discards: the same bytes moved with no protocol, signing or checksum.
fn loopback_copy(path: &std::path::Path, size: u64) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let f = std::fs::File::open(path).expect("open");
    let mut buf = vec![0u8; 64 * MIB as usize];
    let t = Instant::now();
    let mut sock = TcpStream::connect(addr).expect("connect");
    let mut at = 0;
    while at < size {
        let n = buf.len().min((size - at) as usize);
        f.read_exact_at(&mut buf[..n], at).expect("read");
        sock.write_all(&buf[..n]).expect("send");
        at += n as u64;
    }
    drop(sock);
    let got = sink.join().expect("sink");
    assert_eq!(got, size);
    t.elapsed().as_secs_f64()
}

/// Peak resident set size so far, in KiB (VmHWM).
fn peak_rss_kib() -> u64 {
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
