//! What is inside the file systems: which OS, which architecture, how it boots. Read through
//! `ext4-view`, `fatfs`, `ntfs` and our own XFS reader (`xfs.rs`) over a [`Slice`], the way
//! libguestfs decides (see docs/disk-formats.md); the Windows version through `regf.rs`.
//! Every read is capped and every file system has a read budget; symlinks are resolved
//! inside the guest only.

use std::io::Read;

use crate::disk::fs::FsKind;
use crate::disk::fs_guard::{ext4_path_ok, ntfs_dir_index_ok};
pub use crate::disk::guestfs::{GuestFs, MAX_TEXT, NodeKind};
use crate::disk::regf;
use crate::disk::slice::{Slice, SliceReader, with_ext4_reader};

/// Total bytes one file system may read while being inspected.
pub const FS_READ_BUDGET: u64 = 32 << 20;
/// ELF facts are in the first 20 bytes.
const ELF_HEAD: usize = 64;
/// PE headers: e_lfanew is usually < 512; refuse headers placed further than this.
const PE_HEAD: usize = 64 << 10;
/// Linux's own limit on symlinks followed while resolving one path.
pub const MAX_SYMLINKS: usize = 40;
const MAX_LINK_LEN: usize = 4096;
const MAX_DIR_ENTRIES: usize = 64;

/// Resolve `path` inside the guest: absolute targets start again at the guest's root, `..`
/// never climbs above it, and more than [`MAX_SYMLINKS`] links is a loop.
pub fn resolve(fs: &mut dyn GuestFs, path: &str) -> Result<String, String> {
    let mut pending: Vec<String> = components(path).rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut follows = 0;
    while let Some(c) = pending.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let here = format!("/{}", join(&done, &c));
        if fs.kind(&here) != Some(NodeKind::Symlink) {
            done.push(c);
            continue;
        }
        follows += 1;
        if follows > MAX_SYMLINKS {
            return Err(format!(
                "{path}: more than {MAX_SYMLINKS} symlinks (a loop?)"
            ));
        }
        let target = fs
            .read_link(&here)
            .filter(|t| !t.is_empty() && t.len() <= MAX_LINK_LEN)
            .ok_or_else(|| format!("{here}: unreadable symlink"))?;
        if target.starts_with('/') {
            done.clear();
        }
        pending.extend(components(&target).rev());
    }
    Ok(format!("/{}", done.join("/")))
}

fn components(p: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    p.split('/').filter(|c| !c.is_empty()).map(str::to_string)
}

fn join(done: &[String], last: &str) -> String {
    let mut s = done.join("/");
    if !s.is_empty() {
        s.push('/');
    }
    s.push_str(last);
    s
}

/// Resolve then read; a resolution failure (a loop) goes to `warnings`.
fn read_resolved(
    fs: &mut dyn GuestFs,
    path: &str,
    max: usize,
    warnings: &mut Vec<String>,
) -> Option<(String, Vec<u8>)> {
    match resolve(fs, path) {
        Ok(real) if fs.kind(&real) == Some(NodeKind::File) => {
            fs.read_head(&real, max).map(|b| (real, b))
        }
        Ok(_) => None,
        Err(e) => {
            warnings.push(format!("in the guest: {e}"));
            None
        }
    }
}

fn kind_resolved(fs: &mut dyn GuestFs, path: &str) -> Option<NodeKind> {
    let real = resolve(fs, path).ok()?;
    fs.kind(&real)
}

// ---------------------------------------------------------------------------------------
// Facts

