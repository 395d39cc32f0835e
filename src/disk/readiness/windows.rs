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

#[cfg(test)]
// Test fixtures cast small lengths and offsets they build themselves.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A guest holding only the SYSTEM hive.
    struct Hive(HashMap<String, Vec<u8>>);
    impl GuestFs for Hive {
        fn kind(&mut self, p: &str) -> Option<NodeKind> {
            self.0.contains_key(p).then_some(NodeKind::File)
        }
        fn read_link(&mut self, _: &str) -> Option<String> {
            None
        }
        fn read_head(&mut self, p: &str, max: usize) -> Option<Vec<u8>> {
            self.0.get(p).map(|b| b[..b.len().min(max)].to_vec())
        }
    }

    /// An allocated cell holding `data` at `off` (relative to the first bin, at 4096).
    fn put(h: &mut [u8], off: usize, data: &[u8]) {
        let size = (4 + data.len()).next_multiple_of(8);
        let at = 4096 + off;
        h[at..at + 4].copy_from_slice(&(-(size as i32)).to_le_bytes());
        h[at + 4..at + 4 + data.len()].copy_from_slice(data);
    }

    /// Key node: "nk", compressed-name flag 0x20, subkey count (20) and list (28), value count
    /// (36) and list (40), name length (72), name (76).
    fn nk(name: &str, subkeys: u32, list: u32, values: u32, vlist: u32) -> Vec<u8> {
        let mut d = vec![0u8; 76 + name.len()];
        d[0..2].copy_from_slice(b"nk");
        d[2..4].copy_from_slice(&0x20u16.to_le_bytes());
        d[20..24].copy_from_slice(&subkeys.to_le_bytes());
        d[28..32].copy_from_slice(&list.to_le_bytes());
        d[36..40].copy_from_slice(&values.to_le_bytes());
        d[40..44].copy_from_slice(&vlist.to_le_bytes());
        d[72..74].copy_from_slice(&(name.len() as u16).to_le_bytes());
        d[76..].copy_from_slice(name.as_bytes());
        d
    }

    /// A REG_DWORD value stored inline: "vk", name length, size with the inline bit, data,
    /// type 4, compressed-name flag 1, name (20).
    fn dword(name: &str, v: u32) -> Vec<u8> {
        let mut d = vec![0u8; 20 + name.len()];
        d[0..2].copy_from_slice(b"vk");
        d[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
        d[4..8].copy_from_slice(&0x8000_0004u32.to_le_bytes());
        d[8..12].copy_from_slice(&v.to_le_bytes());
        d[12..16].copy_from_slice(&4u32.to_le_bytes());
        d[16..18].copy_from_slice(&1u16.to_le_bytes());
        d[20..].copy_from_slice(name.as_bytes());
        d
    }

    /// "li" subkey list: count, then cell offsets.
    fn li(cells: &[u32]) -> Vec<u8> {
        let mut d = b"li".to_vec();
        d.extend_from_slice(&(cells.len() as u16).to_le_bytes());
        for c in cells {
            d.extend_from_slice(&c.to_le_bytes());
        }
        d
    }

    /// ROOT -> Select (Current=1), ControlSet001 -> Services -> the given (name, Start).
    fn system(services: &[(&str, u32)]) -> Vec<u8> {
        let mut h = vec![0u8; 4096 + 8192];
        h[0..4].copy_from_slice(b"regf");
        h[36..40].copy_from_slice(&0x20u32.to_le_bytes()); // root cell
        h[40..44].copy_from_slice(&8192u32.to_le_bytes()); // bins size
        h[4096..4100].copy_from_slice(b"hbin");
        h[4104..4108].copy_from_slice(&8192u32.to_le_bytes()); // bin size
        put(&mut h, 0x20, &nk("ROOT", 2, 0x100, 0, u32::MAX));
        put(&mut h, 0x100, &li(&[0x200, 0x400]));
        put(&mut h, 0x200, &nk("Select", 0, u32::MAX, 1, 0x300));
        put(&mut h, 0x300, &0x340u32.to_le_bytes()); // value list
        put(&mut h, 0x340, &dword("Current", 1));
        put(&mut h, 0x400, &nk("ControlSet001", 1, 0x500, 0, u32::MAX));
        put(&mut h, 0x500, &li(&[0x600]));
        let cells: Vec<u32> = (0..services.len() as u32)
            .map(|i| 0x800 + i * 0x200)
            .collect();
        put(
            &mut h,
            0x600,
            &nk("Services", services.len() as u32, 0x700, 0, u32::MAX),
        );
        put(&mut h, 0x700, &li(&cells));
        for ((name, start), at) in services.iter().zip(&cells) {
            let at = *at as usize;
            put(&mut h, at, &nk(name, 0, u32::MAX, 1, (at + 0x100) as u32));
            put(&mut h, at + 0x100, &((at + 0x140) as u32).to_le_bytes());
            put(&mut h, at + 0x140, &dword("Start", *start));
        }
        let c = regf::base_checksum(&h);
        h[508..512].copy_from_slice(&c.to_le_bytes());
        h
    }

    fn findings(services: &[(&str, u32)]) -> Vec<Finding> {
        let mut fs = Hive(HashMap::from([(
            format!("{WINDOWS_CONFIG}/SYSTEM"),
            system(services),
        )]));
        let mut out = Vec::new();
        check(&mut fs, &mut out);
        out
    }

    #[test]
    fn viostor_at_boot_and_netkvm_are_enough() {
        assert_eq!(findings(&[("netkvm", 3), ("viostor", 0)]), vec![]);
    }

    #[test]
    fn a_missing_or_late_driver_is_windows_no_virtio() {
        let f = findings(&[("netkvm", 3)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "windows-no-virtio");
        assert!(
            f[0].evidence
                .contains("ControlSet001\\Services\\viostor missing"),
            "{}",
            f[0].evidence
        );
        let f = findings(&[("netkvm", 4), ("viostor", 3)]);
        assert!(
            f[0].evidence.contains("netkvm\\Start = 4"),
            "{}",
            f[0].evidence
        );
        assert!(
            f[0].evidence.contains("viostor\\Start = 3"),
            "{}",
            f[0].evidence
        );
        let mut none = Hive(HashMap::new());
        let mut out = Vec::new();
        check(&mut none, &mut out);
        assert_eq!(out[0].code, "windows-no-virtio");
    }
}
