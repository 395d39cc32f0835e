//! The default kernel's drivers: `no-virtio-blk`, `no-virtio-net` (errors) and `no-nvme`
//! (info). A driver is there when it is built in (`modules.builtin`, or `=y` in
//! `/boot/config-<version>`) or, for the block drivers, in that kernel's initramfs (the root
//! disk must be readable before the root file system is mounted); virtio_net also counts as
//! its module file under `/lib/modules/<version>` (udev loads it after the switch to root).

use std::collections::BTreeSet;

use super::files::{GuestReader, read_file, real_path};
use super::finding::{Finding, KernelChoice, Severity};
use crate::disk::guestfs::GuestFs;
use crate::disk::initramfs::{Limits, scan_modules};

/// Bytes of an initramfs read at most, and bytes its archives may decompress to.
pub const INITRAMFS_LIMITS: Limits = Limits {
    max_input: 256 << 20,
    max_output: 1 << 30,
};
/// modules.builtin and /boot/config-* are read up to this size.
const MAX_LIST_FILE: usize = 4 << 20;

struct Driver {
    module: &'static str,
    config: &'static str,
    /// Where the module lives under /lib/modules/<v>/kernel/.
    dir: &'static str,
}

const VIRTIO_BLK: Driver = Driver {
    module: "virtio_blk",
    config: "CONFIG_VIRTIO_BLK",
    dir: "drivers/block",
};
const VIRTIO_NET: Driver = Driver {
    module: "virtio_net",
    config: "CONFIG_VIRTIO_NET",
    dir: "drivers/net",
};
const NVME: Driver = Driver {
    module: "nvme",
    config: "CONFIG_BLK_DEV_NVME",
    dir: "drivers/nvme/host",
};

/// What the guest says about one kernel's drivers.
#[derive(Debug, Default)]
pub struct KernelDrivers {
    /// Built-in module names (from modules.builtin), `-` written `_`.
    builtin: BTreeSet<String>,
    builtin_file: Option<String>,
    /// `CONFIG_*=y` lines.
    config_y: BTreeSet<String>,
    config_file: Option<String>,
    /// What the initramfs holds, or why it could not be read.
    initramfs: Option<Result<BTreeSet<String>, String>>,
    initramfs_path: Option<String>,
    /// Whether the NVMe driver was found (for Features.NvmeSupport).
    pub nvme: bool,
}

fn modname(s: &str) -> String {
    s.replace('-', "_")
}

fn module_files(fs: &mut dyn GuestFs, v: &str, d: &Driver) -> Option<String> {
    ["", ".xz", ".zst", ".gz"].iter().find_map(|ext| {
        let p = format!("/lib/modules/{v}/kernel/{}/{}.ko{ext}", d.dir, d.module);
        real_path(fs, &p).map(|_| p)
    })
}

/// Read what decides the drivers of kernel `v` (whose initramfs is `initrd`).
pub fn read(fs: &mut dyn GuestFs, v: &str, initrd: Option<&str>) -> KernelDrivers {
    let mut k = KernelDrivers::default();
    let builtin = format!("/lib/modules/{v}/modules.builtin");
    if let Some((b, _)) = read_file(fs, &builtin, MAX_LIST_FILE) {
        k.builtin = String::from_utf8_lossy(&b)
            .lines()
            .filter_map(|l| l.rsplit('/').next())
            .filter_map(|n| n.strip_suffix(".ko"))
            .map(modname)
            .collect();
        k.builtin_file = Some(builtin);
    }
    let config = format!("/boot/config-{v}");
    if let Some((b, _)) = read_file(fs, &config, MAX_LIST_FILE) {
        k.config_y = String::from_utf8_lossy(&b)
            .lines()
            .filter_map(|l| l.strip_suffix("=y"))
            .map(str::to_string)
            .collect();
        k.config_file = Some(config);
    }
    let need_scan = [&VIRTIO_BLK, &NVME, &VIRTIO_NET]
        .iter()
        .any(|d| !k.built_in(d));
    if let (true, Some(path)) = (need_scan, initrd) {
        if let Some((real, _)) = real_path(fs, path) {
            let mut r = GuestReader::new(fs, &real, INITRAMFS_LIMITS.max_input);
            let wanted = ["virtio_blk", "virtio_net", "nvme"];
            k.initramfs = Some(
                scan_modules(&mut r, &wanted, INITRAMFS_LIMITS)
                    .map(|s| s.found.iter().map(|n| modname(n)).collect()),
            );
            k.initramfs_path = Some(path.to_string());
        }
    }
    k.nvme = k.built_in(&NVME) || k.in_initramfs(&NVME);
    k
}

