//! What a `UUID=`, `LABEL=`, `PARTUUID=`, `PARTLABEL=` or device path may name on this disk:
//! every identifier inspection found (file systems in partitions and in LVs, partitions).

use crate::disk::Volume;
use crate::disk::lvm::VolumeGroup;
use crate::disk::partition::{PartitionTable, TableKind};

/// A block device as fstab or `root=` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Uuid(String),
    Label(String),
    PartUuid(String),
    PartLabel(String),
    /// A kernel device name: `/dev/sda1`, `/dev/vda`, `/dev/nvme0n1p1`...
    DeviceName(String),
    /// `/dev/mapper/vg-lv` or `/dev/vg/lv`.
    Lv {
        vg: String,
        lv: String,
    },
    /// Anything else (`tmpfs`, `proc`, a network share, `/dev/md0`...): not checked.
    Other(String),
}

impl Spec {
    pub fn parse(s: &str) -> Spec {
        let s = s.trim();
        let tag = |p: &str| s.strip_prefix(p).map(|v| v.trim_matches('"').to_string());
        if let Some(v) = tag("UUID=").or_else(|| tag("/dev/disk/by-uuid/")) {
            return Spec::Uuid(v);
        }
        if let Some(v) = tag("LABEL=").or_else(|| tag("/dev/disk/by-label/")) {
            return Spec::Label(v);
        }
        if let Some(v) = tag("PARTUUID=").or_else(|| tag("/dev/disk/by-partuuid/")) {
            return Spec::PartUuid(v);
        }
        if let Some(v) = tag("PARTLABEL=").or_else(|| tag("/dev/disk/by-partlabel/")) {
            return Spec::PartLabel(v);
        }
        if let Some(name) = s.strip_prefix("/dev/") {
            if is_kernel_name(name) {
                return Spec::DeviceName(s.to_string());
            }
            if let Some(m) = name.strip_prefix("mapper/") {
                if let Some((vg, lv)) = split_mapper(m) {
                    return Spec::Lv { vg, lv };
                }
            } else if let Some((vg, lv)) = name.split_once('/') {
                if !vg.is_empty() && !lv.is_empty() && !lv.contains('/') && vg != "disk" {
                    return Spec::Lv {
                        vg: vg.into(),
                        lv: lv.into(),
                    };
                }
            }
        }
        Spec::Other(s.to_string())
    }
}

/// `sd*`, `hd*`, `xvd*`, `vd*` (letters then an optional partition number), `nvme<N>n<M>`
/// (optionally `p<K>`), `mmcblk<N>` (optionally `p<K>`).
fn is_kernel_name(n: &str) -> bool {
    for p in ["sd", "hd", "xvd", "vd"] {
        if let Some(rest) = n.strip_prefix(p) {
            let letters = rest.trim_start_matches(|c: char| c.is_ascii_lowercase());
            return letters.len() < rest.len() && letters.chars().all(|c| c.is_ascii_digit());
        }
    }
    let digits_p = |r: &str| {
        let (a, b) = r.split_once('p').unwrap_or((r, "0"));
        !a.is_empty()
            && a.chars().all(|c| c.is_ascii_digit())
            && !b.is_empty()
            && b.chars().all(|c| c.is_ascii_digit())
    };
    if let Some(rest) = n.strip_prefix("nvme") {
        return rest.split_once('n').is_some_and(|(c, r)| {
            !c.is_empty() && c.chars().all(|x| x.is_ascii_digit()) && digits_p(r)
        });
    }
    n.strip_prefix("mmcblk").is_some_and(digits_p)
}

/// device-mapper names double a `-` inside the VG or LV name: `vg--a-root` is `vg-a`/`root`.
fn split_mapper(m: &str) -> Option<(String, String)> {
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-' {
            if b.get(i + 1) == Some(&b'-') {
                i += 2;
                continue;
            }
            let (vg, lv) = (&m[..i], &m[i + 1..]);
            if vg.is_empty() || lv.is_empty() {
                return None;
            }
            return Some((vg.replace("--", "-"), lv.replace("--", "-")));
        }
        i += 1;
    }
    None
}

/// Where a spec points on this disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// An index into the report's volumes.
    Volume(usize),
    /// Indexes of a VG and one of its LVs.
    Lv(usize, usize),
}

/// The identifiers inspection found.
pub struct Ids<'a> {
    pub volumes: &'a [Volume],
    pub lvm: &'a [VolumeGroup],
    pub table: &'a PartitionTable,
}

impl Ids<'_> {
    /// Where `spec` points; `None` when nothing on this disk has that id. Device names and
    /// `Other` specs are never resolved here.
    pub fn find(&self, spec: &Spec) -> Option<Place> {
        let fs_matches =
            |f: Option<&crate::disk::fs::FsInfo>,
             want: &dyn Fn(&crate::disk::fs::FsInfo) -> bool| { f.is_some_and(want) };
        let by_fs = |want: &dyn Fn(&crate::disk::fs::FsInfo) -> bool| -> Option<Place> {
            if let Some(i) = self
                .volumes
                .iter()
                .position(|v| fs_matches(v.fs.as_ref(), want))
            {
                return Some(Place::Volume(i));
            }
            for (g, vg) in self.lvm.iter().enumerate() {
                if let Some(l) = vg
                    .lvs
                    .iter()
                    .position(|lv| fs_matches(lv.fs.as_ref(), want))
                {
                    return Some(Place::Lv(g, l));
                }
            }
            None
        };
        match spec {
            Spec::Uuid(u) => {
                by_fs(&|f| f.uuid.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(u)))
            }
            Spec::Label(l) => by_fs(&|f| f.label.as_deref() == Some(l.as_str())),
            Spec::PartUuid(u) => self.by_partition(|p, n| {
                p.guid.as_deref().is_some_and(|g| g.eq_ignore_ascii_case(u))
                    || self
                        .mbr_partuuid(n)
                        .is_some_and(|m| m.eq_ignore_ascii_case(u))
            }),
            Spec::PartLabel(l) => self.by_partition(|p, _| p.name.as_deref() == Some(l.as_str())),
            Spec::Lv { vg, lv } => self.lvm.iter().enumerate().find_map(|(g, v)| {
                (v.name == *vg)
                    .then(|| {
                        v.lvs
                            .iter()
                            .position(|x| x.name == *lv)
                            .map(|l| Place::Lv(g, l))
                    })
                    .flatten()
            }),
            Spec::DeviceName(_) | Spec::Other(_) => None,
        }
    }

    fn by_partition(
        &self,
        want: impl Fn(&crate::disk::partition::Partition, u32) -> bool,
    ) -> Option<Place> {
        let p = self.table.partitions.iter().find(|p| want(p, p.number))?;
        self.volumes
            .iter()
            .position(|v| v.partition == Some(p.number))
            .map(Place::Volume)
    }

    /// An MBR partition's PARTUUID: the disk signature in hex, `-`, the number in 2 hex digits.
    fn mbr_partuuid(&self, number: u32) -> Option<String> {
        if self.table.kind != TableKind::Mbr {
            return None;
        }
        let id = self.table.disk_id.as_deref()?.trim_start_matches("0x");
        Some(format!("{id:0>8}-{number:02x}"))
    }
}
