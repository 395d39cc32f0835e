//! The readiness report on a real Debian 12 guest: the files of a debootstrap'd bookworm with
//! Debian's cloud kernel, an initramfs made by Debian's own update-initramfs (virtio as
//! modules inside it, xz), cloud-init, growpart, ifupdown DHCP, fstab and grub.cfg by UUID,
//! UTC (testdata/debian/bookworm-guest.tar.gz, made by testdata/make-debian-guest.sh, whose
//! MANIFEST lists the packages). At test time: `tar -xzf` (tar and gzip are on every Debian),
//! one change per defect, `mkfs.ext4 -d`, an MBR disk. The prepared guest is `ready` with no
//! finding; each defect gives exactly its finding; `import --dry-run` stops (exit 2) on each
//! error and goes on with `--force`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::readiness_guest::{self as g, DiskOpts};
use crate::readiness_import::dry_run;
use imgtool::disk::readiness::finding::{Readiness, Severity};
use imgtool::plan::inspect_disk;

const TARBALL: &str = "testdata/debian/bookworm-guest.tar.gz";
/// The root file system's UUID in the guest's fstab and grub.cfg (make-debian-guest.sh).
const UUID: &str = "6f1b1a52-3c1e-4b8e-9d7a-1f0e2d3c4b5a";
const NOT_HERE: &str = "0bad0000-1111-2222-3333-444444444444";

struct Fixture {
    dir: tempfile::TempDir,
    kver: String,
}

impl Fixture {
    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    fn extra(&self, p: &str) -> PathBuf {
        self.dir.path().join("extra").join(p)
    }
    /// A copy of the prepared guest with `change` applied, as a disk image.
    fn variant(&self, name: &str, change: impl FnOnce(&Path, &Fixture)) -> PathBuf {
        let tree = self.dir.path().join(format!("{name}.tree"));
        let st = Command::new("cp")
            .arg("-a")
            .arg(self.root())
            .arg(&tree)
            .status()
            .expect("run cp");
        assert!(st.success());
        change(&tree, self);
        let o = DiskOpts {
            fs_size: "64M".into(),
            ..DiskOpts::default()
        };
        g::build_dir(self.dir.path(), name, &tree, &o)
    }
}

fn fixture() -> Option<Fixture> {
    if !g::have_mkfs() {
        eprintln!("skipped: mkfs.ext4 (e2fsprogs) is not installed");
        return None;
    }
    let dir = crate::util::tempdir();
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR")).join(TARBALL);
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("run tar");
    assert!(st.success(), "tar -xzf {}", tarball.display());
    let manifest = std::fs::read_to_string(dir.path().join("MANIFEST")).unwrap();
    let kver = manifest
        .lines()
        .find_map(|l| l.strip_prefix("kernel "))
        .expect("MANIFEST names the kernel")
        .to_string();
    Some(Fixture { dir, kver })
}

fn write(root: &Path, p: &str, text: &str) {
    let at = root.join(p.trim_start_matches('/'));
    let _ = std::fs::remove_file(&at);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::write(at, text).unwrap();
}

fn edit(root: &Path, p: &str, f: impl FnOnce(String) -> String) {
    let at = root.join(p.trim_start_matches('/'));
    let t = std::fs::read_to_string(&at).unwrap();
    let new = f(t.clone());
    assert_ne!(new, t, "{p} unchanged");
    write(root, p, &new);
}

fn remove(root: &Path, p: &str) {
    std::fs::remove_file(root.join(p.trim_start_matches('/'))).unwrap();
}

fn readiness(raw: &Path) -> Readiness {
    let img = imgtool::image::open(raw).expect("open raw");
    let r = inspect_disk(&img);
    assert!(r.os.is_some(), "no OS found: {:?}", r.warnings);
    r.readiness
}

type Change = fn(&Path, &Fixture);

