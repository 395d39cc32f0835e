//! `imgtool import`: plan an ECS image import from an image file, check every rule locally,
//! check the RAM role and the bucket, upload the image to OSS (resuming an earlier upload),
//! call ImportImage and follow the import to the end. The work is the library's
//! (`crate::import::prepare` and `run`); this file turns the flags into a request, prints
//! what the library reports on stderr, and renders the result.
//!
//! JSON output (`--json`): one document on stdout when the command succeeds; errors go to
//! stderr only, as text. The document is `crate::import::report::ImportDoc`; schema (keys
//! print sorted; see also docs/json.md):
//!
//! ```text
//! {
//!   "schema": "imgtool.import/1",
//!   "dry_run": bool,
//!   "plan": { "<ImportImage parameter>": "<value>", ... },  // exactly what is sent
//!   "client_token_derived": bool,        // true: derived, re-running reuses it
//!   "size_floor_gib": int,               // smallest DiskImageSize that holds the disk
//!   "send": { "as": "file"|"raw"|"vhd-stream", "format": str, "bytes_to_send": int,
//!             "file_size": int, "virtual_size": int, "why": str },  // what goes up
//!   "warnings": [string],
//!   "requests": [ { "action": str, "method": "GET"|"POST", "url": str,
//!                   "params": { name: value }, "headers": { name: value },
//!                   "canonical_request": str|null } ],  // dry-run only; secrets redacted
//!   "signatures": { "rpc": "v3"|"v1", "oss": "v4"|"v1" },  // dry-run only
//!   "oss_canonical_request": str|null,   // dry-run only
//!   "image_id": str|null, "task_id": str|null, "request_id": str|null,
//!   "status": "planned" | "submitted" | "Available" | "interrupted",
//!   "upload": null | { "bucket", "object", "object_size", "crc64" (decimal string),
//!              "parts", "resumed_parts", "sent_bytes", "already_there": bool,
//!              "bucket_created": bool, "converted_to_raw": bool, "sent_as": str },
//!   "data_disks": [ { "file", "device": 2..17, "format", "object", "disk_image_size_gib",
//!                     "converted_to_raw", "send": {as above},
//!                     "upload": null | { "object_size", "crc64", "parts", "resumed_parts",
//!                                        "sent_bytes", "already_there" } } ],
//!   "detection": null | { "status": str, "items": [ { "name", "value", "risk_level",
//!                                                    "risk_code" } ] },
//!   "object_deleted": bool,
//!   "timings_ms": { "<step>": int }       // inspect, inspect_data_disks, plan, role, bucket,
//!                                         // upload, upload_data_disks, import, follow, detect
//! }
//! ```

use std::sync::{Arc, Mutex};

pub use super::import_args::{Args, CloudArgs};
use super::import_report::{dry_run, print_detection, print_plan, remote_check};
use super::output::{escape, print_json, progress_allowed};
use crate::cloud::ecs::{ImageState, Imported, TaskState};
use crate::convert::progress::Progress;
use crate::error::{Error, Result};
use crate::import::report::ImportDoc;
use crate::import::request::{Choices, Endpoints};
use crate::import::{self, Observer, Outcome, Prepared, Request, Status};
use crate::plan;

pub fn run(a: Args) -> Result<i32> {
    super::cloud_log::install(a.quiet, a.cloud.verbose);
    let printer = Arc::new(Printer::new(&a));
    let mut prep = import::prepare(request(&a)?, printer.as_ref())?;
    if a.dry_run {
        return dry_run_step(&a, &mut prep, printer.as_ref());
    }
    let session = import::observe(prep.session()?, printer.clone());
    if !a.json && !a.quiet {
        print_plan(&prep.plan.import_image);
    }
    let out = import::run(&prep.plan, &prep.images, &session, printer.as_ref())?;
    finish(&a, &prep, &out)
}

/// The library's request from the flags. The ImportImage enumerations are parsed here, once,
/// by the library's [`plan::asked`] (not by clap: its message would not name the API's error
/// code); a value the API does not list is a usage error before anything is opened.
fn request(a: &Args) -> Result<Request> {
    Ok(Request {
        image: a.image.clone(),
        data_disks: a.data_disk.clone(),
        format: a.format,
        region: a.region.clone(),
        bucket: a.bucket.clone(),
        object: a.object.clone(),
        profile: a.cloud.profile.clone(),
        endpoints: Endpoints {
            ecs: a.cloud.ecs_endpoint.clone(),
            ram: a.cloud.ram_endpoint.clone(),
            sts: a.sts_endpoint.clone(),
            oss: a.oss_endpoint.clone(),
            oss_internal: a.oss_internal,
            allow_http: a.cloud.allow_http,
        },
        rpc_signature: a.cloud.rpc_signature.clone(),
        oss_signature: a.oss_signature.clone(),
        choices: Choices {
            image_name: a.image_name.clone(),
            description: a.description.clone(),
            architecture: plan::asked_opt(a.architecture.as_deref())?,
            os_type: plan::asked_opt(a.os_type.as_deref())?,
            platform: plan::asked_opt(a.platform.as_deref())?,
            boot_mode: plan::asked_opt(a.boot_mode.as_deref())?,
            license_type: plan::asked_opt(a.license_type.as_deref())?,
            disk_image_size: a.disk_image_size,
            client_token: a.client_token.clone(),
        },
        options: crate::plan::options::Options {
            nvme: a.nvme.clone(),
            imds: a.imds.clone(),
            resource_group: a.resource_group.clone(),
            tags: a.tag.clone(),
            detect: a.detect,
        },
        force: a.force,
        dry_run: a.dry_run,
        remote_check: a.remote_check,
        create_role: a.create_role,
        skip_upload: a.skip_upload,
        restart: a.restart,
        part_size: a.part_size,
        parallel: a.parallel.map(usize::from),
        no_wait: a.no_wait,
        timeout: a.timeout,
        delete_object: a.delete_object,
        state_dir: None,
    })
}

