//! The rest of the vendor's image check that files decide: the cloud-init version
//! (`cloud-init-old`), the root entry of `/etc/shadow` (`shadow-no-root`) and its password
//! hash on the platforms that require SHA-512 (`password-hash`), and the `/lib`, `/lib64`
//! links of a merged-/usr guest (`lib-link-broken`).

use std::cmp::Ordering;

use super::files::{is_file, list, read_file, read_text, real_path};
use super::finding::{Finding, Severity};
use crate::disk::guest::Machine;
use crate::disk::guestfs::{GuestFs, NodeKind};

/// What these checks need to know about the guest.
pub struct Guest {
    pub arch: Option<Machine>,
    /// Whether the import docs require cloud-init >= 19.1.3 and SHA-512 hashes (arm64 and the
    /// platforms whose import docs require cloud-init: `plan::reading::cloud_init_required`), and for what.
    pub strict: Option<String>,
}

/// The cloud-init the import docs ask for where it is required, and the oldest they accept
/// on old systems elsewhere.
const CLOUD_INIT_STRICT: &str = "19.1.3";
const CLOUD_INIT_OLDEST: &str = "0.7.6a15";
/// dpkg's status file is read up to this size (a large install is ~2 MiB).
const MAX_DPKG_STATUS: usize = 16 << 20;
/// Python library directories looked at under /usr/lib and /usr/lib64 at most.
const MAX_PYTHON_DIRS: usize = 16;

pub fn check(fs: &mut dyn GuestFs, g: &Guest, out: &mut Vec<Finding>) {
    cloud_init_version(fs, g, out);
    shadow(fs, g, out);
    lib_links(fs, g, out);
}

/// A version as cloud-init writes it: numbers separated by dots, an optional pre-release
/// (`0.7.6a15`, `0.7.6~bzr1022`); a Debian or RPM revision is cut off before this.
fn version_key(v: &str) -> (Vec<u64>, Option<u64>) {
    let v = v.trim();
    let end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (main, rest) = v.split_at(end);
    let nums = main
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
        .collect();
    // `a15`, `~bzr1022`, `rc1`: a pre-release sorts before the release; `+...` or `-...`
    // (a build or packaging suffix) does not.
    let pre = match rest.chars().next() {
        Some(c) if c.is_ascii_alphabetic() || c == '~' => {
            let digits: String = rest
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .take(18)
                .collect();
            Some(digits.parse().unwrap_or(0))
        }
        _ => None,
    };
    (nums, pre)
}

/// Compare two cloud-init versions (`19.1.3` > `19.1` > `0.7.6` > `0.7.6a15`).
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (an, ap) = version_key(a);
    let (bn, bp) = version_key(b);
    let len = an.len().max(bn.len());
    for i in 0..len {
        let x = an.get(i).copied().unwrap_or(0);
        let y = bn.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    match (ap, bp) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => x.cmp(&y),
    }
}

/// The version in cloud-init's `version.py` (`__VERSION__ = "22.4.2"`, or
/// `StrictVersion("0.7.5")` in old releases).
pub fn parse_version_py(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l
            .strip_prefix("__VERSION__")
            .or_else(|| l.split_once("StrictVersion(").map(|(_, r)| r))?;
        let q = rest.find(['"', '\''])?;
        let quote = rest[q..].chars().next()?;
        let inner = &rest[q + 1..];
        let v = &inner[..inner.find(quote)?];
        (v.starts_with(|c: char| c.is_ascii_digit()) && v.len() <= 64).then(|| v.to_string())
    })
}

/// The version of package `name` in dpkg's status file, without epoch and revision.
pub fn parse_dpkg_status(text: &str, name: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |f: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(f).map(|v| v.trim().to_string()))
        };
        if field("Package:").as_deref() != Some(name) {
            continue;
        }
        if !field("Status:").is_some_and(|s| s.ends_with(" installed")) {
            continue;
        }
        let v = field("Version:")?;
        let v = v.split_once(':').map_or(v.as_str(), |(_, r)| r);
        let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
        return Some(v.to_string());
    }
    None
}

