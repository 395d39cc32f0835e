//! The vendor's image checks added to the readiness report in issue 17's second round, each
//! as a variation of the prepared guest (tests/it/readiness_guest.rs) that gives exactly its
//! finding: `cloud-init-old`, `shadow-no-root`, `password-hash`, `lib-link-broken`,
//! `selinux-enforcing` from the kernel command line, `firewall-enabled` by ufw.

use crate::readiness::{assess, exactly};
use crate::readiness_guest::{self as g, DiskOpts, ROOT_UUID, Tree};
use imgtool::disk::readiness::finding::Severity;

const VERSION_PY: &str = "/usr/lib/python3/dist-packages/cloudinit/version.py";

fn ready(t: &Tree, why: &str) {
    if let Some(r) = assess(t, &DiskOpts::default()) {
        assert_eq!(r.findings, vec![], "{why}: {}", r.render());
    }
}

fn rocky(t: &mut Tree) {
    t.file(
        "/etc/os-release",
        "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
    );
}

#[test]
fn cloud_init_version() {
    let mut t = g::prepared();
    t.file(VERSION_PY, "__VERSION__ = \"22.4.2\"\n");
    ready(&t, "22.4.2");
    // Where the docs require >= 19.1.3 (Rocky Linux), 18.5 is an error...
    rocky(&mut t);
    t.file(VERSION_PY, "__VERSION__ = \"18.5\"\n");
    let r = exactly(&t, "cloud-init-old", Severity::Error);
    if let Some(r) = r {
        let f = &r.findings[0];
        assert!(
            f.evidence.contains(VERSION_PY) && f.evidence.contains("18.5"),
            "{f:?}"
        );
    }
    // ... and 19.1.3 itself is fine.
    t.file(VERSION_PY, "__VERSION__ = \"19.1.3\"\n");
    ready(&t, "19.1.3 on Rocky");
    // Elsewhere only older than 0.7.6a15 is reported, as a warning; dpkg's status when there
    // is no version.py.
    let mut t = g::prepared();
    t.file(
        "/var/lib/dpkg/status",
        "Package: cloud-init\nStatus: install ok installed\nVersion: 0.7.5-1\n",
    );
    exactly(&t, "cloud-init-old", Severity::Warning);
    t.file(
        "/var/lib/dpkg/status",
        "Package: cloud-init\nStatus: install ok installed\nVersion: 0.7.9-2\n",
    );
    ready(&t, "0.7.9 from dpkg's status");
}

#[test]
fn shadow_root_entry_and_hash() {
    let mut t = g::prepared();
    t.remove("/etc/shadow");
    exactly(&t, "shadow-no-root", Severity::Warning);
    t.file("/etc/shadow", "daemon:*:19700:0:99999:7:::\n");
    exactly(&t, "shadow-no-root", Severity::Warning);
    t.remove("/etc/shadow");
    t.link("/etc/shadow", "/etc/shadow");
    exactly(&t, "shadow-no-root", Severity::Warning);
    // A yescrypt root hash (Debian 12's default) is fine on Debian, a warning where the docs
    // require SHA-512.
    let mut t = g::prepared();
    t.file("/etc/shadow", "root:$y$j9T$abc$def:19700:0:99999:7:::\n");
    ready(&t, "yescrypt on Debian");
    rocky(&mut t);
    let r = exactly(&t, "password-hash", Severity::Warning);
    if let Some(r) = r {
        assert!(
            r.findings[0].evidence.contains("/etc/shadow line 1"),
            "{:?}",
            r.findings
        );
    }
    t.file("/etc/shadow", "root:$6$salt$hash:19700:0:99999:7:::\n");
    ready(&t, "SHA-512 on Rocky");
}

#[test]
fn lib_links() {
    // A broken /lib also hides /lib/modules, so the driver findings come with it.
    let mut t = g::prepared();
    t.remove("/lib");
    t.link("/lib", "usr/lib.gone");
    if let Some(r) = assess(&t, &DiskOpts::default()) {
        let f = r.get("lib-link-broken").expect("lib-link-broken");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.evidence.contains("/lib -> usr/lib.gone"), "{f:?}");
    }
    let mut t = g::prepared();
    t.remove("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
    exactly(&t, "lib-link-broken", Severity::Error);
    let mut t = g::prepared();
    t.remove("/lib64");
    t.link("/lib64", "lib64");
    exactly(&t, "lib-link-broken", Severity::Error);
}

#[test]
fn selinux_on_the_kernel_command_line() {
    let cfg = |args: &str| g::grub_cfg(&format!("UUID={ROOT_UUID} {args}"));
    let mut t = g::prepared();
    t.file("/etc/selinux/config", "SELINUX=permissive\n");
    ready(&t, "permissive");
    t.file("/boot/grub/grub.cfg", cfg("enforcing=1"));
    let r = exactly(&t, "selinux-enforcing", Severity::Warning);
    if let Some(r) = r {
        assert!(
            r.findings[0].evidence.contains("enforcing=1"),
            "{:?}",
            r.findings
        );
    }
    t.file("/etc/selinux/config", "SELINUX=enforcing\n");
    t.file("/boot/grub/grub.cfg", cfg("selinux=0"));
    ready(&t, "selinux=0 turns it off");
    t.file("/boot/grub/grub.cfg", cfg("enforcing=0"));
    ready(&t, "enforcing=0 makes it permissive");
    t.file("/boot/grub/grub.cfg", cfg("enforcing=0 enforcing=1"));
    exactly(&t, "selinux-enforcing", Severity::Warning);
    // No SELinux policy installed: enforcing=1 means nothing.
    t.remove("/etc/selinux/config");
    ready(&t, "no /etc/selinux/config");
}

#[test]
fn ufw_enabled_is_info() {
    let mut t = g::prepared();
    t.file("/etc/ufw/ufw.conf", "ENABLED=no\nLOGLEVEL=low\n");
    ready(&t, "ufw installed, not enabled");
    t.file(
        "/etc/ufw/ufw.conf",
        "# comment\nENABLED=yes\nLOGLEVEL=low\n",
    );
    if let Some(r) = exactly(&t, "firewall-enabled", Severity::Info) {
        assert!(
            r.findings[0].evidence.contains("ufw.conf"),
            "{:?}",
            r.findings
        );
        assert_eq!(r.verdict(), "ready");
    }
}
