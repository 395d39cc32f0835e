//! Upload throughput and memory, the streamed dynamic VHD against RAW.
//!
//! Makes a sparse RAW image (2 GiB; `IMGTOOL_BENCH_GIB` to change) with 2 MiB of data every
//! 8 MiB, and uploads it to the fake OSS of the integration tests, started in this process on
//! 127.0.0.1 (discarding what it receives, after its CRC-64), with the part size and
//! parallelism `imgtool import` uses by default: once as `imgtool import` sends it by default
//! (the streamed compact dynamic VHD) and once as `--format raw` sends it (the file). For each
//! it prints the bytes sent per byte of data, the time, the throughput (of bytes sent and of
//! data) and the peak resident memory of the upload (VmHWM, reset before each upload). Then
//! copies the file over a TCP socket on loopback (read, write socket, read and discard) as the
//! ceiling.
//!
//! The fake computes a CRC-64 of every byte it receives, so the upload's ceiling is also
//! bounded by the fake; the ratio is therefore a floor for imgtool's own overhead.

#[path = "../tests/it/fake_oss.rs"]
mod fake_oss;

mod common;

use common::{peak_rss_kib, reset_peak_rss};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use imgtool::cloud::credentials::{Credentials, Secret};
use imgtool::cloud::oss::{Endpoint, Oss, OssSigning};
use imgtool::cloud::rpc::RetryPolicy;
use imgtool::cloud::upload::{self, FileSource, Source};
use imgtool::cloud::vhd_source::VhdSource;
use imgtool::convert::VhdStream;
use imgtool::plan::sent::identity_for;

const MIB: u64 = 1 << 20;

fn main() {
    let gib: f64 = std::env::var("IMGTOOL_BENCH_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let size = ((gib * (1u64 << 30) as f64) as u64).next_multiple_of(MIB);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.raw");
    let data = make_image(&path, size);
    println!(
        "image: {size} bytes ({gib} GiB) RAW, {} MiB of data (2 MiB every 8 MiB); load average {}",
        data / MIB,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let img = imgtool::image::open(&path).expect("open");
    let t = Instant::now();
    let stream = VhdStream::new(&img, identity_for("bench", 0)).expect("stream");
    println!(
        "stream: data map and zero scan {:.2} s, {} bytes",
        t.elapsed().as_secs_f64(),
        stream.len()
    );
    let rows: [(&str, Box<dyn Source + '_>); 2] = [
        ("vhd-stream (default)", Box::new(VhdSource(stream))),
        (
            "--format raw",
            Box::new(FileSource::open(&path).expect("open")),
        ),
    ];
    let mut raw_secs = 0.0;
    for (name, src) in &rows {
        reset_peak_rss();
        let (secs, sent, parts, parallel, part_size) = upload_once(src.as_ref());
        let peak_mib = peak_rss_kib() as f64 / 1024.0;
        let mibs = |b: u64| b as f64 / MIB as f64 / secs;
        println!(
            "{name}: sent {sent} bytes = {:.4} bytes per byte of data; {secs:.2} s; \
             {:.0} MiB/s sent, {:.0} MiB/s of data; peak RSS {peak_mib:.1} MiB \
             ({parts} parts of {} MiB, {parallel} in flight)",
            sent as f64 / data as f64,
            mibs(sent),
            mibs(data),
            part_size / MIB
        );
        raw_secs = secs;
    }
    let copy_secs = loopback_copy(&path, size);
    println!(
        "loopback copy of the file: {copy_secs:.2} s, {:.0} MiB/s; --format raw upload/copy time ratio {:.2}",
        size as f64 / MIB as f64 / copy_secs,
        raw_secs / copy_secs
    );
}

/// A sparse file with 2 MiB of data at the start of every 8 MiB; returns the data bytes.
fn make_image(path: &std::path::Path, size: u64) -> u64 {
    let f = std::fs::File::create(path).expect("create");
    f.set_len(size).expect("size");
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let chunk: Vec<u8> = (0..2 * MIB)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    let mut at = 0;
    let mut data = 0;
    while at < size {
        let n = chunk.len().min((size - at) as usize);
        f.write_all_at(&chunk[..n], at).expect("write");
        data += n as u64;
        at += 8 * MIB;
    }
    data
}

fn upload_once(src: &dyn Source) -> (f64, u64, u32, usize, u64) {
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
    let opts = upload::Options {
        bucket: "bkt".into(),
        key: "bench.raw".into(),
        part_size: upload::part_size(src.len(), None).expect("part size"),
        parallel: upload::default_parallel(),
        restart: false,
        identity: "bench".into(),
        state_dir: None,
    };
    let t = Instant::now();
    let out = upload::upload(&oss, src, &opts, &mut |_| {}).expect("upload");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(out.size, src.len());
    (
        secs,
        out.sent_bytes,
        out.parts,
        opts.parallel,
        opts.part_size,
    )
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
