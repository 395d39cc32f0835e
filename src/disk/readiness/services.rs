//! What the vendor asks of a Linux guest's software: cloud-init (`no-cloud-init`), no
//! qemu-guest-agent, growpart and the resize tool of the root file system (`no-growpart`),
//! SELinux not enforcing, the hardware clock in UTC (`rtc-local-time`), and the checks of the
//! vendor's image check that files decide: `root-fs-type`, `no-sshd`, `no-root-account`,
//! `no-fw-cfg-sysfs`, `firewall-enabled` (firewalld, nftables, ufw), `disk-size`.

use super::files::{first_file, read_text};
use super::finding::{Finding, Severity};
use crate::disk::guest::{Machine, parse_key_values};
use crate::disk::guestfs::GuestFs;

/// What the service checks need to know about the guest.
pub struct Guest<'a> {
    pub arch: Option<Machine>,
    /// Why the import docs require cloud-init, CONFIG_FW_CFG_SYSFS and growpart of this
    /// guest (arm64, some platforms: the import's rule); `None` where only recommended.
    pub strict: Option<&'a str>,
    pub root_fs: &'a str,
    pub virtual_size: u64,
    /// The default kernel's `/boot/config-<v>`, when read.
    pub kernel_config: Option<&'a str>,
    /// The default boot entry's kernel command line, when there is one.
    pub kernel_args: Option<&'a str>,
}

impl Guest<'_> {
    pub fn strict(&self) -> bool {
        self.strict.is_some()
    }
    pub fn why_strict(&self) -> String {
        self.strict.unwrap_or("this platform").to_string()
    }
}

const BIN: &[&str] = &["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"];

fn find_bin(fs: &mut dyn GuestFs, name: &str) -> Option<String> {
    let paths: Vec<String> = BIN.iter().map(|d| format!("{d}/{name}")).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    first_file(fs, &refs)
}

/// Whether a `cloud-init` program is installed.
pub fn has_cloud_init(fs: &mut dyn GuestFs) -> bool {
    find_bin(fs, "cloud-init").is_some()
}

pub fn check(fs: &mut dyn GuestFs, g: &Guest<'_>, out: &mut Vec<Finding>) {
    if !has_cloud_init(fs) {
        let strict = g.strict();
        out.push(Finding::new(
            "no-cloud-init",
            if strict { Severity::Error } else { Severity::Warning },
            if strict {
                format!("cloud-init is not installed; the import docs require it for {}", g.why_strict())
            } else {
                "cloud-init is not installed: the host name, password, SSH keys and network will not be set up".to_string()
            },
            "no cloud-init in /usr/bin, /usr/sbin, /bin, /sbin, /usr/local/bin",
            "Install cloud-init (>= 19.1.3) and enable its services",
        ));
    }
    if let Some(p) = find_bin(fs, "qemu-ga") {
        out.push(Finding::new(
            "qemu-guest-agent",
            Severity::Warning,
            "qemu-guest-agent is installed; the vendor asks to remove it (it conflicts with the Cloud Assistant and image checks)",
            p,
            "Uninstall qemu-guest-agent",
        ));
    }
    growpart(fs, g, out);
    selinux(fs, g.kernel_args, out);
    adjtime(fs, g, out);
    extras(fs, g, out);
}

fn growpart(fs: &mut dyn GuestFs, g: &Guest<'_>, out: &mut Vec<Finding>) {
    let tool = match g.root_fs {
        "xfs" => Some("xfs_growfs"),
        "ext2" | "ext3" | "ext4" => Some("resize2fs"),
        _ => None,
    };
    let mut missing = Vec::new();
    if find_bin(fs, "growpart").is_none() {
        missing.push("growpart");
    }
    if let Some(t) = tool.filter(|t| find_bin(fs, t).is_none()) {
        missing.push(t);
    }
    if !missing.is_empty() {
        out.push(Finding::new(
            "no-growpart",
            if g.strict() { Severity::Warning } else { Severity::Info },
            format!(
                "the root file system cannot grow into a larger system disk: {} not installed",
                missing.join(" and ")
            ),
            format!("no {} in /usr/bin, /usr/sbin, /bin, /sbin, /usr/local/bin", missing.join(", ")),
            "Install growpart (Debian: cloud-guest-utils; RHEL: cloud-utils-growpart) and the file system's resize tool",
        ));
    }
}

/// The last value of `key=` on a kernel command line (the kernel takes the last one).
fn kernel_arg<'a>(args: &'a str, key: &str) -> Option<&'a str> {
    args.split_whitespace()
        .filter_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .next_back()
}