/// `--dry-run`: the plan and every request, nothing sent (but ImportImage with DryRun=true
/// under `--remote-check`).
fn dry_run_step(a: &Args, p: &mut Prepared, printer: &Printer) -> Result<i32> {
    if a.remote_check {
        let Some(live) = &p.live else {
            let none = || Error::Usage("--remote-check needs credentials".into());
            return Err(std::mem::replace(&mut p.creds, Err(none()))
                .err()
                .unwrap_or_else(none));
        };
        printer.step(
            "check",
            "ImportImage with DryRun=true (nothing is imported)",
        );
        let code = remote_check(a, live, &p.plan.endpoints, &p.plan.import_image)?;
        printer.note(&format!("remote check passed: the service answered {code}"));
    } else if let Err(e) = &p.creds {
        printer.warning(&e.to_string());
    }
    dry_run(
        a,
        &p.shown,
        &p.plan.data,
        p.creds.as_ref().ok(),
        &p.plan.endpoints,
    )
}

/// What the run did, on stdout (text or the JSON document), and the exit code.
fn finish(a: &Args, p: &Prepared, out: &Outcome) -> Result<i32> {
    let plan = &p.plan.import_image;
    let resume = escape(&import::pipeline::resume_hint(plan, &out.imported));
    match out.status {
        Status::Submitted => {
            if !a.quiet && !a.json {
                eprintln!("imgtool: not waiting; {resume}");
            }
        }
        Status::Available => {
            if !a.json {
                println!(
                    "image {} is Available in {}",
                    escape(&out.imported.image_id),
                    plan.region_id
                );
                if let Some(d) = &out.detection {
                    print_detection(d);
                }
            }
        }
        Status::Interrupted => {
            eprintln!("imgtool: interrupted; the import goes on in the cloud. {resume}");
        }
    }
    if a.json {
        print_json(&ImportDoc::finished(p, out).to_json());
    }
    Ok(match out.status {
        Status::Interrupted => crate::sys::EXIT_INTERRUPTED,
        _ => 0,
    })
}

/// The import's reports on the terminal: notes, warnings and steps on stderr unless
/// `--quiet`; the upload's progress line and the task's live line only on a terminal; the
/// ImageId and TaskId on stdout unless `--json`. Server and file text is escaped.
struct Printer {
    quiet: bool,
    json: bool,
    /// Retries are shown with `-v` even under `--quiet`, as the process reporter does.
    retries: bool,
    /// `-v`: one line per HTTP request, even under `--quiet`.
    requests: bool,
    upload: Mutex<Option<Progress>>,
    task: Mutex<super::follow::Progress>,
}

impl Printer {
    fn new(a: &Args) -> Self {
        Printer {
            quiet: a.quiet,
            json: a.json,
            retries: a.cloud.verbose || !a.quiet,
            requests: a.cloud.verbose,
            upload: Mutex::new(None),
            task: Mutex::new(super::follow::Progress::new(a.quiet)),
        }
    }
}

impl Observer for Printer {
    fn step(&self, name: &'static str, what: &str) {
        self.note(&format!("[{name}] {what}"));
    }

    fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("imgtool: {}", escape(msg));
        }
    }

    fn warning(&self, msg: &str) {
        if !self.quiet {
            eprintln!("imgtool: warning: {}", escape(msg));
        }
    }

    fn retry(&self, msg: &str) {
        if self.retries {
            super::cloud_log::print(msg);
        }
    }

    fn request(&self, line: &str) {
        if self.requests {
            super::cloud_log::print(line);
        }
    }

    fn upload_started(&self, _object: &str, bytes: u64) {
        if let Ok(mut p) = self.upload.lock() {
            *p = Some(Progress::start(
                "uploading",
                bytes,
                progress_allowed(self.quiet),
            ));
        }
    }

    fn upload_progress(&self, bytes: u64) {
        if let Ok(p) = self.upload.lock() {
            if let Some(p) = p.as_ref() {
                p.add(bytes);
            }
        }
    }

    fn upload_finished(&self) {
        if let Ok(mut p) = self.upload.lock() {
            p.take();
        }
    }

    fn imported(&self, i: &Imported) {
        if !self.json {
            println!(
                "ImageId {}  TaskId {}",
                escape(&i.image_id),
                escape(&i.task_id)
            );
        }
    }

    fn task(&self, task: &TaskState, image: &ImageState) {
        if let Ok(mut p) = self.task.lock() {
            p.update(task, image);
        }
    }

    fn task_finished(&self) {
        if let Ok(p) = self.task.lock() {
            p.end();
        }
    }
}
