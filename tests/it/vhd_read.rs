//! The virtual-disk reader: its bytes against `qemu-img convert -O raw` where qemu is a valid
//! reference (fixed and dynamic VHDs), and against bytes built independently by
//! testdata/vhdgen.py where it is not (differencing chains, 511-byte footers).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use imgtool::VirtualDisk;

use crate::util::{qemu_img, tempdir, testdata};

/// Run the spec-based generator for `names` into `dir`.
pub fn generate(dir: &Path, names: &[&str]) {
    let st = Command::new("python3")
        .arg(testdata("vhdgen.py"))
        .arg(dir)
        .args(names)
        .status()
        .expect("python3 runs testdata/vhdgen.py");
    assert!(st.success(), "vhdgen.py failed for {names:?}");
}

/// Read the whole virtual disk through imgtool in uneven chunks (so reads straddle sectors
/// and blocks) and return it.
pub fn read_all(path: &Path) -> Vec<u8> {
    let img = imgtool::image::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let size = img.size() as usize;
    let mut out = vec![0u8; size];
    let mut off = 0usize;
    let mut step = 1usize;
    while off < size {
        let n = (step * 4099 + 13).min(size - off).min(3 << 20);
        img.read_at(off as u64, &mut out[off..off + n])
            .expect("read_at");
        off += n;
        step = step * 7 % 1000 + 1;
    }
    out
}

pub(crate) fn qemu_raw(src: &Path, dir: &Path) -> Vec<u8> {
    let out = dir.join(format!(
        "{}.qemu.raw",
        src.file_name().unwrap().to_string_lossy()
    ));
    let st = qemu_img()
        .args(["convert", "-f", "vpc", "-O", "raw"])
        .arg(src)
        .arg(&out)
        .status()
        .expect("qemu-img");
    assert!(st.success(), "qemu-img convert {}", src.display());
    fs::read(out).unwrap()
}

pub(crate) fn assert_same(ours: &[u8], want: &[u8], what: &str) {
    assert_eq!(ours.len(), want.len(), "{what}: virtual size");
    if let Some(i) = ours.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: first difference at byte {i} (sector {})", i / 512);
    }
}

/// A RAW file of `size` bytes with recognisable data at a few places, some block-aligned and
/// some not, and long zero runs.
pub fn patterned_raw(path: &Path, size: u64) {
    use std::os::unix::fs::FileExt;
    let f = fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    let spots = [
        0u64,
        4096 + 17,
        3 << 20,
        (5 << 20) - 100,
        size / 2,
        size - 700,
    ];
    for (i, &at) in spots.iter().enumerate() {
        let len = (1 << 16).min(size - at) as usize;
        let buf: Vec<u8> = (0..len)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8 + 1))
            .collect();
        f.write_all_at(&buf, at).unwrap();
    }
}

/// The VHDs qemu-img makes (`-o` options), by name: each subformat, with and without
/// force_size ...
pub(crate) const QEMU_VHDS: [(&str, &str); 4] = [
    ("dyn", "subformat=dynamic"),
    ("fixed", "subformat=fixed"),
    ("dyn-force", "subformat=dynamic,force_size=on"),
    ("fixed-force", "subformat=fixed,force_size=on"),
];
/// ... of 37 MiB + 5 sectors: not CHS-representable, so force_size matters.
pub(crate) const QEMU_VHD_SIZE: u64 = (37 << 20) + 5 * 512;

pub(crate) fn qemu_vhd(dir: &Path, name: &str, size: u64, opts: &str) -> PathBuf {
    let raw = dir.join(format!("{name}.src.raw"));
    patterned_raw(&raw, size);
    let vhd = dir.join(format!("{name}.vhd"));
    let st = qemu_img()
        .args(["convert", "-f", "raw", "-O", "vpc", "-o", opts])
        .arg(&raw)
        .arg(&vhd)
        .status()
        .expect("qemu-img");
    assert!(st.success());
    vhd
}

#[test]
fn qemu_made_dynamic_and_fixed_read_like_qemu() {
    let d = tempdir();
    for (name, opts) in QEMU_VHDS {
        let vhd = qemu_vhd(d.path(), name, QEMU_VHD_SIZE, opts);
        assert_same(&read_all(&vhd), &qemu_raw(&vhd, d.path()), name);
    }
}

#[test]
fn other_creators_read_like_qemu_and_like_the_spec() {
    // qemu 10 sizes these by the current size (all but "vpc "/"qemu"), which is what the spec
    // generator's expected bytes say too: both references must agree with us.
    let d = tempdir();
    let names = ["hyperv", "vpc-chs", "d2v", "xen512k"];
    generate(d.path(), &names);
    for n in names {
        let vhd = d.path().join(format!("{n}.vhd"));
        let ours = read_all(&vhd);
        assert_same(
            &ours,
            &fs::read(d.path().join(format!("{n}.raw"))).unwrap(),
            n,
        );
        assert_same(&ours, &qemu_raw(&vhd, d.path()), n);
    }
}

#[test]
fn differencing_chains_read_as_independently_built_bytes() {
    // qemu opens differencing disks without their parent, so it is no reference here.
    let d = tempdir();
    generate(d.path(), &["chain2", "chain3", "macx"]);
    for n in ["chain2", "chain3", "macx"] {
        let ours = read_all(&d.path().join(format!("{n}.vhd")));
        assert_same(
            &ours,
            &fs::read(d.path().join(format!("{n}.raw"))).unwrap(),
            n,
        );
    }
}

#[test]
fn old_511_byte_footer_reads() {
    let d = tempdir();
    generate(d.path(), &["old511"]);
    let ours = read_all(&d.path().join("old511.vhd"));
    assert_same(
        &ours,
        &fs::read(d.path().join("old511.raw")).unwrap(),
        "old511",
    );
}

#[test]
fn extents_agree_with_data() {
    // Every range `extent` calls Zero must read as zeros, and data must be inside Data ranges.
    let d = tempdir();
    generate(d.path(), &["chain3", "xen512k"]);
    for n in ["chain3", "xen512k"] {
        let p = d.path().join(format!("{n}.vhd"));
        let img = imgtool::image::open(&p).unwrap();
        let want = fs::read(d.path().join(format!("{n}.raw"))).unwrap();
        let (mut off, mut zero_bytes) = (0u64, 0u64);
        while off < img.size() {
            let e = img.extent(off).unwrap();
            assert!(e.len > 0);
            if e.kind == imgtool::image::ExtentKind::Zero {
                let r = &want[off as usize..(off + e.len) as usize];
                assert!(
                    r.iter().all(|&b| b == 0),
                    "{n}: zero extent at {off} holds data"
                );
                zero_bytes += e.len;
            }
            off += e.len;
        }
        assert_eq!(off, img.size());
        assert!(zero_bytes > 0, "{n}: a sparse image has zero extents");
    }
}
