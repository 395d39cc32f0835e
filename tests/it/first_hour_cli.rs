//! Issue 18, the command line as a whole: regular and documented JSON (point 8), text that
//! cannot forge lines or reorder itself (point 9), leftovers of killed runs (point 10), and
//! what users expect of a CLI (several files, streams refused, -q, examples, completions,
//! a man page, the environment documented, a RAW disk's partition table checked).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cloud_support::{endpoint_args, setup};
use crate::fake_cloud::{FakeCloud, Scenario};
use crate::first_hour::fixed_vhd_without_footer;
use crate::util::{qemu_img_ok, run, stderr, stdout};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json_of(args: &[&str]) -> (Option<i32>, Value) {
    let o = run(args);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {} {}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

// ---------------------------------------------------------------------------------------
// Point 8: every key documented

/// The key index of docs/json.md: for each "```keys NAME" block, its lines.
fn documented_keys() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let doc = fs::read_to_string(repo("docs/json.md")).unwrap();
    let mut out = std::collections::BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in doc.lines() {
        if let Some(name) = line.strip_prefix("```keys ") {
            cur = Some(name.trim().to_string());
            out.entry(name.trim().to_string())
                .or_insert_with(BTreeSet::new);
        } else if line.starts_with("```") {
            cur = None;
        } else if let Some(c) = &cur {
            let k = line.trim();
            if !k.is_empty() {
                out.get_mut(c).unwrap().insert(k.to_string());
            }
        }
    }
    out
}

/// Every key path in `v`: `a.b`, array elements as `a[]`.
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// A documented `p.*` covers every path under `p.` (maps whose keys are data: ddb, plan).
fn documented(path: &str, keys: &BTreeSet<String>) -> bool {
    keys.contains(path)
        || keys
            .iter()
            .filter_map(|k| k.strip_suffix(".*"))
            .any(|p| path.starts_with(&format!("{p}.")))
}

fn assert_documented(what: &str, schema: &str, doc: &Value) {
    let all = documented_keys();
    let keys = all
        .get(schema)
        .unwrap_or_else(|| panic!("docs/json.md has no ```keys {schema} block"));
    let mut printed = BTreeSet::new();
    key_paths(doc, "", &mut printed);
    let missing: Vec<&String> = printed.iter().filter(|p| !documented(p, keys)).collect();
    assert!(
        missing.is_empty(),
        "{what}: keys printed but not in docs/json.md's `keys {schema}` block: {missing:#?}"
    );
}

/// Images of every format and kind, made by qemu-img and the committed fixtures.
fn images(d: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for name in ["uefi-x86_64", "mbr-extended", "lvm", "windows-2019"] {
        let u = crate::disk_util::unpack(name);
        let p = d.join(format!("{name}.img"));
        fs::copy(&u.raw, &p).unwrap();
        v.push(p);
    }
    let raw = v[0].clone();
    let mk = |name: &str, args: &[&str]| {
        let p = d.join(name);
        let mut a: Vec<&str> = args.to_vec();
        a.push(s(&p));
        qemu_img_ok(&a);
        p
    };
    v.push(mk(
        "fixed.vhd",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vpc",
            "-o",
            "subformat=fixed",
            s(&raw),
        ],
    ));
    v.push(mk(
        "dynamic.vhd",
        &["convert", "-f", "raw", "-O", "vpc", s(&raw)],
    ));
    // qemu-img cannot make a differencing VHD: testdata/vhdgen.py's chain (make-fixtures.sh).
    for f in ["small-chain.vhd", "small-chain.base.vhd"] {
        fs::copy(crate::util::testdata(&format!("golden/{f}")), d.join(f)).unwrap();
    }
    v.push(d.join("small-chain.vhd"));
    let q = mk("a.qcow2", &["convert", "-f", "raw", "-O", "qcow2", s(&raw)]);
    v.push(q.clone());
    v.push(mk(
        "b.qcow2",
        &["create", "-q", "-f", "qcow2", "-b", s(&q), "-F", "qcow2"],
    ));
    v.push(mk(
        "a.vhdx",
        &["convert", "-f", "raw", "-O", "vhdx", s(&raw)],
    ));
    v.push(mk(
        "a.vmdk",
        &["convert", "-f", "raw", "-O", "vmdk", s(&raw)],
    ));
    v.push(mk(
        "flat.vmdk",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=monolithicFlat",
            s(&raw),
        ],
    ));
    v
}

