//! `imgtool import`: plan an ECS image import from an image file, check every rule locally,
//! check the RAM role and the bucket, upload the image to OSS (resuming an earlier upload),
//! call ImportImage and follow the import to the end. Each step is reported on stderr.
//!
//! JSON output (`--json`): one document on stdout when the command succeeds; errors go to
//! stderr only, as text. Schema (see also docs/json.md):
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
//!                   "params": { name: value } } ],  // dry-run only; secrets redacted
//!   "image_id": str|null, "task_id": str|null, "request_id": str|null,
//!   "status": "planned" | "submitted" | "Available" | "interrupted" | "timed_out",
//!   "upload": null | { "bucket", "object", "object_size", "crc64" (decimal string),
//!              "parts", "resumed_parts", "sent_bytes", "already_there": bool,
//!              "bucket_created": bool, "converted_to_raw": bool, "sent_as": str },
//!   "object_deleted": bool,
//!   "timings_ms": { "<step>": int }       // inspect, plan, role, bucket, upload, import, follow
//! }
//! ```

use std::time::Instant;

use serde_json::Value;

pub use super::import_args::{Args, CloudArgs};
use super::import_report::{
    Uploaded, base_json, data_disks_json, dry_run, print_plan, remote_check, upload_json,
    without_account,
};
use super::output::{escape, print_json, progress_allowed};
use crate::cloud::bucket::{self, Found};
use crate::cloud::credentials;
use crate::cloud::detect::{self, Detection};
use crate::cloud::ecs::{self, Imported};
use crate::cloud::follow::{self, Outcome};
use crate::cloud::import::{self, Session};
use crate::cloud::live::Live;
use crate::cloud::oss::{Endpoint, Oss};
use crate::cloud::rpc::Client;
use crate::cloud::settings::{self, env};
use crate::cloud::upload;
use crate::cloud::{regions, roles};
use crate::cloud::{resume, sts};
use crate::error::{Error, Result};
use crate::image::{self, Image, VirtualDisk};
use crate::import::data_disks::{self, DataDisk};
use crate::import::facts::image_facts_and_report;
use crate::import::readiness;
use crate::plan::sent::Bytes;
use crate::plan::{self, ImageFacts, Plan};

/// Per-step wall times for the JSON document.
#[derive(Default)]
struct Steps(Vec<(&'static str, u128)>);

impl Steps {
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let r = f();
        self.0.push((name, t.elapsed().as_millis()));
        r
    }

    fn json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(*v as u64)))
                .collect(),
        )
    }
}

