//! `imgtool import`: plan an ECS image import from an image file, check every rule locally,
//! then (with `--skip-upload`, while upload is not written yet) call ImportImage and follow
//! the import to the end.
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
//!   "status": "planned" | "submitted" | "Available" | "interrupted" | "timed_out"
//! }
//! ```

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::output::{escape, print_json};
use crate::cloud::credentials::{self, Credentials};
use crate::cloud::ecs::{self, Imported};
use crate::cloud::follow::{self, Outcome};
use crate::cloud::import::{self, Session};
use crate::cloud::plan::{self, Format, ImageFacts, Plan};
use crate::cloud::ram;
use crate::cloud::rpc::{Client, Method, Preview, Service};
use crate::cloud::settings::{self, Endpoints, env};
use crate::error::{Error, Result};
use crate::image::{self, Image, VirtualDisk};

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
    /// Accept plain http:// endpoints (signed requests then travel unencrypted)
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
    /// OSS bucket holding (or to hold) the image
    #[arg(long)]
    pub bucket: String,
    /// OSS object key [default: the image's file name]
    #[arg(long)]
    pub object: Option<String>,
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

pub fn run(a: Args) -> Result<i32> {
    let facts = image_facts(&a.image)?;
    // Kept as a Result: dry-run works without credentials, and the upload notice comes first.
    let creds = credentials::resolve(a.cloud.profile.as_deref(), &env);
    let region = region_of(a.region.as_deref(), creds.as_ref().ok())?;
    let plan = plan::build(&facts, &flags(&a, &region))?;
    for w in &plan.warnings {
        warn(&a, w);
    }
    let eps = settings::endpoints(
        &region,
        a.cloud.ecs_endpoint.as_deref(),
        a.cloud.ram_endpoint.as_deref(),
        a.cloud.allow_http,
        &env,
    )?;
    if a.dry_run {
        if let Err(e) = &creds {
            warn(&a, &e.to_string());
        }
        return dry_run(&a, &plan, creds.as_ref().ok(), &eps);
    }
    if !a.skip_upload {
        return Err(Error::Usage(format!(
            "uploading is not implemented yet (it comes in a later version): upload {} to oss://{}/{} yourself \
             (e.g. with ossutil), then re-run with --skip-upload",
            a.image.display(),
            plan.oss_bucket,
            plan.oss_object
        )));
    }
    submit_and_follow(&a, &plan, creds?, &eps)
}

/// The facts this version knows: format and size. Guest detection (architecture, OS, boot
/// mode, file-system extent) fills the other fields once inspect provides them.
/// What the image says about itself: its format and size, and what `inspect` found inside
/// (architecture, OS, platform, boot mode, the space its partitions and file systems need),
/// each with its evidence.
fn image_facts(path: &std::path::Path) -> Result<ImageFacts> {
    let img = image::open(path)?;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let format = format_of(path, &img)?;
    let disk = super::inspect::disk_report(&img);
    let f = &disk.import;
    let fact = |x: &crate::disk::report::Fact| plan::Fact::found(x.value.as_deref(), &x.because);
    Ok(ImageFacts {
        path: path.to_path_buf(),
        format,
        virtual_size: img.size(),
        min_size: Some(plan::Fact {
            value: f.min_disk_bytes,
            evidence: f.min_disk_evidence.clone(),
        }),
        architecture: fact(&f.architecture),
        os_type: fact(&f.os_type),
        platform: fact(&f.platform),
        boot_mode: fact(&f.boot_mode),
        identity: identity(&meta, &img),
    })
}

/// The format ImportImage is told. A differencing VHD cannot go up as it is: only its chain
/// as a whole is a disk, so it must be converted to RAW first.
fn format_of(path: &std::path::Path, img: &Image) -> Result<Format> {
    match img {
        Image::Raw(_) => Ok(Format::Raw),
        Image::Vhd(v) if v.layers.len() > 1 => Err(Error::Usage(format!(
            "{}: a differencing VHD holds only the changes to its parent, and ECS cannot import it \
             as it is; convert the chain to RAW first (imgtool convert {} disk.raw) and import that",
            path.display(),
            path.display()
        ))),
        Image::Vhd(_) => Ok(Format::Vhd),
    }
}

/// What identifies this image's content for the ClientToken: size and mtime, and for a VHD
/// its unique id.
fn identity(meta: &std::fs::Metadata, img: &Image) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut id = format!("size={};mtime={mtime}", meta.len());
    if let Image::Vhd(v) = img {
        id.push_str(&format!(
            ";vhd={}",
            crate::image::vhd::footer::uuid_string(&v.top().footer.unique_id)
        ));
    }
    id
}

fn region_of(flag: Option<&str>, creds: Option<&Credentials>) -> Result<String> {
    flag.map(str::to_string)
        .or_else(|| creds.and_then(|c| c.region.clone()))
        .ok_or_else(|| {
            Error::Usage("no region: pass --region (or set ALIBABA_CLOUD_REGION_ID)".into())
        })
}

