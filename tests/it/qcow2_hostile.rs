//! Damaged qcow2 headers and tables, built from a qemu-made image by changing one field each
//! (offsets from QEMU's docs/interop/qcow2.txt): each is a clear error naming the field, exit
//! 2 from inspect, never a panic, a hang or a made-up answer.

use std::fs;
use std::path::{Path, PathBuf};

use crate::qcow2_read::image;
use crate::util::{run, stderr, tempdir};

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

fn edited(dir: &Path, name: &str, edit: &dyn Fn(&mut Vec<u8>)) -> PathBuf {
    let mut b = fs::read(image("v3.qcow2")).unwrap();
    edit(&mut b);
    let p = dir.join(format!("{name}.qcow2"));
    fs::write(&p, b).unwrap();
    p
}

#[test]
fn damaged_headers_are_errors_naming_the_field() {
    let tmp = tempdir();
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("version-1", Box::new(|b| put32(b, 4, 1)), "qcow version 1"),
        ("version-9", Box::new(|b| put32(b, 4, 9)), "qcow2 version"),
        // cluster_bits (offset 20): 30 would be 1 GiB clusters.
        (
            "cluster-bits",
            Box::new(|b| put32(b, 20, 30)),
            "cluster_bits",
        ),
        // l1_size (36): too small for the 16 MiB disk, then larger than QEMU allows.
        ("l1-small", Box::new(|b| put32(b, 36, 0)), "l1_size"),
        ("l1-huge", Box::new(|b| put32(b, 36, u32::MAX)), "l1_size"),
        // l1_table_offset (40): not cluster-aligned; past the end of the file.
        (
            "l1-unaligned",
            Box::new(|b| {
                let v = be64(b, 40);
                put64(b, 40, v + 8)
            }),
            "l1_table_offset",
        ),
        (
            "l1-past-end",
            Box::new(|b| put64(b, 40, 1 << 40)),
            "l1_table_offset",
        ),
        // refcount_table_offset (48) past the end; refcount_table_clusters (56) zero.
        (
            "rt-past-end",
            Box::new(|b| put64(b, 48, 1 << 40)),
            "refcount_table_offset",
        ),
        (
            "rt-zero",
            Box::new(|b| put32(b, 56, 0)),
            "refcount_table_clusters",
        ),
        // nb_snapshots (60) beyond QEMU's limit.
        (
            "snapshots",
            Box::new(|b| put32(b, 60, 1 << 20)),
            "nb_snapshots",
        ),
        // An unknown incompatible feature bit (72..80).
        (
            "incompat",
            Box::new(|b| put64(b, 72, 1 << 40)),
            "incompatible feature bits",
        ),
        // refcount_order (96) of 7 (128-bit refcounts).
        (
            "refcount-order",
            Box::new(|b| put32(b, 96, 7)),
            "refcount_order",
        ),
        // header_length (100) not a multiple of 8.
        (
            "header-length",
            Box::new(|b| put32(b, 100, 105)),
            "header_length",
        ),
        // compression_type (104) zstd without the incompatible bit.
        ("compression", Box::new(|b| b[104] = 1), "compression_type"),
        // A backing file name (8, 16) running past the first cluster.
        (
            "backing-name",
            Box::new(|b| {
                put64(b, 8, 65000);
                put32(b, 16, 1000)
            }),
            "backing file name",
        ),
        // An extension whose length runs past the header area (first extension at 112).
        (
            "extension",
            Box::new(|b| put32(b, 116, 1 << 20)),
            "header extension length",
        ),
    ];
    for (name, edit, field) in &cases {
        let p = edited(tmp.path(), name, edit.as_ref());
        let o = run(&["inspect", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(field),
            "{name}: expected {field:?} in {}",
            stderr(&o)
        );
        let o = run(&["check", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "check {name}: {}", stderr(&o));
    }
}

#[test]
fn damaged_tables_are_errors_naming_the_entry() {
    let tmp = tempdir();
    // The first L1 entry pointing at an unaligned L2 table.
    let p = edited(tmp.path(), "l2-unaligned", &|b| {
        let l1 = be64(b, 40) as usize;
        let v = be64(b, l1);
        put64(b, l1, v + 512);
    });
    let o = run(&[
        "convert",
        p.to_str().unwrap(),
        tmp.path().join("o.raw").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("L1 entry 0"), "{}", stderr(&o));
    // A compressed cluster that is garbage: the L2 entry of cluster 0 made compressed.
    let p = edited(tmp.path(), "bad-deflate", &|b| {
        let l2 = (be64(b, be64(b, 40) as usize) & 0x00ff_ffff_ffff_fe00) as usize;
        let host = be64(b, l2) & 0x00ff_ffff_ffff_fe00;
        // 64 KiB clusters: offset in bits 0..53, sectors - 1 in 54..61.
        put64(b, l2, (1 << 62) | (3 << 54) | host);
        let h = host as usize;
        b[h..h + 2048].fill(0xff);
    });
    let o = run(&[
        "convert",
        p.to_str().unwrap(),
        tmp.path().join("o2.raw").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("compressed cluster"), "{}", stderr(&o));
}