pub fn run(a: Args) -> Result<i32> {
    super::cloud_log::install(a.quiet, a.cloud.verbose);
    let mut steps = Steps::default();
    let (img, facts, disk) = steps.time("inspect", || {
        let img = image::open(&a.image)?;
        let (facts, disk) = image_facts_and_report(&a.image, &img, a.format.as_deref())?;
        Ok((img, facts, disk))
    })?;
    step(
        &a,
        "inspect",
        &format!(
            "{}: {}, virtual size {} bytes",
            a.image.display(),
            img.format_name(),
            img.size()
        ),
    );
    // Checked before anything is sent (STS is asked for the account id below).
    options(&a)?;
    // Kept as a Result: dry-run works without credentials, and the upload notice comes first.
    let creds = credentials::resolve(a.cloud.profile.as_deref(), &env);
    let (region, from) = regions::choose(a.region.as_deref(), creds.as_ref().ok(), &env)?;
    regions::check_known(&plan::check_region(&region)?, a.force)?;
    if a.region.is_none() {
        note(
            &a,
            &format!("region: {region} (from {from}; --region to choose)"),
        );
    }
    let sending = &facts.sending;
    note(
        &a,
        &format!(
            "sending {} ({} bytes; file {} bytes, virtual disk {} bytes): {}",
            sending.bytes.name(),
            sending.object_size,
            sending.file_size,
            sending.virtual_size,
            sending.why
        ),
    );
    let eps = settings::endpoints(
        &region,
        a.cloud.ecs_endpoint.as_deref(),
        a.cloud.ram_endpoint.as_deref(),
        a.cloud.allow_http,
        &env,
    )?;
    let object = object_of(&a, sending.bytes);
    let data = steps.time("inspect_data_disks", || {
        data_disks::open(&a.data_disk, &object)
    })?;
    for d in &data {
        step(
            &a,
            "inspect",
            &format!(
                "data disk {}: {}, DiskImageSize {} GiB, object {}",
                d.path.display(),
                d.facts.format.api_name(),
                d.disk_image_size,
                d.object
            ),
        );
    }
    // Role-based credentials become signing keys here (STS AssumeRole, instance metadata):
    // the first requests, after every local check.
    let live = match &creds {
        Ok(c) if sends(&a) => {
            let sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &env)?;
            let ep = settings::sts_endpoint(a.sts_endpoint.as_deref(), a.cloud.allow_http, &env)?;
            Some(roles::activate(c.clone(), &ep, sig, &env)?)
        }
        _ => None,
    };
    let (bucket, defaulted, account_known) = bucket_of(&a, &region, live.as_ref(), creds.is_ok())?;
    // Issue 17: the readiness findings before the plan; they fill NvmeSupport and the warnings.
    for l in readiness::lines(&disk.readiness) {
        note(&a, &l);
    }
    let mut plan = steps.time("plan", || {
        let mut extra = data_disks::params(&data, &bucket);
        extra.extend(options(&a)?);
        extra.extend(readiness::nvme_param(&disk.readiness, a.nvme.is_some()));
        plan::build(&facts, &flags(&a, &region, &bucket, &object, extra))
    })?;
    plan.warnings.extend(readiness::carried_warnings(&disk));
    readiness::gate(&disk.readiness, a.force)?;
    let shown = if a.dry_run && defaulted && !account_known {
        without_account(&plan, &region)
    } else {
        plan.clone()
    };
    step(
        &a,
        "plan",
        &format!(
            "ImportImage {} from oss://{}/{}, DiskImageSize {} GiB",
            shown.format.api_name(),
            shown.oss_bucket,
            shown.oss_object,
            shown.disk_image_size
        ),
    );
    for w in &plan.warnings {
        warn(&a, w);
    }
    if a.dry_run {
        if a.remote_check {
            match &live {
                Some(l) => {
                    step(
                        &a,
                        "check",
                        "ImportImage with DryRun=true (nothing is imported)",
                    );
                    let code = remote_check(&a, l, &eps, &plan)?;
                    note(
                        &a,
                        &format!("remote check passed: the service answered {code}"),
                    );
                }
                None => {
                    return Err(creds.err().unwrap_or_else(|| {
                        Error::Usage("--remote-check needs credentials".into())
                    }));
                }
            }
        } else if let Err(e) = &creds {
            warn(&a, &e.to_string());
        }
        return dry_run(&a, &shown, &data, creds.as_ref().ok(), &eps);
    }
    let creds = creds?;
    let live = live.unwrap_or_else(|| Live::fixed(creds));
    let rpc_sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &env)?;
    let s = import::session(live.clone(), &eps, rpc_sig)?;
    if !a.json && !a.quiet {
        print_plan(&plan);
    }
    let created_role = steps.time("role", || {
        step(&a, "role", "checking the RAM role");
        import::ensure_role(&s, a.create_role, &mut |m| note(&a, &m))
    })?;
    let oss = oss_client(&a, &region, live)?;
    let uploaded = if a.skip_upload {
        None
    } else {
        Some(upload_step(
            &a, &mut steps, &oss, &img, &plan, &facts, defaulted, &data,
        )?)
    };
    submit_and_follow(
        &a,
        &mut steps,
        &s,
        &oss,
        &plan,
        created_role,
        uploaded.as_ref(),
        &data,
    )
}

/// Does this run send requests: a real run, or a dry run with `--remote-check`.
fn sends(a: &Args) -> bool {
    !a.dry_run || a.remote_check
}

/// The bucket, whether it is imgtool's default (then it may be created), and whether the
/// account id in a default name is real (a dry run asks nobody, so it is not).
fn bucket_of(
    a: &Args,
    region: &str,
    creds: Option<&Live>,
    has_creds: bool,
) -> Result<(String, bool, bool)> {
    if let Some(b) = &a.bucket {
        return Ok((b.clone(), false, true));
    }
    let known = creds.is_some() && sends(a);
    let account = match creds {
        Some(c) if known => {
            let timing = settings::timing(&env)?;
            let sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &env)?;
            let client = Client::new(c.clone(), timing.retry, timing.http_timeout)
                .map_err(|e| ecs::explain("setup", &e))?
                .with_signature(sig);
            let ep = settings::sts_endpoint(a.sts_endpoint.as_deref(), a.cloud.allow_http, &env)?;
            sts::account_id(&client, &ep).map_err(|e| ecs::explain("GetCallerIdentity", &e))?
        }
        // A dry run sends nothing: the account id is unknown, and the name below only
        // satisfies the plan's checks; the dry run shows it as unknown (`without_account`).
        _ => "account".to_string(),
    };
    let b = bucket::default_name(&account, region);
    let why = if has_creds {
        "in a dry run"
    } else {
        "without credentials"
    };
    note(
        a,
        &if known {
            format!("bucket: {b} (default imgtool-<account id>-<region>; --bucket to choose)")
        } else {
            format!(
                "bucket: imgtool-<account id>-{region} (default; the account id is unknown {why}: the real run asks STS for it; --bucket to choose)"
            )
        },
    );
    Ok((b, true, known))
}