/// Each defect of issue 17, made on the real guest, and the one finding it must give.
fn defects() -> Vec<(&'static str, Severity, Change)> {
    vec![
        ("fstab-device-name", Severity::Error, |r, _| {
            edit(r, "/etc/fstab", |t| {
                t.replace(&format!("UUID={UUID}"), "/dev/sda1")
            })
        }),
        ("fstab-unresolved", Severity::Error, |r, _| {
            edit(r, "/etc/fstab", |t| t.replace(UUID, NOT_HERE))
        }),
        ("root-unresolved", Severity::Error, |r, _| {
            edit(r, "/boot/grub/grub.cfg", |t| {
                t.replace(
                    &format!("root=UUID={UUID}"),
                    &format!("root=UUID={NOT_HERE}"),
                )
            })
        }),
        // The same kernel's initramfs made by mkinitramfs from a module list without virtio.
        ("no-virtio-blk", Severity::Error, |r, f| {
            let to = r.join(format!("boot/initrd.img-{}", f.kver));
            std::fs::copy(f.extra("boot/initrd.img-novirtio"), to).unwrap();
        }),
        ("no-virtio-net", Severity::Error, |r, f| {
            remove(
                r,
                &format!(
                    "/usr/lib/modules/{}/kernel/drivers/net/virtio_net.ko",
                    f.kver
                ),
            )
        }),
        ("no-cloud-init", Severity::Warning, |r, _| {
            remove(r, "/usr/bin/cloud-init")
        }),
        // ifupdown without DHCP, and cloud-init's network configuration off (its fallback
        // would be DHCP), the way Debian documents it.
        ("no-dhcp", Severity::Warning, |r, _| {
            edit(r, "/etc/network/interfaces", |t| {
                t.replace(
                    "iface eth0 inet dhcp",
                    "iface eth0 inet static\n    address 192.0.2.10/24",
                )
            });
            write(
                r,
                "/etc/cloud/cloud.cfg.d/99-disable-network-config.cfg",
                "network: {config: disabled}\n",
            );
        }),
        ("selinux-enforcing", Severity::Warning, |r, _| {
            write(
                r,
                "/etc/selinux/config",
                "SELINUX=enforcing\nSELINUXTYPE=default\n",
            )
        }),
        ("rtc-local-time", Severity::Warning, |r, _| {
            edit(r, "/etc/adjtime", |t| t.replace("UTC", "LOCAL"))
        }),
        // qemu-ga from Debian's qemu-guest-agent package.
        ("qemu-guest-agent", Severity::Warning, |r, f| {
            std::fs::copy(f.extra("usr/sbin/qemu-ga"), r.join("usr/sbin/qemu-ga")).unwrap();
        }),
        ("no-growpart", Severity::Info, |r, _| {
            remove(r, "/usr/bin/growpart")
        }),
        ("cloud-init-old", Severity::Warning, |r, _| {
            edit(
                r,
                "/usr/lib/python3/dist-packages/cloudinit/version.py",
                |t| {
                    t.lines()
                        .map(|l| {
                            if l.starts_with("__VERSION__") {
                                "__VERSION__ = \"0.7.5\"".to_string()
                            } else {
                                l.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            )
        }),
        ("shadow-no-root", Severity::Warning, |r, _| {
            edit(r, "/etc/shadow", |t| {
                t.lines()
                    .filter(|l| !l.starts_with("root:"))
                    .map(|l| format!("{l}\n"))
                    .collect()
            })
        }),
        ("lib-link-broken", Severity::Error, |r, _| {
            remove(r, "/lib64");
            std::os::unix::fs::symlink("usr/lib64.moved", r.join("lib64")).unwrap();
        }),
    ]
}

#[test]
fn debian_guest_prepared_is_ready_and_each_defect_is_exactly_its_finding() {
    let Some(f) = fixture() else { return };
    let raw = f.variant("prepared", |_, _| {});
    let r = readiness(&raw);
    assert_eq!(r.findings, vec![], "{}", r.render());
    assert_eq!(r.verdict(), "ready");
    let k = r.kernel.as_ref().expect("kernel");
    assert_eq!(k.version, f.kver);
    assert!(
        k.evidence.contains("/boot/grub/grub.cfg line"),
        "{}",
        k.evidence
    );
    // Debian's cloud kernel has NVMe built in (CONFIG_BLK_DEV_NVME=y).
    assert_eq!(r.nvme, Some(true));
    let (exit, v, err) = dry_run(&raw, &[]);
    assert_eq!(exit, Some(0), "{err}");
    assert_eq!(v["plan"]["Features.NvmeSupport"], "supported", "{v}");

    for (i, (code, severity, change)) in defects().into_iter().enumerate() {
        let raw = f.variant(&format!("d{i}"), change);
        let r = readiness(&raw);
        let codes: BTreeSet<&str> = r.findings.iter().map(|x| x.code).collect();
        assert_eq!(codes, BTreeSet::from([code]), "{code}: {}", r.render());
        assert_eq!(r.findings[0].severity, severity, "{code}");
        if severity == Severity::Error {
            let (exit, _, err) = dry_run(&raw, &[]);
            assert_eq!(exit, Some(2), "{code}: {err}");
            assert!(
                err.contains(code) && err.contains("--force"),
                "{code}: {err}"
            );
            let (exit, v, err) = dry_run(&raw, &["--force"]);
            assert_eq!(exit, Some(0), "{code} --force: {err}");
            assert_eq!(v["dry_run"], true);
        } else {
            let (exit, _, err) = dry_run(&raw, &[]);
            assert_eq!(exit, Some(0), "{code}: {err}");
        }
        let _ = std::fs::remove_file(&raw);
    }
}

#[test]
fn debian_initramfs_holds_virtio_as_modules() {
    // The kernel config says virtio_blk is a module (so the initramfs decides), and the
    // readiness evidence names the initramfs Debian's tool made.
    let Some(f) = fixture() else { return };
    let config = std::fs::read_to_string(f.root().join(format!("boot/config-{}", f.kver))).unwrap();
    assert!(
        config.lines().any(|l| l == "CONFIG_VIRTIO_BLK=m"),
        "the fixture's kernel"
    );
    let head = std::fs::read(f.root().join(format!("boot/initrd.img-{}", f.kver))).unwrap();
    assert_eq!(&head[..6], b"\xfd7zXZ\0", "COMPRESS=xz");
    let raw = f.variant("novirtio", |r, f| {
        let to = r.join(format!("boot/initrd.img-{}", f.kver));
        std::fs::copy(f.extra("boot/initrd.img-novirtio"), to).unwrap();
    });
    let r = readiness(&raw);
    let e = &r.get("no-virtio-blk").expect("no-virtio-blk").evidence;
    assert!(
        e.contains(&format!("/boot/initrd.img-{}", f.kver)) && e.contains(&f.kver),
        "{e}"
    );
}
