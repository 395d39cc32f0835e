//! What an import tells its caller while it runs: steps starting and ending, notes and
//! warnings, retries, each HTTP request, the upload's progress, the submitted task and its
//! state. The CLI prints them (stderr, progress only on a terminal, nothing with --quiet but
//! retries and requests under `-v`); a library user records them or ignores them (every
//! method has an empty default). Retries and requests reach the observer through the
//! session ([`observe`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cloud::ecs::{ImageState, Imported, TaskState};
use crate::cloud::retry::Notice;
use crate::cloud::session::Session;
use crate::error::Result;

/// The events of an import, in the order they happen. Called from the upload's worker
/// threads too (`upload_progress`), hence `Sync`.
pub trait Observer: Send + Sync {
    /// A step begins (`inspect`, `plan`, `check`, `role`, `bucket`, `upload`, `import`,
    /// `follow`, `detect`) and what it does.
    fn step(&self, _name: &'static str, _what: &str) {}
    /// A timed step ended (the names of [`Steps`]).
    fn step_done(&self, _name: &'static str, _elapsed: Duration) {}
    /// Something the user should know (a default chosen, a part resumed, a role created).
    fn note(&self, _msg: &str) {}
    fn warning(&self, _msg: &str) {}
    /// A request is tried again ("retrying in 1.0 s (attempt 2 of 6): ..."): reaches the
    /// observer when the session was given [`retry_notice`].
    fn retry(&self, _msg: &str) {}
    /// One HTTP request, as `-v` logs it: `POST https://ecs.../ (ImportImage) -> HTTP 200 in
    /// 41 ms` (method, URL without its query, what was asked, status, time; never a
    /// secret). Reaches the observer when the session was given [`request_log`].
    fn request(&self, _line: &str) {}
    /// An object's upload begins: `bytes` at most will be sent.
    fn upload_started(&self, _object: &str, _bytes: u64) {}
    /// `bytes` more of the object are in OSS (sent, or found there and verified).
    fn upload_progress(&self, _bytes: u64) {}
    fn upload_finished(&self) {}
    /// ImportImage accepted the request.
    fn imported(&self, _imported: &Imported) {}
    /// What following the task saw at one poll.
    fn task(&self, _task: &TaskState, _image: &ImageState) {}
    /// Following ended (however it ended).
    fn task_finished(&self) {}
}

/// An observer that hears nothing.
pub struct Silent;

impl Observer for Silent {}

/// The retry sink that sends a session's retries to `observer`
/// (`Session::with_notice(retry_notice(obs))`).
pub fn retry_notice(observer: Arc<dyn Observer>) -> Notice {
    Arc::new(move |m: &str| observer.retry(m))
}

/// The request-log sink that sends a session's request lines to `observer`
/// (`Session::with_request_log(request_log(obs))`): the library's `-v`.
pub fn request_log(observer: Arc<dyn Observer>) -> Notice {
    Arc::new(move |m: &str| observer.request(m))
}

/// `session` with its retries and its request lines going to `observer`.
pub fn observe(session: Session, observer: Arc<dyn Observer>) -> Session {
    session
        .with_notice(retry_notice(observer.clone()))
        .with_request_log(request_log(observer))
}

/// The wall time of each step, in order (the JSON's `timings_ms`).
#[derive(Debug, Default, Clone)]
pub struct Steps(pub Vec<(&'static str, u128)>);

impl Steps {
    /// Run `f` as the step `name`, timing it and telling the observer when it ends.
    pub fn time<T>(
        &mut self,
        obs: &dyn Observer,
        name: &'static str,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let t = Instant::now();
        let r = f();
        let elapsed = t.elapsed();
        self.0.push((name, elapsed.as_millis()));
        obs.step_done(name, elapsed);
        r
    }
}
