//! `imgtool check FILE [--json]`: verify an image's structure. Exit 0 clean, 1 problems found,
//! 2 when the file cannot be read as an image.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::output::{escape, print_json};
use crate::error::Result;
use crate::image::finding::Severity;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image file (RAW or VHD)
    pub file: PathBuf,
    /// Print a JSON document (schema: docs/json.md) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<i32> {
    let doc = report(&args.file)?;
    let problems = doc["problems"].as_u64().unwrap_or(0);
    if args.json {
        print_json(&doc);
    } else {
        print!("{}", render_text(&doc));
    }
    Ok(if problems > 0 { 1 } else { 0 })
}

pub fn report(path: &std::path::Path) -> Result<Value> {
    let r = crate::image::check::check(path)?;
    let findings: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            json!({
                "severity": if f.severity == Severity::Error { "error" } else { "warning" },
                "offset": f.offset,
                "field": f.field,
                "found": f.found,
                "expected": f.expected,
                "repair": f.repair,
            })
        })
        .collect();
    let mut doc = json!({
        "schema": "imgtool.check/1",
        "file": path.display().to_string(),
        "format": r.kind.name(),
        "disk_type": r.disk_type,
        "problems": r.problems(),
        "warnings": r.warnings(),
        "blocks_checked": r.blocks_checked,
        "findings": findings,
    });
    if let Some(note) = r.note {
        doc["note"] = json!(note);
    }
    Ok(doc)
}

pub fn render_text(d: &Value) -> String {
    let mut out = String::new();
    for f in d["findings"].as_array().into_iter().flatten() {
        let off = f["offset"].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "{:<7} offset {off} ({off:#x}): {}: found {}, expected {}\n",
            f["severity"].as_str().unwrap_or("").to_uppercase(),
            f["field"].as_str().unwrap_or(""),
            f["found"].as_str().unwrap_or(""),
            f["expected"].as_str().unwrap_or(""),
        ));
        if let Some(r) = f["repair"].as_str() {
            out.push_str(&format!("        repairable: {r}\n"));
        }
    }
    let file = d["file"].as_str().unwrap_or("");
    let p = d["problems"].as_u64().unwrap_or(0);
    let w = d["warnings"].as_u64().unwrap_or(0);
    let kind = d["disk_type"]
        .as_str()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    if let Some(note) = d["note"].as_str() {
        out.push_str(&format!("{file}: {note}\n"));
    } else if p == 0 {
        out.push_str(&format!(
            "{file}: no problems found in this{kind} {} image ({} warnings, {} blocks checked)\n",
            d["format"].as_str().unwrap_or(""),
            w,
            d["blocks_checked"].as_u64().unwrap_or(0)
        ));
    } else {
        out.push_str(&format!("{file}: {p} problems and {w} warnings found\n"));
    }
    escape(&out)
}
