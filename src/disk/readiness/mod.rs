//! Will the guest boot and be reachable on ECS? The readiness report of `inspect` (issue 17):
//! findings with stable codes (docs/json.md), decided offline from the guest's files. One
//! file per area; this file only opens the root (and a separate /boot) and runs them.

pub mod boot;
pub mod drivers;
pub mod files;
pub mod finding;
pub mod fstab;
pub mod grub;
pub mod ids;
pub mod network;
pub mod services;
pub mod system;
pub mod windows;

use crate::disk::Volume;
use crate::disk::fs::FsKind;
use crate::disk::guest::{Machine, OsFacts, with_guest_fs_budget};
use crate::disk::guestfs::GuestFs;
use crate::disk::lvm::{LvDisk, VolumeGroup};
use crate::disk::partition::PartitionTable;
use crate::disk::slice::Slice;
use crate::image::VirtualDisk;
use files::Mounted;
use finding::{Finding, Readiness, Severity};
use ids::{Ids, Place};

/// Bytes the readiness checks may read from one file system: an initramfs and the configs.
pub const READINESS_BUDGET: u64 = drivers::INITRAMFS_LIMITS.max_input + (64 << 20);

/// What inspection found that the checks need.
pub struct Inputs<'a> {
    pub disk: &'a dyn VirtualDisk,
    pub table: &'a PartitionTable,
    pub volumes: &'a [Volume],
    pub lvm: &'a [VolumeGroup],
    pub os: Option<&'a OsFacts>,
    /// The machine the import reads the guest as (its Architecture), when it takes it.
    pub arch: Option<Machine>,
    /// Why cloud-init is required rather than recommended (the import's rule, given).
    pub cloud_init_required: Option<&'a str>,
}

/// The readiness report; what could not be read goes to `warnings`.
pub fn assess(i: &Inputs<'_>, warnings: &mut Vec<String>) -> Readiness {
    let mut r = Readiness::default();
    let ids = Ids {
        volumes: i.volumes,
        lvm: i.lvm,
        table: i.table,
    };
    let Some(os) = i.os else {
        r.findings.push(no_os(i));
        return r;
    };
    let Some(root) = root_place(i, os) else {
        warnings.push("readiness: the root file system could not be found again".into());
        return r;
    };
    if os.os_type == crate::disk::guest::OsFamily::Windows {
        with_place(i, root, warnings, |fs, _| {
            windows::check(fs, &mut r.findings)
        });
        return r;
    }
    with_place(i, root, warnings, |rootfs, w| {
        let entries = files::read_text(rootfs, fstab::FSTAB)
            .map(|t| fstab::parse(&t))
            .unwrap_or_default();
        let boot = fstab::place_of(&entries, "/boot", &ids).filter(|p| *p != root);
        let mut done = false;
        if let Some(bp) = boot {
            done = with_place(i, bp, w, |bootfs, _| {
                let mut m = Mounted {
                    root: &mut *rootfs,
                    boot: Some(bootfs),
                };
                linux(&mut m, i, root, &ids, &entries, &mut r);
            })
            .is_some();
        }
        if !done {
            let mut m = Mounted {
                root: rootfs,
                boot: None,
            };
            linux(&mut m, i, root, &ids, &entries, &mut r);
        }
    });
    r
}

fn linux(
    fs: &mut dyn GuestFs,
    i: &Inputs<'_>,
    root: Place,
    ids: &Ids<'_>,
    entries: &[fstab::Entry],
    r: &mut Readiness,
) {
    let out = &mut r.findings;
    fstab::check(entries, ids, out);
    let b = boot::find(fs);
    boot::check_root(fs, &b, ids, out);
    let mut config = None;
    match &b.kernel {
        Some(k) => {
            let d = drivers::read(fs, &k.version, b.initrd.as_deref());
            drivers::check(fs, k, &d, out);
            r.nvme = Some(d.nvme);
            config = files::read_text(fs, &format!("/boot/config-{}", k.version));
        }
        None if fs.lists_dirs() => out.push(drivers::no_kernel()),
        None => out.push(drivers::kernel_undecided()),
    }
    r.kernel = b.kernel.clone();
    network::check(fs, out);
    let g = services::Guest {
        arch: i.arch,
        strict: i.cloud_init_required,
        root_fs: place_fs(i, root).map_or("", FsKind::name),
        virtual_size: i.disk.size(),
        kernel_config: config.as_deref(),
        kernel_args: b.entry.as_ref().map(|e| e.args.as_str()),
    };
    services::check(fs, &g, out);
    let s = system::Guest {
        arch: i.arch,
        strict: i.cloud_init_required.map(str::to_string),
    };
    system::check(fs, &s, out);
    out.sort_by_key(|f| f.severity);
}

