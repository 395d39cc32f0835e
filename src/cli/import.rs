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
//!   "warnings": [string],
//!   "requests": [ { "action": str, "method": "GET"|"POST", "url": str,
//!                   "params": { name: value } } ],  // dry-run only; secrets redacted
//!   "image_id": str|null, "task_id": str|null, "request_id": str|null,
//!   "status": "planned" | "submitted" | "Available" | "interrupted" | "timed_out",
//!   "upload": null | { "bucket", "object", "object_size", "crc64" (decimal string),
//!              "parts", "resumed_parts", "sent_bytes", "already_there": bool,
//!              "bucket_created": bool, "converted_to_raw": bool },
//!   "object_deleted": bool,
//!   "timings_ms": { "<step>": int }       // inspect, plan, role, bucket, upload, import, follow
//! }
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

use super::import_report::{base_json, dry_run, print_plan, upload_json};
use super::output::{escape, print_json, progress_allowed};
use crate::cloud::bucket::{self, Found};
use crate::cloud::credentials::{self, Credentials};
use crate::cloud::ecs::{self, Imported};
use crate::cloud::follow::{self, Outcome};
use crate::cloud::import::{self, Session};
use crate::cloud::oss::{Endpoint, Oss};
use crate::cloud::plan::{self, Format, ImageFacts, Plan};
use crate::cloud::rpc::Client;
use crate::cloud::settings::{self, env};
use crate::cloud::upload::{self, DiskSource, FileSource, Source};
use crate::cloud::{resume, sts};
use crate::error::{Error, Result};
use crate::image::{self, Image, VirtualDisk};
use crate::import::facts::image_facts;

/// Where to send requests and with which credentials; shared by `import` and `task`.
#[derive(Debug, Clone, clap::Args)]
pub struct CloudArgs {
    /// Profile of ~/.aliyun/config.json to use (otherwise: environment, then the
    /// config's current profile). There is no flag for the secret on purpose.
    #[arg(long)]
    pub profile: Option<String>,
    /// ECS endpoint [default: https://ecs.<region>.aliyuncs.com; env IMGTOOL_ECS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub ecs_endpoint: Option<String>,
    /// RAM endpoint [default: https://ram.aliyuncs.com; env IMGTOOL_RAM_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub ram_endpoint: Option<String>,
    /// RPC signature for ECS, RAM and STS: v3 (ACS3-HMAC-SHA256) or v1 (HMAC-SHA1, for old
    /// private deployments) [default: v3; env IMGTOOL_RPC_SIGNATURE]
    #[arg(long, value_name = "VERSION")]
    pub rpc_signature: Option<String>,
    /// Accept plain http:// endpoints on other machines (signed requests then travel
    /// unencrypted); http:// to this machine (localhost, 127.0.0.0/8, [::1]) needs no flag
    #[arg(long)]
    pub allow_http: bool,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image file (RAW or VHD)
    pub image: PathBuf,
    /// Region of the bucket and of the new image [default: from the credentials' source]
    #[arg(long)]
    pub region: Option<String>,
    /// OSS bucket holding (or to hold) the image [default: imgtool-<account id>-<region>,
    /// created private if missing]
    #[arg(long)]
    pub bucket: Option<String>,
    /// OSS object key [default: imgtool/<file name>; .raw when a VHD goes up as RAW]
    #[arg(long)]
    pub object: Option<String>,
    /// Format given to ImportImage: vhd uploads a VHD as it is (default for one file), raw
    /// converts it while uploading (default, and the only choice, for a differencing chain)
    #[arg(long, value_parser = ["raw", "vhd"])]
    pub format: Option<String>,
    /// Multipart part size in bytes, or with K, M, G (KiB...) [default: 64M, grown to stay
    /// within 10000 parts]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub part_size: Option<u64>,
    /// Parts in flight [default: min(8, 2 x cores)]; memory is about this times the part size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: Option<u16>,
    /// Abort an earlier unfinished upload of this image and start again
    #[arg(long)]
    pub restart: bool,
    /// Delete the OSS object once the image is Available
    #[arg(long, conflicts_with = "no_wait")]
    pub delete_object: bool,
    /// OSS endpoint [default: https://oss-<region>.aliyuncs.com; env IMGTOOL_OSS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub oss_endpoint: Option<String>,
    /// OSS signature: v4 (OSS4-HMAC-SHA256) or v1 (old private deployments)
    /// [default: v4; env IMGTOOL_OSS_SIGNATURE]
    #[arg(long, value_name = "VERSION")]
    pub oss_signature: Option<String>,
    /// Use oss-<region>-internal.aliyuncs.com (from an ECS instance in the region)
    #[arg(long)]
    pub oss_internal: bool,
    /// STS endpoint, asked for the account id [default: https://sts.aliyuncs.com;
    /// env IMGTOOL_STS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// DiskImageSize: the smallest whole GiB holding the disk and its file systems (the default)
    #[arg(long, conflicts_with = "disk_image_size")]
    pub auto_size: bool,
    /// DiskImageSize in GiB; refused below what the image needs
    #[arg(long, value_name = "GIB")]
    pub disk_image_size: Option<u64>,
    /// [default: from the file name, made to fit the API's rules]
    #[arg(long)]
    pub image_name: Option<String>,
    /// i386, x86_64, arm64 [default: detected, else x86_64]
    #[arg(long)]
    pub architecture: Option<String>,
    /// linux, windows [default: detected, else linux]
    #[arg(long)]
    pub os_type: Option<String>,
    /// e.g. Ubuntu, "Rocky Linux", "Windows Server 2022" [default: detected, else Others Linux]
    #[arg(long)]
    pub platform: Option<String>,
    /// BIOS, UEFI [default: detected, else BIOS; UEFI for arm64]
    #[arg(long)]
    pub boot_mode: Option<String>,
    /// Aliyun, BYOL (Windows)
    #[arg(long)]
    pub license_type: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Idempotency token [default: derived from region, bucket, object, name and the image]
    #[arg(long)]
    pub client_token: Option<String>,
    /// The object is already in the bucket: do not upload
    #[arg(long)]
    pub skip_upload: bool,
    /// Print the plan and the exact requests; send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Create the RAM role AliyunECSImageImportDefaultRole if it is missing
    #[arg(long)]
    pub create_role: bool,
    /// Return once ImportImage accepted the import
    #[arg(long)]
    pub no_wait: bool,
    /// Stop following after this many seconds (the import goes on in the cloud)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub quiet: bool,
    /// Let flags contradict what was detected in the image
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// `1048576`, `100K`, `64M`, `1G` (binary units).
fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 64M)"))
}

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

