//! `windows-no-virtio`: a Windows guest needs the virtio storage (`viostor`) and network
//! (`netkvm`) drivers as services of its current control set (SYSTEM hive), viostor starting
//! at boot.

use super::finding::{Finding, Severity};
use crate::disk::guest::WINDOWS_CONFIG;
use crate::disk::guestfs::{GuestFs, NodeKind};
use crate::disk::regf;

pub fn check(fs: &mut dyn GuestFs, out: &mut Vec<Finding>) {
    let system = format!("{WINDOWS_CONFIG}/SYSTEM");
    if fs.kind(&system) != Some(NodeKind::File) {
        out.push(Finding::new(
            "windows-no-virtio",
            Severity::Error,
            "the SYSTEM hive is missing, so the virtio drivers cannot be found",
            format!("{system}: not found"),
            "Install the virtio-win drivers (viostor, netkvm) in the guest before exporting it",
        ));
        return;
    }
    let mut hive = match regf::Hive::open(regf::GuestHive::new(fs, &system)) {
        Ok(h) => h,
        Err(e) => {
            out.push(Finding::new(
                "windows-no-virtio",
                Severity::Error,
                "the SYSTEM hive cannot be read, so the virtio drivers cannot be found",
                format!("{system}: {e}"),
                "Install the virtio-win drivers (viostor, netkvm) and shut Windows down cleanly",
            ));
            return;
        }
    };
    let current = hive
        .value("Select", "Current")
        .ok()
        .flatten()
        .and_then(|v| v.as_string())
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|n| (1..=999).contains(n))
        .unwrap_or(1);
    let set = format!("ControlSet{current:03}");
    let mut missing = Vec::new();
    for (svc, boot) in [("viostor", true), ("netkvm", false)] {
        let key = format!("{set}\\Services\\{svc}");
        let start = hive
            .value(&key, "Start")
            .ok()
            .flatten()
            .and_then(|v| v.as_string())
            .and_then(|s| s.parse::<u32>().ok());
        match start {
            None => missing.push(format!("{key} missing")),
            Some(4) => missing.push(format!("{key}\\Start = 4 (disabled)")),
            Some(s) if boot && s != 0 => missing.push(format!("{key}\\Start = {s}, not 0 (boot)")),
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        out.push(Finding::new(
            "windows-no-virtio",
            Severity::Error,
            "the virtio storage or network driver is not installed: Windows will not find its disk or network on ECS",
            format!("{system}: {}", missing.join("; ")),
            "Install the virtio-win drivers (viostor, netkvm) in the guest before exporting it",
        ));
    }
}
