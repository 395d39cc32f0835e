//! `no-dhcp`: nothing brings the first Ethernet interface up with DHCP. Looked for in
//! ifupdown, netplan, systemd-networkd, NetworkManager (its keyfiles, or its default "Wired
//! connection" when it is installed and not told otherwise), RHEL ifcfg files, and
//! cloud-init's fallback (DHCP on the first interface unless its network config is disabled).

use super::files::{is_file, list, read_text};
use super::finding::{Finding, Severity};
use crate::disk::guest::parse_key_values;
use crate::disk::guestfs::GuestFs;

/// Files read from one configuration directory at most.
const MAX_FILES: usize = 64;

/// Where DHCP was found, or `None`.
pub fn dhcp_source(fs: &mut dyn GuestFs) -> Option<String> {
    let mut files = vec!["/etc/network/interfaces".to_string()];
    files.extend(dir_files(fs, "/etc/network/interfaces.d", ""));
    for f in &files {
        if let Some(t) = read_text(fs, f) {
            if let Some(l) = t.lines().find(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 4 && w[0] == "iface" && w[1] != "lo" && w[2] == "inet" && w[3] == "dhcp"
            }) {
                return Some(format!("{f}: {}", l.trim()));
            }
        }
    }
    for f in dir_files(fs, "/etc/netplan", ".yaml") {
        if let Some(t) = read_text(fs, &f) {
            if let Some(l) = t.lines().find(|l| {
                let l = l.trim().replace(' ', "");
                l == "dhcp4:true" || l == "dhcp4:yes" || l == "dhcp4:on"
            }) {
                return Some(format!("{f}: {}", l.trim()));
            }
        }
    }
    for dir in [
        "/etc/systemd/network",
        "/usr/lib/systemd/network",
        "/run/systemd/network",
    ] {
        for f in dir_files(fs, dir, ".network") {
            let Some(t) = read_text(fs, &f) else { continue };
            let kv = parse_key_values(&t);
            let dhcp = kv.iter().any(|(k, v)| {
                k == "DHCP" && matches!(v.as_str(), "yes" | "true" | "ipv4" | "both" | "1" | "on")
            });
            let name_ok = kv
                .iter()
                .filter(|(k, _)| k == "Name" || k == "Type")
                .all(|(_, v)| {
                    v.split_whitespace()
                        .any(|n| n.starts_with('e') || n == "*" || n == "ether")
                });
            if dhcp && name_ok {
                return Some(format!("{f}: DHCP="));
            }
        }
    }
    for f in dir_files(fs, "/etc/NetworkManager/system-connections", "") {
        if let Some(t) = read_text(fs, &f) {
            if t.contains("type=ethernet") && !t.contains("method=manual") {
                return Some(format!("{f}: an ethernet connection with ipv4 method=auto"));
            }
        }
    }
    for f in dir_files(fs, "/etc/sysconfig/network-scripts", "") {
        if !f
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("ifcfg-") && n != "ifcfg-lo")
        {
            continue;
        }
        if let Some(t) = read_text(fs, &f) {
            let kv = parse_key_values(&t);
            if kv
                .iter()
                .any(|(k, v)| k == "BOOTPROTO" && v.eq_ignore_ascii_case("dhcp"))
            {
                return Some(format!("{f}: BOOTPROTO=dhcp"));
            }
        }
    }
    let nm = ["/usr/sbin/NetworkManager", "/usr/bin/NetworkManager"];
    if nm.iter().any(|p| is_file(fs, p)) {
        let conf = read_text(fs, "/etc/NetworkManager/NetworkManager.conf").unwrap_or_default();
        if !conf
            .lines()
            .any(|l| l.trim().replace(' ', "").starts_with("no-auto-default=*"))
        {
            return Some(
                "NetworkManager is installed; its default Wired connection uses DHCP".into(),
            );
        }
    }
    if is_file(fs, "/usr/bin/cloud-init") {
        let mut disabled = None;
        let mut cfgs = vec!["/etc/cloud/cloud.cfg".to_string()];
        cfgs.extend(dir_files(fs, "/etc/cloud/cloud.cfg.d", ".cfg"));
        for f in &cfgs {
            if let Some(t) = read_text(fs, f) {
                let flat: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                if flat.contains("network:{config:disabled}")
                    || flat.contains("network:config:disabled")
                {
                    disabled = Some(f.clone());
                }
            }
        }
        if disabled.is_none() {
            return Some(
                "cloud-init's fallback network configuration (DHCP on the first interface)".into(),
            );
        }
    }
    None
}

fn dir_files(fs: &mut dyn GuestFs, dir: &str, suffix: &str) -> Vec<String> {
    list(fs, dir)
        .into_iter()
        .filter(|n| n.ends_with(suffix))
        .take(MAX_FILES)
        .map(|n| format!("{dir}/{n}"))
        .collect()
}

pub fn check(fs: &mut dyn GuestFs, out: &mut Vec<Finding>) {
    if dhcp_source(fs).is_none() {
        out.push(Finding::new(
            "no-dhcp",
            Severity::Warning,
            "nothing configures the first Ethernet interface by DHCP: the instance may be unreachable",
            "no DHCP in /etc/network/interfaces(.d), /etc/netplan, systemd-networkd .network files, NetworkManager, /etc/sysconfig/network-scripts/ifcfg-*, nor cloud-init",
            "Configure the first interface (eth0) with DHCP, or install cloud-init",
        ));
    }
}
