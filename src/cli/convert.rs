//! `imgtool convert SRC DST [--to raw|vhd|vhd-fixed]`: RAW and VHD in any direction, sparse,
//! atomic (DST appears only when complete), optionally verified. Exit 0 done, 1 verification
//! failed or interrupted, 2 error.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::output::{print_json, progress_allowed};
use crate::convert::{self, Format, Options, Summary};
use crate::error::{Error, Result};
use crate::text::human;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Target {
    /// RAW bytes, sparse
    Raw,
    /// Dynamic VHD (2 MiB blocks)
    Vhd,
    /// Fixed VHD (the RAW bytes and a footer)
    VhdFixed,
}

impl From<Target> for Format {
    fn from(t: Target) -> Format {
        match t {
            Target::Raw => Format::Raw,
            Target::Vhd => Format::VhdDynamic,
            Target::VhdFixed => Format::VhdFixed,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool convert disk.qcow2 disk.raw           sparse RAW (format from the extension)
  imgtool convert disk.raw disk.vhd --verify    dynamic VHD, read back and compared
  imgtool convert disk.img out.vhd --to vhd-fixed
  imgtool convert --in-place disk.vhd disk.raw  drop a fixed VHD's footer, no copy")]
pub struct Args {
    /// The image to convert (RAW or VHD; a differencing VHD is read through its chain)
    pub src: PathBuf,
    /// The file to write; with --in-place, the new name of SRC (optional)
    #[arg(required_unless_present = "in_place")]
    pub dst: Option<PathBuf>,
    /// Output format; by default from DST's extension (.raw/.img: raw, .vhd: vhd)
    #[arg(long, value_enum)]
    pub to: Option<Target>,
    /// Replace DST if it exists
    #[arg(long)]
    pub force: bool,
    /// Read the output back and compare it with the source before keeping it
    #[arg(long)]
    pub verify: bool,
    /// Fixed VHD -> RAW or RAW -> fixed VHD without copying (drop or append the footer)
    #[arg(long, conflicts_with = "verify")]
    pub in_place: bool,
    /// Do not fsync the output before renaming it into place (faster; after a system crash
    /// DST may miss data)
    #[arg(long, conflicts_with = "in_place")]
    pub no_sync: bool,
    /// No progress on stderr
    #[arg(long, short)]
    pub quiet: bool,
    /// Print a JSON summary (schema: docs/json.md) instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<i32> {
    let opts = Options {
        force: args.force,
        verify: args.verify,
        progress: progress_allowed(args.quiet),
        no_sync: args.no_sync,
    };
    convert::install_interrupt_handler();
    let summary = if args.in_place {
        convert::convert_in_place(
            &args.src,
            args.dst.as_deref(),
            args.to.map(Format::from),
            &opts,
        )?
    } else {
        let dst = args
            .dst
            .as_deref()
            .ok_or_else(|| Error::Usage("DST is required without --in-place".into()))?;
        let format = target_format(args.to, dst)?;
        convert::convert(&args.src, dst, format, &opts)?
    };
    if args.json {
        print_json(&ConvertDoc::new(&summary).to_json());
    } else {
        print!("{}", render_text(&summary));
    }
    Ok(0)
}

/// The `convert --json` document (schema: docs/json.md): the conversion's summary under
/// `convert`.
#[derive(Debug, Serialize)]
pub struct ConvertDoc<'a> {
    pub schema: &'static str,
    pub convert: &'a Summary,
}

impl<'a> ConvertDoc<'a> {
    pub fn new(summary: &'a Summary) -> Self {
        ConvertDoc {
            schema: "imgtool.convert/1",
            convert: summary,
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn target_format(to: Option<Target>, dst: &Path) -> Result<Format> {
    convert::refuse_directory(dst)?;
    if let Some(t) = to {
        return Ok(t.into());
    }
    Format::from_extension(dst).ok_or_else(|| {
        Error::Usage(format!(
            "{}: cannot tell the output format from the extension; name it .raw, .img or .vhd, or pass --to raw|vhd|vhd-fixed",
            crate::text::path(dst)
        ))
    })
}

pub fn render_text(s: &Summary) -> String {
    let how = if s.in_place {
        "in place".to_string()
    } else {
        format!(
            "{} written, {} read, {} left as holes",
            human(s.bytes_written),
            human(s.bytes_read),
            human(s.holes)
        )
    };
    let verified = if s.verified { ", verified" } else { "" };
    let mut out = String::new();
    for p in &s.stale_removed {
        out.push_str(&format!(
            "removed {}: a temporary file a killed run left for the same output\n",
            crate::text::path(p)
        ));
    }
    for p in &s.stale_found {
        out.push_str(&format!(
            "found {}: a temporary file a killed run left for another output; remove it (rm) if that run is not coming back\n",
            crate::text::path(p)
        ));
    }
    out.push_str(&format!(
        "{} -> {} ({}, {} virtual): {how} in {:.2}s{verified}\n",
        crate::text::path(&s.source),
        crate::text::path(&s.destination),
        s.format,
        human(s.virtual_size),
        s.seconds
    ));
    out
}
