//! LVM2 (testdata/make-guest-fixtures-2.sh): pvcreate/vgcreate/lvcreate made the PV; the LV
//! root has two segments (PV extents 0-1 and 3-4), so the Rocky root inside it is found only
//! if the segments are mapped in order. Values below are what `lvs --segments` printed.

use imgtool::disk::DiskReport;
use imgtool::disk::guest::Machine;

use crate::disk_util::fixture_tests;

const MIB: u64 = 1 << 20;

fn check_lvm(r: &DiskReport) {
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let pv = r.volumes[0].fs.as_ref().expect("a PV");
    assert_eq!(pv.kind.name(), "lvm2_pv");
    assert_eq!(r.lvm.len(), 1);
    let vg = &r.lvm[0];
    assert_eq!(vg.name, "vgroot");
    assert_eq!(vg.extent_size, 4 * MIB);
    assert_eq!(vg.pvs.len(), 1);
    assert_eq!(vg.pvs[0].id, "Abcdef0123456789abcdef0123456789");
    assert_eq!(vg.pvs[0].disk_start, Some(MIB));
    assert_eq!(vg.pvs[0].pe_start, MIB);
    let root = vg.lvs.iter().find(|l| l.name == "root").expect("LV root");
    assert_eq!(root.size, 16 * MIB);
    assert_eq!(root.segments.len(), 2);
    assert_eq!(root.segments[1].start_extent, 2);
    assert_eq!(root.segments[1].pv, Some(("pv0".to_string(), 3)));
    assert!(root.unsupported.is_none());
    let fs = root.fs.as_ref().expect("ext4 in root");
    assert_eq!(
        (fs.kind.name(), fs.label.as_deref()),
        ("ext4", Some("lvroot"))
    );
    let swap = vg.lvs.iter().find(|l| l.name == "swap").expect("LV swap");
    assert_eq!((swap.size, swap.fs.as_ref()), (4 * MIB, None));
    let os = r.os.as_ref().expect("an OS");
    assert_eq!(os.lv.as_deref(), Some("vgroot/root"));
    assert_eq!(os.id.as_deref(), Some("rocky"));
    assert_eq!(os.arch.as_ref().map(|a| a.arch), Some(Machine::X86_64));
    assert_eq!(r.import.platform.value.as_deref(), Some("Rocky Linux"));
    assert!(r.import.os_type.because.contains("vgroot/root"));
    let j = r.to_json();
    assert_eq!(j["lvm"]["volume_groups"][0]["lvs"][0]["supported"], true);
    assert_eq!(j["guest"]["os"]["lv"], "vgroot/root");
    assert!(
        r.render_text()
            .contains("lv root  size 16777216  segments 2  linear  fs ext4")
    );
}

fixture_tests!(lvm_linear_lvs_raw, lvm_linear_lvs_vhd, "lvm", check_lvm);

/// A damaged metadata area header (its magic at PV byte 4096 + 4) is a warning naming it;
/// the PV is still listed, no VG is invented.
#[test]
fn lvm_bad_metadata_area_is_a_warning() {
    use std::io::{Seek, SeekFrom, Write};
    let u = crate::disk_util::unpack("lvm");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&u.raw)
        .unwrap();
    f.seek(SeekFrom::Start(MIB + 4096 + 4)).unwrap();
    f.write_all(b"XXXX").unwrap();
    drop(f);
    let img = imgtool::image::open(&u.raw).expect("open");
    let r = imgtool::plan::inspect_disk(&img);
    assert!(r.lvm.is_empty());
    assert!(r.os.is_none());
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("LVM2 PV") && w.contains("magic")),
        "{:?}",
        r.warnings
    );
}