fn flags(a: &Args, region: &str) -> plan::Flags {
    plan::Flags {
        region: region.to_string(),
        bucket: a.bucket.clone(),
        object: a.object.clone(),
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

fn services(eps: &Endpoints) -> (Service, Service) {
    (
        Service {
            endpoint: eps.ecs.clone(),
            version: ecs::VERSION,
        },
        Service {
            endpoint: eps.ram.clone(),
            version: ram::VERSION,
        },
    )
}

fn dry_run(a: &Args, plan: &Plan, creds: Option<&Credentials>, eps: &Endpoints) -> Result<i32> {
    let (ecs_svc, ram_svc) = services(eps);
    let mut reqs = vec![(
        "GetRole",
        Client::preview(
            creds,
            &ram_svc,
            Method::Get,
            "GetRole",
            &[(String::from("RoleName"), ram::ROLE_NAME.to_string())],
        ),
    )];
    if a.create_role {
        reqs.push((
            "CreateRole",
            Client::preview(
                creds,
                &ram_svc,
                Method::Post,
                "CreateRole",
                &ram::create_role_params(),
            ),
        ));
        reqs.push((
            "AttachPolicyToRole",
            Client::preview(
                creds,
                &ram_svc,
                Method::Post,
                "AttachPolicyToRole",
                &ram::attach_policy_params(),
            ),
        ));
    }
    reqs.push((
        "ImportImage",
        Client::preview(creds, &ecs_svc, Method::Post, "ImportImage", &plan.params()),
    ));
    if a.json {
        let mut doc = base_json(plan, true, "planned", None);
        doc["requests"] = reqs.iter().map(|(act, p)| preview_json(act, p)).collect();
        print_json(&doc);
        return Ok(0);
    }
    print_plan(plan);
    if !a.skip_upload {
        println!(
            "\nupload: not implemented yet; the object must be put in the bucket before import (--skip-upload)"
        );
    }
    println!("\nrequests (nothing sent; GetRole decides whether CreateRole runs):");
    for (act, p) in &reqs {
        println!("  {act}: {} {}", p.method, p.url);
        for (k, v) in &p.params {
            println!("    {k}={}", escape(v));
        }
    }
    Ok(0)
}

fn preview_json(action: &str, p: &Preview) -> Value {
    let params: Map<String, Value> = p
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({ "action": action, "method": p.method, "url": p.url, "params": params })
}

fn base_json(plan: &Plan, dry_run: bool, status: &str, imported: Option<&Imported>) -> Value {
    let params: Map<String, Value> = plan
        .params()
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    json!({
        "schema": "imgtool.import/1",
        "dry_run": dry_run,
        "plan": params,
        "client_token_derived": plan.client_token_derived,
        "size_floor_gib": plan.size_floor,
        "warnings": plan.warnings,
        "requests": [],
        "image_id": imported.map(|i| i.image_id.as_str()),
        "task_id": imported.map(|i| i.task_id.as_str()),
        "request_id": imported.map(|i| i.request_id.as_str()),
        "status": status,
    })
}

fn print_plan(plan: &Plan) {
    println!("import plan:");
    for (k, v) in plan.params() {
        println!("  {k}: {}", escape(&v));
    }
    println!("  (DiskImageSize floor: {} GiB)", plan.size_floor);
    if plan.client_token_derived {
        println!(
            "client token {} is derived from region, bucket, object, image name and the image file; \
             re-running this command resumes the same import instead of creating a second image",
            plan.client_token
        );
    }
}

/// Build a client session for `region` from resolved credentials.
pub fn session(creds: Credentials, eps: &Endpoints) -> Result<Session> {
    let timing = settings::timing(&env)?;
    let client = Client::new(creds, timing.retry.clone(), timing.http_timeout)
        .map_err(|e| ecs::explain("setup", &e))?;
    let (ecs_svc, ram_svc) = services(eps);
    Ok(Session {
        client,
        ecs: ecs_svc,
        ram: ram_svc,
        timing,
    })
}

fn submit_and_follow(a: &Args, plan: &Plan, creds: Credentials, eps: &Endpoints) -> Result<i32> {
    let s = session(creds, eps)?;
    if !a.json && !a.quiet {
        print_plan(plan);
    }
    let quiet = a.quiet;
    let imported = import::submit(&s, plan, a.create_role, &mut |m| {
        if !quiet {
            eprintln!("imgtool: {}", escape(&m));
        }
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
    if a.no_wait {
        if !a.quiet && !a.json {
            eprintln!("imgtool: not waiting; {resume}");
        }
        return finish(a, plan, &imported, "submitted", 0);
    }
    match super::task::follow_with_progress(
        &s,
        &plan.region_id,
        &imported.task_id,
        Some(&imported.image_id),
        a.timeout,
        a.quiet,
    )? {
        Outcome::Done { .. } => {
            if !a.json {
                println!(
                    "image {} is Available in {}",
                    escape(&imported.image_id),
                    plan.region_id
                );
            }
            finish(a, plan, &imported, "Available", 0)
        }
        Outcome::Interrupted => {
            eprintln!("imgtool: interrupted; the import goes on in the cloud. {resume}");
            finish(a, plan, &imported, "interrupted", 130)
        }
        Outcome::TimedOut => Err(Error::Failed(format!(
            "stopped following after --timeout; the import goes on in the cloud. {resume}"
        ))),
    }
}

fn finish(a: &Args, plan: &Plan, imported: &Imported, status: &str, code: i32) -> Result<i32> {
    if a.json {
        print_json(&base_json(plan, false, status, Some(imported)));
    }
    Ok(code)
}
