//! Following an import until the image is Available or the import failed. Imports of tens of
//! GiB take hours, so there is no timeout unless asked for; Ctrl-C stops following (the
//! import goes on in the cloud) and the caller prints how to resume or cancel.

use std::time::{Duration, Instant};

use super::ecs::{self, ImageState, TaskState};
use super::rpc::{CallError, Client, Service};
use crate::error::{Error, Result};

/// Polls in a row on which neither the task nor the image is listed before giving up: a
/// task id from a typo or another region would otherwise be followed forever, while a
/// task just created may take a moment to be listed.
const UNLISTED_LIMIT: u32 = 5;

/// Catch SIGINT (and SIGTERM) so following can stop cleanly and say how to resume; a second
/// Ctrl-C leaves at once.
pub fn catch_interrupt() {
    crate::sys::catch_interrupts();
}

pub fn interrupted() -> bool {
    crate::sys::interrupted()
}

#[derive(Debug, Clone)]
pub struct Options {
    pub poll: Duration,
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The image is Available (or, without an image id, the task Finished).
    Done {
        task: TaskState,
        image: ImageState,
    },
    Interrupted,
    TimedOut,
}

/// How to pick an import up again, or stop it.
pub fn resume_hint(task_id: &str, region: &str, image_id: Option<&str>) -> String {
    let image = image_id
        .map(|i| format!(" --image-id {i}"))
        .unwrap_or_default();
    format!(
        "follow it with: imgtool task wait {t} --region {region}{image}; cancel it with: imgtool task cancel {t} --region {region}",
        t = task_id
    )
}

/// Poll the task (and the image, when known) until a final state, telling `on_poll` what
/// each poll saw (the caller decides how progress looks).
pub fn follow(
    c: &Client,
    ecs_svc: &Service,
    region: &str,
    task_id: &str,
    image_id: Option<&str>,
    opts: &Options,
    on_poll: &mut dyn FnMut(&TaskState, &ImageState),
) -> Result<Outcome> {
    let start = Instant::now();
    let mut unlisted = 0;
    loop {
        // Losing sight of the import does not stop it: say how to pick it up again.
        let lost = |action: &str, e: &CallError| {
            let hint = resume_hint(task_id, region, image_id);
            match ecs::explain(action, e) {
                Error::Usage(m) => Error::Usage(format!("{m}\n  the import may go on; {hint}")),
                other => Error::Failed(format!("{other}\n  the import may go on; {hint}")),
            }
        };
        let task = ecs::describe_task(c, ecs_svc, region, task_id)
            .map_err(|e| lost("DescribeTasks", &e))?;
        let image = match image_id {
            Some(id) => ecs::describe_image(c, ecs_svc, region, id)
                .map_err(|e| lost("DescribeImages", &e))?,
            None => ImageState::default(),
        };
        let task = with_failure_reason(c, ecs_svc, region, task_id, task, &image);
        on_poll(&task, &image);
        unlisted = if task.status.is_empty() && image.status.is_empty() {
            unlisted + 1
        } else {
            0
        };
        if unlisted >= UNLISTED_LIMIT {
            return Err(Error::Failed(format!(
                "task {} is not listed by DescribeTasks in {region}; check the task id and --region",
                task_id
            )));
        }
        if let Some(done) = verdict(task_id, image_id, &task, &image)? {
            return Ok(done);
        }
        if !sleep_unless_interrupted(opts.poll) {
            return Ok(Outcome::Interrupted);
        }
        if opts.timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(Outcome::TimedOut);
        }
    }
}

/// The image can turn CreateFailed a moment before its task says Failed; the reason is in
/// the task, so ask once more rather than fail without it.
fn with_failure_reason(
    c: &Client,
    ecs_svc: &Service,
    region: &str,
    task_id: &str,
    task: TaskState,
    image: &ImageState,
) -> TaskState {
    if image.status != "CreateFailed" || task.failure.is_some() {
        return task;
    }
    ecs::describe_task(c, ecs_svc, region, task_id).unwrap_or(task)
}

/// `Some` when following is over; an `Error::Failed` when the import failed.
fn verdict(
    task_id: &str,
    image_id: Option<&str>,
    task: &TaskState,
    image: &ImageState,
) -> Result<Option<Outcome>> {
    let reason = || {
        task.failure
            .as_deref()
            .map(|f| format!(": {f}"))
            .unwrap_or_default()
    };
    if image.status == "CreateFailed" {
        return Err(Error::Failed(format!(
            "image {} is CreateFailed (task {task_id} {}){}",
            image_id.unwrap_or_default(),
            task.status,
            reason()
        )));
    }
    if matches!(task.status.as_str(), "Failed" | "Deleted") {
        return Err(Error::Failed(format!(
            "import task {task_id} is {}{}",
            task.status,
            reason()
        )));
    }
    let done = match image_id {
        Some(_) => image.status == "Available",
        None => task.status == "Finished",
    };
    Ok(done.then(|| Outcome::Done {
        task: task.clone(),
        image: image.clone(),
    }))
}

/// Sleep in short steps so Ctrl-C is noticed quickly; false when interrupted.
fn sleep_unless_interrupted(d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if interrupted() {
            return false;
        }
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    !interrupted()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(status: &str) -> TaskState {
        TaskState {
            status: status.into(),
            ..TaskState::default()
        }
    }

    fn image(status: &str) -> ImageState {
        ImageState {
            status: status.into(),
            ..ImageState::default()
        }
    }

    #[test]
    fn available_image_ends_following() {
        let v = verdict("t-1", Some("m-1"), &task("Finished"), &image("Available")).unwrap();
        assert!(matches!(v, Some(Outcome::Done { .. })));
    }

    #[test]
    fn finished_task_waits_for_the_image() {
        assert_eq!(
            verdict("t-1", Some("m-1"), &task("Finished"), &image("Creating")).unwrap(),
            None
        );
        assert!(
            verdict("t-1", None, &task("Finished"), &image(""))
                .unwrap()
                .is_some()
        );
        assert_eq!(
            verdict("t-1", None, &task("Processing"), &image("")).unwrap(),
            None
        );
    }

    #[test]
    fn failures_are_errors_with_reason() {
        let mut t = task("Failed");
        t.failure = Some("ImageCheckFailed \u{1b}x".into());
        let e = verdict("t-1", Some("m-1"), &t, &image("Creating")).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.to_string().contains("ImageCheckFailed"));
        let e = verdict(
            "t-1",
            Some("m-1"),
            &task("Processing"),
            &image("CreateFailed"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("CreateFailed"));
    }
}
