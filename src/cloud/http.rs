//! The one HTTP client every cloud call goes through (RPC: ECS, RAM, STS; OSS; instance
//! metadata): rustls, a timeout, a user agent, no redirects (a redirect would carry the
//! signature and any STS token to a host nobody chose), and answers read up to a bound.
//! Retries are [`super::retry`]'s.

use std::io::Read;
use std::time::Duration;

use super::call_error::CallError;

/// A client with `timeout` for the whole exchange (requests carrying data extend it) and at
/// most 10 s to connect.
pub fn client(timeout: Duration) -> Result<reqwest::blocking::Client, CallError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("imgtool/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CallError::Transport(format!("cannot set up HTTP: {}", e.without_url())))
}

/// The answer's body, at most `max` bytes: a garbage or hostile server cannot make us
/// allocate without bound. A longer body is an error, not a silently cut document.
pub fn read_bounded(resp: reqwest::blocking::Response, max: u64) -> Result<Vec<u8>, CallError> {
    let mut bytes = Vec::new();
    resp.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| CallError::Transport(format!("reading the answer: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(CallError::Transport(format!(
            "the answer is larger than {max} bytes: not an API response"
        )));
    }
    Ok(bytes)
}
