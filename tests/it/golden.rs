//! Golden outputs: `inspect` and `check`, text and JSON, for the committed fixtures in
//! testdata/golden/. Run with IMGTOOL_BLESS=1 to rewrite the expected files after a deliberate
//! change (then read the diff).

use std::fs;
use std::path::Path;

use crate::util::{imgtool, testdata};

/// Host-dependent values are replaced before comparing.
fn normalise(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        if line.trim_start().starts_with("\"disk_size\"") {
            out.push_str("  \"disk_size\": \"(host dependent)\",\n");
        } else if line.starts_with("disk size:") {
            out.push_str("disk size:     (host dependent)\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn golden(name: &str, args: &[&str], expected_code: i32) {
    let dir = testdata("golden");
    let o = imgtool().current_dir(&dir).args(args).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(expected_code),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = normalise(&String::from_utf8_lossy(&o.stdout));
    let path = dir.join(name);
    if std::env::var_os("IMGTOOL_BLESS").is_some() {
        fs::write(&path, &got).unwrap();
        return;
    }
    let want = fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} missing: run IMGTOOL_BLESS=1 cargo test golden",
            path.display()
        )
    });
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs at line {}:\n got: {}\nwant: {}\n(IMGTOOL_BLESS=1 rewrites it after a deliberate change)",
            Path::new(name).display(),
            line + 1,
            got.lines().nth(line).unwrap_or("<end>"),
            want.lines().nth(line).unwrap_or("<end>")
        );
    }
}

#[test]
fn golden_inspect_and_check() {
    for f in ["small-dynamic.vhd", "small-chain.vhd"] {
        golden(&format!("{f}.inspect.txt"), &["inspect", f], 0);
        golden(&format!("{f}.inspect.json"), &["inspect", "--json", f], 0);
        golden(&format!("{f}.check.json"), &["check", "--json", f], 0);
    }
    // The README's sample: a Debian 12 UEFI guest as a dynamic VHD made by qemu-img.
    let sample = "../sample/debian-12-uefi.vhd";
    golden("debian-12-uefi.vhd.inspect.txt", &["inspect", sample], 0);
    golden(
        "debian-12-uefi.vhd.inspect.json",
        &["inspect", "--json", sample],
        0,
    );
}

#[test]
fn golden_fixtures_read_as_their_recipe() {
    // The committed fixtures are exactly what the generator makes today.
    let d = crate::util::tempdir();
    crate::vhd_read::generate(d.path(), &["small-dynamic", "small-chain"]);
    for f in [
        "small-dynamic.vhd",
        "small-chain.vhd",
        "small-chain.base.vhd",
    ] {
        assert_eq!(
            fs::read(d.path().join(f)).unwrap(),
            fs::read(testdata("golden").join(f)).unwrap(),
            "{f}"
        );
    }
    for f in ["small-dynamic", "small-chain"] {
        let ours = crate::vhd_read::read_all(&testdata("golden").join(format!("{f}.vhd")));
        assert!(
            ours == fs::read(d.path().join(format!("{f}.raw"))).unwrap(),
            "{f}"
        );
    }
}
