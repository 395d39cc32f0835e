//! Several files for one subcommand (`inspect a.vhd b.qcow2`, `check *.vhd`): each file is
//! reported in turn, an error on one does not stop the others, and the exit code is the worst.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::output::print_json;
use crate::error::{Error, Result};

/// The arguments `inspect` and `check` share: the files and how to report them. Each command
/// words the help of `files` and `--quiet` for itself (`mut_arg`).
#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    /// The image files (RAW, VHD, qcow2, VHDX, VMDK)
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print a JSON document (schema: docs/json.md) instead of text; an array of documents
    /// for several files
    #[arg(long)]
    pub json: bool,
    /// Print no report (errors still go to stderr)
    #[arg(long, short)]
    pub quiet: bool,
}

/// One file's report: its JSON document, its text, and its exit code.
pub struct Report {
    pub doc: Value,
    pub text: String,
    pub code: i32,
}

/// Report every file. With one file, an error is returned as it is (the binary prints it and
/// exits with its code) and `--json` prints the document itself. With several, `--json`
/// prints an array with one element per file, in order: the document, or
/// `{"file", "error"}` for a file that could not be read (its message is also on stderr);
/// text reports are separated by a blank line. `quiet` prints no report (errors still go to
/// stderr): the exit code says it all.
pub fn run_each(a: &FilesArgs, one: impl Fn(&Path) -> Result<Report>) -> Result<i32> {
    let (files, json_out, quiet) = (&a.files, a.json, a.quiet);
    if let [file] = files.as_slice() {
        let r = one(file)?;
        emit(json_out, quiet, &r.doc, &r.text);
        return Ok(r.code);
    }
    let mut worst = 0;
    let mut docs = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        match one(file) {
            Ok(r) => {
                worst = worst.max(r.code);
                if !json_out && !quiet {
                    if i > 0 {
                        println!();
                    }
                    print!("{}", r.text);
                }
                docs.push(r.doc);
            }
            Err(e) => {
                worst = worst.max(e.exit_code());
                eprintln!("imgtool: {}", super::output::error_message(&e));
                docs.push(error_doc(file, &e));
            }
        }
    }
    if json_out && !quiet {
        print_json(&Value::Array(docs));
    }
    Ok(worst)
}

fn emit(json_out: bool, quiet: bool, doc: &Value, text: &str) {
    if quiet {
        return;
    }
    if json_out {
        print_json(doc);
    } else {
        print!("{text}");
    }
}

/// A file that could not be read, in the array of several files' documents.
#[derive(Serialize)]
struct ErrorDoc {
    file: String,
    error: String,
}

fn error_doc(file: &Path, e: &Error) -> Value {
    let doc = ErrorDoc {
        file: file.display().to_string(),
        error: e.to_string(),
    };
    serde_json::to_value(doc).unwrap_or(Value::Null)
}
