//! Following an import task on the terminal: the live line, shared by `import` and `task`.

use std::io::Write;
use std::time::Duration;

use super::output::{escape, progress_allowed};
use crate::cloud::ecs::{ImageState, TaskState};
use crate::cloud::follow::{self, Outcome};
use crate::error::Result;

/// Shows what following sees on stderr: a live line with the task's percentage on a
/// terminal; when stderr is not a terminal (a log, a pipe) only the changes of state, without
/// a line per percentage; nothing with --quiet. Server text is escaped.
pub(crate) struct Progress {
    live: bool,
    log: bool,
    last: String,
    last_state: String,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Self {
        Progress {
            live: progress_allowed(quiet),
            log: !quiet,
            last: String::new(),
            last_state: String::new(),
        }
    }

    pub(crate) fn update(&mut self, task: &TaskState, image: &ImageState) {
        let status = if task.status.is_empty() {
            "(not listed yet)"
        } else {
            &task.status
        };
        let mut line = format!("task {status} {}", task.progress);
        if !image.status.is_empty() {
            line.push_str(&format!(", image {} {}", image.status, image.progress));
        }
        let line = escape(line.trim());
        let state = format!("{status} {}", image.status);
        if self.live {
            eprint!("\r\x1b[Kimgtool: {line}");
            let _ = std::io::stderr().flush();
        } else if self.log && state != self.last_state {
            eprintln!("imgtool: {line}");
        }
        self.last = line;
        self.last_state = state;
    }

    /// End the live line so what follows starts on its own line.
    pub(crate) fn end(&self) {
        if self.live && !self.last.is_empty() {
            eprintln!();
        }
    }
}

/// Follow with a progress display, ending it however following ends.
pub(crate) fn follow_with_progress(
    s: &crate::cloud::session::Session,
    region: &str,
    task_id: &str,
    image_id: Option<&str>,
    timeout: Option<u64>,
    quiet: bool,
) -> Result<Outcome> {
    follow::catch_interrupt();
    let opts = follow::Options {
        poll: s.timing.poll,
        timeout: timeout.map(Duration::from_secs),
    };
    let mut progress = Progress::new(quiet);
    let r = follow::follow(
        &s.client,
        &s.ecs,
        region,
        task_id,
        image_id,
        &opts,
        &mut |t, i| progress.update(t, i),
    );
    progress.end();
    r
}
