//! Initramfs scan speed (issue 17 point 4: the readiness report, initramfs included, must stay
//! under 1 s). Builds a Debian-size initramfs at bench time: an uncompressed early-microcode
//! archive, then a main newc archive of about 40 MiB (2,000 "modules" of semi-compressible
//! pseudo-random data, as ELF modules compress about 3:1), compressed by the command-line
//! tools (`xz --check=crc32`, as mkinitramfs does, and `zstd`), with virtio_blk, virtio_net
//! and nvme placed last. Prints the scan time when the wanted modules are found early, found
//! last, and not there (the whole file read), next to `xz -dc | cpio -t` (or `zstd -dc`) on
//! the same file as the reference.
//!
//!     cargo bench --bench initramfs

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imgtool::disk::initramfs::{Limits, scan_modules};

#[path = "../tests/it/newc.rs"]
mod newc;
use newc::{entry, trailer};

const MODULES: usize = 2000;
const MODULE_BYTES: usize = 20 << 10;
const RUNS: usize = 3;
const LIMITS: Limits = Limits {
    max_input: 512 << 20,
    max_output: 1 << 30,
};

/// About 1/3 random bytes, 2/3 words from a small vocabulary: compresses roughly 3:1 like code.
fn module(n: usize, x: &mut u64) -> Vec<u8> {
    const WORDS: [&[u8]; 8] = [
        b"\x48\x89\xe5",
        b"\x41\x57\x41\x56",
        b"virtio",
        b"\x00\x00\x00\x00",
        b"__ksymtab_",
        b"\xe8\x00\x00\x00\x00",
        b"module_init",
        b"\xc3\x90\x90",
    ];
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        if *x % 3 == 0 {
            out.extend_from_slice(&x.to_le_bytes());
        } else {
            out.extend_from_slice(WORDS[(*x >> 8) as usize % WORDS.len()]);
        }
    }
    out.truncate(n);
    out
}

fn main_archive() -> Vec<u8> {
    let mut out = Vec::with_capacity(MODULES * (MODULE_BYTES + 256));
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let k = "usr/lib/modules/6.1.0-30-cloud-amd64/kernel/drivers";
    entry(&mut out, "init", b"#!/bin/sh\n");
    for i in 0..MODULES {
        entry(
            &mut out,
            &format!("{k}/misc/mod{i:04}.ko"),
            &module(MODULE_BYTES, &mut x),
        );
    }
    for name in [
        "block/virtio_blk.ko",
        "net/virtio_net.ko",
        "nvme/host/nvme.ko",
    ] {
        entry(
            &mut out,
            &format!("{k}/{name}"),
            &module(MODULE_BYTES, &mut x),
        );
    }
    trailer(&mut out);
    out
}

fn microcode() -> Vec<u8> {
    let mut out = Vec::new();
    let mut x = 7;
    entry(
        &mut out,
        "kernel/x86/microcode/GenuineIntel.bin",
        &module(100_000, &mut x),
    );
    trailer(&mut out);
    out
}

fn compress(tool: &[&str], data: &[u8], to: &Path) {
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(File::create(to).expect("output"))
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", tool[0]));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write");
    assert!(child.wait().expect("wait").success(), "{tool:?}");
}

fn best<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], last.expect("one run"))
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = main_archive();
    println!(
        "main archive: {} files, {:.1} MiB of cpio",
        MODULES + 4,
        main.len() as f64 / (1 << 20) as f64
    );
    let cases: [(&str, &[&str], &str); 2] = [
        ("xz", &["xz", "--check=crc32", "-6", "-T2"], "xz"),
        ("zstd", &["zstd", "-q", "-3", "-T0"], "zstd"),
    ];
    for (name, tool, dec) in cases {
        let packed = dir.path().join(format!("main.{name}"));
        compress(tool, &main, &packed);
        let mut file = microcode();
        file.extend(std::fs::read(&packed).expect("read"));
        let path = dir.path().join(format!("initrd.img.{name}"));
        std::fs::write(&path, &file).expect("write");
        println!(
            "{name}: initrd {:.1} MiB ({})",
            file.len() as f64 / (1 << 20) as f64,
            tool.join(" ")
        );
        let wanted: [(&str, &[&str]); 3] = [
            ("found early", &["mod0001", "mod0002"]),
            ("found last ", &["virtio_blk", "virtio_net", "nvme"]),
            ("not found  ", &["xen_blkfront"]),
        ];
        for (label, want) in wanted {
            let (t, s) = best(|| {
                scan_modules(&mut File::open(&path).expect("open"), want, LIMITS).expect("scan")
            });
            println!(
                "  {label}: {t:>10.3?}  ({} found, {:.1} MiB decompressed, complete: {})",
                s.found.len(),
                s.decompressed as f64 / (1 << 20) as f64,
                s.complete
            );
        }
        // The reference: the tools on the main archive alone (cpio -t on the microcode prefix
        // would stop at its trailer).
        for (label, tail) in [("| cpio -t", "| cpio -t --quiet"), ("alone", "")] {
            let shell = format!("{dec} -dc {} {tail} > /dev/null", packed.display());
            let (t, ok) = best(|| {
                Command::new("sh")
                    .args(["-c", &shell])
                    .status()
                    .map(|s| s.success())
            });
            match ok {
                Ok(true) => println!("  reference  : {t:>10.3?}  ({dec} -dc {label})"),
                _ => println!("  reference  : not run ({dec} or cpio missing)"),
            }
        }
    }
}
