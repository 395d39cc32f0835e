//! `imgtool inspect FILE [--json]`: what the image is, from its metadata only.

use std::path::PathBuf;

use serde_json::Value;

use super::inspect_table::{Table, s, size_both, u};
use super::inspect_text::{qcow2_text, vhd_text, vhdx_text, vmdk_text};
use super::output::escape;
use crate::error::Result;
use crate::image;
use crate::text::human;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool inspect disk.vhd
  imgtool inspect --json disk.qcow2 | jq .import
  imgtool inspect a.vhd b.vmdk c.img     several files (--json: an array); exit code the worst")]
pub struct Args {
    /// The image files (RAW, VHD, qcow2, VHDX, VMDK)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print a JSON document (schema: docs/json.md) instead of text; an array of documents
    /// for several files
    #[arg(long)]
    pub json: bool,
    /// Print no report: only whether each file can be read (exit code; errors on stderr)
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args) -> Result<i32> {
    super::inputs::run_each(&args.files, args.json, args.quiet, |p| {
        let (doc, disk_text) = report(p)?;
        Ok(super::inputs::Report {
            text: render_text(&doc, &disk_text),
            doc,
            code: 0,
        })
    })
}

/// The whole `inspect` document for a file: the image layer, then what is on the disk.
pub fn report(path: &std::path::Path) -> Result<(Value, String)> {
    let img = image::open(path)?;
    let mut doc = image::info::image_json(&img)?;
    let disk = disk_report(&img);
    let body = disk.render_body();
    merge(&mut doc, disk.to_json());
    Ok((doc, body))
}

/// Inspect the virtual disk, with the ImportImage format this image would go up as.
pub fn disk_report(img: &image::Image) -> crate::disk::DiskReport {
    let mut r = crate::plan::inspect_disk(img);
    if let Ok((format, why)) = crate::plan::form::import_format(img, None) {
        // `import` may send a streamed dynamic VHD of the allocated data instead (issue 14);
        // deciding it needs a zero scan of the data, too slow for inspect: say so.
        let kept_as_is = format == crate::plan::ImageFormat::Qcow2
            && !crate::plan::form::converted_while_uploading(img, format);
        let why = if kept_as_is {
            why
        } else {
            format!(
                "{why}; import sends a streamed dynamic VHD (Format VHD) of the allocated data \
                 instead when that is smaller: `import --dry-run` says which"
            )
        };
        r.set_format(format.api_name(), &why);
    }
    r
}

/// Put the disk report's sections into the image document; warnings are appended.
fn merge(doc: &mut Value, disk: Value) {
    let Value::Object(disk) = disk else { return };
    let Some(o) = doc.as_object_mut() else { return };
    for (k, v) in disk {
        match k.as_str() {
            "virtual_size" => {}
            "warnings" => {
                if let (Some(Value::Array(w)), Value::Array(more)) = (o.get_mut("warnings"), v) {
                    w.extend(more);
                }
            }
            _ => {
                o.insert(k, v);
            }
        }
    }
    o.insert("schema".into(), Value::from("imgtool.inspect/1"));
}

/// Text rendering of the JSON document, aligned like `qemu-img info`; `disk_text` is the disk
/// report's own rendering of its sections.
pub fn render_text(d: &Value, disk_text: &str) -> String {
    let mut t = Table::default();
    t.row("image", s(&d["file"]));
    t.row("file format", s(&d["format"]));
    t.row("virtual size", size_both(&d["virtual_size"]));
    t.row("disk size", human(u(&d["disk_size"])));
    t.row("allocated", size_both(&d["allocated_bytes"]));
    let mut out = t.render(0);
    if let Some(v) = d.get("vhd") {
        out.push_str(&vhd_text(v));
    }
    if let Some(v) = d.get("qcow2") {
        out.push_str(&qcow2_text(v));
    }
    if let Some(v) = d.get("vhdx") {
        out.push_str(&vhdx_text(v));
    }
    if let Some(v) = d.get("vmdk") {
        out.push_str(&vmdk_text(v));
    }
    out.push_str(disk_text);
    if let Some(w) = d["warnings"].as_array().filter(|w| !w.is_empty()) {
        out.push_str("warnings:\n");
        for x in w {
            out.push_str(&format!("    {}\n", escape(x.as_str().unwrap_or(""))));
        }
    }
    out
}