/// What the upload step did, for the summary and JSON.
#[derive(Debug, Default)]
pub(super) struct Uploaded {
    pub(super) outcome: upload::Outcome,
    pub(super) bucket_created: bool,
    pub(super) converted: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let mut steps = Steps::default();
    let (img, facts) = steps.time("inspect", || {
        let img = image::open(&a.image)?;
        let facts = image_facts(&a.image, &img, a.format.as_deref())?;
        Ok((img, facts))
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
    // Kept as a Result: dry-run works without credentials, and the upload notice comes first.
    let creds = credentials::resolve(a.cloud.profile.as_deref(), &env);
    let region = region_of(a.region.as_deref(), creds.as_ref().ok())?;
    if a.region.is_none() {
        let from = creds.as_ref().map_or("", |c| c.source.as_str());
        note(
            &a,
            &format!("region: {region} (from {from}; --region to choose)"),
        );
    }
    let converted = matches!(img, Image::Vhd(_)) && facts.format == Format::Raw;
    if converted {
        note(
            &a,
            "the VHD goes up as RAW, converted while uploading (no copy on disk)",
        );
    }
    let eps = settings::endpoints(
        &region,
        a.cloud.ecs_endpoint.as_deref(),
        a.cloud.ram_endpoint.as_deref(),
        a.cloud.allow_http,
        &env,
    )?;
    let (bucket, defaulted) = bucket_of(&a, &region, creds.as_ref().ok())?;
    let object = object_of(&a, converted);
    let plan = steps.time("plan", || {
        plan::build(&facts, &flags(&a, &region, &bucket, &object))
    })?;
    step(
        &a,
        "plan",
        &format!(
            "ImportImage {} from oss://{}/{}, DiskImageSize {} GiB",
            plan.format.api_name(),
            plan.oss_bucket,
            plan.oss_object,
            plan.disk_image_size
        ),
    );
    for w in &plan.warnings {
        warn(&a, w);
    }
    if a.dry_run {
        if let Err(e) = &creds {
            warn(&a, &e.to_string());
        }
        return dry_run(&a, &plan, creds.as_ref().ok(), &eps);
    }
    let creds = creds?;
    let rpc_sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &env)?;
    let s = import::session(creds.clone(), &eps, rpc_sig)?;
    if !a.json && !a.quiet {
        print_plan(&plan);
    }
    let created_role = steps.time("role", || {
        step(&a, "role", "checking the RAM role");
        import::ensure_role(&s, a.create_role, &mut |m| note(&a, &m))
    })?;
    let oss = oss_client(&a, &region, creds)?;
    let uploaded = if a.skip_upload {
        None
    } else {
        Some(upload_step(
            &a, &mut steps, &oss, &img, &plan, &facts, defaulted, converted,
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
    )
}

/// The bucket and whether it is imgtool's default (then it may be created).
fn bucket_of(a: &Args, region: &str, creds: Option<&Credentials>) -> Result<(String, bool)> {
    if let Some(b) = &a.bucket {
        return Ok((b.clone(), false));
    }
    let account = match creds {
        Some(c) if !a.dry_run => {
            let timing = settings::timing(&env)?;
            let sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &env)?;
            let client = Client::new(c.clone(), timing.retry, timing.http_timeout)
                .map_err(|e| ecs::explain("setup", &e))?
                .with_signature(sig);
            let ep = settings::sts_endpoint(a.sts_endpoint.as_deref(), a.cloud.allow_http, &env)?;
            sts::account_id(&client, &ep).map_err(|e| ecs::explain("GetCallerIdentity", &e))?
        }
        // A dry run sends nothing, so the account id stays a placeholder.
        _ => "account".to_string(),
    };
    let b = bucket::default_name(&account, region);
    note(
        a,
        &format!(
            "bucket: {b} (default imgtool-<account id>-<region>{}; --bucket to choose)",
            if a.dry_run {
                ", account id asked from STS when not a dry run"
            } else {
                ""
            }
        ),
    );
    Ok((b, true))
}

fn object_of(a: &Args, converted: bool) -> String {
    if let Some(o) = &a.object {
        return o.clone();
    }
    let name = a
        .image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "disk".into());
    let name = if converted {
        Path::new(&name).with_extension("raw").display().to_string()
    } else {
        name
    };
    let o = format!("imgtool/{name}");
    note(a, &format!("object: {o} (default; --object to choose)"));
    o
}

fn oss_client(a: &Args, region: &str, creds: Credentials) -> Result<Oss> {
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
    converted: bool,
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
    let src: Box<dyn Source + '_> = if converted {
        Box::new(DiskSource(img))
    } else {
        Box::new(FileSource::open(&a.image)?)
    };
    let opts = upload::Options {
        bucket: plan.oss_bucket.clone(),
        key: plan.oss_object.clone(),
        part_size: upload::part_size(src.len(), a.part_size)?,
        parallel: a
            .parallel
            .map_or_else(upload::default_parallel, usize::from),
        restart: a.restart,
        identity: format!(
            "{};bytes={}",
            facts.identity,
            if converted { "raw" } else { "file" }
        ),
        state_dir: resume::dir(&env),
        progress: progress_allowed(a.quiet),
    };
    let outcome = steps.time("upload", || {
        step(a, "upload", &format!("oss://{}/{}", opts.bucket, opts.key));
        upload::upload(oss, src.as_ref(), &opts, &mut |m| note(a, &m))
    })?;
    Ok(Uploaded {
        outcome,
        bucket_created: found == Found::Created,
        converted,
    })
}