/// cloud-init's version and where it was read, when it is installed and says one.
fn installed_cloud_init(fs: &mut dyn GuestFs) -> Option<(String, String)> {
    let mut dirs = Vec::new();
    for lib in ["/usr/lib", "/usr/lib64"] {
        for n in list(fs, lib)
            .into_iter()
            .filter(|n| n.starts_with("python"))
            .take(MAX_PYTHON_DIRS)
        {
            for sub in ["dist-packages", "site-packages"] {
                dirs.push(format!("{lib}/{n}/{sub}"));
            }
        }
    }
    for d in dirs {
        let p = format!("{d}/cloudinit/version.py");
        if let Some(v) = read_text(fs, &p).as_deref().and_then(parse_version_py) {
            return Some((v, p));
        }
    }
    let p = "/var/lib/dpkg/status";
    let (b, _) = read_file(fs, p, MAX_DPKG_STATUS)?;
    let v = parse_dpkg_status(&String::from_utf8_lossy(&b), "cloud-init")?;
    Some((v, format!("{p}: Package: cloud-init")))
}

fn cloud_init_version(fs: &mut dyn GuestFs, g: &Guest, out: &mut Vec<Finding>) {
    if !super::services::has_cloud_init(fs) {
        return; // no-cloud-init says it
    }
    let Some((v, at)) = installed_cloud_init(fs) else {
        return;
    };
    let (min, severity, why) = match &g.strict {
        Some(why) => (
            CLOUD_INIT_STRICT,
            Severity::Error,
            format!("the import docs require cloud-init >= {CLOUD_INIT_STRICT} for {why}"),
        ),
        None => (
            CLOUD_INIT_OLDEST,
            Severity::Warning,
            format!("the import docs ask for cloud-init >= {CLOUD_INIT_OLDEST} on old systems"),
        ),
    };
    if version_cmp(&v, min) == Ordering::Less {
        out.push(Finding::new(
            "cloud-init-old",
            severity,
            format!("cloud-init {v} is too old: {why}"),
            format!("{at}: version {v}"),
            format!("Upgrade cloud-init to {CLOUD_INIT_STRICT} or later"),
        ));
    }
}

fn shadow(fs: &mut dyn GuestFs, g: &Guest, out: &mut Vec<Finding>) {
    let has_root =
        read_text(fs, "/etc/passwd").is_some_and(|t| t.lines().any(|l| l.starts_with("root:")));
    if !has_root {
        return; // no-root-account, or a guest without /etc/passwd: nothing to pair
    }
    const SHADOW: &str = "/etc/shadow";
    let fix = "Restore /etc/shadow with a root entry (pwconv rebuilds it from /etc/passwd)";
    let Some(t) = read_text(fs, SHADOW) else {
        let what = match real_path(fs, SHADOW) {
            None => "missing".to_string(),
            Some((p, NodeKind::File)) => format!("{p}: unreadable"),
            Some((p, _)) => format!("{p}: not a regular file"),
        };
        out.push(Finding::new(
            "shadow-no-root",
            Severity::Warning,
            "/etc/shadow is missing or unusable: the root password cannot be set or checked",
            format!("{SHADOW}: {what}"),
            fix,
        ));
        return;
    };
    let Some((n, line)) = t.lines().enumerate().find(|(_, l)| l.starts_with("root:")) else {
        out.push(Finding::new(
            "shadow-no-root",
            Severity::Warning,
            "/etc/shadow has no root entry: the root password cannot be set or checked",
            format!("{SHADOW}: no line starting root:"),
            fix,
        ));
        return;
    };
    let hash = line.split(':').nth(1).unwrap_or("");
    // A locked or empty password (`*`, `!`, `!!`, ``) is set at first boot; only a real hash
    // has a scheme.
    let scheme = hash
        .trim_start_matches('!')
        .strip_prefix('$')
        .and_then(|h| h.split('$').next());
    if let (Some(why), Some(s)) = (&g.strict, scheme) {
        if s != "6" {
            out.push(Finding::new(
                "password-hash",
                Severity::Warning,
                format!("root's password is not hashed with SHA-512, which the import docs require for {why}"),
                format!("{SHADOW} line {}: root's hash scheme ${s}$", n + 1),
                "Set the root password again with SHA-512 hashing (authselect or ENCRYPT_METHOD SHA512 in /etc/login.defs)",
            ));
        }
    }
}

