//! The disk report as text, `key: value` aligned like `qemu-img info`; every string from the
//! disk is escaped.

use super::{DiskReport, Fact, ImportFacts, os_place, where_is};
use crate::disk::Volume;
use crate::disk::lvm::VolumeGroup;
use crate::disk::partition::PartitionTable;
use crate::text::{escape, human};

/// `Some(s)` escaped for a terminal, or `-`.
fn opt(s: Option<&str>) -> String {
    s.map_or("-".into(), escape)
}

impl DiskReport {
    /// A human-readable report, `key: value` aligned like `qemu-img info`; every string from
    /// the disk is escaped.
    pub fn render_text(&self) -> String {
        let mut s = format!(
            "{:<22}{} ({} bytes)\n",
            "virtual size:",
            human(self.virtual_size),
            self.virtual_size
        );
        s.push_str(&self.render_body());
        if !self.warnings.is_empty() {
            s.push_str("warnings:\n");
            for w in &self.warnings {
                s.push_str(&format!("    {}\n", escape(w)));
            }
        }
        s.push_str(&format!("{:<22}{}\n", "bytes read:", self.bytes_read));
        s
    }

    /// The partition table, file systems, guest and import sections, for a caller that prints
    /// the size and the warnings itself (`imgtool inspect`).
    pub fn render_body(&self) -> String {
        let mut s = format!("{:<22}{}\n", "partition table:", table_summary(&self.table));
        s.push_str(&partitions_text(&self.table));
        s.push_str(&volumes_text(&self.volumes));
        s.push_str(&lvm_text(&self.lvm));
        s.push_str(&guest_text(self));
        s.push_str(&import_text(&self.import));
        s.push_str(&self.readiness.render());
        s
    }
}

fn table_summary(t: &PartitionTable) -> String {
    let mut s = format!("{} ({}-byte sectors", t.kind.as_str(), t.sector_size);
    if let Some(h) = t.gpt_header {
        s.push_str(&format!(", {h} header"));
    }
    if t.hybrid_mbr {
        s.push_str(", hybrid MBR");
    }
    if let Some(id) = &t.disk_id {
        s.push_str(&format!(", disk id {}", escape(id)));
    }
    s + ")"
}

fn partitions_text(t: &PartitionTable) -> String {
    if t.partitions.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "partitions:\n    {:>3} {:>12} {:>12} {:>12}  {:<10} {}\n",
        "#", "start", "end", "size", "kind", "type"
    );
    for p in &t.partitions {
        let mut ty = format!("{} {}", p.type_code, p.type_name);
        if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
            ty.push_str(&format!(" \"{}\"", escape(n)));
        }
        if p.bootable {
            ty.push_str(" (boot)");
        }
        s.push_str(&format!(
            "    {:>3} {:>12} {:>12} {:>12}  {:<10} {ty}\n",
            p.number,
            p.start,
            p.end(),
            p.size,
            p.kind.as_str()
        ));
    }
    s
}

fn volumes_text(vs: &[Volume]) -> String {
    let mut s = String::from("file systems:\n");
    for v in vs {
        let place = v.partition.map_or("disk".into(), |n| n.to_string());
        let desc = match &v.fs {
            None => "(none recognised)".to_string(),
            Some(f) => format!(
                "{} label {} uuid {} block {} size {}{}",
                f.kind,
                opt(f.label.as_deref()),
                opt(f.uuid.as_deref()),
                f.block_size.map_or("-".into(), |b| b.to_string()),
                f.size.map_or("-".into(), |b| b.to_string()),
                if f.features.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", f.features.join(","))
                }
            ),
        };
        s.push_str(&format!("    {place:>4}  {desc}\n"));
    }
    s
}

/// One line per VG and per LV; nothing when there is no LVM.
fn lvm_text(vgs: &[VolumeGroup]) -> String {
    let mut s = String::new();
    for vg in vgs {
        s.push_str(&format!(
            "lvm vg: {} uuid {} extent {} pvs {}\n",
            escape(&vg.name),
            escape(&vg.uuid),
            vg.extent_size,
            vg.pvs.len()
        ));
        for lv in &vg.lvs {
            let fs = lv.fs.as_ref().map_or("-".to_string(), |f| {
                format!("{} label {}", f.kind, opt(f.label.as_deref()))
            });
            let state = lv.unsupported.as_deref().map_or("linear".to_string(), |r| {
                format!("unsupported: {}", escape(r))
            });
            s.push_str(&format!(
                "    lv {}  size {}  segments {}  {state}  fs {fs}\n",
                escape(&lv.name),
                lv.size,
                lv.segments.len()
            ));
        }
    }
    s
}

fn guest_text(r: &DiskReport) -> String {
    let mut s = String::from("guest:\n");
    match &r.os {
        Some(o) => {
            s.push_str(&format!(
                "    os: {} {} {} ({}) on {}, from {}\n",
                o.os_type,
                opt(o.id.as_deref()),
                opt(o.version_id.as_deref()),
                opt(o.pretty_name.as_deref()),
                os_place(o),
                opt(o.release_file.as_deref())
            ));
            match &o.arch {
                Some(a) => s.push_str(&format!("    arch: {} ({})\n", a.arch, escape(&a.evidence))),
                None => s.push_str(&format!(
                    "    arch: unknown ({})\n",
                    opt(o.arch_reason.as_deref())
                )),
            }
        }
        None => s.push_str("    os: none found\n"),
    }
    for l in &r.efi_loaders {
        s.push_str(&format!(
            "    efi loader: {} on {} ({})\n",
            escape(&l.path),
            where_is(l.partition),
            opt(l.arch.map(|m| m.to_string()).as_deref())
        ));
    }
    for b in &r.bios_boot {
        s.push_str(&format!("    bios boot: {b}\n"));
    }
    s
}

fn import_text(i: &ImportFacts) -> String {
    let mut s = String::from("import:\n");
    let mut fact = |k: &str, f: &Fact| {
        let v = f.value.as_deref().map_or("unknown".to_string(), escape);
        s.push_str(&format!("    {k:<18}{v:<13} ({})\n", escape(&f.because)));
    };
    fact("Format", &i.format);
    fact("Architecture", &i.architecture);
    fact("OSType", &i.os_type);
    fact("Platform", &i.platform);
    fact("BootMode", &i.boot_mode);
    s.push_str(&format!(
        "    {:<18}{:<14}({} bytes: {})\n",
        "DiskImageSize",
        format!("{} GiB", i.min_disk_image_size_gib),
        i.min_disk_bytes,
        i.min_disk_evidence
    ));
    s
}
