//! The second half of an import, once [`super::prepare`] has planned it: make sure the RAM
//! role exists, make sure the bucket exists, upload the system disk and the data disks
//! (resumable, verified), call ImportImage, follow the task until the image is Available,
//! read the service's image check, delete the object. [`run`] takes the plan (what to do)
//! and the images (the open files whose bytes go up) apart. Every step is told to the
//! observer; nothing here prints.

use std::time::Duration;

use super::observer::{Observer, Steps};
use super::planned::{ImportPlan, Opened};
use crate::cloud::bucket::{self, Found};
use crate::cloud::detect::{self, Detection};
use crate::cloud::ecs::{self, Imported};
use crate::cloud::follow;
use crate::cloud::import;
use crate::cloud::oss::Oss;
use crate::cloud::resume;
use crate::cloud::session::Session;
use crate::cloud::settings::{self, env};
use crate::cloud::upload::{self, Source};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::plan::sent::Sending;

/// What the upload step did.
#[derive(Debug)]
pub struct Uploaded {
    pub outcome: upload::Outcome,
    pub bucket_created: bool,
    /// What went up.
    pub sending: Sending,
    /// One per data disk, in order.
    pub data: Vec<upload::Outcome>,
}

/// Where the import stands when [`run`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// ImportImage accepted; not followed (`no_wait`).
    Submitted,
    Available,
    /// Following was interrupted (Ctrl-C); the import goes on in the cloud.
    Interrupted,
}

impl Status {
    /// The JSON's `status`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Available => "Available",
            Status::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    pub imported: Imported,
    /// `None` with `skip_upload`.
    pub uploaded: Option<Uploaded>,
    pub created_role: bool,
    pub detection: Option<Detection>,
    pub object_deleted: bool,
    /// The steps of the run (the plan's are in `Prepared::steps`).
    pub steps: Steps,
}

/// Run the import `p` plans, uploading from `images`, with `s`, telling `obs` each step. A
/// task that does not end within the plan's timeout is an error naming how to follow it
/// later.
pub fn run(p: &ImportPlan, images: &Opened, s: &Session, obs: &dyn Observer) -> Result<Outcome> {
    let opts = &p.options;
    let plan = &p.import_image;
    if images.data.len() != p.data.len() {
        return Err(Error::Failed(format!(
            "the plan has {} data disks but {} were opened",
            p.data.len(),
            images.data.len()
        )));
    }
    let mut steps = Steps::default();
    let created_role = steps.time(obs, "role", || {
        obs.step("role", "checking the RAM role");
        import::ensure_role(s, opts.create_role, &mut |m| obs.note(&m))
    })?;
    let oss = oss_client(p, s)?;
    let uploaded = if opts.skip_upload {
        None
    } else {
        Some(upload_step(p, images, &mut steps, &oss, obs)?)
    };
    let imported = steps.time(obs, "import", || {
        obs.step("import", "calling ImportImage");
        import::import(s, plan, opts.create_role, created_role, &mut |m| {
            obs.note(&m)
        })
    })?;
    obs.imported(&imported);
    let mut out = Outcome {
        status: Status::Submitted,
        imported,
        uploaded,
        created_role,
        detection: None,
        object_deleted: false,
        steps: Steps::default(),
    };
    if !opts.no_wait {
        let followed = steps.time(obs, "follow", || {
            obs.step("follow", "waiting for the image to be Available");
            follow_task(s, plan, &out.imported, opts.timeout, obs)
        })?;
        match followed {
            follow::Outcome::Done { .. } => {
                out.status = Status::Available;
                if opts.detect {
                    out.detection = Some(detection(s, plan, &out.imported, &mut steps, obs)?);
                }
                out.object_deleted = opts.delete_object && delete_object(&oss, plan, obs)?;
            }
            follow::Outcome::Interrupted => out.status = Status::Interrupted,
            follow::Outcome::TimedOut => {
                return Err(Error::Failed(format!(
                    "stopped following after --timeout; the import goes on in the cloud. {}",
                    resume_hint(plan, &out.imported)
                )));
            }
        }
    }
    out.steps = steps;
    Ok(out)
}

/// How to follow the task later (`imgtool task wait ...`).
pub fn resume_hint(plan: &Plan, imported: &Imported) -> String {
    follow::resume_hint(&imported.task_id, &plan.region_id, Some(&imported.image_id))
}

