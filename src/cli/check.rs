//! `imgtool check FILE... [--json]`: verify images' structure. Exit 0 clean, 1 problems found,
//! 2 when a file cannot be read as an image (with several files, the worst of them).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::inputs::{self, FilesArgs, Report};
use super::output::escape;
use crate::error::Result;
use crate::image::Kind;
use crate::image::finding::{Finding, Severity};
use crate::text::count;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "\
Examples:
  imgtool check disk.vhd                 exit 0 clean, 1 problems found, 2 unreadable
  imgtool check --json disk.qcow2 | jq '.findings[] | select(.severity == \"error\")'
  imgtool check a.vhd b.vmdk c.img       several files; the exit code is the worst
  imgtool check -q disk.vhdx && echo ok  no report, the exit code only",
    mut_arg("files", |a| a.help(
        "The image files (RAW, VHD, qcow2, VHDX, VMDK); a RAW disk's partition table is checked"
    )),
    mut_arg("quiet", |a| a.help(
        "Print no report: the exit code says it all (errors still go to stderr)"
    ))
)]
pub struct Args {
    #[command(flatten)]
    pub input: FilesArgs,
}

pub fn run(args: Args) -> Result<i32> {
    inputs::run_each(&args.input, |p| {
        let r = CheckDoc::new(p)?;
        Ok(Report {
            text: r.text(),
            code: if r.problems > 0 { 1 } else { 0 },
            doc: r.to_json(),
        })
    })
}

/// The `check --json` document (schema: docs/json.md); the text is rendered from it.
#[derive(Debug, Serialize)]
pub struct CheckDoc {
    pub schema: &'static str,
    pub file: String,
    /// Serialized by its name (`"raw"`, `"vhd"`...).
    pub format: Kind,
    /// The format's subtype ("dynamic"), or a RAW disk's partition table ("mbr").
    pub disk_type: Option<&'static str>,
    pub problems: usize,
    /// The warnings' messages (they are also in `findings`).
    pub warnings: Vec<String>,
    pub blocks_checked: u64,
    pub findings: Vec<Finding>,
    pub note: Option<String>,
}

impl CheckDoc {
    pub fn new(path: &Path) -> Result<Self> {
        let r = crate::disk::check(path)?;
        Ok(CheckDoc {
            schema: "imgtool.check/1",
            file: path.display().to_string(),
            format: r.kind,
            disk_type: r.disk_type,
            problems: r.problems(),
            warnings: r
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .map(Finding::message)
                .collect(),
            blocks_checked: r.blocks_checked,
            findings: r.findings,
            note: r.note,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// One line per finding (its repair on the next), then the verdict; every string from
    /// the image escaped once, here.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let off = f.offset;
            let severity = match f.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARNING",
            };
            out.push_str(&format!(
                "{severity:<7} offset {off} ({off:#x}): {}: found {}, expected {}\n",
                escape(&f.field),
                escape(&f.found),
                escape(&f.expected),
            ));
            if let Some(r) = &f.repair {
                out.push_str(&format!("        repairable: {}\n", escape(r)));
            }
        }
        out.push_str(&self.verdict());
        out
    }

    fn verdict(&self) -> String {
        let file = escape(&self.file);
        let (p, w) = (self.problems as u64, self.warnings.len() as u64);
        if let Some(note) = &self.note {
            format!("{file}: {}\n", escape(note))
        } else if p == 0 && self.format == Kind::Raw {
            format!(
                "{file}: no problems found in this raw image's {} partition table ({})\n",
                self.disk_type.unwrap_or("").to_uppercase(),
                count(w, "warning"),
            )
        } else if p == 0 {
            let kind = self.disk_type.map(|k| format!(" {k}")).unwrap_or_default();
            format!(
                "{file}: no problems found in this{kind} {} image ({}, {} checked)\n",
                self.format.name(),
                count(w, "warning"),
                count(self.blocks_checked, "block")
            )
        } else {
            format!(
                "{file}: {} and {} found\n",
                count(p, "problem"),
                count(w, "warning")
            )
        }
    }
}
