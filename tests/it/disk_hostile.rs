//! Hostile disks: damaged or malicious tables and file systems must become warnings, never a
//! panic, a hang, or a large read. Most disks here are built in memory, byte by byte.

use std::io::Read;

use imgtool::disk::partition::TableKind;
use imgtool::plan::inspect_disk;
use imgtool::{Result, VirtualDisk};

use crate::disk_util::unpack;

const MIB: u64 = 1 << 20;

/// A disk held in memory.
struct Mem(Vec<u8>);

impl VirtualDisk for Mem {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).expect("small disk");
        let src = self
            .0
            .get(start..start + buf.len())
            .ok_or_else(|| imgtool::Error::Usage("read past the end".into()))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    let u = unpack(name);
    let mut v = Vec::new();
    std::fs::File::open(&u.raw)
        .unwrap()
        .read_to_end(&mut v)
        .unwrap();
    v
}

fn has(warnings: &[String], needle: &str) -> bool {
    warnings.iter().any(|w| w.contains(needle))
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// One MBR partition entry (index 0..4) at 446 + 16 * index.
fn mbr_entry(b: &mut [u8], index: usize, kind: u8, start_lba: u32, sectors: u32) {
    let at = 446 + 16 * index;
    b[at + 4] = kind; // partition type
    put_u32(b, at + 8, start_lba); // first sector (LBA), relative to the table's base
    put_u32(b, at + 12, sectors); // sector count
}

fn boot_signature(b: &mut [u8], sector_at: usize) {
    b[sector_at + 510] = 0x55;
    b[sector_at + 511] = 0xAA;
}

/// Recompute the primary GPT (512-byte sectors) header CRC after editing it.
fn fix_header_crc(b: &mut [u8]) {
    let h = 512;
    b[h + 16..h + 20].fill(0);
    let crc = crc32fast::hash(&b[h..h + 92]);
    put_u32(b, h + 16, crc);
}

#[test]
fn corrupt_primary_gpt_falls_back_to_the_backup() {
    let mut b = fixture_bytes("uefi-x86_64");
    b[512 + 16] ^= 0xFF; // header CRC32 of the primary header
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.gpt_header, Some("backup"));
    assert_eq!(r.table.partitions.len(), 2);
    assert!(
        has(&r.warnings, "primary GPT header is bad"),
        "{:?}",
        r.warnings
    );
    assert!(has(&r.warnings, "header CRC32"), "{:?}", r.warnings);
    // The guest is still found through the backup's partitions.
    assert_eq!(r.import.architecture.value.as_deref(), Some("x86_64"));
}

#[test]
fn both_gpt_headers_bad_reports_both_failures() {
    let mut b = fixture_bytes("uefi-x86_64");
    let last = b.len() - 512;
    b[512 + 16] ^= 0xFF; // primary header CRC
    b[last..last + 8].copy_from_slice(b"EFI PARX"); // backup signature
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.kind, TableKind::None);
    assert!(r.table.partitions.is_empty());
    let w = r.warnings.join("\n");
    assert!(
        w.contains("primary: offset 528") && w.contains("backup at LBA 32767"),
        "{w}"
    );
}

#[test]
fn huge_gpt_entry_count_is_refused_without_allocating() {
    let mut b = vec![0u8; MIB as usize];
    mbr_entry(&mut b, 0, 0xEE, 1, 2047); // protective MBR
    boot_signature(&mut b, 0);
    let h = 512;
    b[h..h + 8].copy_from_slice(b"EFI PART"); // signature
    put_u32(&mut b, h + 8, 0x0001_0000); // revision 1.0
    put_u32(&mut b, h + 12, 92); // header size
    put_u64(&mut b, h + 24, 1); // my LBA
    put_u64(&mut b, h + 32, 2047); // alternate LBA
    put_u64(&mut b, h + 72, 2); // entries LBA
    put_u32(&mut b, h + 80, 0x0100_0000); // 16 M entries...
    put_u32(&mut b, h + 84, 128); // ... of 128 bytes: 2 GiB
    fix_header_crc(&mut b);
    let r = inspect_disk(&Mem(b));
    assert!(r.table.partitions.is_empty());
    assert!(
        has(&r.warnings, "more than the 1048576 imgtool reads"),
        "{:?}",
        r.warnings
    );
    assert!(r.bytes_read < 64 * 1024, "read {} bytes", r.bytes_read);
}