fn object_of(a: &Args, bytes: Bytes) -> String {
    if let Some(o) = &a.object {
        return o.clone();
    }
    let o = data_disks::default_object(&a.image, bytes);
    note(a, &format!("object: {o} (default; --object to choose)"));
    o
}

fn oss_client(a: &Args, region: &str, creds: Live) -> Result<Oss> {
    let url = settings::oss_endpoint(
        region,
        a.oss_endpoint.as_deref(),
        a.oss_internal,
        a.cloud.allow_http,
        &env,
    )?;
    let timing = settings::timing(&env)?;
    let signing = settings::oss_signing(a.oss_signature.as_deref(), region, &env)?;
    Oss::new(
        creds,
        Endpoint::parse(&url),
        signing,
        timing.retry,
        timing.http_timeout,
    )
    .map_err(|e| ecs::explain("setup", &e))
}

#[allow(clippy::too_many_arguments)]
fn upload_step(
    a: &Args,
    steps: &mut Steps,
    oss: &Oss,
    img: &Image,
    plan: &Plan,
    facts: &ImageFacts,
    defaulted: bool,
    data: &[DataDisk],
) -> Result<Uploaded> {
    let found = steps.time("bucket", || {
        step(a, "bucket", &format!("checking bucket {}", plan.oss_bucket));
        bucket::ensure(
            oss,
            &plan.oss_bucket,
            &plan.region_id,
            defaulted,
            &mut |m| note(a, &m),
        )
    })?;
    let src = data_disks::source(&a.image, img, &facts.sending)?;
    let opts = upload::Options {
        bucket: plan.oss_bucket.clone(),
        key: plan.oss_object.clone(),
        part_size: upload::part_size(src.len(), a.part_size)?,
        parallel: a
            .parallel
            .map_or_else(upload::default_parallel, usize::from),
        restart: a.restart,
        identity: data_disks::upload_identity(facts),
        state_dir: resume::dir(&env),
        progress: progress_allowed(a.quiet),
    };
    let outcome = steps.time("upload", || {
        step(a, "upload", &format!("oss://{}/{}", opts.bucket, opts.key));
        upload::upload(oss, src.as_ref(), &opts, &mut |m| note(a, &m))
    })?;
    // Each data disk exactly as the system disk: same bucket, same resumable upload.
    let data = steps.time("upload_data_disks", || {
        let mut outcomes = Vec::new();
        for d in data {
            let src = d.source()?;
            let o = upload::Options {
                key: d.object.clone(),
                part_size: upload::part_size(src.len(), a.part_size)?,
                identity: d.identity(),
                ..opts.clone()
            };
            step(
                a,
                "upload",
                &format!("oss://{}/{} (data disk)", o.bucket, o.key),
            );
            outcomes.push(upload::upload(oss, src.as_ref(), &o, &mut |m| note(a, &m))?);
        }
        Ok(outcomes)
    })?;
    Ok(Uploaded {
        outcome,
        bucket_created: found == Found::Created,
        sending: facts.sending.clone(),
        data,
    })
}

/// The options beyond disk and guest, checked: run before any request is sent.
fn options(a: &Args) -> Result<Vec<(String, String)>> {
    crate::plan::options::params(&crate::plan::options::Options {
        nvme: a.nvme.clone(),
        imds: a.imds.clone(),
        resource_group: a.resource_group.clone(),
        tags: a.tag.clone(),
        detect: a.detect,
    })
}

fn flags(
    a: &Args,
    region: &str,
    bucket: &str,
    object: &str,
    extra: Vec<(String, String)>,
) -> plan::Flags {
    plan::Flags {
        region: region.to_string(),
        bucket: bucket.to_string(),
        object: Some(object.to_string()),
        image_name: a.image_name.clone(),
        description: a.description.clone(),
        architecture: a.architecture.clone(),
        os_type: a.os_type.clone(),
        platform: a.platform.clone(),
        boot_mode: a.boot_mode.clone(),
        license_type: a.license_type.clone(),
        disk_image_size: a.disk_image_size,
        client_token: a.client_token.clone(),
        force: a.force,
        extra,
    }
}

fn warn(a: &Args, msg: &str) {
    if !a.quiet {
        eprintln!("imgtool: warning: {}", escape(msg));
    }
}

