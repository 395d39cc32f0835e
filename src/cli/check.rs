//! `imgtool check FILE... [--json]`: verify images' structure. Exit 0 clean, 1 problems found,
//! 2 when a file cannot be read as an image (with several files, the worst of them).

use std::path::PathBuf;

use serde_json::{Value, json};

use super::inputs::{self, Report};
use super::output::escape;
use crate::error::Result;
use crate::image::finding::Severity;
use crate::text::count;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool check disk.vhd                 exit 0 clean, 1 problems found, 2 unreadable
  imgtool check --json disk.qcow2 | jq '.findings[] | select(.severity == \"error\")'
  imgtool check a.vhd b.vmdk c.img       several files; the exit code is the worst
  imgtool check -q disk.vhdx && echo ok  no report, the exit code only")]
pub struct Args {
    /// The image files (RAW, VHD, qcow2, VHDX, VMDK); a RAW disk's partition table is checked
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print a JSON document (schema: docs/json.md) instead of text; an array of documents
    /// for several files
    #[arg(long)]
    pub json: bool,
    /// Print no report: the exit code says it all (errors still go to stderr)
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<i32> {
    inputs::run_each(&args.files, args.json, args.quiet, |p| {
        let doc = report(p)?;
        let problems = doc["problems"].as_u64().unwrap_or(0);
        Ok(Report {
            text: render_text(&doc),
            code: if problems > 0 { 1 } else { 0 },
            doc,
        })
    })
}

pub fn report(path: &std::path::Path) -> Result<Value> {
    let r = crate::disk::check(path)?;
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
    let warnings: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.message())
        .collect();
    Ok(json!({
        "schema": "imgtool.check/1",
        "file": path.display().to_string(),
        "format": r.kind.name(),
        "disk_type": r.disk_type,
        "problems": r.problems(),
        "warnings": warnings,
        "blocks_checked": r.blocks_checked,
        "findings": findings,
        "note": r.note,
    }))
}

pub fn render_text(d: &Value) -> String {
    let mut out = String::new();
    for f in d["findings"].as_array().into_iter().flatten() {
        let off = f["offset"].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "{:<7} offset {off} ({off:#x}): {}: found {}, expected {}\n",
            f["severity"].as_str().unwrap_or("").to_uppercase(),
            escape(f["field"].as_str().unwrap_or("")),
            escape(f["found"].as_str().unwrap_or("")),
            escape(f["expected"].as_str().unwrap_or("")),
        ));
        if let Some(r) = f["repair"].as_str() {
            out.push_str(&format!("        repairable: {}\n", escape(r)));
        }
    }
    let file = escape(d["file"].as_str().unwrap_or(""));
    let p = d["problems"].as_u64().unwrap_or(0);
    let w = d["warnings"].as_array().map_or(0, Vec::len) as u64;
    let kind = d["disk_type"]
        .as_str()
        .map(|k| format!(" {k}"))
        .unwrap_or_default();
    if let Some(note) = d["note"].as_str() {
        out.push_str(&format!("{file}: {}\n", escape(note)));
    } else if p == 0 && d["format"] == "raw" {
        out.push_str(&format!(
            "{file}: no problems found in this raw image's {} partition table ({})\n",
            d["disk_type"].as_str().unwrap_or("").to_uppercase(),
            count(w, "warning"),
        ));
    } else if p == 0 {
        out.push_str(&format!(
            "{file}: no problems found in this{kind} {} image ({}, {} checked)\n",
            d["format"].as_str().unwrap_or(""),
            count(w, "warning"),
            count(d["blocks_checked"].as_u64().unwrap_or(0), "block")
        ));
    } else {
        out.push_str(&format!(
            "{file}: {} and {} found\n",
            count(p, "problem"),
            count(w, "warning")
        ));
    }
    out
}
