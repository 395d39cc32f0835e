//! `imgtool task wait|status|cancel TASK_ID`: follow, show or cancel an import task.
//!
//! JSON output (`--json`), one document on success (see docs/json.md):
//!
//! ```text
//! { "schema": "imgtool.task/1", "task_id": str, "region": str, "task_status": str, "task_progress": str,
//!   "image_id": str|null, "image_status": str|null, "image_progress": str|null,
//!   "action": "wait" | "status" | "cancel", "outcome": str }
//! ```
//! `outcome`: wait: "Available" | "Finished" | "interrupted"; status: the task status;
//! cancel: "cancelled".

use serde::Serialize;
use serde_json::Value;

use super::follow::follow_with_progress;
use super::import_args::CloudArgs;
use super::output::{escape, print_json};
use crate::cloud::credentials;
use crate::cloud::ecs::{self, ImageState, TaskState};
use crate::cloud::follow::{self, Outcome};
use crate::cloud::session::Session;
use crate::cloud::settings::{self, env};
use crate::error::{Error, Result};
use crate::plan;

/// Shown under `task --help` and under each action's.
const EXAMPLES: &str = "\
Examples:
  imgtool task status t-abc123 --region cn-hangzhou
  imgtool task wait t-abc123 --region cn-hangzhou --image-id m-xyz789
  imgtool task cancel t-abc123 --region cn-hangzhou --json";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Follow a task until its image is Available (exit 0) or the import failed (exit 1)
    Wait(TaskArgs),
    /// Show a task's state once
    Status(TaskArgs),
    /// Cancel an import task (CancelTask)
    Cancel(TaskArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct TaskArgs {
    /// The task id (t-...)
    pub task_id: String,
    #[arg(long)]
    pub region: Option<String>,
    /// The image being imported (m-...): wait for it to be Available, not just the task
    #[arg(long)]
    pub image_id: Option<String>,
    /// wait: stop following after this many seconds
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

pub fn run(a: Args) -> Result<i32> {
    match a.action {
        Action::Wait(t) => wait(t),
        Action::Status(t) => status(t),
        Action::Cancel(t) => cancel(t),
    }
}

fn setup(t: &TaskArgs) -> Result<(Session, String)> {
    super::cloud_log::install(t.quiet, t.cloud.verbose);
    let creds = credentials::resolve(t.cloud.profile.as_deref(), &env)?;
    let (region, _) = crate::cloud::regions::choose(t.region.as_deref(), Some(&creds), &env)?;
    let region = plan::check_region(&region)?;
    if t.task_id.is_empty() || !t.task_id.is_ascii() {
        return Err(Error::Usage(format!(
            "{:?} is not a task id like t-...",
            t.task_id
        )));
    }
    let eps = settings::endpoints(
        &region,
        t.cloud.ecs_endpoint.as_deref(),
        t.cloud.ram_endpoint.as_deref(),
        t.cloud.allow_http,
        &env,
    )?;
    let sig = settings::rpc_signature(t.cloud.rpc_signature.as_deref(), &env)?;
    let sts = settings::sts_endpoint(None, t.cloud.allow_http, &env)?;
    let live = crate::cloud::roles::activate(creds, &sts, sig, &env)?;
    Ok((Session::new(live, &eps, sig)?, region))
}

/// The `task --json` document (schema: docs/json.md); the text line is rendered from it.
#[derive(Debug, Serialize)]
pub struct TaskDoc {
    pub schema: &'static str,
    pub task_id: String,
    pub region: String,
    /// As the API gives it; empty when unknown.
    pub task_status: String,
    pub task_progress: String,
    /// As passed with `--image-id`.
    pub image_id: Option<String>,
    /// With `--image-id` (or when the API gave one): as the API gives it.
    pub image_status: Option<String>,
    pub image_progress: Option<String>,
    /// `wait`, `status` or `cancel`.
    pub action: &'static str,
    pub outcome: String,
}

impl TaskDoc {
    fn new(
        t: &TaskArgs,
        region: &str,
        action: &'static str,
        task: &TaskState,
        image: &ImageState,
        outcome: &str,
    ) -> Self {
        let some = |s: &str| (!s.is_empty() || t.image_id.is_some()).then(|| s.to_string());
        TaskDoc {
            schema: "imgtool.task/1",
            task_id: t.task_id.clone(),
            region: region.to_string(),
            task_status: task.status.clone(),
            task_progress: task.progress.clone(),
            image_id: t.image_id.clone(),
            image_status: some(&image.status),
            image_progress: some(&image.progress),
            action,
            outcome: outcome.to_string(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// On stdout: the document with `--json`, else the text line.
    fn print(&self, json: bool) {
        if json {
            print_json(&self.to_json());
        } else {
            print!("{}", self.text());
        }
    }

    /// One line: the task's state, then the image's with `--image-id`; server text escaped.
    pub fn text(&self) -> String {
        let mut line = format!(
            "task {} {} {}",
            escape(&self.task_id),
            escape(&self.task_status),
            escape(&self.task_progress)
        );
        if let Some(id) = &self.image_id {
            let or_empty = |s: &Option<String>| escape(s.as_deref().unwrap_or_default());
            line.push_str(&format!(
                "; image {} {} {}",
                escape(id),
                or_empty(&self.image_status),
                or_empty(&self.image_progress)
            ));
        }
        format!("{}\n", line.trim_end())
    }
}

fn status(t: TaskArgs) -> Result<i32> {
    let (s, region) = setup(&t)?;
    let task = ecs::describe_task(&s.client, &s.ecs, &region, &t.task_id)
        .map_err(|e| ecs::explain("DescribeTasks", &e))?;
    if task.status.is_empty() {
        return Err(Error::Failed(format!(
            "no ImportImage task {} in {region}",
            escape(&t.task_id)
        )));
    }
    let image = match &t.image_id {
        Some(id) => ecs::describe_image(&s.client, &s.ecs, &region, id)
            .map_err(|e| ecs::explain("DescribeImages", &e))?,
        None => ImageState::default(),
    };
    TaskDoc::new(&t, &region, "status", &task, &image, &task.status).print(t.json);
    Ok(0)
}

fn cancel(t: TaskArgs) -> Result<i32> {
    let (s, region) = setup(&t)?;
    ecs::cancel_task(&s.client, &s.ecs, &region, &t.task_id)
        .map_err(|e| ecs::explain("CancelTask", &e))?;
    // Report the state the API now gives, not one we assume; a failed look is no failure
    // of the cancel itself.
    let task = ecs::describe_task(&s.client, &s.ecs, &region, &t.task_id).unwrap_or_default();
    TaskDoc::new(
        &t,
        &region,
        "cancel",
        &task,
        &ImageState::default(),
        "cancelled",
    )
    .print(t.json);
    Ok(0)
}

fn wait(t: TaskArgs) -> Result<i32> {
    let (s, region) = setup(&t)?;
    let hint = follow::resume_hint(&t.task_id, &region, t.image_id.as_deref());
    match follow_with_progress(
        &s,
        &region,
        &t.task_id,
        t.image_id.as_deref(),
        t.timeout,
        t.quiet,
    )? {
        Outcome::Done { task, image } => {
            let outcome = if t.image_id.is_some() {
                "Available"
            } else {
                "Finished"
            };
            TaskDoc::new(&t, &region, "wait", &task, &image, outcome).print(t.json);
            Ok(0)
        }
        Outcome::Interrupted => {
            eprintln!(
                "imgtool: interrupted; the import goes on in the cloud. {}",
                escape(&hint)
            );
            TaskDoc::new(
                &t,
                &region,
                "wait",
                &TaskState::default(),
                &ImageState::default(),
                "interrupted",
            )
            .print(t.json);
            Ok(crate::sys::EXIT_INTERRUPTED)
        }
        Outcome::TimedOut => Err(Error::Failed(format!(
            "stopped following after --timeout. {hint}"
        ))),
    }
}
