//! Request-level logging (`-v`): one line per HTTP request to the cloud, with the method,
//! the URL without its query, what was asked (the RPC action, or OSS), the status and the
//! time taken. Nothing secret can appear: the query (where a V1 request carries its
//! AccessKeyId, SecurityToken and Signature) is dropped, and no header or body is logged
//! (Authorization, x-acs-security-token and x-oss-security-token live there).
//! Lines go where the call's retry policy says ([`super::retry::log_request`]): the
//! session's sink (`Session::with_request_log`, an import's observer), else the process
//! reporter's (the CLI's `-v`), else nowhere.

use std::time::Instant;

use super::call_error::CallError;
use super::retry::{RetryPolicy, log_request};

/// A request made with `policy` got an HTTP answer.
pub fn answered(
    policy: &RetryPolicy,
    method: &str,
    url: &str,
    what: &str,
    started: Instant,
    status: u16,
) {
    log_request(policy, || {
        format!(
            "{method} {url} ({what}) -> HTTP {status} in {} ms",
            started.elapsed().as_millis()
        )
    });
}

/// A request made with `policy` got no answer.
pub fn failed(
    policy: &RetryPolicy,
    method: &str,
    url: &str,
    what: &str,
    started: Instant,
    e: &CallError,
) {
    log_request(policy, || {
        format!(
            "{method} {url} ({what}) -> no answer after {} ms: {}",
            started.elapsed().as_millis(),
            e.brief()
        )
    });
}
