//! One retry policy for every call to the cloud: the RPC client (ECS, RAM, STS), OSS
//! requests and upload parts. It decides what is worth another attempt, how long to wait
//! (exponential backoff with jitter), and tells the user each retry and its cause.
//!
//! A request that got no answer is classified from reqwest's error and its source chain
//! (hyper, the TLS library, the OS error): connection refused, DNS failure, TLS/certificate
//! problem, timeout, connection reset. What cannot succeed by trying again is not retried:
//! a certificate the client refuses, and a refused connection to this machine (a loopback
//! endpoint is a local server or proxy that is not running: nothing will start it meanwhile).
//! A refused connection elsewhere is retried (a load balancer being replaced refuses briefly).

use std::collections::hash_map::RandomState;
use std::error::Error as StdError;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::call_error::CallError;

#[derive(Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Where this policy's retry notices go; `None`: the process's reporter
    /// ([`set_reporter`]). A library caller's observer sets it (`Session::with_notice`).
    pub notice: Option<Notice>,
    /// Where the request log of the calls made with this policy goes (one line per HTTP
    /// request, see `cloud::trace`); `None`: the process's reporter's, when it has one
    /// (`-v`). A library caller's observer sets it (`Session::with_request_log`).
    pub requests: Option<Notice>,
}

/// A sink for retry notices or request lines, shared by the threads of an upload.
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("notice", &self.notice.is_some())
            .field("requests", &self.requests.is_some())
            .finish()
    }
}

impl RetryPolicy {
    /// The same policy, its notices going to `notice`.
    pub fn with_notice(&self, notice: Notice) -> RetryPolicy {
        RetryPolicy {
            notice: Some(notice),
            ..self.clone()
        }
    }

    /// The same policy, its request log going to `requests`.
    pub fn with_request_log(&self, requests: Notice) -> RetryPolicy {
        RetryPolicy {
            requests: Some(requests),
            ..self.clone()
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            notice: None,
            requests: None,
        }
    }
}

/// Delay before attempt `attempt + 1`: base * 2^(attempt-1), capped, with "full jitter" in
/// its upper half so that many clients throttled together do not return together.
pub fn backoff(p: &RetryPolicy, attempt: u32) -> Duration {
    let exp = p
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(p.max_delay);
    let half = exp / 2;
    // half is at most max_delay / 2 (seconds): its milliseconds fit a u64.
    #[allow(clippy::cast_possible_truncation)]
    let jitter_ms = random_u64() % (half.as_millis() as u64 + 1);
    half + Duration::from_millis(jitter_ms)
}

/// Unpredictable enough for nonces and jitter without a random-number crate: std seeds each
/// `RandomState` from the OS, and a counter keeps values distinct within the process.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// Run `attempt_once` until it succeeds, fails for good, or the attempts are used up,
/// reporting each retry (see [`set_reporter`]).
pub fn run<T>(
    policy: &RetryPolicy,
    attempt_once: impl FnMut() -> Result<T, CallError>,
) -> Result<T, CallError> {
    run_with(policy, attempt_once, |e| e.retryable().then(|| e.brief()))
}

