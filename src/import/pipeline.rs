//! The second half of an import, once [`super::prepare`] has planned it: make sure the RAM
//! role exists, make sure the bucket exists, upload the system disk and the data disks
//! (resumable, verified), call ImportImage, follow the task until the image is Available,
//! read the service's image check, delete the object. Every step is told to the observer;
//! nothing here prints.

use std::time::Duration;

use super::observer::{Observer, Steps};
use super::prepare::Prepared;
use crate::cloud::bucket::{self, Found};
use crate::cloud::detect::{self, Detection};
use crate::cloud::ecs::{self, Imported};
use crate::cloud::follow;
use crate::cloud::import;
use crate::cloud::live::Live;
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
    /// The steps of the run (the plan's are in [`Prepared::steps`]).
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
        let sig = settings::rpc_signature(self.request.rpc_signature.as_deref(), &env)?;
        Session::new(live, &self.endpoints, sig)
    }
}

/// Run the import `p` planned, with `s`, telling `obs` each step. A task that does not end
/// within `timeout` is an error naming how to follow it later.
pub fn run(p: &Prepared, s: &Session, obs: &dyn Observer) -> Result<Outcome> {
    let req = &p.request;
    let plan = &p.plan;
    let mut steps = Steps::default();
    let created_role = steps.time(obs, "role", || {
        obs.step("role", "checking the RAM role");
        import::ensure_role(s, req.create_role, &mut |m| obs.note(&m))
    })?;
    let oss = oss_client(p, s)?;
    let uploaded = if req.skip_upload {
        None
    } else {
        Some(upload_step(p, &mut steps, &oss, obs)?)
    };
    let imported = steps.time(obs, "import", || {
        obs.step("import", "calling ImportImage");
        import::import(s, plan, req.create_role, created_role, &mut |m| {
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
    if !req.no_wait {
        let followed = steps.time(obs, "follow", || {
            obs.step("follow", "waiting for the image to be Available");
            follow_task(s, plan, &out.imported, req.timeout, obs)
        })?;
        match followed {
            follow::Outcome::Done { .. } => {
                out.status = Status::Available;
                if req.options.detect {
                    out.detection = Some(detection(s, plan, &out.imported, &mut steps, obs)?);
                }
                out.object_deleted = req.delete_object && delete_object(&oss, plan, obs)?;
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

fn oss_client(p: &Prepared, s: &Session) -> Result<Oss> {
    let e = &p.request.endpoints;
    let url = settings::oss_endpoint(
        &p.region,
        e.oss.as_deref(),
        e.oss_internal,
        e.allow_http,
        &env,
    )?;
    let signing = settings::oss_signing(p.request.oss_signature.as_deref(), &p.region, &env)?;
    s.oss(&url, signing)
}

fn upload_step(p: &Prepared, steps: &mut Steps, oss: &Oss, obs: &dyn Observer) -> Result<Uploaded> {
    let (req, plan) = (&p.request, &p.plan);
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
    let src = super::data_disks::source(&req.image, &p.image, &p.facts.sending)?;
    let opts = upload::Options {
        bucket: plan.oss_bucket.clone(),
        key: plan.oss_object.clone(),
        part_size: upload::part_size(src.len(), req.part_size)?,
        parallel: req.parallel.unwrap_or_else(upload::default_parallel),
        restart: req.restart,
        identity: super::data_disks::upload_identity(&p.facts),
        state_dir: req.state_dir.clone().or_else(|| resume::dir(&env)),
    };
    let outcome = steps.time(obs, "upload", || {
        obs.step("upload", &format!("oss://{}/{}", opts.bucket, opts.key));
        send(oss, src.as_ref(), &opts, obs)
    })?;
    // Each data disk exactly as the system disk: same bucket, same resumable upload.
    let data = steps.time(obs, "upload_data_disks", || {
        let mut outcomes = Vec::new();
        for d in &p.data {
            let src = d.source()?;
            let o = upload::Options {
                key: d.object.clone(),
                part_size: upload::part_size(src.len(), req.part_size)?,
                identity: d.identity(),
                ..opts.clone()
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