impl KernelDrivers {
    fn built_in(&self, d: &Driver) -> bool {
        self.builtin.contains(d.module) || self.config_y.contains(d.config)
    }
    fn in_initramfs(&self, d: &Driver) -> bool {
        matches!(&self.initramfs, Some(Ok(found)) if found.contains(d.module))
    }
    /// Where we looked, for the evidence.
    fn looked(&self, v: &str) -> String {
        let mut w = Vec::new();
        w.push(match &self.builtin_file {
            Some(f) => format!("not in {f}"),
            None => format!("no /lib/modules/{v}/modules.builtin"),
        });
        w.push(match &self.config_file {
            Some(f) => format!("not =y in {f}"),
            None => format!("no /boot/config-{v}"),
        });
        w.push(match (&self.initramfs, &self.initramfs_path) {
            (Some(Ok(_)), Some(p)) => format!("not in the initramfs {p}"),
            (Some(Err(e)), Some(p)) => format!("the initramfs {p} could not be read: {e}"),
            _ => format!("no initramfs found for {v}"),
        });
        w.join("; ")
    }
}

/// The driver findings for kernel `kernel`.
pub fn check(
    fs: &mut dyn GuestFs,
    kernel: &KernelChoice,
    k: &KernelDrivers,
    out: &mut Vec<Finding>,
) {
    let v = &kernel.version;
    let blk = k.built_in(&VIRTIO_BLK) || k.in_initramfs(&VIRTIO_BLK);
    let unreadable = matches!(k.initramfs, Some(Err(_)));
    if !blk && unreadable {
        out.push(driver_finding(
            "initramfs-unreadable",
            Severity::Warning,
            format!("kernel {v}: whether its initramfs holds virtio_blk could not be decided"),
            format!("{}; kernel chosen by {}", k.looked(v), kernel.evidence),
            "Check the initramfs (lsinitramfs or lsinitrd) for virtio_blk, or rebuild it with the distribution's tool",
        ));
    } else if !blk {
        out.push(driver_finding(
            "no-virtio-blk",
            Severity::Error,
            format!("kernel {v} has no virtio block driver at boot: ECS system disks are virtio disks"),
            format!("{}; kernel chosen by {}", k.looked(v), kernel.evidence),
            "Add virtio_blk to the initramfs (Debian/Ubuntu: echo virtio_blk >> /etc/initramfs-tools/modules; update-initramfs -u. RHEL: dracut -f --add-drivers \"virtio_blk virtio_pci\")",
        ));
    }
    let net_module = module_files(fs, v, &VIRTIO_NET);
    if !(k.built_in(&VIRTIO_NET) || k.in_initramfs(&VIRTIO_NET) || net_module.is_some()) {
        out.push(driver_finding(
            "no-virtio-net",
            Severity::Error,
            format!("kernel {v} has no virtio network driver: the instance would have no network"),
            format!(
                "{}; no /lib/modules/{v}/kernel/{}/virtio_net.ko*; kernel chosen by {}",
                k.looked(v),
                VIRTIO_NET.dir,
                kernel.evidence
            ),
            "Install a kernel with virtio_net (CONFIG_VIRTIO_NET=m or y), e.g. the distribution's generic or cloud kernel",
        ));
    }
    if !k.nvme {
        out.push(driver_finding(
            "no-nvme",
            Severity::Info,
            format!("kernel {v} has no NVMe driver at boot: the image is imported with NvmeSupport=unsupported and cannot run on NVMe-only instance types"),
            format!("{}; kernel chosen by {}", k.looked(v), kernel.evidence),
            "Add nvme to the initramfs (Debian: /etc/initramfs-tools/modules; RHEL: dracut --add-drivers nvme) to run on NVMe instance types",
        ));
    }
}

fn driver_finding(
    code: &'static str,
    severity: Severity,
    message: String,
    evidence: String,
    fix: &str,
) -> Finding {
    Finding::new(code, severity, message, evidence, fix)
}

/// `kernel-undecided`: no kernel found where this file system cannot be listed (XFS here), so
/// BLS entries, `/boot` and `/lib/modules` could not be searched: not a reason to stop.
pub fn kernel_undecided() -> Finding {
    Finding::new(
        "kernel-undecided",
        Severity::Warning,
        "the default kernel could not be identified: no boot entry or /vmlinuz names it, and this file system's directories cannot be listed here (BLS entries, /boot, /lib/modules), so the driver checks were not made",
        "/boot/grub*/grub.cfg, /vmlinuz; directory listing unsupported for this file system",
        "Check that the default kernel has virtio_blk and virtio_net (lsinitrd or lsinitramfs) before importing",
    )
}

/// `no-kernel`: a Linux root with no kernel anywhere the boot loader or the fallbacks look.
pub fn no_kernel() -> Finding {
    Finding::new(
        "no-kernel",
        Severity::Error,
        "no kernel found: no boot entry names one, no /vmlinuz, nothing in /boot or /lib/modules",
        "/boot/grub*/grub.cfg, /boot/loader/entries, /vmlinuz, /boot/vmlinuz-*, /lib/modules",
        "Install a kernel and a boot loader (e.g. linux-image-amd64 and grub-pc) before importing",
    )
}
