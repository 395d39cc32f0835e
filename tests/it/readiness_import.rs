//! `import` acts on the readiness report (issue 17): an error finding stops `import
//! --dry-run` with exit 2 naming its codes before anything is sent, `--force` goes on; the
//! findings are printed before the plan; inspect's warnings reach the plan's warnings; the
//! NVMe driver decides `Features.NvmeSupport` unless `--nvme` says otherwise.

use crate::cloud_support::setup;
use crate::fake_cloud::{FakeCloud, Scenario};
use crate::readiness_guest::{self as g, DiskOpts, KVER, Tree};
use crate::util::stderr;

pub fn dry_run(
    image: &std::path::Path,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, String) {
    let fake = FakeCloud::start(Scenario::default());
    let mut s = setup();
    s.image = image.to_path_buf();
    // The harness passes --force for its blank image; these tests are about the gate.
    let mut args: Vec<String> = s
        .import_args(&fake)
        .into_iter()
        .filter(|a| a != "--force")
        .collect();
    args.extend(["--dry-run", "--json"].iter().map(|x| x.to_string()));
    args.extend(extra.iter().map(|x| x.to_string()));
    let o = s.cmd().args(&args).output().expect("run imgtool");
    assert!(fake.seen().is_empty(), "nothing is sent in a dry run");
    let v = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code(), v, stderr(&o))
}

fn defect(name: &str, change: impl FnOnce(&mut Tree)) -> (Tree, &str) {
    let mut t = g::prepared();
    change(&mut t);
    (t, name)
}

#[test]
fn each_error_stops_the_dry_run_and_force_goes_on() {
    if !g::have_mkfs() {
        eprintln!("skipped: mkfs.ext4 (e2fsprogs) is not installed");
        return;
    }
    let dir = crate::util::tempdir();
    let cases = [
        defect("fstab-device-name", |t| {
            t.file("/etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n");
        }),
        defect("fstab-unresolved", |t| {
            t.file(
                "/etc/fstab",
                "UUID=0bad0000-0000-0000-0000-000000000000 / ext4 defaults 0 1\n",
            );
        }),
        defect("root-unresolved", |t| {
            t.file("/boot/grub/grub.cfg", g::grub_cfg("/dev/sda1"));
        }),
        defect("no-virtio-blk", |t| {
            t.file(
                &format!("/usr/lib/modules/{KVER}/modules.builtin"),
                "kernel/drivers/nvme/host/nvme.ko\n",
            );
            t.remove(&format!("/boot/initrd.img-{KVER}"));
        }),
        defect("no-virtio-net", |t| {
            t.remove(&format!(
                "/usr/lib/modules/{KVER}/kernel/drivers/net/virtio_net.ko"
            ));
        }),
        // Rocky Linux is a platform whose import docs require cloud-init.
        defect("no-cloud-init", |t| {
            t.remove("/usr/bin/cloud-init");
            t.file(
                "/etc/os-release",
                "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
            );
        }),
    ];
    for (i, (tree, code)) in cases.iter().enumerate() {
        let raw = g::build(dir.path(), &format!("d{i}"), tree, &DiskOpts::default());
        let (exit, _, err) = dry_run(&raw, &[]);
        assert_eq!(exit, Some(2), "{code}: {err}");
        assert!(
            err.contains(code) && err.contains("--force"),
            "{code}: {err}"
        );
        assert!(err.contains("nothing was uploaded"), "{code}: {err}");
        let (exit, v, err) = dry_run(&raw, &["--force"]);
        assert_eq!(exit, Some(0), "{code} --force: {err}");
        assert_eq!(v["dry_run"], true);
    }
    // The blank disk: no-os.
    let blank = dir.path().join("blank.raw");
    std::fs::File::create(&blank)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let (exit, _, err) = dry_run(&blank, &[]);
    assert_eq!(exit, Some(2), "{err}");
    assert!(err.contains("no-os"), "{err}");
    let (exit, _, err) = dry_run(&blank, &["--force"]);
    assert_eq!(exit, Some(0), "{err}");
}

#[test]
fn prepared_guest_plans_with_nvme_and_findings_come_first() {
    if !g::have_mkfs() {
        return;
    }
    let dir = crate::util::tempdir();
    let raw = g::build(dir.path(), "p", &g::prepared(), &DiskOpts::default());
    let (exit, v, err) = dry_run(&raw, &[]);
    assert_eq!(exit, Some(0), "{err}");
    assert_eq!(v["plan"]["Features.NvmeSupport"], "supported", "{v}");
    let (_, v, _) = dry_run(&raw, &["--nvme", "unsupported"]);
    assert_eq!(v["plan"]["Features.NvmeSupport"], "unsupported");

    let mut t = g::prepared();
    t.file(
        &format!("/usr/lib/modules/{KVER}/modules.builtin"),
        "kernel/drivers/block/virtio_blk.ko\n",
    );
    t.file("/etc/selinux/config", "SELINUX=enforcing\n");
    let raw = g::build(dir.path(), "n", &t, &DiskOpts::default());
    let (exit, v, err) = dry_run(&raw, &[]);
    assert_eq!(exit, Some(0), "{err}");
    assert_eq!(v["plan"]["Features.NvmeSupport"], "unsupported");
    assert!(err.contains("readiness info no-nvme"), "{err}");
    let w = v["warnings"].to_string();
    assert!(w.contains("readiness selinux-enforcing"), "{w}");
    // The findings are printed before the plan step.
    let at_finding = err
        .find("readiness warning selinux-enforcing")
        .expect("finding printed");
    let at_plan = err.find("[plan]").expect("plan step");
    assert!(at_finding < at_plan, "{err}");
}

#[test]
fn inspect_warnings_reach_the_plan() {
    if !g::have_mkfs() {
        return;
    }
    // The prepared guest cut short: its partition ends past the end of the disk.
    let dir = crate::util::tempdir();
    let raw = g::build(dir.path(), "cut", &g::prepared(), &DiskOpts::default());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&raw)
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    let o = crate::util::run(&["inspect", "--json", raw.to_str().unwrap()]);
    let i: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let inspect_warnings: Vec<String> = i["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(!inspect_warnings.is_empty(), "{i}");
    let (exit, v, err) = dry_run(&raw, &["--force"]);
    assert_eq!(exit, Some(0), "{err}");
    let plan_warnings = v["warnings"].to_string();
    for w in &inspect_warnings {
        let w = serde_json::Value::from(format!("inspect: {w}")).to_string();
        assert!(
            plan_warnings.contains(w.trim_matches('"')),
            "{w} not in {plan_warnings}"
        );
    }
}