fn lib_links(fs: &mut dyn GuestFs, g: &Guest, out: &mut Vec<Finding>) {
    for dir in ["/lib", "/lib64"] {
        let Some(target) = fs.read_link(dir) else {
            continue; // a real directory, or absent (not every guest has /lib64)
        };
        let resolved = real_path(fs, dir);
        let broken = match &resolved {
            Some((_, NodeKind::Dir)) => None,
            Some((p, _)) => Some(format!("it resolves to {p}, not a directory")),
            None => Some("it resolves to nothing".to_string()),
        };
        if let Some(why) = broken {
            out.push(lib_finding(
                format!("{dir} is a broken link: nothing from it can be loaded at boot"),
                format!("{dir} -> {target}: {why}"),
            ));
            continue;
        }
        let loader = "/lib64/ld-linux-x86-64.so.2";
        if dir == "/lib64" && g.arch == Some(Machine::X86_64) && !is_file(fs, loader) {
            out.push(lib_finding(
                format!("{loader} (the 64-bit program loader) is missing: no program can start"),
                format!("/lib64 -> {target}: no ld-linux-x86-64.so.2 there"),
            ));
        }
    }
}

fn lib_finding(message: String, evidence: String) -> Finding {
    Finding::new(
        "lib-link-broken",
        Severity::Error,
        message,
        evidence,
        "Restore the merged-/usr links (/lib -> usr/lib, /lib64 -> usr/lib64) and the files they point to",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_cmp("19.1.3", "19.1.3"), Ordering::Equal);
        assert_eq!(version_cmp("22.4.2", "19.1.3"), Ordering::Greater);
        assert_eq!(version_cmp("19.1", "19.1.3"), Ordering::Less);
        assert_eq!(version_cmp("18.5", "19.1.3"), Ordering::Less);
        assert_eq!(version_cmp("0.7.6", "0.7.6a15"), Ordering::Greater);
        assert_eq!(version_cmp("0.7.6a14", "0.7.6a15"), Ordering::Less);
        assert_eq!(version_cmp("0.7.5", "0.7.6a15"), Ordering::Less);
        assert_eq!(version_cmp("23.1.1+dfsg", "19.1.3"), Ordering::Greater);
        assert_eq!(version_cmp("", "19.1.3"), Ordering::Less);
        assert_eq!(
            version_cmp("99999999999999999999999", "1"),
            Ordering::Greater
        );
    }

    #[test]
    fn version_files() {
        assert_eq!(
            parse_version_py(
                "__VERSION__ = \"22.4.2\"\n_PACKAGED_VERSION = \"@@PACKAGED_VERSION@@\"\n"
            )
            .as_deref(),
            Some("22.4.2")
        );
        assert_eq!(
            parse_version_py("def version():\n    return vr.StrictVersion(\"0.7.5\")\n").as_deref(),
            Some("0.7.5")
        );
        assert_eq!(parse_version_py("__VERSION__ = \"@@X\""), None);
        assert_eq!(parse_version_py("__VERSION__ = \"1"), None);
        let status = "Package: cloud-init\nStatus: install ok installed\nVersion: 1:22.4.2-1+deb12u1\n\nPackage: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n";
        assert_eq!(
            parse_dpkg_status(status, "cloud-init").as_deref(),
            Some("22.4.2")
        );
        assert_eq!(parse_dpkg_status(status, "bash").as_deref(), Some("5.2.15"));
        let removed = "Package: cloud-init\nStatus: deinstall ok config-files\nVersion: 22.4.2-1\n";
        assert_eq!(parse_dpkg_status(removed, "cloud-init"), None);
    }
}
