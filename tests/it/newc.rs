//! A newc cpio writer (the initramfs format) for tests and benches, written from the format
//! (the kernel's usr/gen_init_cpio.c writes the same), not from imgtool's reader
//! (src/disk/initramfs/cpio.rs), so that a misreading there cannot hide here. One place for
//! the integration tests (`mod newc` in tests/it/main.rs), the benches
//! (`#[path = "../tests/it/newc.rs"]`) and the reader's unit tests
//! (`#[path = "../../../tests/it/newc.rs"]` in src/disk/initramfs/tests.rs).
//!
//! An entry: the 6-byte magic, 13 fields of 8 upper-case hex digits (ino, mode, uid, gid,
//! nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check), the
//! name with its NUL, zeros to a multiple of 4, the data, zeros to a multiple of 4. Padding is
//! counted from the start of `out`, which must be where the archive starts.
#![allow(dead_code)]

/// The plain newc magic.
pub const MAGIC: &str = "070701";
/// The "crc" variant: same layout, the check field would carry a sum of the data (0 here).
pub const MAGIC_CRC: &str = "070702";
/// A regular file, rw-r--r--.
pub const FILE: u32 = 0o100644;
/// Length of an entry's header (magic and 13 fields).
pub const HEADER_LEN: usize = 110;
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// One entry with every header field the caller cares about; uid, gid, mtime and the device
/// numbers are 0, nlink 1, check 0.
pub fn entry_with(out: &mut Vec<u8>, magic: &str, ino: u32, mode: u32, name: &str, data: &[u8]) {
    let filesize = u32::try_from(data.len()).expect("a newc entry holds less than 4 GiB");
    let namesize = u32::try_from(name.len() + 1).expect("a short name");
    let fields = [
        ino, mode, 0, // uid
        0, // gid
        1, // nlink
        0, // mtime
        filesize, 0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        namesize, 0, // check
    ];
    out.extend_from_slice(magic.as_bytes());
    for f in fields {
        out.extend_from_slice(format!("{f:08X}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

/// A regular file (inode 1, mode 0100644) with the plain magic.
pub fn entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    entry_with(out, MAGIC, 1, FILE, name, data);
}

/// The `TRAILER!!!` entry, then zeros to a 512-byte block, as `cpio -o` ends an archive.
pub fn trailer(out: &mut Vec<u8>) {
    entry(out, TRAILER, b"");
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A whole archive of regular files, with its trailer and block padding.
pub fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        entry(&mut out, name, data);
    }
    trailer(&mut out);
    out
}

fn pad4(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(4) * 4, 0);
}
