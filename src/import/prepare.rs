//! The first half of an import: everything decided before anything goes up. The image is
//! opened (once) and inspected, the region, bucket and object chosen (each default said), the
//! data disks opened, the ImportImage plan built and checked, the readiness gate passed.
//! Only STS may be asked something here (the account id in the default bucket's name), and
//! only when the run sends requests. The result is the plan and the open images, apart, plus
//! what a caller shows or runs with (the inspection, the credentials, the timings).

use std::path::Path;

use super::data_disks;
use super::facts::image_facts_and_report;
use super::observer::{Observer, Steps};
use super::planned::{ImportPlan, Opened, RunOptions};
use super::readiness;
use super::request::Request;
use crate::cloud::bucket;
use crate::cloud::credentials::{self, Credentials};
use crate::cloud::ecs;
use crate::cloud::live::Live;
use crate::cloud::rpc::Client;
use crate::cloud::session::Session;
use crate::cloud::settings::{self, env};
use crate::cloud::{regions, roles, sts};
use crate::disk::DiskReport;
use crate::error::{Error, Result};
use crate::image::{self, VirtualDisk};
use crate::plan::sent::Bytes;
use crate::plan::{self, Plan};

/// An import planned and checked, ready to run (`run(&p.plan, &p.images, ...)`) or to be
/// shown by a dry run.
pub struct Prepared {
    /// What will be done.
    pub plan: ImportPlan,
    /// The system disk and the data disks, each opened once: the identities in the plan and
    /// the bytes uploaded come from these open files.
    pub images: Opened,
    /// What `inspect` found on the system disk (readiness findings, warnings).
    pub disk: DiskReport,
    /// The ImportImage plan as a dry run shows it (the default bucket's account id unknown).
    pub shown: Plan,
    /// The resolved credentials; an `Err` is kept, since a dry run works without them.
    pub creds: Result<Credentials>,
    /// Role-based credentials activated (STS AssumeRole, instance metadata), when the run
    /// sends requests.
    pub live: Option<Live>,
    /// The timings of the steps so far (inspect, plan).
    pub steps: Steps,
}

impl Prepared {
    /// The session a real run signs with: the activated role's keys, else the resolved
    /// ones; the credentials' error when there are none. Takes the credentials.
    pub fn session(&mut self) -> Result<Session> {
        let creds = std::mem::replace(
            &mut self.creds,
            Err(Error::Failed("the credentials were already taken".into())),
        )?;
        let live = self.live.clone().unwrap_or_else(|| Live::fixed(creds));
        let sig = settings::rpc_signature(self.plan.rpc_signature.as_deref(), &env)?;
        Session::new(live, &self.plan.endpoints, sig)
    }
}