/// The one retry loop. `cause` says why an error is worth another attempt (its text for the
/// notice), or `None` when it is final: an upload part also retries on a CRC-64 the server
/// computed differently, and stops at once when its source cannot be read.
pub fn run_with<T, E>(
    policy: &RetryPolicy,
    mut attempt_once: impl FnMut() -> Result<T, E>,
    cause: impl Fn(&E) -> Option<String>,
) -> Result<T, E> {
    let mut attempt = 1;
    loop {
        match attempt_once() {
            Err(e) if attempt < policy.attempts => match cause(&e) {
                Some(why) => {
                    wait(policy, attempt, &why);
                    attempt += 1;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// Sleep before attempt `attempt + 1`, saying so.
fn wait(policy: &RetryPolicy, attempt: u32, cause: &str) {
    let d = backoff(policy, attempt);
    let msg = format!(
        "retrying in {} (attempt {} of {}): {cause}",
        seconds(d),
        attempt + 1,
        policy.attempts,
    );
    if let Some(n) = &policy.notice {
        n(&msg);
    } else if let Ok(r) = REPORTER.read() {
        if let Some(f) = &r.notices {
            f(&msg);
        }
    }
    std::thread::sleep(d);
}

fn seconds(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Log one HTTP request (`line` made only when someone listens): to `policy`'s request
/// sink, else to the process reporter's (see [`set_reporter`]), else nowhere.
pub fn log_request(policy: &RetryPolicy, line: impl FnOnce() -> String) {
    if let Some(r) = &policy.requests {
        r(&line());
    } else if let Ok(r) = REPORTER.read() {
        if let Some(f) = &r.requests {
            f(&line());
        }
    }
}

/// The process's sinks, for the calls whose policy has none of its own.
struct Reporter {
    notices: Option<Notice>,
    requests: Option<Notice>,
}

static REPORTER: RwLock<Reporter> = RwLock::new(Reporter {
    notices: None,
    requests: None,
});

/// Where the retry notices and the request log (`requests`; `None`: no log) go when a
/// call's policy names no sink of its own. An import's session carries its own
/// (`Session::with_notice`, `with_request_log`), so this is for the calls made outside one:
/// STS in `import::prepare` (AssumeRole, its renewals while the run goes on, and
/// GetCallerIdentity), the dry run's remote check, and `imgtool task`. The CLI installs it
/// (`cli/cloud_log.rs`); a library user hears nothing from those calls unless it installs
/// one.
pub fn set_reporter(notices: Notice, requests: Option<Notice>) {
    if let Ok(mut r) = REPORTER.write() {
        *r = Reporter {
            notices: Some(notices),
            requests,
        };
    }
}

/// What kind of network failure a request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Refused,
    Dns,
    Certificate,
    Tls,
    Timeout,
    Reset,
    Other,
}

impl Cause {
    fn describe(self) -> &'static str {
        match self {
            Cause::Refused => "connection refused",
            Cause::Dns => "DNS failure (the host name does not resolve)",
            Cause::Certificate => "TLS certificate not accepted",
            Cause::Tls => "TLS handshake failed",
            Cause::Timeout => "timed out",
            Cause::Reset => "connection reset or closed by the server",
            Cause::Other => "request failed",
        }
    }
}

/// Classify a reqwest failure by walking its source chain; the texts of the chain are kept
/// as the detail (reqwest's own text names the URL, which can carry a V1 signature in its
/// query: it is left out, and `url` is given without its query).
pub fn classify(e: &reqwest::Error) -> (Cause, String) {
    let mut texts = Vec::new();
    let mut cause = if e.is_timeout() {
        Cause::Timeout
    } else {
        Cause::Other
    };
    let mut src: Option<&(dyn StdError + 'static)> = e.source();
    let mut depth = 0;
    while let Some(s) = src {
        depth += 1;
        if depth > 16 {
            break;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            cause = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Cause::Refused,
                std::io::ErrorKind::TimedOut => Cause::Timeout,
                std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof => Cause::Reset,
                _ => cause,
            };
        }
        let t = s.to_string();
        let l = t.to_ascii_lowercase();
        if cause == Cause::Other || cause == Cause::Timeout {
            cause = if l.contains("certificate") || l.contains("invalidcertificate") {
                Cause::Certificate
            } else if l.contains("dns error")
                || l.contains("failed to lookup address")
                || l.contains("name or service not known")
                || l.contains("no address associated")
            {
                Cause::Dns
            } else if l.contains("connection refused") {
                Cause::Refused
            } else if l.contains("tls") || l.contains("handshake") {
                Cause::Tls
            } else {
                cause
            };
        }
        if !t.is_empty() && !texts.iter().any(|x: &String| x.contains(&t)) {
            texts.push(t);
        }
        src = s.source();
    }
    (cause, texts.join(": "))
}

/// The `CallError` for a request to `url` that got no answer.
pub fn network_error(e: &reqwest::Error, url: &str) -> CallError {
    let (cause, detail) = classify(e);
    let url = without_query(url);
    let permanent = match cause {
        Cause::Certificate => true,
        Cause::Refused => is_loopback_url(&url),
        _ => false,
    };
    let mut text = cause.describe().to_string();
    if !detail.is_empty() && cause != Cause::Refused {
        text.push_str(&format!(" ({detail})"));
    }
    CallError::Network {
        url,
        cause: text,
        permanent,
    }
}

/// `url` without its query and fragment: what may be shown and logged.
pub fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    is_loopback(rest.split('/').next().unwrap_or(rest))
}

/// Is `host[:port]` this machine: `localhost`, 127.0.0.0/8 or `[::1]`?
pub(crate) fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            notice: None,
            requests: None,
        };
        let d1 = backoff(&p, 1);
        assert!(
            d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
            "{d1:?}"
        );
        let d3 = backoff(&p, 3);
        assert!(
            d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
            "{d3:?}"
        );
        assert!(backoff(&p, 30) <= Duration::from_millis(1000));
    }

    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn refused_on_loopback_is_named_and_not_retried() {
        let port = closed_port();
        let url = format!("http://127.0.0.1:{port}/?Signature=secret");
        let e = reqwest::blocking::Client::new()
            .get(&url)
            .send()
            .unwrap_err();
        let ce = network_error(&e, &url);
        assert!(!ce.retryable(), "{ce:?}");
        let text = ce.brief();
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn run_stops_at_a_permanent_error_and_counts_attempts() {
        let p = RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            notice: None,
            requests: None,
        };
        let mut n = 0;
        let r: Result<(), _> = run(&p, || {
            n += 1;
            Err(CallError::Transport("dropped".into()))
        });
        assert!(r.is_err());
        assert_eq!(n, 3);
        let mut n = 0;
        let r: Result<(), _> = run(&p, || {
            n += 1;
            Err(CallError::Network {
                url: "http://127.0.0.1:9/".into(),
                cause: "connection refused".into(),
                permanent: true,
            })
        });
        assert!(r.is_err());
        assert_eq!(n, 1);
    }
}