fn region_of(flag: Option<&str>, creds: Option<&Credentials>) -> Result<String> {
    flag.map(str::to_string)
        .or_else(|| creds.and_then(|c| c.region.clone()))
        .ok_or_else(|| {
            Error::Usage("no region: pass --region (or set ALIBABA_CLOUD_REGION_ID)".into())
        })
}

fn flags(a: &Args, region: &str, bucket: &str, object: &str) -> plan::Flags {
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

fn submit_and_follow(
    a: &Args,
    steps: &mut Steps,
    s: &Session,
    oss: &Oss,
    plan: &Plan,
    created_role: bool,
    up: Option<&Uploaded>,
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
    let done = Done {
        plan,
        imported: &imported,
        up,
    };
    if a.no_wait {
        if !a.quiet && !a.json {
            eprintln!("imgtool: not waiting; {resume}");
        }
        return finish(a, &done, steps, "submitted", false, 0);
    }
    let outcome = steps.time("follow", || {
        step(a, "follow", "waiting for the image to be Available");
        super::task::follow_with_progress(
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
            let deleted = a.delete_object && delete_object(a, oss, plan)?;
            finish(a, &done, steps, "Available", deleted, 0)
        }
        Outcome::Interrupted => {
            eprintln!("imgtool: interrupted; the import goes on in the cloud. {resume}");
            finish(a, &done, steps, "interrupted", false, 130)
        }
        Outcome::TimedOut => Err(Error::Failed(format!(
            "stopped following after --timeout; the import goes on in the cloud. {resume}"
        ))),
    }
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
        doc["object_deleted"] = Value::Bool(deleted);
        doc["timings_ms"] = steps.json();
        print_json(&doc);
    }
    Ok(code)
}
