//! Request-level logging (`-v`): one line per HTTP request to the cloud, with the method,
//! the URL without its query, what was asked (the RPC action, or OSS), the status and the
//! time taken. Nothing secret can appear: the query (where a V1 request carries its
//! AccessKeyId, SecurityToken and Signature) is dropped, and no header or body is logged
//! (Authorization, x-acs-security-token and x-oss-security-token live there).
//! Lines go through the same reporter as retry notices ([`super::retry::set_reporter`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::call_error::CallError;
use super::retry::report;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turn request logging on (the CLI's `-v`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn on() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A request got an HTTP answer.
pub fn answered(method: &str, url: &str, what: &str, started: Instant, status: u16) {
    if on() {
        report(&format!(
            "{method} {url} ({what}) -> HTTP {status} in {} ms",
            started.elapsed().as_millis()
        ));
    }
}

/// A request got no answer.
pub fn failed(method: &str, url: &str, what: &str, started: Instant, e: &CallError) {
    if on() {
        report(&format!(
            "{method} {url} ({what}) -> no answer after {} ms: {}",
            started.elapsed().as_millis(),
            e.brief()
        ));
    }
}
