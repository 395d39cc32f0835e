//! Helpers for the guest-inspection tests: unpack a committed fixture, convert it to VHD.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

use imgtool::disk::DiskReport;
use imgtool::plan::inspect_disk;

/// `fixture_tests!(name_raw, name_vhd, "fixture", check)` makes two tests: `check` on the
/// fixture inspected as RAW ([`inspect_raw`]) and as a dynamic VHD ([`inspect_vhd`]).
macro_rules! fixture_tests {
    ($raw:ident, $vhd:ident, $fixture:literal, $check:ident) => {
        #[test]
        fn $raw() {
            $check(&$crate::disk_util::inspect_raw($fixture));
        }
        #[test]
        fn $vhd() {
            $check(&$crate::disk_util::inspect_vhd($fixture));
        }
    };
}
pub(crate) use fixture_tests;

/// A fixture unpacked into its own temp dir (kept alive by the returned guard).
pub struct Unpacked {
    pub dir: tempfile::TempDir,
    pub raw: PathBuf,
}

/// Gunzip `testdata/guest/<name>.img.gz` into a temp dir.
pub fn unpack(name: &str) -> Unpacked {
    let gz = crate::util::testdata(&format!("guest/{name}.img.gz"));
    let file = std::fs::File::open(&gz).unwrap_or_else(|e| panic!("{}: {e}", gz.display()));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .expect("gunzip fixture");
    let dir = crate::util::tempdir();
    let raw = dir.path().join(format!("{name}.img"));
    std::fs::write(&raw, bytes).expect("write fixture");
    Unpacked { dir, raw }
}

/// Inspect a fixture as RAW.
pub fn inspect_raw(name: &str) -> DiskReport {
    let u = unpack(name);
    let img = imgtool::image::open(&u.raw).expect("open raw");
    inspect_disk(&img)
}

/// Inspect a fixture after `qemu-img convert -O vpc` (dynamic VHD): the facts must not
/// depend on the container format. Needs the VHD reader in `imgtool::image::open`.
pub fn inspect_vhd(name: &str) -> DiskReport {
    let u = unpack(name);
    let vhd = u.dir.path().join(format!("{name}.vhd"));
    let out = crate::util::qemu_img()
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            "subformat=dynamic,force_size=on",
        ])
        .arg(&u.raw)
        .arg(&vhd)
        .output()
        .expect("run qemu-img");
    assert!(
        out.status.success(),
        "qemu-img: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = imgtool::image::open(&vhd).expect("open vhd");
    inspect_disk(&img)
}
