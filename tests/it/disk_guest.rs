//! Guest inspection on the committed fixtures (testdata/make-guest-fixtures.sh made them from
//! real Debian packages; the expected values below are the parameters that script passed to
//! sgdisk, sfdisk and mkfs). Every fixture is checked as RAW and, once the VHD reader lands,
//! as the same disk converted by `qemu-img convert -O vpc`: the facts are the disk's, not
//! the container's.

use imgtool::disk::DiskReport;
use imgtool::disk::guest::Machine;
use imgtool::disk::partition::TableKind;

use crate::disk_util::{fixture_tests, inspect_raw};

const MIB: u64 = 1 << 20;

fn value(f: &imgtool::disk::Fact) -> Option<&str> {
    f.value.as_deref()
}

fn assert_debian(r: &DiskReport, partition: Option<u32>, arch: &str) {
    let os = r.os.as_ref().expect("an OS");
    assert_eq!(os.partition, partition);
    assert_eq!(os.id.as_deref(), Some("debian"));
    assert_eq!(os.version_id.as_deref(), Some("12"));
    assert_eq!(
        os.pretty_name.as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
    // Debian's /etc/os-release is a relative symlink to ../usr/lib/os-release.
    assert_eq!(os.release_file.as_deref(), Some("/etc/os-release"));
    let a = os.arch.as_ref().expect("an architecture");
    assert_eq!(a.arch.to_string(), arch);
    // /bin is a symlink to usr/bin in the guest: resolved inside the guest, not on the host.
    assert_eq!(a.evidence, "ELF header of /bin/bash (-> /usr/bin/bash)");
    assert_eq!(value(&r.import.architecture), Some(arch));
    assert_eq!(value(&r.import.os_type), Some("linux"));
    assert_eq!(value(&r.import.platform), Some("Debian"));
}

fn check_uefi_x86_64(r: &DiskReport) {
    assert_eq!(r.virtual_size, 16 * MIB);
    assert_eq!(r.table.kind, TableKind::Gpt);
    assert_eq!(r.table.gpt_header, Some("primary"));
    assert!(r.table.protective_mbr && !r.table.hybrid_mbr);
    assert_eq!(
        r.table.disk_id.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    let p = &r.table.partitions;
    assert_eq!(p.len(), 2);
    assert_eq!((p[0].start, p[0].size), (MIB, 2 * MIB));
    assert_eq!(p[0].type_code, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    assert_eq!(p[0].name.as_deref(), Some("EFI system partition"));
    assert_eq!(
        p[0].guid.as_deref(),
        Some("AAAAAAAA-0000-0000-0000-000000000001")
    );
    // sgdisk's "-n 2:3M:0" ends the partition at the last usable LBA (size - 34 sectors).
    assert_eq!((p[1].start, p[1].end()), (3 * MIB, 16 * MIB - 33 * 512));
    let fs: Vec<_> = r
        .volumes
        .iter()
        .map(|v| v.fs.as_ref().map(|f| f.kind.name()))
        .collect();
    assert_eq!(fs, [Some("fat12"), Some("ext4")]);
    let root = r.volumes[1].fs.as_ref().unwrap();
    assert_eq!(root.label.as_deref(), Some("root"));
    assert_eq!(
        root.uuid.as_deref(),
        Some("6f6b8c1e-1d2a-4c3b-9a1e-0a1b2c3d4e5f")
    );
    assert_eq!(root.size, Some(12 * MIB));
    assert!(root.features.contains(&"64bit"));
    assert_debian(r, Some(2), "x86_64");
    assert_eq!(r.efi_loaders.len(), 1);
    assert_eq!(r.efi_loaders[0].path, "/EFI/BOOT/BOOTX64.EFI");
    assert_eq!(r.efi_loaders[0].arch, Some(Machine::X86_64));
    assert_eq!(value(&r.import.boot_mode), Some("UEFI"));
    assert_eq!(r.import.min_disk_bytes, 16 * MIB);
    assert_eq!(r.import.min_disk_image_size_gib, 1);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
fixture_tests!(
    uefi_x86_64_raw,
    uefi_x86_64_vhd,
    "uefi-x86_64",
    check_uefi_x86_64
);

fn check_bios_i386(r: &DiskReport) {
    assert_eq!(r.table.kind, TableKind::Mbr);
    assert_eq!(r.table.disk_id.as_deref(), Some("0x1234abcd"));
    let p = &r.table.partitions;
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].number, p[0].type_code.as_str(), p[0].bootable),
        (1, "0x83", true)
    );
    assert_eq!((p[0].start, p[0].end()), (MIB, 8 * MIB));
    assert_debian(r, Some(1), "i386");
    assert!(r.efi_loaders.is_empty());
    assert_eq!(r.bios_boot, ["non-zero boot code in MBR bytes 0..440"]);
    assert_eq!(value(&r.import.boot_mode), Some("BIOS"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
fixture_tests!(bios_i386_raw, bios_i386_vhd, "bios-i386", check_bios_i386);

fn check_uefi_arm64(r: &DiskReport) {
    assert_eq!(r.table.kind, TableKind::Gpt);
    assert_debian(r, Some(2), "arm64");
    assert_eq!(r.efi_loaders[0].path, "/EFI/BOOT/BOOTAA64.EFI");
    assert_eq!(r.efi_loaders[0].arch, Some(Machine::Arm64));
    assert_eq!(value(&r.import.boot_mode), Some("UEFI"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
fixture_tests!(
    uefi_arm64_raw,
    uefi_arm64_vhd,
    "uefi-arm64",
    check_uefi_arm64
);

fn check_mbr_extended(r: &DiskReport) {
    let p: Vec<_> = r
        .table
        .partitions
        .iter()
        .map(|p| {
            (
                p.number,
                p.kind.as_str(),
                p.type_code.as_str(),
                p.start / 512,
                p.size / 512,
            )
        })
        .collect();
    // The sfdisk script in make-guest-fixtures.sh, in sectors.
    assert_eq!(
        p,
        [
            (1, "primary", "0x83", 2048, 4096),
            (2, "extended", "0x05", 6144, 26624),
            (5, "logical", "0x82", 8192, 4096),
            (6, "logical", "0x06", 14336, 16384),
        ]
    );
    let fs: Vec<_> = r
        .volumes
        .iter()
        .map(|v| {
            let f = v.fs.as_ref().unwrap();
            (v.partition, f.kind.name(), f.label.as_deref(), f.size)
        })
        .collect();
    assert_eq!(
        fs,
        [
            (Some(1), "ext2", Some("data"), Some(2 * MIB)),
            (Some(5), "swap", Some("swap0"), Some(2 * MIB)),
            (Some(6), "fat16", Some("SHARED"), Some(8 * MIB)),
        ]
    );
    assert_eq!(
        r.volumes[2].fs.as_ref().unwrap().uuid.as_deref(),
        Some("0BAD-F00D")
    );
    assert!(r.os.is_none());
    assert_eq!(value(&r.import.os_type), None);
    assert_eq!(value(&r.import.architecture), None);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
fixture_tests!(
    mbr_extended_raw,
    mbr_extended_vhd,
    "mbr-extended",
    check_mbr_extended
);

fn check_windows(r: &DiskReport) {
    let os = r.os.as_ref().expect("Windows found");
    assert_eq!(os.os_type.as_str(), "windows");
    let ntfs = r.volumes[0].fs.as_ref().unwrap();
    assert_eq!(ntfs.kind.name(), "ntfs");
    // mkntfs -L Windows: NTFS keeps the label in $Volume, read through the ntfs crate.
    assert_eq!(ntfs.label.as_deref(), Some("Windows"));
    assert_eq!(value(&r.import.os_type), Some("windows"));
    // cmd.exe in the fixture is a real PE32+ x86-64 (shimx64.efi from Debian's shim-signed).
    assert_eq!(value(&r.import.architecture), Some("x86_64"));
    // No version in the stub hive: the newest listed Windows Server (no generic value).
    assert_eq!(value(&r.import.platform), Some("Windows Server 2022"));
    // Neither sfdisk nor mkntfs writes MBR boot code: no boot evidence, and no guess.
    assert_eq!(value(&r.import.boot_mode), None);
}
fixture_tests!(
    windows_ntfs_raw,
    windows_ntfs_vhd,
    "windows-ntfs",
    check_windows
);

fn check_superfloppy(r: &DiskReport) {
    assert_eq!(r.table.kind, TableKind::None);
    assert_eq!(r.volumes.len(), 1);
    assert_eq!(r.volumes[0].partition, None);
    assert_eq!(
        r.volumes[0].fs.as_ref().unwrap().label.as_deref(),
        Some("floppy")
    );
    assert_debian(r, None, "x86_64");
}
fixture_tests!(
    superfloppy_raw,
    superfloppy_vhd,
    "superfloppy",
    check_superfloppy
);

fn check_gpt_4k(r: &DiskReport) {
    assert_eq!(r.table.kind, TableKind::Gpt);
    assert_eq!(r.table.sector_size, 4096);
    let p = &r.table.partitions[0];
    // First LBA 256, last LBA 2303 of 4096-byte sectors.
    assert_eq!((p.start, p.size), (MIB, 8 * MIB));
    assert_eq!(p.name.as_deref(), Some("root"));
    assert_debian(r, Some(1), "x86_64");
}
fixture_tests!(gpt_4k_raw, gpt_4k_vhd, "gpt-4k", check_gpt_4k);

fn check_symlink_loop(r: &DiskReport) {
    let os = r.os.as_ref().expect("a Linux root");
    // /etc/os-release -> /etc/os-release loops; /usr/lib/os-release is 1 GiB (sparse).
    assert_eq!(os.id.as_deref(), Some("hugeos"));
    assert_eq!(os.release_file.as_deref(), Some("/usr/lib/os-release"));
    assert!(os.arch.is_none());
    assert_eq!(value(&r.import.architecture), None);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("/bin/bash: more than 40 symlinks")),
        "{:?}",
        r.warnings
    );
    // The 1 GiB file was read only up to the text cap.
    assert!(r.bytes_read < 2 * MIB, "read {} bytes", r.bytes_read);
}
fixture_tests!(
    symlink_loop_raw,
    symlink_loop_vhd,
    "symlink-loop",
    check_symlink_loop
);

#[test]
fn json_has_the_documented_shape() {
    let j = inspect_raw("uefi-x86_64").to_json();
    assert_eq!(j["partition_table"]["type"], "gpt");
    assert_eq!(
        j["partition_table"]["partitions"][0]["type_name"],
        "EFI System"
    );
    assert_eq!(j["file_systems"][1]["type"], "ext4");
    assert_eq!(j["guest"]["os"]["id"], "debian");
    assert_eq!(j["import"]["architecture"]["value"], "x86_64");
    assert!(j["import"]["architecture"]["evidence"].is_string());
    assert_eq!(j["import"]["format"]["value"], serde_json::Value::Null);
    assert!(j["import"]["format"]["reason"].is_string());
    assert_eq!(j["import"]["min_disk_image_size_gib"], 1);
    assert!(j["bytes_read"].as_u64().unwrap() > 0);
}

#[test]
fn text_report_names_the_import_values() {
    let mut r = inspect_raw("bios-i386");
    r.set_format("RAW", "raw image");
    let t = r.render_text();
    assert!(t.contains("partition table:      mbr"), "{t}");
    for want in [
        "Format            RAW",
        "Architecture      i386",
        "Platform          Debian",
        "BootMode          BIOS",
        "DiskImageSize     1 GiB",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}");
    }
}