/// SELinux as the guest boots: `/etc/selinux/config` says the mode, the kernel command line
/// may override it (`selinux=0` turns it off, `enforcing=0|1` sets the mode). No config file:
/// no SELinux policy is installed, whatever the command line says.
fn selinux(fs: &mut dyn GuestFs, args: Option<&str>, out: &mut Vec<Finding>) {
    let Some(t) = read_text(fs, "/etc/selinux/config") else {
        return;
    };
    let kv = parse_key_values(&t);
    let mode = kv
        .iter()
        .rev()
        .find(|(k, _)| k == "SELINUX")
        .map(|(_, v)| v.to_ascii_lowercase());
    let args = args.unwrap_or("");
    if kernel_arg(args, "selinux") == Some("0") || mode.as_deref() == Some("disabled") {
        return;
    }
    let evidence = match (kernel_arg(args, "enforcing"), mode.as_deref()) {
        (Some("0"), _) => return,
        (Some("1"), _) => "the default boot entry's kernel command line: enforcing=1".to_string(),
        (_, Some("enforcing")) => "/etc/selinux/config: SELINUX=enforcing".to_string(),
        _ => return,
    };
    out.push(Finding::new(
        "selinux-enforcing",
        Severity::Warning,
        "SELinux is enforcing: a relabel or a wrong context can stop the first boot or SSH",
        evidence,
        "Set SELINUX=permissive (or disabled) in /etc/selinux/config and drop enforcing=1 from the kernel command line before importing",
    ));
}

fn adjtime(fs: &mut dyn GuestFs, g: &Guest<'_>, out: &mut Vec<Finding>) {
    let Some(t) = read_text(fs, "/etc/adjtime") else {
        return;
    };
    if t.lines().nth(2).is_some_and(|l| l.trim() == "LOCAL") {
        let arm = g.arch == Some(Machine::Arm64);
        out.push(Finding::new(
            "rtc-local-time",
            if arm {
                Severity::Error
            } else {
                Severity::Warning
            },
            "the hardware clock is kept in local time; ECS hardware clocks are UTC",
            "/etc/adjtime line 3: LOCAL",
            "Run timedatectl set-local-rtc 0 (or write UTC on line 3 of /etc/adjtime)",
        ));
    }
}

fn extras(fs: &mut dyn GuestFs, g: &Guest<'_>, out: &mut Vec<Finding>) {
    if !matches!(g.root_fs, "ext3" | "ext4" | "xfs" | "") {
        out.push(Finding::new(
            "root-fs-type",
            Severity::Warning,
            format!(
                "the root file system is {}; the import docs support ext3, ext4 and XFS",
                g.root_fs
            ),
            format!("root file system type {}", g.root_fs),
            "Use ext3, ext4 or XFS for the root file system",
        ));
    }
    if find_bin(fs, "sshd").is_none() {
        out.push(Finding::new(
            "no-sshd",
            Severity::Warning,
            "no SSH server is installed: the instance cannot be reached by SSH",
            "no sshd in /usr/bin, /usr/sbin, /bin, /sbin, /usr/local/bin",
            "Install and enable an SSH server (openssh-server)",
        ));
    }
    if let Some(t) = read_text(fs, "/etc/passwd") {
        if !t.lines().any(|l| l.starts_with("root:")) {
            out.push(Finding::new(
                "no-root-account",
                Severity::Warning,
                "/etc/passwd has no root account; the vendor's tools set the root password",
                "/etc/passwd: no line starting root:",
                "Restore the root account in /etc/passwd and /etc/shadow",
            ));
        }
    }
    if g.strict() {
        if let Some(cfg) = g.kernel_config {
            if !cfg.lines().any(|l| l == "CONFIG_FW_CFG_SYSFS=y") {
                out.push(Finding::new(
                    "no-fw-cfg-sysfs",
                    Severity::Warning,
                    format!("the kernel is not built with CONFIG_FW_CFG_SYSFS=y, which the import docs require for {}", g.why_strict()),
                    "the default kernel's /boot/config-*: no CONFIG_FW_CFG_SYSFS=y",
                    "Use a kernel built with CONFIG_FW_CFG_SYSFS=y",
                ));
            }
        }
    }
    let wants = "/etc/systemd/system/multi-user.target.wants";
    let fw = [
        format!("{wants}/firewalld.service"),
        format!("{wants}/nftables.service"),
    ];
    let refs: Vec<&str> = fw.iter().map(String::as_str).collect();
    let found = super::files::real_path(fs, wants)
        .and(first_file(fs, &refs))
        .or_else(|| ufw_enabled(fs));
    if let Some(p) = found {
        out.push(Finding::new(
            "firewall-enabled",
            Severity::Info,
            "a firewall starts at boot; make sure it lets SSH (22) in, or rely on security groups",
            p,
            "Disable the firewall service or open SSH in it",
        ));
    }
    disk_size(g, out);
}

/// ufw starts at boot whenever it is installed; `ENABLED=yes` in its config makes it filter.
fn ufw_enabled(fs: &mut dyn GuestFs) -> Option<String> {
    let t = read_text(fs, "/etc/ufw/ufw.conf")?;
    parse_key_values(&t)
        .iter()
        .any(|(k, v)| k == "ENABLED" && v.eq_ignore_ascii_case("yes"))
        .then(|| "/etc/ufw/ufw.conf: ENABLED=yes".to_string())
}

fn disk_size(g: &Guest<'_>, out: &mut Vec<Finding>) {
    const GIB: u64 = 1 << 30;
    if !(40 * GIB..=500 * GIB).contains(&g.virtual_size) {
        out.push(Finding::new(
            "disk-size",
            Severity::Info,
            format!(
                "the disk is {} GiB; the vendor recommends 40 to 500 GiB for a system disk",
                g.virtual_size.div_ceil(GIB)
            ),
            format!("virtual size {} bytes", g.virtual_size),
            "Nothing to do unless the instance needs more room; DiskImageSize can be set larger at import",
        ));
    }
}