#[test]
fn ebr_loop_stops() {
    let mut b = vec![0u8; 4 * MIB as usize];
    mbr_entry(&mut b, 0, 0x05, 2048, 4096); // extended partition
    boot_signature(&mut b, 0);
    let ebr = 2048 * 512;
    mbr_entry(&mut b[ebr..], 0, 0x83, 1, 100); // logical, relative to this EBR
    mbr_entry(&mut b[ebr..], 1, 0x05, 0, 100); // next EBR: the extended start, i.e. itself
    boot_signature(&mut b, ebr);
    let r = inspect_disk(&Mem(b));
    let numbers: Vec<u32> = r.table.partitions.iter().map(|p| p.number).collect();
    assert_eq!(numbers, [1, 5]);
    assert!(
        has(&r.warnings, "EBR chain loops back to sector 2048"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn endless_ebr_chain_is_cut() {
    let mut b = vec![0u8; 4 * MIB as usize];
    mbr_entry(&mut b, 0, 0x05, 2048, 4000);
    boot_signature(&mut b, 0);
    for i in 0..1000usize {
        let ebr = (2048 + 2 * i) * 512;
        mbr_entry(&mut b[ebr..], 0, 0x83, 1, 1);
        mbr_entry(&mut b[ebr..], 1, 0x05, 2 * (i as u32 + 1), 2); // a new EBR each time
        boot_signature(&mut b, ebr);
    }
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.partitions.len(), 1 + 128);
    assert!(has(&r.warnings, "more than 128 EBRs"), "{:?}", r.warnings);
}

#[test]
fn overlapping_and_past_end_partitions_are_warnings() {
    let mut b = vec![0u8; 4 * MIB as usize];
    mbr_entry(&mut b, 0, 0x83, 2048, 4096);
    mbr_entry(&mut b, 1, 0x83, 4000, 100); // inside partition 1
    mbr_entry(&mut b, 2, 0x83, 7000, u32::MAX); // 2 TiB on a 4 MiB disk
    boot_signature(&mut b, 0);
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.partitions.len(), 3);
    assert!(
        has(&r.warnings, "partitions 1 (bytes 1048576..3145728) and 2"),
        "{:?}",
        r.warnings
    );
    assert!(
        has(&r.warnings, "partition 3 ends at byte"),
        "{:?}",
        r.warnings
    );
    // DiskImageSize must cover the partition table's claims.
    assert_eq!(r.import.min_disk_bytes, (7000 + u64::from(u32::MAX)) * 512);
}

#[test]
fn corrupt_ext4_superblock_is_a_warning() {
    let mut b = fixture_bytes("superfloppy");
    put_u32(&mut b, 1024 + 24, 100); // s_log_block_size: 2^110-byte blocks
    let r = inspect_disk(&Mem(b));
    assert!(has(&r.warnings, "s_log_block_size 100"), "{:?}", r.warnings);
    // Refused before ext4-view sees it (fs_guard), naming the field and the expected range.
    assert!(
        has(
            &r.warnings,
            "whole disk (ext4): not opened: ext4 superblock byte 0x18 (volume byte 1048): \
             s_log_block_size is 100, expected 0..=6"
        ),
        "{:?}",
        r.warnings
    );
    assert!(r.os.is_none());
}

#[test]
fn garbage_group_descriptors_are_a_warning() {
    let mut b = fixture_bytes("superfloppy");
    b[2048..3072].fill(0xFF); // block 2 (1 KiB blocks): the group descriptor table
    let r = inspect_disk(&Mem(b));
    assert!(
        has(&r.warnings, "ext4-view cannot read it"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn gpt_name_is_escaped_in_text_but_kept_in_json() {
    let mut b = fixture_bytes("uefi-x86_64");
    let name_at = 1024 + 56; // entry 1 at LBA 2, name at +56 (UTF-16LE)
    for (i, u) in "x\u{1b}[2J\ny\0".encode_utf16().enumerate() {
        b[name_at + 2 * i..name_at + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    let crc = crc32fast::hash(&b[1024..1024 + 128 * 128]);
    put_u32(&mut b, 512 + 88, crc); // entry array CRC32
    fix_header_crc(&mut b);
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.gpt_header, Some("primary"), "{:?}", r.warnings);
    let text = r.render_text();
    assert!(!text.contains('\u{1b}'));
    assert!(text.contains("x\\u{1b}[2J\\ny"), "{text}");
    assert_eq!(
        r.to_json()["partition_table"]["partitions"][0]["name"],
        "x\u{1b}[2J\ny"
    );
}

#[test]
fn tiny_disks() {
    for size in [0usize, 1, 100, 511, 512, 513, 4095, 4096] {
        let mut b = vec![0u8; size];
        if size >= 512 {
            boot_signature(&mut b, 0);
        }
        let r = inspect_disk(&Mem(b));
        assert_eq!(r.import.min_disk_image_size_gib, u64::from(size > 0));
    }
}

/// Deterministic noise over the structures the probes and file-system crates read: no
/// panic, no hang. `IMGTOOL_NOISE_ROUNDS` raises the count for a longer local run.
#[test]
fn noise_never_panics() {
    let rounds: usize = std::env::var("IMGTOOL_NOISE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // (fixture, offsets of the structures worth damaging: tables, superblocks, metadata)
    let targets: [(&str, &[usize]); 4] = [
        ("mbr-extended", &[0, 3 << 20, 4 << 20, 7 << 20]),
        (
            "uefi-x86_64",
            &[0, 512, 1024, 1 << 20, 3 << 20, (3 << 20) + 1024],
        ),
        (
            "windows-ntfs",
            &[1 << 20, (1 << 20) + 4096, 5 << 20, 7 << 20],
        ),
        ("superfloppy", &[0, 1024, 2048, 4096, 8192]),
    ];
    for (name, regions) in targets {
        let base = fixture_bytes(name);
        for _ in 0..rounds {
            let mut b = base.clone();
            for _ in 0..32 {
                let region = regions[next() as usize % regions.len()];
                let at = (region + next() as usize % 4096) % b.len();
                b[at] = next() as u8;
            }
            let _ = inspect_disk(&Mem(b));
        }
    }
}

#[test]
fn grown_gpt_disk_is_reported() {
    let mut b = fixture_bytes("uefi-x86_64");
    b.resize(b.len() + MIB as usize, 0); // as `qemu-img resize +1M` would leave it
    let r = inspect_disk(&Mem(b));
    assert_eq!(r.table.gpt_header, Some("primary"));
    assert!(
        has(
            &r.warnings,
            "puts the backup at LBA 32767, but the last LBA is 34815"
        ),
        "{:?}",
        r.warnings
    );
    // Nothing else changes: the guest is still read.
    assert_eq!(r.import.platform.value.as_deref(), Some("Debian"));
}
