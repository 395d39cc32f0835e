//! The boot loader's view: which entry boots by default (grub.cfg, BLS entries, or
//! `/etc/default/grub` when neither is there), its kernel and initramfs, and whether its
//! `root=` names this disk (`root-unresolved`). With no boot entry, the default kernel is
//! the one `/vmlinuz` points at, else the newest in `/boot` or `/lib/modules`.

use super::files::{first_file, is_file, list, read_text, real_path};
use super::finding::{Finding, KernelChoice, Severity};
use super::grub::{self, BootEntry};
use super::ids::{Ids, Spec};
use crate::disk::guest::parse_key_values;
use crate::disk::guestfs::GuestFs;

const GRUB_CFGS: &[&str] = &[
    "/boot/grub/grub.cfg",
    "/boot/grub2/grub.cfg",
    "/boot/grub2-efi/grub.cfg",
];
const GRUBENVS: &[&str] = &["/boot/grub/grubenv", "/boot/grub2/grubenv"];
const BLS_DIR: &str = "/boot/loader/entries";
const DEFAULT_GRUB: &str = "/etc/default/grub";

/// What boots: the entry (if a boot loader config names one) and the kernel.
#[derive(Debug, Default)]
pub struct Boot {
    pub entry: Option<BootEntry>,
    /// The file the entry came from, and why it is the default.
    pub source: String,
    pub kernel: Option<KernelChoice>,
    /// The initramfs of the default entry, as a guest path that exists.
    pub initrd: Option<String>,
}

fn grubenv(fs: &mut dyn GuestFs) -> Vec<(String, String)> {
    GRUBENVS
        .iter()
        .find_map(|p| read_text(fs, p))
        .map(|t| grub::parse_grubenv(&t))
        .unwrap_or_default()
}

fn env_get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

/// BLS entries, the default one first: grubenv's `saved_entry`, else the newest version.
fn bls_default(fs: &mut dyn GuestFs, env: &[(String, String)]) -> Option<(BootEntry, String)> {
    let names: Vec<String> = list(fs, BLS_DIR)
        .into_iter()
        .filter(|n| n.ends_with(".conf"))
        .collect();
    let mut entries = Vec::new();
    for n in names.iter().take(256) {
        if let Some(t) = read_text(fs, &format!("{BLS_DIR}/{n}")) {
            let mut e = grub::parse_bls(&format!("{BLS_DIR}/{n}"), &t);
            if let Some(ko) = env_get(env, "kernelopts") {
                e.args = e.args.replace("$kernelopts", ko);
            }
            entries.push(e);
        }
    }
    let saved = env_get(env, "saved_entry");
    if let Some(s) = saved {
        if let Some(e) = entries.iter().find(|e| e.id.as_deref() == Some(s)) {
            return Some((e.clone(), format!("grubenv saved_entry={s}")));
        }
    }
    entries.sort_by(|a, b| {
        grub::version_cmp(
            b.kernel.as_deref().unwrap_or(""),
            a.kernel.as_deref().unwrap_or(""),
        )
    });
    let e = entries.into_iter().find(|e| e.kernel.is_some())?;
    Some((e, "the newest BLS entry".to_string()))
}

/// A path as a boot entry writes it, as a guest path: grub reads from the file system holding
/// /boot, so `/vmlinuz-x` on a separate /boot is `/boot/vmlinuz-x` here.
fn guest_path(fs: &mut dyn GuestFs, p: &str) -> Option<String> {
    let p = p.split(')').next_back().unwrap_or(p); // (hd0,1)/vmlinuz
    if !p.starts_with('/') {
        return None;
    }
    [p.to_string(), format!("/boot{p}")]
        .into_iter()
        .find(|c| is_file(fs, c))
}

