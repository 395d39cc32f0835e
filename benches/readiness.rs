//! Readiness speed (issue 17 point 4): `inspect_disk` of a 40 GiB sparse guest (the prepared
//! Debian guest of tests/it/readiness_guest.rs, built with mkfs.ext4 -d) whose virtio and NVMe
//! drivers are modules found only in an xz-compressed initramfs of realistic size: about
//! 64 MiB of newc cpio (module-sized entries under usr/lib/modules/<v>/kernel/, sorted as
//! initramfs-tools writes them), compressed about 3:1 by liblzma (xz, CRC32 check, as
//! mkinitramfs calls it). Prints the median wall time (target: under 1 s) and the bytes read.
//!
//!     cargo bench --bench readiness

#[path = "../tests/it/newc.rs"]
mod newc;
#[path = "../tests/it/readiness_guest.rs"]
mod readiness_guest;

use std::io::Write;
use std::time::Instant;

use readiness_guest::{self as g, DiskOpts, KVER};

const RUNS: usize = 5;
const CPIO_BYTES: usize = 64 << 20;

/// Module-like contents: a third random bytes, the rest repeated runs (compresses ~3:1).
fn module(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x % 3 == 0 {
            v.extend_from_slice(&x.to_le_bytes());
        } else {
            v.extend_from_slice(&[(x >> 8) as u8; 16]);
        }
    }
    v.truncate(len);
    v
}

fn initramfs() -> (Vec<u8>, usize) {
    let k = format!("usr/lib/modules/{KVER}/kernel");
    let dirs = [
        "arch/x86/crypto",
        "crypto",
        "drivers/ata",
        "drivers/block",
        "drivers/char",
        "drivers/gpu/drm",
        "drivers/hid",
        "drivers/input",
        "drivers/md",
        "drivers/message/fusion",
        "drivers/mmc/host",
        "drivers/net",
        "drivers/nvme/host",
        "drivers/scsi",
        "drivers/usb/host",
        "drivers/usb/storage",
        "fs/btrfs",
        "fs/ext4",
        "fs/xfs",
        "lib",
    ];
    let mut names: Vec<String> = Vec::new();
    for d in dirs {
        for i in 0..90 {
            names.push(format!("{k}/{d}/mod{i:03}.ko"));
        }
    }
    names.push(format!("{k}/drivers/block/virtio_blk.ko"));
    names.push(format!("{k}/drivers/net/virtio_net.ko"));
    names.push(format!("{k}/drivers/nvme/host/nvme.ko"));
    names.sort();
    let per = CPIO_BYTES / names.len();
    let mut cpio = Vec::with_capacity(CPIO_BYTES + (1 << 20));
    newc::entry_with(&mut cpio, newc::MAGIC, 1, 0o40755, ".", &[]);
    newc::entry_with(&mut cpio, newc::MAGIC, 2, 0o100755, "init", b"#!/bin/sh\n");
    for (ino, (i, n)) in (3..).zip(names.iter().enumerate()) {
        let data = module(i as u64 * 7919 + 1, per);
        newc::entry_with(&mut cpio, newc::MAGIC, ino, newc::FILE, n, &data);
    }
    newc::trailer(&mut cpio);
    let raw = cpio.len();
    let stream = liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc32)
        .expect("xz encoder");
    let mut enc = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    enc.write_all(&cpio).expect("xz");
    (enc.finish().expect("xz"), raw)
}

fn main() {
    if !g::have_mkfs() {
        println!("skipped: mkfs.ext4 (e2fsprogs) is not installed");
        return;
    }
    let t = Instant::now();
    let (xz, raw) = initramfs();
    let mut tree = g::prepared();
    tree.file(
        &format!("/usr/lib/modules/{KVER}/modules.builtin"),
        "kernel/drivers/virtio/virtio.ko\n",
    );
    tree.file(&format!("/boot/initrd.img-{KVER}"), &xz);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = DiskOpts {
        fs_size: "128M".into(),
        ..DiskOpts::default()
    };
    let path = g::build(dir.path(), "bench", &tree, &opts);
    println!(
        "built in {:?}: initramfs {} MiB of cpio, {} MiB as xz; disk {} GiB sparse",
        t.elapsed(),
        raw >> 20,
        xz.len() >> 20,
        opts.size >> 30
    );
    let img = imgtool::image::open(&path).expect("open the bench image");
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        last = Some(imgtool::plan::inspect_disk(&img));
        times.push(t.elapsed());
    }
    times.sort();
    let r = last.take().expect("a run");
    let codes: Vec<&str> = r.readiness.findings.iter().map(|f| f.code).collect();
    println!(
        "readiness inspect, 40 GiB guest, xz initramfs: median {:?}, min {:?} over {RUNS} runs; {} bytes read; verdict {} {:?}",
        times[RUNS / 2],
        times[0],
        r.bytes_read,
        r.readiness.verdict(),
        codes
    );
    // The same guest with the drivers built in: the initramfs is not read at all.
    tree.file(
        &format!("/usr/lib/modules/{KVER}/modules.builtin"),
        "kernel/drivers/block/virtio_blk.ko\nkernel/drivers/net/virtio_net.ko\nkernel/drivers/nvme/host/nvme.ko\n",
    );
    let path = g::build(dir.path(), "builtin", &tree, &opts);
    let img = imgtool::image::open(&path).expect("open the bench image");
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        last = Some(imgtool::plan::inspect_disk(&img));
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "same guest, drivers built in (no initramfs scan): median {:?}, min {:?}; {} bytes read; load average {}",
        times[RUNS / 2],
        times[0],
        last.map_or(0, |r| r.bytes_read),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