#[test]
fn every_json_key_printed_is_documented() {
    let d = tempfile::tempdir().unwrap();
    for img in images(d.path()) {
        let (code, doc) = json_of(&["inspect", "--json", s(&img)]);
        assert_eq!(code, Some(0), "{}: {doc}", img.display());
        assert_documented(&format!("inspect {}", img.display()), "inspect", &doc);
        let (_, doc) = json_of(&["check", "--json", s(&img)]);
        assert_documented(&format!("check {}", img.display()), "check", &doc);
    }
    let raw = d.path().join("uefi-x86_64.img");
    let out = d.path().join("out.vhd");
    let (code, doc) = json_of(&["convert", "--json", s(&raw), s(&out)]);
    assert_eq!(code, Some(0), "{doc}");
    assert_documented("convert", "convert", &doc);
    let (_, doc) = json_of(&[
        "convert",
        "--json",
        "--in-place",
        s(&raw),
        s(&d.path().join("in.vhd")),
    ]);
    assert_documented("convert --in-place", "convert", &doc);

    let fake = FakeCloud::start(Scenario::default());
    let st = setup();
    for extra in [&["--dry-run", "--json", "--create-role"][..], &["--json"]] {
        let o = crate::cloud_support::run(st.cmd(), &st.import_args(&fake), extra);
        let doc: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("import {extra:?}: {e}: {}", stderr(&o)));
        assert_documented(&format!("import {extra:?}"), "import", &doc);
    }
    let mut a: Vec<String> = [
        "task",
        "status",
        "t-fake0001",
        "--region",
        "cn-hangzhou",
        "--json",
    ]
    .map(String::from)
    .to_vec();
    a.extend(endpoint_args(&fake));
    let o = crate::cloud_support::run(st.cmd(), &a, &[]);
    let doc: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("task: {e}: {}", stderr(&o)));
    assert_documented("task status", "task", &doc);
}

#[test]
fn the_key_test_can_fail() {
    let doc = serde_json::json!({"schema": "x", "not_a_documented_key": {"deeper": [ {"x": 1} ]}});
    let keys = &documented_keys()["inspect"];
    let mut printed = BTreeSet::new();
    key_paths(&doc, "", &mut printed);
    assert!(printed.contains("not_a_documented_key.deeper[].x"));
    assert!(!documented("not_a_documented_key", keys));
    assert!(documented("schema", keys));
    assert!(documented("vmdk.descriptor.ddb.ddb.uuid.image", keys));
}

#[test]
fn vhd_dynamic_data_offset_is_null_not_two_to_the_64_minus_one() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("d.vhd");
    qemu_img_ok(&["create", "-q", "-f", "vpc", s(&p), "8M"]);
    let (_, doc) = json_of(&["inspect", "--json", s(&p)]);
    assert!(doc["vhd"]["dynamic"].is_object(), "{doc}");
    assert_eq!(doc["vhd"]["dynamic"]["data_offset"], Value::Null, "{doc}");
    let text = fs::read_to_string(repo("docs/json.md")).unwrap();
    assert!(
        text.contains("`vhd.dynamic.data_offset`"),
        "the meaning of null is documented"
    );
}

#[test]
fn warnings_are_a_list_of_strings_in_inspect_and_check() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.vmdk");
    qemu_img_ok(&["create", "-q", "-f", "vmdk", s(&p), "8M"]);
    for cmd in ["inspect", "check"] {
        let (_, doc) = json_of(&[cmd, "--json", s(&p)]);
        let w = doc["warnings"]
            .as_array()
            .unwrap_or_else(|| panic!("{cmd}: {doc}"));
        assert!(w.iter().all(Value::is_string), "{cmd}: {doc}");
    }
}

