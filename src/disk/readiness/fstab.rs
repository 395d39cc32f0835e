//! `/etc/fstab`: file systems mounted by kernel device name (`fstab-device-name`) or by an id
//! that is on no file system or partition of this disk (`fstab-unresolved`). Entries with
//! `nofail` or `noauto` do not stop a boot and are not reported.

use super::finding::{Finding, Severity};
use super::ids::{Ids, Place, Spec};

pub const FSTAB: &str = "/etc/fstab";
/// Lines read from fstab at most.
const MAX_LINES: usize = 4096;

/// One fstab line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub spec: String,
    pub mount_point: String,
    pub fs_type: String,
    pub options: String,
}

impl Entry {
    fn has_option(&self, o: &str) -> bool {
        self.options.split(',').any(|x| x == o)
    }
    /// Whether a missing device stops the boot.
    pub fn required(&self) -> bool {
        !self.has_option("nofail") && !self.has_option("noauto")
    }
}

/// The entries of an fstab: comments and blank lines skipped, fields split on blanks, the
/// octal escapes of fstab(5) (`\040`) left as they are.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines()
        .take(MAX_LINES)
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let mut f = l.split_whitespace();
            let spec = f.next()?.to_string();
            let mount_point = f.next()?.to_string();
            Some(Entry {
                line: i + 1,
                spec,
                mount_point,
                fs_type: f.next().unwrap_or("auto").to_string(),
                options: f.next().unwrap_or("defaults").to_string(),
            })
        })
        .collect()
}

/// Types that are not on a block device of this disk.
fn virtual_fs(t: &str) -> bool {
    matches!(
        t,
        "proc"
            | "sysfs"
            | "tmpfs"
            | "devpts"
            | "devtmpfs"
            | "cgroup"
            | "cgroup2"
            | "securityfs"
            | "debugfs"
            | "efivarfs"
            | "nfs"
            | "nfs4"
            | "cifs"
            | "smb3"
            | "9p"
            | "fuse"
            | "hugetlbfs"
            | "mqueue"
            | "binfmt_misc"
            | "bpf"
            | "tracefs"
            | "configfs"
            | "none"
            | "overlay"
            | "ramfs"
            | "autofs"
            | "virtiofs"
    )
}

/// The findings for `entries` (read from [`FSTAB`]).
pub fn check(entries: &[Entry], ids: &Ids<'_>, out: &mut Vec<Finding>) {
    for e in entries {
        if !e.required() || virtual_fs(&e.fs_type) || e.fs_type.starts_with("fuse.") {
            continue;
        }
        let at = format!("{FSTAB} line {}: {} {}", e.line, e.spec, e.mount_point);
        let what = if e.fs_type == "swap" {
            "swap".to_string()
        } else {
            e.mount_point.clone()
        };
        match Spec::parse(&e.spec) {
            Spec::DeviceName(dev) => out.push(Finding::new(
                "fstab-device-name",
                Severity::Error,
                format!(
                    "{what} is mounted by the kernel device name {dev}, which changes on ECS \
                     (virtio disks are /dev/vda, NVMe disks /dev/nvme0n1)"
                ),
                at,
                format!(
                    "Mount it by UUID= or LABEL= (blkid shows them), or add nofail, on line {}",
                    e.line
                ),
            )),
            Spec::Other(_) => {}
            spec => {
                if ids.find(&spec).is_none() {
                    out.push(Finding::new(
                        "fstab-unresolved",
                        Severity::Error,
                        format!(
                            "{what} is mounted by {}, which is on no file system, partition or \
                             logical volume of this disk",
                            e.spec
                        ),
                        at,
                        format!(
                            "Correct the id on line {} (blkid shows the disk's ids), or add \
                             nofail if it is on another disk",
                            e.line
                        ),
                    ));
                }
            }
        }
    }
}

/// Where the entry mounted at `mount_point` is on this disk, if it is found.
pub fn place_of(entries: &[Entry], mount_point: &str, ids: &Ids<'_>) -> Option<Place> {
    let e = entries.iter().find(|e| e.mount_point == mount_point)?;
    ids.find(&Spec::parse(&e.spec))
}
