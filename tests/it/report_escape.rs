//! Strings an image carries reach the text reports escaped exactly once (crate::text::escape):
//! a VHD's parent name, a VMDK descriptor's keys and values. The JSON keeps them as they are.

use std::fs;

use crate::util::{run, tempdir};

/// ESC (a terminal command) and U+202E (bidi override: reverses what follows on screen).
const EVIL: &str = "x\u{1b}[2J\u{202e}y";
const SHOWN: &str = "x\\u{1b}[2J\\u{202e}y";

fn stdout(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn assert_escaped_once(text: &str, line_start: &str) {
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(line_start))
        .unwrap_or_else(|| panic!("no line {line_start:?}:\n{text}"));
    // Once: the backslash of the first escape is not escaped again (`\\u{1b}`).
    assert!(line.contains(SHOWN) && !line.contains("\\\\"), "{line}");
}

#[test]
fn a_vhd_parent_name_with_escape_and_bidi_is_shown_escaped_once() {
    let d = tempdir();
    crate::vhd_read::generate(d.path(), &["chain2"]);
    let child = d.path().join("chain2.vhd");
    // The dynamic header's parent name (offset 64, UTF-16BE, 512 bytes); the parent is still
    // found through its locators.
    crate::vhd_hostile::patch_header(&child, |h| {
        let name: Vec<u8> = EVIL.encode_utf16().flat_map(u16::to_be_bytes).collect();
        h[64..576].fill(0);
        h[64..64 + name.len()].copy_from_slice(&name);
    });
    let c = child.to_str().unwrap();
    assert_escaped_once(&stdout(&["inspect", c]), "parent name:");
    let doc: serde_json::Value = serde_json::from_str(&stdout(&["inspect", "--json", c])).unwrap();
    assert_eq!(
        doc["vhd"]["dynamic"]["parent_name"], EVIL,
        "JSON keeps the name as it is"
    );
}

#[test]
fn a_vmdk_descriptor_key_with_escape_and_bidi_is_shown_escaped_once() {
    let d = tempdir();
    crate::vmdk_read::make(d.path(), &["monolithicFlat"]);
    let p = d.path().join("monolithicFlat.vmdk");
    // Lines added before the descriptor's NUL padding: a ddb key and another key.
    let mut b = fs::read(&p).unwrap();
    let at = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    let lines = format!("ddb.{EVIL} = \"{EVIL}\"\n{EVIL}.other = \"1\"\n");
    b.splice(at..at, lines.into_bytes());
    fs::write(&p, b).unwrap();
    let text = stdout(&["inspect", p.to_str().unwrap()]);
    assert_escaped_once(&text, &format!("ddb.{SHOWN}:"));
    assert_escaped_once(&text, SHOWN);
}