#[test]
fn found_and_missing_facts_have_the_same_keys() {
    // An empty disk: every fact is missing; a guest: most are found.
    let d = tempfile::tempdir().unwrap();
    let empty = d.path().join("empty.img");
    fs::File::create(&empty).unwrap().set_len(1 << 20).unwrap();
    let u = crate::disk_util::unpack("uefi-x86_64");
    let mut shapes = BTreeSet::new();
    for p in [&empty, &u.raw] {
        let (_, doc) = json_of(&["inspect", "--json", s(p)]);
        let mut facts: Vec<&Value> = doc["import"].as_object().unwrap().values().collect();
        facts.push(&doc["guest"]["os"]["arch"]);
        for f in facts.into_iter().filter(|f| f.is_object()) {
            let keys: Vec<&String> = f.as_object().unwrap().keys().collect();
            shapes.insert(format!("{keys:?}"));
        }
    }
    assert_eq!(
        shapes.into_iter().collect::<Vec<_>>(),
        vec![r#"["evidence", "reason", "value"]"#.to_string()]
    );
}

// ---------------------------------------------------------------------------------------
// Point 9: text

const EVIL: &str = "a\nb\tc\u{202e}gpj.img";

#[test]
fn text_output_escapes_newlines_tabs_and_bidi_overrides_in_file_names() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(EVIL);
    fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
    let shown = "a\\nb\\tc\\u{202e}gpj.img";
    for args in [
        vec!["inspect", s(&p)],
        vec!["check", s(&p)],
        vec!["convert", s(&p), s(&d.path().join("o\u{202e}.raw"))],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains(shown), "{args:?}: {out}");
        assert!(
            !out.contains('\u{202e}') && !out.contains('\t'),
            "{args:?}: {out:?}"
        );
    }
    // An error message names the file escaped too.
    let missing = d.path().join("gone\u{202e}\n.vhd");
    let o = run(&["inspect", s(&missing)]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("gone\\u{202e}\\n.vhd"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e:?}");
}

#[test]
fn there_is_one_escape_function() {
    let mut defs = Vec::new();
    for f in walk(&repo("src")) {
        let t = fs::read_to_string(&f).unwrap();
        for l in t.lines() {
            if l.contains("fn escape(") {
                defs.push(format!("{}: {l}", f.display()));
            }
        }
    }
    assert_eq!(defs.len(), 1, "{defs:#?}");
    assert!(defs[0].contains("src/text.rs"), "{defs:#?}");
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in fs::read_dir(d).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            v.push(p);
        }
    }
    v
}