fn no_os(i: &Inputs<'_>) -> Finding {
    let fs: Vec<String> = i
        .volumes
        .iter()
        .map(|v| {
            let at = v
                .partition
                .map_or("disk".into(), |n| format!("partition {n}"));
            format!(
                "{at}: {}",
                v.fs.as_ref().map_or("no file system", |f| f.kind.name())
            )
        })
        .chain(i.lvm.iter().flat_map(|vg| {
            vg.lvs.iter().map(move |lv| {
                format!(
                    "LV {}/{}: {}",
                    vg.name,
                    lv.name,
                    lv.fs.as_ref().map_or("no file system", |f| f.kind.name())
                )
            })
        }))
        .collect();
    Finding::new(
        "no-os",
        Severity::Error,
        "no operating system found on the disk: nothing to boot",
        format!(
            "{} partition table; {}; no file system holds a Linux root (/etc, /bin, /etc/fstab) or Windows/System32",
            i.table.kind.as_str(),
            if fs.is_empty() {
                "no file system".to_string()
            } else {
                fs.join(", ")
            }
        ),
        "Import the system disk (the one with the operating system), or import this one as a data disk",
    )
}

fn root_place(i: &Inputs<'_>, os: &OsFacts) -> Option<Place> {
    if let Some((vg, lv)) = os.lv.as_deref().and_then(|l| l.split_once('/')) {
        return i.lvm.iter().enumerate().find_map(|(g, v)| {
            (v.name == vg)
                .then(|| {
                    v.lvs
                        .iter()
                        .position(|x| x.name == lv)
                        .map(|l| Place::Lv(g, l))
                })
                .flatten()
        });
    }
    i.volumes
        .iter()
        .position(|v| v.partition == os.partition)
        .map(Place::Volume)
}

fn place_fs(i: &Inputs<'_>, p: Place) -> Option<FsKind> {
    let fs = match p {
        Place::Volume(v) => i.volumes.get(v).and_then(|v| v.fs.as_ref()),
        Place::Lv(g, l) => i
            .lvm
            .get(g)
            .and_then(|g| g.lvs.get(l))
            .and_then(|l| l.fs.as_ref()),
    };
    fs.map(|f| f.kind)
}

/// Open the file system at `p` and run `f` on it.
fn with_place<R>(
    i: &Inputs<'_>,
    p: Place,
    warnings: &mut Vec<String>,
    f: impl FnOnce(&mut dyn GuestFs, &mut Vec<String>) -> R,
) -> Option<R> {
    let kind = place_fs(i, p)?;
    match p {
        Place::Volume(v) => {
            let v = i.volumes.get(v)?;
            let what = format!(
                "readiness: {}",
                v.partition
                    .map_or("whole disk".into(), |n| format!("partition {n}"))
            );
            with_guest_fs_budget(
                Slice::new(i.disk, v.start, v.size),
                kind,
                &what,
                READINESS_BUDGET,
                warnings,
                f,
            )
        }
        Place::Lv(g, l) => {
            let vg = i.lvm.get(g)?;
            let lv = vg.lvs.get(l)?;
            let d = LvDisk::new(i.disk, vg, lv)?;
            let what = format!("readiness: LV {}/{}", vg.name, lv.name);
            with_guest_fs_budget(Slice::whole(&d), kind, &what, READINESS_BUDGET, warnings, f)
        }
    }
}
