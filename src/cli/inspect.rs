//! `imgtool inspect FILE [--json]`: what the image is, from its metadata only.

use serde_json::Value;

use super::inputs::FilesArgs;
use super::output::escape;
use crate::error::Result;
use crate::image;
use crate::image::info::ImageReport;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "\
Examples:
  imgtool inspect disk.vhd
  imgtool inspect --json disk.qcow2 | jq .import
  imgtool inspect a.vhd b.vmdk c.img     several files (--json: an array); exit code the worst",
    mut_arg("quiet", |a| a.help(
        "Print no report: only whether each file can be read (exit code; errors on stderr)"
    ))
)]
pub struct Args {
    #[command(flatten)]
    pub input: FilesArgs,
}

pub fn run(args: Args) -> Result<i32> {
    super::inputs::run_each(&args.input, |p| {
        let r = InspectReport::new(p)?;
        Ok(super::inputs::Report {
            text: r.text(),
            doc: r.to_json(),
            code: 0,
        })
    })
}

/// The whole `inspect` report for a file: the image layer (typed), then what is on the disk.
/// The disk part is taken as `crate::disk` gives it (its JSON and its own text) and merged
/// here: the seam where its typed report will plug in.
pub struct InspectReport {
    pub image: ImageReport,
    /// The disk report's JSON (its `virtual_size` dropped, its `warnings` appended to the
    /// image's).
    pub disk: Value,
    /// The disk report's own text of its sections.
    pub disk_text: String,
}

impl InspectReport {
    pub fn new(path: &std::path::Path) -> Result<Self> {
        let img = image::open(path)?;
        let image = ImageReport::new(&img)?;
        let disk = disk_report(&img);
        Ok(InspectReport {
            image,
            disk_text: disk.render_body(),
            disk: disk.to_json(),
        })
    }

    /// Every warning: the image layer's, then the disk's.
    fn warnings(&self) -> impl Iterator<Item = &str> {
        let disk = self.disk["warnings"].as_array().into_iter().flatten();
        (self.image.warnings.iter().map(String::as_str)).chain(disk.filter_map(Value::as_str))
    }

    /// The `inspect --json` document (schema: docs/json.md).
    pub fn to_json(&self) -> Value {
        let mut doc = self.image.to_json();
        merge(&mut doc, self.disk.clone());
        doc
    }

    /// The text: the image's tables aligned like `qemu-img info`, the disk's sections, the
    /// warnings (each escaped once, here).
    pub fn text(&self) -> String {
        let mut out = self.image.text();
        out.push_str(&self.disk_text);
        let warnings: Vec<&str> = self.warnings().collect();
        if !warnings.is_empty() {
            out.push_str("warnings:\n");
            for w in warnings {
                out.push_str(&format!("    {}\n", escape(w)));
            }
        }
        out
    }
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
