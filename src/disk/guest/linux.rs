//! A Linux root: libguestfs' test, os-release (or the older release files), and the machine
//! of userland from the ELF header of its shell or init.

use super::facts::{ArchFact, OsFacts, OsFamily};
use super::machine::Machine;
use super::resolve::{kind_resolved, read_resolved};
use crate::bytes::Fixed;
use crate::disk::guestfs::{GuestFs, MAX_TEXT, NodeKind};

/// ELF facts are in the first 20 bytes.
const ELF_HEAD: usize = 64;

/// Files that, read as ELF, tell the architecture of userland; the first that resolves wins.
pub const ARCH_WITNESSES: &[&str] = &[
    "/bin/bash",
    "/bin/sh",
    "/bin/ls",
    "/usr/bin/bash",
    "/usr/bin/ls",
    "/bin/busybox",
    "/sbin/init",
    "/usr/lib/systemd/systemd",
];

/// libguestfs' test for a Linux root: `/etc` and `/bin`, plus `/etc/fstab` or `/etc/hosts`.
pub fn is_linux_root(fs: &mut dyn GuestFs) -> bool {
    kind_resolved(fs, "/etc") == Some(NodeKind::Dir)
        && kind_resolved(fs, "/bin").is_some()
        && (kind_resolved(fs, "/etc/fstab").is_some() || kind_resolved(fs, "/etc/hosts").is_some())
}

pub fn linux_facts(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> OsFacts {
    let mut os = OsFacts {
        os_type: OsFamily::Linux,
        ..OsFacts::default()
    };
    read_release(fs, &mut os, warnings);
    match linux_arch(fs, warnings) {
        Ok(a) => os.arch = Some(a),
        Err(reason) => os.arch_reason = Some(reason),
    }
    os
}

pub(super) fn read_release(fs: &mut dyn GuestFs, os: &mut OsFacts, warnings: &mut Vec<String>) {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(get) = key_values(fs, path, warnings) {
            if let Some(id) = get("ID") {
                os.id = Some(id.to_lowercase());
                os.version_id = get("VERSION_ID");
                os.pretty_name = get("PRETTY_NAME");
                os.name = get("NAME");
                os.version = get("VERSION");
                os.variant_id = get("VARIANT_ID");
                os.release_file = Some(path.to_string());
                return;
            }
        }
    }
    if let Some(get) = key_values(fs, "/etc/lsb-release", warnings) {
        if let Some(id) = get("DISTRIB_ID") {
            os.id = Some(id.to_lowercase());
            os.version_id = get("DISTRIB_RELEASE");
            os.pretty_name = get("DISTRIB_DESCRIPTION");
            os.release_file = Some("/etc/lsb-release".into());
            return;
        }
    }
    read_release_files(fs, os, warnings);
}

/// The KEY=value pairs of the guest file at `path` (os-release, lsb-release), as a lookup by
/// key, when the file can be read.
fn key_values(
    fs: &mut dyn GuestFs,
    path: &str,
    warnings: &mut Vec<String>,
) -> Option<impl Fn(&str) -> Option<String>> {
    let (_, b) = read_resolved(fs, path, MAX_TEXT, warnings)?;
    let kv = parse_key_values(&String::from_utf8_lossy(&b));
    Some(move |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()))
}

/// The older one-line release files, most specific first (CentOS has both centos- and
/// redhat-release).
fn read_release_files(fs: &mut dyn GuestFs, os: &mut OsFacts, warnings: &mut Vec<String>) {
    const FILES: &[&str] = &[
        "/etc/centos-release",
        "/etc/redhat-release",
        "/etc/SuSE-release",
        "/etc/alpine-release",
        "/etc/debian_version",
    ];
    for path in FILES {
        let Some((_, b)) = read_resolved(fs, path, MAX_TEXT, warnings) else {
            continue;
        };
        let text = String::from_utf8_lossy(&b);
        let line = text.lines().next().unwrap_or("").trim().to_string();
        os.id = Some(release_file_id(path, &line).to_string());
        os.version_id = release_version(&line);
        os.pretty_name = Some(line).filter(|l| !l.is_empty());
        os.release_file = Some(path.to_string());
        return;
    }
}

fn release_file_id(path: &str, line: &str) -> &'static str {
    let l = line.to_lowercase();
    match path {
        "/etc/debian_version" => "debian",
        "/etc/alpine-release" => "alpine",
        "/etc/SuSE-release" if l.contains("opensuse") => "opensuse",
        "/etc/SuSE-release" => "sles",
        _ if l.contains("centos") => "centos",
        _ if l.contains("red hat") => "rhel",
        _ if l.contains("rocky") => "rocky",
        _ if l.contains("almalinux") => "almalinux",
        _ if l.contains("fedora") => "fedora",
        _ if l.contains("anolis") => "anolis",
        _ if l.contains("alibaba cloud linux") => "alinux",
        _ => "unknown",
    }
}

/// The first word that starts with a digit: "CentOS Linux release 7.9.2009 (Core)" -> 7.9.2009.
fn release_version(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

/// `KEY=value` lines (os-release(5)): values may be quoted with " or ', and \ escapes the
/// next character inside double quotes.
pub fn parse_key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), unquote(v.trim())))
        })
        .collect()
}

fn unquote(v: &str) -> String {
    let q = v.chars().next();
    let inner = match q {
        Some(c @ ('"' | '\'')) if v.len() >= 2 && v.ends_with(c) => &v[1..v.len() - 1],
        _ => return v.to_string(),
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' && q == Some('"') {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

pub(super) fn linux_arch(
    fs: &mut dyn GuestFs,
    warnings: &mut Vec<String>,
) -> Result<ArchFact, String> {
    let mut tried = Vec::new();
    for path in ARCH_WITNESSES {
        let Some((real, head)) = read_resolved(fs, path, ELF_HEAD, warnings) else {
            continue;
        };
        match elf_arch(&head) {
            Ok(arch) => {
                let via = if real == *path {
                    String::new()
                } else {
                    format!(" (-> {real})")
                };
                return Ok(ArchFact {
                    arch,
                    evidence: format!("ELF header of {path}{via}"),
                });
            }
            Err(e) => tried.push(format!("{path}: {e}")),
        }
    }
    if tried.is_empty() {
        Err(format!(
            "none of {} is a readable file",
            ARCH_WITNESSES.join(", ")
        ))
    } else {
        Err(tried.join("; "))
    }
}

const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;
const E_MACHINE: usize = 18;
/// The ELF header bytes read, up to the end of e_machine.
const ELF_IDENT_TO_MACHINE: usize = E_MACHINE + 2;

/// e_machine (at 18, in the byte order EI_DATA names) to a machine.
pub fn elf_arch(head: &[u8]) -> Result<Machine, String> {
    let Some(h) = head.first_chunk::<ELF_IDENT_TO_MACHINE>().map(Fixed) else {
        return Err("not an ELF file".into());
    };
    if &h.array::<0, 4>() != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let (class, data) = (h.u8::<EI_CLASS>(), h.u8::<EI_DATA>());
    let machine = match data {
        1 => h.le_u16::<E_MACHINE>(),
        2 => h.be_u16::<E_MACHINE>(),
        d => {
            return Err(format!(
                "EI_DATA at offset {EI_DATA} is {d}, expected 1 or 2"
            ));
        }
    };
    Ok(Machine::from_elf(machine, class))
}