fn oss_client(p: &ImportPlan, s: &Session) -> Result<Oss> {
    let e = &p.asked;
    let url = settings::oss_endpoint(
        &p.region,
        e.oss.as_deref(),
        e.oss_internal,
        e.allow_http,
        &env,
    )?;
    let signing = settings::oss_signing(p.oss_signature.as_deref(), &p.region, &env)?;
    s.oss(&url, signing)
}

fn upload_step(
    p: &ImportPlan,
    images: &Opened,
    steps: &mut Steps,
    oss: &Oss,
    obs: &dyn Observer,
) -> Result<Uploaded> {
    let (opts, plan) = (&p.options, &p.import_image);
    let found = steps.time(obs, "bucket", || {
        obs.step("bucket", &format!("checking bucket {}", plan.oss_bucket));
        bucket::ensure(
            oss,
            &plan.oss_bucket,
            &plan.region_id,
            p.bucket_defaulted,
            &mut |m| obs.note(&m),
        )
    })?;
    // The bytes come from the image opened in `prepare`, the file its identity was read from.
    let src = super::data_disks::source(&p.facts.path, &images.system, &p.facts.sending)?;
    let up = upload::Options {
        bucket: plan.oss_bucket.clone(),
        key: plan.oss_object.clone(),
        part_size: upload::part_size(src.len(), opts.part_size)?,
        parallel: opts.parallel.unwrap_or_else(upload::default_parallel),
        restart: opts.restart,
        identity: super::data_disks::upload_identity(&p.facts),
        state_dir: opts.state_dir.clone().or_else(|| resume::dir(&env)),
    };
    let outcome = steps.time(obs, "upload", || {
        obs.step("upload", &format!("oss://{}/{}", up.bucket, up.key));
        send(oss, src.as_ref(), &up, obs)
    })?;
    // Each data disk exactly as the system disk: same bucket, same resumable upload.
    let data = steps.time(obs, "upload_data_disks", || {
        let mut outcomes = Vec::new();
        for (d, image) in p.data.iter().zip(&images.data) {
            let src = d.source(image)?;
            let o = upload::Options {
                key: d.object.clone(),
                part_size: upload::part_size(src.len(), opts.part_size)?,
                identity: d.identity(),
                ..up.clone()
            };
            obs.step(
                "upload",
                &format!("oss://{}/{} (data disk)", o.bucket, o.key),
            );
            outcomes.push(send(oss, src.as_ref(), &o, obs)?);
        }
        Ok(outcomes)
    })?;
    Ok(Uploaded {
        outcome,
        bucket_created: found == Found::Created,
        sending: p.facts.sending.clone(),
        data,
    })
}

fn send(
    oss: &Oss,
    src: &dyn Source,
    o: &upload::Options,
    obs: &dyn Observer,
) -> Result<upload::Outcome> {
    obs.upload_started(&o.key, src.len());
    let r = upload::upload_observed(oss, src, o, &mut |m| obs.note(&m), &|n| {
        obs.upload_progress(n)
    });
    obs.upload_finished();
    r
}

fn follow_task(
    s: &Session,
    plan: &Plan,
    imported: &Imported,
    timeout: Option<u64>,
    obs: &dyn Observer,
) -> Result<follow::Outcome> {
    follow::catch_interrupt();
    let opts = follow::Options {
        poll: s.timing.poll,
        timeout: timeout.map(Duration::from_secs),
    };
    let r = follow::follow(
        &s.client,
        &s.ecs,
        &plan.region_id,
        &imported.task_id,
        Some(&imported.image_id),
        &opts,
        &mut |t, i| obs.task(t, i),
    );
    obs.task_finished();
    r
}

/// The service's image check (`detect`), once the image is Available.
fn detection(
    s: &Session,
    plan: &Plan,
    imported: &Imported,
    steps: &mut Steps,
    obs: &dyn Observer,
) -> Result<Detection> {
    steps.time(obs, "detect", || {
        obs.step(
            "detect",
            "reading the service's image check (DetectionOptions)",
        );
        detect::read(
            &s.client,
            &s.ecs,
            &plan.region_id,
            &imported.image_id,
            s.timing.poll,
        )
        .map_err(|e| ecs::explain("DescribeImages", &e))
    })
}

/// Only once the image is Available: ECS reads the object until then.
fn delete_object(oss: &Oss, plan: &Plan, obs: &dyn Observer) -> Result<bool> {
    oss.delete_object(&plan.oss_bucket, &plan.oss_object)
        .map_err(|e| ecs::explain("DeleteObject", &e))?;
    obs.note(&format!(
        "deleted oss://{}/{} (the image is Available, so ECS no longer needs it)",
        plan.oss_bucket, plan.oss_object
    ));
    Ok(true)
}