/// An architecture and the file that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchFact {
    /// x86_64, i386, arm64, arm, riscv64, or `unknown(machine)`.
    pub arch: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsFacts {
    /// `linux` or `windows`.
    pub os_type: String,
    /// Partition number of the root file system; `None` for a whole-disk file system.
    pub partition: Option<u32>,
    /// `vg/lv` when the root file system is in an LVM2 logical volume.
    pub lv: Option<String>,
    /// Windows only: the version values from the SOFTWARE hive.
    pub windows: Option<WindowsVersion>,
    /// os-release ID (or the equivalent from another release file), lower case.
    pub id: Option<String>,
    pub version_id: Option<String>,
    pub pretty_name: Option<String>,
    /// os-release NAME, VERSION and VARIANT_ID: needed to tell CentOS Stream and Fedora
    /// CoreOS apart from their siblings.
    pub name: Option<String>,
    pub version: Option<String>,
    pub variant_id: Option<String>,
    /// The file the distribution facts came from.
    pub release_file: Option<String>,
    pub arch: Option<ArchFact>,
    /// Why `arch` is unknown.
    pub arch_reason: Option<String>,
}

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`, as far as it was readable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsVersion {
    pub product_name: Option<String>,
    pub current_build: Option<String>,
    pub installation_type: Option<String>,
    pub edition_id: Option<String>,
}

/// An EFI loader found on an EFI System Partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiLoader {
    pub partition: Option<u32>,
    pub path: String,
    pub arch: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Opening the file systems

/// Open the file system of kind `fs_kind` on `slice` and run `f` on it. `None` when the
/// kind is not readable here or the crate refused it (the reason goes to `warnings`).
pub fn with_guest_fs<R>(
    slice: Slice<'_>,
    fs_kind: FsKind,
    what: &str,
    warnings: &mut Vec<String>,
    f: impl FnOnce(&mut dyn GuestFs, &mut Vec<String>) -> R,
) -> Option<R> {
    with_guest_fs_budget(slice, fs_kind, what, FS_READ_BUDGET, warnings, f)
}

/// [`with_guest_fs`] with another read budget (the readiness report streams an initramfs).
pub fn with_guest_fs_budget<R>(
    slice: Slice<'_>,
    fs_kind: FsKind,
    what: &str,
    budget: u64,
    warnings: &mut Vec<String>,
    f: impl FnOnce(&mut dyn GuestFs, &mut Vec<String>) -> R,
) -> Option<R> {
    if let Err(e) = crate::disk::fs_guard::check(&slice, fs_kind) {
        warnings.push(format!("{what}: not opened: {e}"));
        return None;
    }
    match fs_kind {
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => with_ext4_reader(slice, budget, |reader| {
            match ext4_view::Ext4::load(Box::new(reader)) {
                Ok(fs) => Some(f(&mut Ext4Guest(fs), warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: ext4-view cannot read it: {e}"));
                    None
                }
            }
        }),
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => {
            match fatfs::FileSystem::new(slice.reader(budget), fatfs::FsOptions::new()) {
                Ok(fs) => Some(f(&mut FatGuest(fs), warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: fatfs cannot read it: {e}"));
                    None
                }
            }
        }
        FsKind::Ntfs => {
            let mut r = slice.reader(budget);
            match open_ntfs(&mut r) {
                Ok(ntfs) => Some(f(&mut NtfsGuest { ntfs, r }, warnings)),
                Err(e) => {
                    warnings.push(format!("{what}: ntfs cannot read it: {e}"));
                    None
                }
            }
        }
        FsKind::Xfs => match crate::disk::fs::xfs::Xfs::open(&slice, budget) {
            Ok(fs) => {
                let mut g = crate::disk::fs::xfs::XfsGuest::new(fs);
                let out = f(&mut g, warnings);
                warnings.extend(g.errors.into_iter().map(|e| format!("{what}: xfs: {e}")));
                Some(out)
            }
            Err(e) => {
                warnings.push(format!("{what}: cannot read it as XFS: {e}"));
                None
            }
        },
        _ => None,
    }
}

fn open_ntfs(r: &mut SliceReader<'_>) -> ntfs::Result<ntfs::Ntfs> {
    let mut ntfs = ntfs::Ntfs::new(r)?;
    // Name lookups compare through $UpCase; the crate panics if it was not read.
    ntfs.read_upcase_table(r)?;
    Ok(ntfs)
}

struct Ext4Guest(ext4_view::Ext4);

impl GuestFs for Ext4Guest {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        if !ext4_path_ok(&self.0, path, true) {
            return None;
        }
        let m = self.0.symlink_metadata(path).ok()?;
        Some(match m.file_type() {
            t if t.is_symlink() => NodeKind::Symlink,
            t if t.is_dir() => NodeKind::Dir,
            t if t.is_regular_file() => NodeKind::File,
            _ => NodeKind::Other,
        })
    }
    fn read_link(&mut self, path: &str) -> Option<String> {
        if !ext4_path_ok(&self.0, path, true) {
            return None;
        }
        let t = self.0.read_link(path).ok()?;
        t.to_str().ok().map(str::to_string)
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        if !ext4_path_ok(&self.0, path, false) {
            return None;
        }
        let mut file = self.0.open(path).ok()?;
        let mut out = vec![0u8; max.min(MAX_TEXT.max(PE_HEAD))];
        let mut got = 0;
        while got < out.len() {
            match file.read_bytes(&mut out[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return None,
            }
        }
        out.truncate(got);
        Some(out)
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        if !ext4_path_ok(&self.0, path, false) {
            return None;
        }
        let mut file = self.0.open(path).ok()?;
        file.seek_to(offset.min(file.metadata().len())).ok()?;
        let mut out = vec![0u8; len.min(MAX_RANGE)];
        let mut got = 0;
        while got < out.len() {
            match file.read_bytes(&mut out[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return None,
            }
        }
        out.truncate(got);
        Some(out)
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        if !ext4_path_ok(&self.0, path, false) {
            return Vec::new();
        }
        let Ok(dir) = self.0.read_dir(path) else {
            return Vec::new();
        };
        dir.take(max.saturating_add(2))
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().as_str().ok().map(str::to_string))
            .filter(|n| n != "." && n != "..")
            .collect()
    }
    fn lists_dirs(&self) -> bool {
        true
    }
}

/// One `read_range` returns at most this many bytes.
pub const MAX_RANGE: usize = 1 << 20;

struct FatGuest<'a>(fatfs::FileSystem<SliceReader<'a>>);

/// fatfs paths are relative to the root directory.
fn fat_path(p: &str) -> &str {
    p.trim_start_matches('/')
}

impl GuestFs for FatGuest<'_> {
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        let p = fat_path(path);
        if p.is_empty() || self.0.root_dir().open_dir(p).is_ok() {
            return Some(NodeKind::Dir);
        }
        self.0.root_dir().open_file(p).ok().map(|_| NodeKind::File)
    }
    fn read_link(&mut self, _path: &str) -> Option<String> {
        None
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        let file = self.0.root_dir().open_file(fat_path(path)).ok()?;
        read_capped(file, max)
    }
    fn list_dir(&mut self, path: &str, max: usize) -> Vec<String> {
        let p = fat_path(path);
        let root = self.0.root_dir();
        let dir = if p.is_empty() {
            Ok(root)
        } else {
            root.open_dir(p)
        };
        dir.map(|d| {
            d.iter()
                .take(max)
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n != "." && n != "..")
                .collect()
        })
        .unwrap_or_default()
    }
}

fn read_capped(r: impl Read, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max as u64).read_to_end(&mut out).ok()?;
    Some(out)
}

struct NtfsGuest<'a> {
    ntfs: ntfs::Ntfs,
    r: SliceReader<'a>,
}

/// Walk `path` from the root directory, one case-insensitive index lookup per component.
fn ntfs_lookup<'n>(
    ntfs: &'n ntfs::Ntfs,
    r: &mut SliceReader<'_>,
    path: &str,
) -> Option<ntfs::NtfsFile<'n>> {
    let mut file = ntfs.root_directory(r).ok()?;
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        let next = {
            if !ntfs_dir_index_ok(&file, r) {
                return None;
            }
            let index = file.directory_index(r).ok()?;
            let mut finder = index.finder();
            let entry = ntfs::indexes::NtfsFileNameIndex::find(&mut finder, ntfs, r, comp)?.ok()?;
            entry.to_file(ntfs, r).ok()?
        };
        file = next;
    }
    Some(file)
}

impl GuestFs for NtfsGuest<'_> {
    fn volume_label(&mut self) -> Option<String> {
        let name = self.ntfs.volume_name(&mut self.r)?.ok()?;
        Some(name.name().to_string_lossy()).filter(|n| !n.is_empty())
    }
    fn kind(&mut self, path: &str) -> Option<NodeKind> {
        let f = ntfs_lookup(&self.ntfs, &mut self.r, path)?;
        Some(if f.is_directory() {
            NodeKind::Dir
        } else {
            NodeKind::File
        })
    }
    fn read_link(&mut self, _path: &str) -> Option<String> {
        // Reparse points (junctions) are not followed: Windows' system root is never one.
        None
    }
    fn read_head(&mut self, path: &str, max: usize) -> Option<Vec<u8>> {
        self.read_range(path, 0, max)
    }
    fn read_range(&mut self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let r = &mut self.r;
        let file = ntfs_lookup(&self.ntfs, r, path)?;
        let item = file.data(r, "")?.ok()?;
        let attr = item.to_attribute().ok()?;
        let value = attr.value(r).ok()?;
        let mut v = value.attach(r);
        v.seek(SeekFrom::Start(offset)).ok()?;
        read_capped(v, len)
    }
}

// ---------------------------------------------------------------------------------------
// Linux

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
        os_type: "linux".into(),
        ..OsFacts::default()
    };
    read_release(fs, &mut os, warnings);
    match linux_arch(fs, warnings) {
        Ok(a) => os.arch = Some(a),
        Err(reason) => os.arch_reason = Some(reason),
    }
    os
}

fn read_release(fs: &mut dyn GuestFs, os: &mut OsFacts, warnings: &mut Vec<String>) {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some((_, b)) = read_resolved(fs, path, MAX_TEXT, warnings) {
            let kv = parse_key_values(&String::from_utf8_lossy(&b));
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
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
    if let Some((_, b)) = read_resolved(fs, "/etc/lsb-release", MAX_TEXT, warnings) {
        let kv = parse_key_values(&String::from_utf8_lossy(&b));
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
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

fn linux_arch(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> Result<ArchFact, String> {
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

/// e_machine (at 18, in the byte order EI_DATA names) to an architecture name.
pub fn elf_arch(head: &[u8]) -> Result<String, String> {
    if head.len() < 20 || &head[0..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let (class, data) = (head[4], head[5]);
    let machine = match data {
        1 => u16::from_le_bytes([head[18], head[19]]),
        2 => u16::from_be_bytes([head[18], head[19]]),
        d => return Err(format!("EI_DATA at offset 5 is {d}, expected 1 or 2")),
    };
    Ok(match (machine, class) {
        (3, _) => "i386".into(),
        (62, _) => "x86_64".into(),
        (183, _) => "arm64".into(),
        (40, _) => "arm".into(),
        (243, 2) => "riscv64".into(),
        (243, _) => "riscv32".into(),
        (m, _) => format!("unknown(e_machine {m})"),
    })
}

// ---------------------------------------------------------------------------------------
// Windows

pub const WINDOWS_CMD: &str = "/Windows/System32/cmd.exe";
pub const WINDOWS_CONFIG: &str = "/Windows/System32/config";

/// A Windows system root: `Windows/System32/config` and `Windows/System32/cmd.exe`. The
/// file systems that hold Windows look names up case-insensitively.
pub fn windows_facts(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> Option<OsFacts> {
    if fs.kind(WINDOWS_CONFIG) != Some(NodeKind::Dir)
        || fs.kind(WINDOWS_CMD) != Some(NodeKind::File)
    {
        return None;
    }
    let mut os = OsFacts {
        os_type: "windows".into(),
        ..OsFacts::default()
    };
    match fs
        .read_head(WINDOWS_CMD, PE_HEAD)
        .ok_or_else(|| "unreadable".to_string())
        .and_then(|h| pe_arch(&h))
    {
        Ok(arch) => {
            os.arch = Some(ArchFact {
                arch,
                evidence: format!("PE header of {WINDOWS_CMD}"),
            })
        }
        Err(e) => os.arch_reason = Some(format!("{WINDOWS_CMD}: {e}")),
    }
    os.windows = windows_version(fs, warnings);
    if let Some(v) = &os.windows {
        os.id = Some("windows".into());
        os.pretty_name.clone_from(&v.product_name);
        os.version_id.clone_from(&v.current_build);
        os.release_file = Some(format!("{WINDOWS_SOFTWARE} ({CURRENT_VERSION})"));
    }
    Some(os)
}

pub const WINDOWS_SOFTWARE: &str = "/Windows/System32/config/SOFTWARE";
pub const CURRENT_VERSION: &str = "Microsoft\\Windows NT\\CurrentVersion";

/// The version values of the SOFTWARE hive; `None` (with a warning if the hive is there but
/// unreadable) when none could be read.
fn windows_version(fs: &mut dyn GuestFs, warnings: &mut Vec<String>) -> Option<WindowsVersion> {
    if fs.kind(WINDOWS_SOFTWARE) != Some(NodeKind::File) {
        return None;
    }
    let mut hive = match regf::Hive::open(regf::GuestHive::new(fs, WINDOWS_SOFTWARE)) {
        Ok(h) => h,
        Err(e) => {
            warnings.push(format!("{WINDOWS_SOFTWARE}: {e}"));
            return None;
        }
    };
    let mut get = |name: &str| match hive.value(CURRENT_VERSION, name) {
        Ok(v) => v.and_then(|v| v.as_string()),
        Err(e) => {
            warnings.push(format!(
                "{WINDOWS_SOFTWARE}: {CURRENT_VERSION}\\{name}: {e}"
            ));
            None
        }
    };
    let v = WindowsVersion {
        product_name: get("ProductName"),
        current_build: get("CurrentBuildNumber"),
        installation_type: get("InstallationType"),
        edition_id: get("EditionID"),
    };
    (v != WindowsVersion::default()).then_some(v)
}

/// The machine field of a PE file: `MZ`, e_lfanew at 0x3C, `PE\0\0`, then the machine.
pub fn pe_arch(head: &[u8]) -> Result<String, String> {
    if head.len() < 0x40 || &head[0..2] != b"MZ" {
        return Err("not a PE file (no MZ)".into());
    }
    let lfanew = u32::from_le_bytes([head[0x3C], head[0x3D], head[0x3E], head[0x3F]]);
    let at = usize::try_from(lfanew).map_err(|_| "e_lfanew too large".to_string())?;
    let sig = at
        .checked_add(6)
        .filter(|&end| end <= head.len())
        .map(|_| &head[at..at + 4])
        .ok_or_else(|| {
            format!(
                "e_lfanew {lfanew:#x} at 0x3c points past the {} bytes read",
                head.len()
            )
        })?;
    if sig != b"PE\0\0" {
        return Err(format!("no PE signature at {lfanew:#x}"));
    }
    Ok(match u16::from_le_bytes([head[at + 4], head[at + 5]]) {
        0x14C => "i386".into(),
        0x8664 => "x86_64".into(),
        0xAA64 => "arm64".into(),
        0x1C4 => "arm".into(),
        m => format!("unknown(PE machine {m:#06x})"),
    })
}

// ---------------------------------------------------------------------------------------
// EFI

/// The removable-media loaders UEFI firmware looks for, by architecture.
pub const EFI_FALLBACK_LOADERS: &[&str] = &[
    "/EFI/BOOT/BOOTX64.EFI",
    "/EFI/BOOT/BOOTAA64.EFI",
    "/EFI/BOOT/BOOTIA32.EFI",
];
/// Loaders distributions install in `EFI/<distro>/`.
pub const EFI_DISTRO_LOADERS: &[&str] = &[
    "shimx64.efi",
    "grubx64.efi",
    "shimaa64.efi",
    "grubaa64.efi",
    "grubia32.efi",
];

/// EFI loaders on a FAT file system, each with the machine of its PE header.
pub fn efi_loaders(fs: &mut dyn GuestFs, partition: Option<u32>) -> Vec<EfiLoader> {
    let mut paths: Vec<String> = EFI_FALLBACK_LOADERS.iter().map(|s| s.to_string()).collect();
    for dir in fs.list_dir("/EFI", MAX_DIR_ENTRIES) {
        if dir.eq_ignore_ascii_case("BOOT") {
            continue;
        }
        paths.extend(EFI_DISTRO_LOADERS.iter().map(|l| format!("/EFI/{dir}/{l}")));
    }
    let mut out = Vec::new();
    for path in paths {
        if fs.kind(&path) != Some(NodeKind::File) {
            continue;
        }
        let arch = fs.read_head(&path, PE_HEAD).and_then(|h| pe_arch(&h).ok());
        out.push(EfiLoader {
            partition,
            path,
            arch,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// An in-memory guest: files, dirs and symlinks by absolute path.
    #[derive(Default)]
    struct MemFs {
        files: HashMap<String, Vec<u8>>,
        links: HashMap<String, String>,
        dirs: Vec<String>,
    }
    impl GuestFs for MemFs {
        fn kind(&mut self, p: &str) -> Option<NodeKind> {
            if self.links.contains_key(p) {
                Some(NodeKind::Symlink)
            } else if self.files.contains_key(p) {
                Some(NodeKind::File)
            } else if p == "/" || self.dirs.iter().any(|d| d == p) {
                Some(NodeKind::Dir)
            } else {
                None
            }
        }
        fn read_link(&mut self, p: &str) -> Option<String> {
            self.links.get(p).cloned()
        }
        fn read_head(&mut self, p: &str, max: usize) -> Option<Vec<u8>> {
            self.files.get(p).map(|b| b[..b.len().min(max)].to_vec())
        }
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[0..4].copy_from_slice(b"\x7fELF");
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // little-endian
        h[18..20].copy_from_slice(&machine.to_le_bytes());
        h
    }

    #[test]
    fn absolute_symlinks_stay_inside_the_guest() {
        let mut fs = MemFs {
            dirs: vec!["/usr".into(), "/usr/bin".into()],
            ..MemFs::default()
        };
        fs.links.insert("/bin".into(), "/usr/bin".into());
        fs.links
            .insert("/usr/bin/sh".into(), "../../../../bin/dash".into());
        fs.files.insert("/usr/bin/dash".into(), elf(183));
        assert_eq!(resolve(&mut fs, "/bin/sh").unwrap(), "/usr/bin/dash");
        let mut w = Vec::new();
        assert_eq!(linux_arch(&mut fs, &mut w).unwrap().arch, "arm64");
    }

    #[test]
    fn symlink_loop_is_an_error_not_a_hang() {
        let mut fs = MemFs::default();
        fs.links.insert("/a".into(), "/b".into());
        fs.links.insert("/b".into(), "a".into());
        assert!(resolve(&mut fs, "/a/x").unwrap_err().contains("symlinks"));
    }

    #[test]
    fn os_release_quotes_and_comments() {
        let kv =
            parse_key_values("# c\nID=\"centos\"\nNAME='CentOS Stream'\nX=a\\\"b\nY=\"q\\\"z\"\n");
        assert_eq!(kv[0], ("ID".into(), "centos".into()));
        assert_eq!(kv[1].1, "CentOS Stream");
        assert_eq!(kv[3].1, "q\"z");
    }

    #[test]
    fn release_files_when_there_is_no_os_release() {
        let mut fs = MemFs::default();
        fs.files.insert(
            "/etc/redhat-release".into(),
            b"CentOS Linux release 7.9.2009 (Core)\n".to_vec(),
        );
        let mut os = OsFacts::default();
        read_release(&mut fs, &mut os, &mut Vec::new());
        assert_eq!(os.id.as_deref(), Some("centos"));
        assert_eq!(os.version_id.as_deref(), Some("7.9.2009"));
    }

    #[test]
    fn elf_and_pe_machines() {
        assert_eq!(elf_arch(&elf(62)).unwrap(), "x86_64");
        let mut be = elf(0);
        be[5] = 2;
        be[18..20].copy_from_slice(&40u16.to_be_bytes());
        assert_eq!(elf_arch(&be).unwrap(), "arm");
        assert!(elf_arch(b"\x7fELF").is_err());
        let mut pe = vec![0u8; 0x100];
        pe[0..2].copy_from_slice(b"MZ");
        pe[0x3C] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0xAA64u16.to_le_bytes());
        assert_eq!(pe_arch(&pe).unwrap(), "arm64");
        pe[0x3C..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(pe_arch(&pe).is_err());
    }
}