/// Find the default boot entry and kernel.
pub fn find(fs: &mut dyn GuestFs) -> Boot {
    let mut boot = Boot::default();
    let env = grubenv(fs);
    let cfg = GRUB_CFGS
        .iter()
        .find_map(|p| read_text(fs, p).map(|t| (*p, grub::parse_grub_cfg(&t))));
    let mut chosen: Option<(BootEntry, String)> = None;
    if let Some((path, cfg)) = &cfg {
        if let Some((e, why)) = cfg.default_entry(env_get(&env, "saved_entry")) {
            chosen = Some((e.clone(), format!("{path}: {why}")));
        }
        if chosen.is_none() && cfg.blscfg {
            chosen = bls_default(fs, &env);
        }
    } else {
        chosen = bls_default(fs, &env);
    }
    if let Some((mut e, why)) = chosen {
        e.at =
            e.at.replacen("grub.cfg", cfg.as_ref().map_or("grub.cfg", |c| c.0), 1);
        if let Some(k) = e.kernel.as_deref() {
            let version = grub::kernel_version(k);
            if let Some(v) = version {
                boot.kernel = Some(KernelChoice {
                    version: v,
                    evidence: format!("{} ({why})", e.at),
                });
            }
        }
        boot.initrd = e.initrd.last().and_then(|p| guest_path(fs, p));
        boot.source = why;
        boot.entry = Some(e);
    }
    if boot.kernel.is_none() {
        boot.kernel = fallback_kernel(fs);
    }
    if boot.initrd.is_none() {
        if let Some(v) = boot.kernel.as_ref().map(|k| k.version.clone()) {
            boot.initrd = first_file(
                fs,
                &[
                    &format!("/boot/initrd.img-{v}"),
                    &format!("/boot/initramfs-{v}.img"),
                    &format!("/boot/initrd-{v}"),
                    &format!("/boot/initrd-{v}.img"),
                ],
            );
        }
    }
    boot
}

/// `/vmlinuz` (or `/boot/vmlinuz`) -> its target; else the newest `/boot/vmlinuz-*`; else
/// the newest `/lib/modules/*`.
fn fallback_kernel(fs: &mut dyn GuestFs) -> Option<KernelChoice> {
    for link in ["/vmlinuz", "/boot/vmlinuz"] {
        if let Some((real, _)) = real_path(fs, link) {
            if let Some(v) = grub::kernel_version(&real) {
                return Some(KernelChoice {
                    version: v,
                    evidence: format!("{link} -> {real}"),
                });
            }
        }
    }
    let newest = |names: Vec<String>| names.into_iter().max_by(|a, b| grub::version_cmp(a, b));
    let boot: Vec<String> = list(fs, "/boot")
        .into_iter()
        .filter_map(|n| grub::kernel_version(&n))
        .collect();
    if let Some(v) = newest(boot) {
        return Some(KernelChoice {
            evidence: format!(
                "the newest kernel in /boot (/boot/vmlinuz-{v}); no boot entry names one"
            ),
            version: v,
        });
    }
    let modules = list(fs, "/lib/modules");
    newest(modules).map(|v| KernelChoice {
        evidence: format!("the newest directory in /lib/modules ({v}); no kernel in /boot"),
        version: v,
    })
}

/// `root-unresolved` for the default entry's `root=` (or `/etc/default/grub`'s when there
/// is no boot entry).
pub fn check_root(fs: &mut dyn GuestFs, boot: &Boot, ids: &Ids<'_>, out: &mut Vec<Finding>) {
    let (root, at) = match &boot.entry {
        Some(e) => match grub::root_arg(&e.args) {
            Some(r) => (r.to_string(), e.at.clone()),
            None => return,
        },
        None => {
            let Some(t) = read_text(fs, DEFAULT_GRUB) else {
                return;
            };
            let kv = parse_key_values(&t);
            let found = ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"]
                .iter()
                .find_map(|k| {
                    kv.iter()
                        .filter(|(key, _)| key == k)
                        .find_map(|(_, v)| grub::root_arg(v).map(str::to_string))
                });
            match found {
                Some(r) => (r, DEFAULT_GRUB.to_string()),
                None => return,
            }
        }
    };
    let spec = Spec::parse(&root);
    let bad = match &spec {
        Spec::DeviceName(d) => Some(format!(
            "root={d} is a kernel device name, which changes on ECS (virtio disks are /dev/vda)"
        )),
        Spec::Other(_) => None,
        s => ids.find(s).is_none().then(|| {
            format!("root={root} is on no file system, partition or logical volume of this disk")
        }),
    };
    if let Some(message) = bad {
        out.push(Finding::new(
            "root-unresolved",
            Severity::Error,
            message,
            format!("{at}: root={root}"),
            "Set root=UUID=<the root file system's UUID> (GRUB_DEVICE_UUID / update-grub or grub2-mkconfig) and regenerate the boot configuration",
        ));
    }
}