fn note(a: &Args, msg: &str) {
    if !a.quiet {
        eprintln!("imgtool: {}", escape(msg));
    }
}

/// A step of the import starting, on stderr.
fn step(a: &Args, name: &str, msg: &str) {
    note(a, &format!("[{name}] {msg}"));
}

#[allow(clippy::too_many_arguments)]
fn submit_and_follow(
    a: &Args,
    steps: &mut Steps,
    s: &Session,
    oss: &Oss,
    plan: &Plan,
    created_role: bool,
    up: Option<&Uploaded>,
    data: &[DataDisk],
) -> Result<i32> {
    let imported = steps.time("import", || {
        step(a, "import", "calling ImportImage");
        import::import(s, plan, a.create_role, created_role, &mut |m| note(a, &m))
    })?;
    let resume = escape(&follow::resume_hint(
        &imported.task_id,
        &plan.region_id,
        Some(&imported.image_id),
    ));
    if !a.json {
        println!(
            "ImageId {}  TaskId {}",
            escape(&imported.image_id),
            escape(&imported.task_id)
        );
    }
    let mut done = Done {
        plan,
        imported: &imported,
        up,
        data,
        detection: None,
    };
    if a.no_wait {
        if !a.quiet && !a.json {
            eprintln!("imgtool: not waiting; {resume}");
        }
        return finish(a, &done, steps, "submitted", false, 0);
    }
    let outcome = steps.time("follow", || {
        step(a, "follow", "waiting for the image to be Available");
        super::follow::follow_with_progress(
            s,
            &plan.region_id,
            &imported.task_id,
            Some(&imported.image_id),
            a.timeout,
            a.quiet,
        )
    })?;
    match outcome {
        Outcome::Done { .. } => {
            if !a.json {
                println!(
                    "image {} is Available in {}",
                    escape(&imported.image_id),
                    plan.region_id
                );
            }
            if a.detect {
                done.detection = Some(detection(a, steps, s, plan, &imported.image_id)?);
            }
            let deleted = a.delete_object && delete_object(a, oss, plan)?;
            finish(a, &done, steps, "Available", deleted, 0)
        }
        Outcome::Interrupted => {
            eprintln!("imgtool: interrupted; the import goes on in the cloud. {resume}");
            finish(
                a,
                &done,
                steps,
                "interrupted",
                false,
                crate::sys::EXIT_INTERRUPTED,
            )
        }
        Outcome::TimedOut => Err(Error::Failed(format!(
            "stopped following after --timeout; the import goes on in the cloud. {resume}"
        ))),
    }
}

/// The service's image check (`--detect`), once the image is Available: each item printed.
fn detection(
    a: &Args,
    steps: &mut Steps,
    s: &Session,
    plan: &Plan,
    image_id: &str,
) -> Result<Detection> {
    let d = steps.time("detect", || {
        step(
            a,
            "detect",
            "reading the service's image check (DetectionOptions)",
        );
        detect::read(&s.client, &s.ecs, &plan.region_id, image_id, s.timing.poll)
            .map_err(|e| ecs::explain("DescribeImages", &e))
    })?;
    if !a.json {
        super::import_report::print_detection(&d);
    }
    Ok(d)
}

/// Only once the image is Available: ECS reads the object until then.
fn delete_object(a: &Args, oss: &Oss, plan: &Plan) -> Result<bool> {
    oss.delete_object(&plan.oss_bucket, &plan.oss_object)
        .map_err(|e| ecs::explain("DeleteObject", &e))?;
    note(
        a,
        &format!(
            "deleted oss://{}/{} (the image is Available, so ECS no longer needs it)",
            plan.oss_bucket, plan.oss_object
        ),
    );
    Ok(true)
}

struct Done<'a> {
    plan: &'a Plan,
    imported: &'a Imported,
    up: Option<&'a Uploaded>,
    data: &'a [DataDisk],
    detection: Option<Detection>,
}

fn finish(
    a: &Args,
    d: &Done<'_>,
    steps: &Steps,
    status: &str,
    deleted: bool,
    code: i32,
) -> Result<i32> {
    if a.json {
        let mut doc = base_json(d.plan, false, status, Some(d.imported));
        doc["upload"] = upload_json(d.plan, d.up);
        doc["data_disks"] = data_disks_json(d.data, d.up.map(|u| u.data.as_slice()));
        doc["detection"] = d.detection.as_ref().map_or(Value::Null, Detection::json);
        doc["object_deleted"] = Value::Bool(deleted);
        doc["timings_ms"] = steps.json();
        print_json(&doc);
    }
    Ok(code)
}