/// Plan the import of `req.image`, telling `obs` each decision.
pub fn prepare(req: Request, obs: &dyn Observer) -> Result<Prepared> {
    let mut steps = Steps::default();
    let (img, facts, disk) = steps.time(obs, "inspect", || {
        let img = image::open(&req.image)?;
        let (facts, disk) = image_facts_and_report(&req.image, &img, req.format)?;
        Ok((img, facts, disk))
    })?;
    obs.step(
        "inspect",
        &format!(
            "{}: {}, virtual size {} bytes",
            req.image.display(),
            img.format_name(),
            img.size()
        ),
    );
    // Checked before anything is sent (STS is asked for the account id below).
    crate::plan::options::params(&req.options)?;
    // Kept as a Result: dry-run works without credentials, and the upload notice comes first.
    let creds = credentials::resolve(req.profile.as_deref(), &env);
    let (region, from) = regions::choose(req.region.as_deref(), creds.as_ref().ok(), &env)?;
    regions::check_known(&plan::check_region(&region)?, req.force)?;
    if req.region.is_none() {
        obs.note(&format!(
            "region: {region} (from {from}; --region to choose)"
        ));
    }
    let sending = &facts.sending;
    obs.note(&format!(
        "sending {} ({} bytes; file {} bytes, virtual disk {} bytes): {}",
        sending.bytes.name(),
        sending.object_size,
        sending.file_size,
        sending.virtual_size,
        sending.why
    ));
    let eps = settings::endpoints(
        &region,
        req.endpoints.ecs.as_deref(),
        req.endpoints.ram.as_deref(),
        req.endpoints.allow_http,
        &env,
    )?;
    let object = object_of(&req, sending.bytes, obs);
    let (data, data_images) = steps.time(obs, "inspect_data_disks", || {
        data_disks::open(&req.data_disks, &object)
    })?;
    for d in &data {
        obs.step(
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
        Ok(c) if req.sends() => {
            let sig = settings::rpc_signature(req.rpc_signature.as_deref(), &env)?;
            let ep = settings::sts_endpoint(
                req.endpoints.sts.as_deref(),
                req.endpoints.allow_http,
                &env,
            )?;
            Some(roles::activate(c.clone(), &ep, sig, &env)?)
        }
        _ => None,
    };
    let (bucket, defaulted, account_known) =
        bucket_of(&req, &region, live.as_ref(), creds.is_ok(), obs)?;
    // Issue 17: the readiness findings before the plan; they fill NvmeSupport and the warnings.
    for l in readiness::lines(&disk.readiness) {
        obs.note(&l);
    }
    let mut plan = steps.time(obs, "plan", || {
        let mut extra = data_disks::params(&data, &bucket);
        extra.extend(crate::plan::options::params(&req.options)?);
        extra.extend(readiness::nvme_param(
            &disk.readiness,
            req.options.nvme.is_some(),
        ));
        plan::build(&facts, &flags(&req, &region, &bucket, &object, extra))
    })?;
    plan.warnings.extend(readiness::carried_warnings(&disk));
    readiness::gate(&disk.readiness, req.force)?;
    let shown = if req.dry_run && defaulted && !account_known {
        without_account(&plan, &region)
    } else {
        plan.clone()
    };
    obs.step(
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
        obs.warning(w);
    }
    let options = RunOptions {
        create_role: req.create_role,
        skip_upload: req.skip_upload,
        no_wait: req.no_wait,
        timeout: req.timeout,
        delete_object: req.delete_object,
        detect: req.options.detect,
        part_size: req.part_size,
        parallel: req.parallel,
        restart: req.restart,
        state_dir: req.state_dir,
    };
    Ok(Prepared {
        plan: ImportPlan {
            import_image: plan,
            facts,
            data,
            region,
            endpoints: eps,
            asked: req.endpoints,
            rpc_signature: req.rpc_signature,
            oss_signature: req.oss_signature,
            bucket_defaulted: defaulted,
            options,
        },
        images: Opened {
            system: img,
            data: data_images,
        },
        disk,
        shown,
        creds,
        live,
        steps,
    })
}

/// What a dry run shows when the bucket is imgtool's default and the account id is unknown
/// (no credentials, or nobody asked): the bucket as `imgtool-<account id>-<region>`, and no
/// ClientToken, since the real one is derived from the real bucket name.
pub fn without_account(plan: &Plan, region: &str) -> Plan {
    let placeholder = plan.oss_bucket.clone();
    let shown = format!("imgtool-{UNKNOWN_ACCOUNT}-{region}");
    let mut p = plan.clone();
    p.oss_bucket = shown.clone();
    for (_, v) in p.extra.iter_mut().filter(|(_, v)| *v == placeholder) {
        v.clone_from(&shown);
    }
    if p.client_token_derived {
        p.client_token = UNKNOWN_TOKEN.into();
    }
    p
}

const UNKNOWN_ACCOUNT: &str = "<account id>";
/// Shown instead of a derived ClientToken whose bucket name is not known.
pub const UNKNOWN_TOKEN: &str =
    "(unknown: derived from the bucket name, which needs the account id)";

/// The bucket, whether it is imgtool's default (then it may be created), and whether the
/// account id in a default name is real (a dry run asks nobody, so it is not).
fn bucket_of(
    req: &Request,
    region: &str,
    creds: Option<&Live>,
    has_creds: bool,
    obs: &dyn Observer,
) -> Result<(String, bool, bool)> {
    if let Some(b) = &req.bucket {
        return Ok((b.clone(), false, true));
    }
    let known = creds.is_some() && req.sends();
    let account = match creds {
        Some(c) if known => {
            let timing = settings::timing(&env)?;
            let sig = settings::rpc_signature(req.rpc_signature.as_deref(), &env)?;
            let client = Client::new(c.clone(), timing.retry, timing.http_timeout)
                .map_err(|e| ecs::explain("setup", &e))?
                .with_signature(sig);
            let ep = settings::sts_endpoint(
                req.endpoints.sts.as_deref(),
                req.endpoints.allow_http,
                &env,
            )?;
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
    obs.note(&if known {
        format!("bucket: {b} (default imgtool-<account id>-<region>; --bucket to choose)")
    } else {
        format!(
            "bucket: imgtool-<account id>-{region} (default; the account id is unknown {why}: the real run asks STS for it; --bucket to choose)"
        )
    });
    Ok((b, true, known))
}

fn object_of(req: &Request, bytes: Bytes, obs: &dyn Observer) -> String {
    if let Some(o) = &req.object {
        return o.clone();
    }
    let o = data_disks::default_object(Path::new(&req.image), bytes);
    obs.note(&format!("object: {o} (default; --object to choose)"));
    o
}

fn flags(
    req: &Request,
    region: &str,
    bucket: &str,
    object: &str,
    extra: Vec<(String, String)>,
) -> plan::Flags {
    plan::Flags {
        region: region.to_string(),
        bucket: bucket.to_string(),
        object: Some(object.to_string()),
        choices: req.choices.clone(),
        force: req.force,
        extra,
    }
}