#[test]
fn counts_are_singular_for_one() {
    let d = tempfile::tempdir().unwrap();
    // One allocated block: "1 block checked", "0 warnings".
    let p = d.path().join("one.vhd");
    qemu_img_ok(&["create", "-q", "-f", "vpc", s(&p), "8M"]);
    let o = Command::new("qemu-io")
        .args(["-f", "vpc", "-c", "write -P 7 0 512", s(&p)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["check", s(&p)]);
    let out = stdout(&o);
    assert!(out.contains("(0 warnings, 1 block checked)"), "{out}");
    // One problem: a fixed VHD that lost its footer.
    let x = d.path().join("x.vhd");
    fixed_vhd_without_footer(&x, "4M");
    let o = run(&["check", s(&x)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("1 problem and 0 warnings found"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn converting_into_a_directory_says_it_is_a_directory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("a.img");
    fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
    let out = d.path().join("outdir");
    fs::create_dir(&out).unwrap();
    for extra in [&[][..], &["--to", "raw"]] {
        let mut a = vec!["convert", s(&p), s(&out)];
        a.extend(extra);
        let o = run(&a);
        assert_eq!(o.status.code(), Some(2));
        let e = stderr(&o);
        assert!(
            e.contains("is a directory") && e.contains("NAME.raw"),
            "{e}"
        );
        assert!(!e.contains("extension"), "{e}");
    }
}

// ---------------------------------------------------------------------------------------
// Point 10: leftovers of killed runs

/// Above /proc/sys/kernel/pid_max's default (32768 here, at most 2^22): no such process.
const DEAD_PID: u32 = 4_194_304 + 7;

#[test]
fn a_sigkilled_convert_leaves_a_temp_file_the_next_run_reports_and_removes() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("big.img");
    // Dense, so the copy takes long enough to be killed in the middle.
    let mut b = vec![0u8; 256 << 20];
    for (i, x) in b.iter_mut().enumerate().step_by(4096) {
        *x = (i / 4096 % 251 + 1) as u8;
    }
    fs::write(&src, &b).unwrap();
    drop(b);
    let dst = d.path().join("out.raw");
    let mut child = crate::util::imgtool()
        .args(["convert", s(&src), s(&dst)])
        .spawn()
        .unwrap();
    let temp = loop {
        let found = fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(".out.raw.imgtool-")
            });
        if let Some(t) = found {
            break t;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "convert ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    child.kill().unwrap(); // SIGKILL: no handler runs, the temporary file stays
    child.wait().unwrap();
    assert!(temp.exists(), "SIGKILL left {}", temp.display());
    let name = temp.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.contains(&format!(".imgtool-{}-", child.id())),
        "the name holds the writer's pid: {name}"
    );
    // A leftover of another output, from a process that is gone: reported, kept.
    let other = d
        .path()
        .join(format!(".other.raw.imgtool-{DEAD_PID}-0badf00d.tmp"));
    fs::write(&other, b"x").unwrap();

    let small = d.path().join("small.img");
    fs::File::create(&small).unwrap().set_len(1 << 20).unwrap();
    let o = run(&["convert", "--force", s(&small), s(&dst)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("removed {}", temp.display())),
        "{out}"
    );
    assert!(out.contains(&format!("found {}", other.display())), "{out}");
    assert!(!temp.exists());
    assert!(
        other.exists(),
        "another output's leftover is not ours to delete"
    );
    // And in JSON.
    fs::write(&temp, b"x").unwrap();
    let (_, doc) = json_of(&["convert", "--json", "--force", s(&small), s(&dst)]);
    assert_eq!(doc["convert"]["stale_removed"][0], s(&temp), "{doc}");
    assert_eq!(doc["convert"]["stale_found"][0], s(&other), "{doc}");
}

// ---------------------------------------------------------------------------------------
// Also expected by users

#[test]
fn several_files_give_an_array_and_the_worst_exit_code() {
    let d = tempfile::tempdir().unwrap();
    let good = d.path().join("good.vhd");
    qemu_img_ok(&["create", "-q", "-f", "vpc", s(&good), "8M"]);
    let bad = d.path().join("bad.vhd");
    fixed_vhd_without_footer(&bad, "4M");
    let q = d.path().join("c.qcow2");
    qemu_img_ok(&["create", "-q", "-f", "qcow2", s(&q), "8M"]);
    let missing = d.path().join("missing.vhd");

    let (code, doc) = json_of(&["inspect", "--json", s(&good), s(&q)]);
    assert_eq!(code, Some(0));
    let a = doc.as_array().expect("an array");
    assert_eq!(a.len(), 2);
    assert_eq!(a[1]["format"], "qcow2");

    let (code, doc) = json_of(&["check", "--json", s(&good), s(&bad), s(&q)]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(doc.as_array().unwrap().len(), 3);
    assert_eq!(doc[1]["problems"], 1);

    let o = run(&["check", "--json", s(&good), s(&missing), s(&bad)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a file that cannot be read is the worst"
    );
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc[1]["file"], s(&missing));
    assert!(doc[1]["error"].as_str().unwrap().contains("No such file"));
    assert_eq!(
        doc[2]["problems"], 1,
        "the files after the error are still checked"
    );
    assert!(stderr(&o).contains("missing.vhd"));

    let o = run(&["inspect", s(&good), s(&q)]);
    let out = stdout(&o);
    assert!(out.contains("good.vhd") && out.contains("c.qcow2"), "{out}");
}

#[test]
fn a_pipe_a_dash_or_a_character_device_needs_a_seekable_file() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    let o = Command::new("mkfifo").arg(&fifo).output().unwrap();
    assert!(o.status.success());
    for (arg, what) in [
        ("-", "standard input"),
        (s(&fifo), "a pipe"),
        ("/dev/zero", "a character device"),
    ] {
        for cmd in ["inspect", "check"] {
            // A FIFO nobody writes would make an open() wait forever: this must not hang.
            let o = run(&[cmd, arg]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {arg}");
            let e = stderr(&o);
            assert!(
                e.contains("needs a seekable file") && e.contains(what),
                "{e}"
            );
        }
    }
    let o = run(&["convert", s(&fifo), s(&d.path().join("o.raw"))]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs a seekable file"));
}

const SUBCOMMANDS: [&str; 7] = [
    "inspect",
    "check",
    "convert",
    "import",
    "task",
    "completions",
    "man",
];

#[test]
fn every_subcommand_takes_quiet_and_shows_examples() {
    let mut all: Vec<Vec<&str>> = SUBCOMMANDS.iter().map(|c| vec![*c]).collect();
    all.extend([
        vec!["task", "wait"],
        vec!["task", "status"],
        vec!["task", "cancel"],
    ]);
    for sub in all {
        let mut a = sub.clone();
        a.push("--help");
        let o = run(&a);
        let out = stdout(&o);
        assert!(out.contains("Examples:"), "{sub:?}: {out}");
        if sub != ["task"] {
            assert!(out.contains("-q, --quiet"), "{sub:?}: {out}");
        }
    }
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("d.vhd");
    qemu_img_ok(&["create", "-q", "-f", "vpc", s(&p), "8M"]);
    for cmd in ["inspect", "check"] {
        let o = run(&[cmd, "-q", s(&p)]);
        assert_eq!(o.status.code(), Some(0));
        assert!(o.stdout.is_empty(), "{cmd} -q: {}", stdout(&o));
    }
}

#[test]
fn completions_and_man_page_are_generated_from_the_parser() {
    for shell in ["bash", "zsh", "fish"] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let out = stdout(&o);
        for sub in SUBCOMMANDS {
            assert!(out.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(out.contains("--json") || out.contains("-l json"), "{shell}");
    }
    let o = run(&["completions", "bash"]);
    let check = Command::new("bash")
        .args(["-n", "-c", &stdout(&o)])
        .output()
        .unwrap();
    assert!(check.status.success(), "bash -n: {}", stderr(&check));

    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let roff = stdout(&o);
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH imgtool"),
        "{roff}"
    );
    // Rendered by groff as man would: every subcommand and its examples are on the page.
    let mut g = Command::new("groff")
        .args(["-man", "-Tutf8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("groff");
    use std::io::Write;
    g.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
    let page = g.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&page.stdout).replace(['\u{2010}', '\u{2212}'], "-");
    for sub in SUBCOMMANDS {
        assert!(
            text.contains(&format!("imgtool {sub}")),
            "man page lacks {sub}: {text}"
        );
    }
    assert!(text.contains("Examples:"), "{text}");
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    assert!(readme.contains("imgtool completions") && readme.contains("imgtool man"));
}

#[test]
fn every_environment_variable_read_is_documented() {
    let doc = fs::read_to_string(repo("docs/env.md")).unwrap();
    let prefixes = ["ALIBABA_CLOUD_", "ALIBABACLOUD_", "ALICLOUD_", "IMGTOOL_"];
    let mut names = BTreeSet::new();
    for f in walk(&repo("src")) {
        let t = fs::read_to_string(&f).unwrap();
        // Every "NAME" literal with an environment prefix, and the argument of every
        // env("X") / var("X") / var_os("X") call.
        for piece in t.split('"').skip(1).step_by(2) {
            let name_like = !piece.is_empty()
                && piece
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !name_like {
                continue;
            }
            let prefixed = prefixes
                .iter()
                .any(|p| piece.starts_with(p) && piece.len() > p.len());
            let read = ["env(\"", "var(\"", "var_os(\"", "env = \""]
                .iter()
                .any(|c| t.contains(&format!("{c}{piece}\"")));
            if prefixed || read {
                names.insert(piece.to_string());
            }
        }
    }
    assert!(
        names.contains("IMGTOOL_ECS_ENDPOINT") && names.contains("HOME"),
        "{names:?}"
    );
    let undocumented: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/env.md: {undocumented:?}"
    );
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    assert!(readme.contains("docs/env.md"));
}

// ---------------------------------------------------------------------------------------
// check on a RAW disk: its partition table

fn write_at(p: &Path, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .write_all_at(bytes, at)
        .unwrap();
}

#[test]
fn check_on_a_raw_gpt_disk_checks_the_table() {
    let u = crate::disk_util::unpack("uefi-x86_64");
    let (code, doc) = json_of(&["check", "--json", s(&u.raw)]);
    assert_eq!(code, Some(0), "a good GPT: {doc:#}");
    assert_eq!(doc["disk_type"], "gpt");
    assert_eq!(doc["note"], Value::Null);
    let size = fs::metadata(&u.raw).unwrap().len();

    // The primary entry array (LBA 2) damaged: its CRC no longer matches.
    write_at(&u.raw, 2 * 512 + 100, b"\xff");
    let (code, doc) = json_of(&["check", "--json", s(&u.raw)]);
    assert_eq!(code, Some(1), "{doc:#}");
    let f = &doc["findings"][0];
    assert_eq!(f["field"], "GPT primary entry array CRC32", "{doc:#}");
    assert_eq!(f["offset"], 1024);
    assert!(
        f["repair"].as_str().unwrap().contains("from the backup"),
        "{doc:#}"
    );
    write_at(&u.raw, 2 * 512 + 100, b"\0");

    // The backup header gone (a truncated copy of the disk).
    write_at(&u.raw, size - 512, &[0u8; 512]);
    let (code, doc) = json_of(&["check", "--json", s(&u.raw)]);
    assert_eq!(code, Some(1), "{doc:#}");
    let f = &doc["findings"][0];
    assert_eq!(f["field"], "GPT backup header", "{doc:#}");
    assert_eq!(f["offset"], size - 512);
    assert!(f["found"].as_str().unwrap().contains("no header"));
}

#[test]
fn check_on_a_raw_mbr_disk_finds_overlaps_and_partitions_past_the_end() {
    let u = crate::disk_util::unpack("mbr-extended");
    let (code, doc) = json_of(&["check", "--json", s(&u.raw)]);
    assert_eq!(code, Some(0), "{doc:#}");
    assert_eq!(doc["disk_type"], "mbr");
    // Entry 1 (at 446): make it 64 MiB long so it runs over the next partition, and past
    // the end of this small disk.
    write_at(&u.raw, 446 + 12, &(64u32 << 11).to_le_bytes());
    let (code, doc) = json_of(&["check", "--json", s(&u.raw)]);
    assert_eq!(code, Some(1), "{doc:#}");
    let fields: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"partition 1 end"), "{fields:?}");
    assert!(fields.iter().any(|f| f.ends_with("start")), "{fields:?}");
    let o = run(&["check", s(&u.raw)]);
    assert!(stdout(&o).contains("ERROR"), "{}", stdout(&o));
}

#[test]
fn check_on_a_raw_without_a_table_says_there_is_none() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("blank.img");
    fs::File::create(&p).unwrap().set_len(1 << 20).unwrap();
    let (code, doc) = json_of(&["check", "--json", s(&p)]);
    assert_eq!(code, Some(0));
    assert!(
        doc["note"].as_str().unwrap().contains("no partition table"),
        "{doc}"
    );
}
