//! The RPC-style client for ECS and RAM: signs each attempt afresh (new SignatureNonce and
//! Timestamp), bounds every request with a timeout, and retries what the API says is
//! transient (throttling, 5xx, dropped connections) with exponential backoff and jitter.
//! Parameters, ClientToken included, are the same on every attempt, so a retry of a request
//! that did reach the server cannot do the work twice.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::credentials::Credentials;
use super::live::Live;
use super::retry::{self, random_u64};
use super::sign::{canonical_query, rpc_signature};
use super::sign_v3::{self, V3Request};
use super::sign_v4::sha256_hex;

/// Which RPC signature to send: V3 (`ACS3-HMAC-SHA256`, the default) or the old V1.0
/// (HMAC-SHA1) for private deployments that know only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RpcSignature {
    V1,
    #[default]
    V3,
}

impl RpcSignature {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v1" | "1" | "1.0" => Some(RpcSignature::V1),
            "v3" | "3" => Some(RpcSignature::V3),
            _ => None,
        }
    }
}

/// One RPC service: where it is and which API version it speaks.
#[derive(Debug, Clone)]
pub struct Service {
    /// Base URL without a trailing slash, e.g. `https://ecs.cn-hangzhou.aliyuncs.com`.
    pub endpoint: String,
    pub version: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

pub use super::retry::{RetryPolicy, backoff};

pub use super::call_error::CallError;

/// A request as dry-run shows it: the secret-bearing values replaced.
#[derive(Debug, Clone)]
pub struct Preview {
    pub method: &'static str,
    pub url: String,
    pub params: Vec<(String, String)>,
    /// V3: the headers sent (Authorization redacted) and the canonical request signed.
    pub headers: Vec<(String, String)>,
    pub canonical_request: Option<String>,
}

/// One call of an action: the same on every attempt (each attempt signs it afresh).
struct Call<'a> {
    svc: &'a Service,
    method: Method,
    action: &'a str,
    params: &'a [(String, String)],
}

impl<'a> Call<'a> {
    /// The service's root URL, without the query (what is shown and traced).
    fn url(&self) -> String {
        format!("{}/", self.svc.endpoint)
    }

    /// What V3 covers of the call, with the headers of the attempt.
    fn v3_request(&self, headers: &'a [(String, String)], payload_hash: &'a str) -> V3Request<'a> {
        V3Request {
            method: self.method.as_str(),
            path: "/",
            params: self.params,
            headers,
            payload_hash,
        }
    }
}

pub struct Client {
    http: reqwest::blocking::Client,
    creds: Live,
    retry: RetryPolicy,
    signature: RpcSignature,
}

/// The SHA-256 of an empty body: V3 requests here carry their parameters in the query.
pub fn empty_payload_hash() -> String {
    sha256_hex(b"")
}

/// `host[:port]` of a base URL, as the Host header carries it (default ports dropped).
pub fn host_of(endpoint: &str) -> String {
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("https", endpoint));
    let host = rest.split('/').next().unwrap_or(rest);
    let default = if scheme == "http" { ":80" } else { ":443" };
    host.strip_suffix(default).unwrap_or(host).to_string()
}

/// The V3 headers of one attempt, `Authorization` excluded.
fn v3_headers(
    svc: &Service,
    action: &str,
    date: &str,
    nonce: &str,
    token: Option<&str>,
) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = [
        ("host", host_of(&svc.endpoint)),
        ("x-acs-action", action.to_string()),
        ("x-acs-version", svc.version.to_string()),
        ("x-acs-date", date.to_string()),
        ("x-acs-signature-nonce", nonce.to_string()),
        ("x-acs-content-sha256", empty_payload_hash()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(t) = token {
        h.push(("x-acs-security-token".into(), t.to_string()));
    }
    h
}

impl Client {
    pub fn new(
        creds: impl Into<Live>,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Self, CallError> {
        // No redirects: the signed parameters (and any STS token) must not go elsewhere.
        let http = super::http::client(timeout)?;
        Ok(Client {
            http,
            creds: creds.into(),
            retry,
            signature: RpcSignature::default(),
        })
    }

    /// The same client with another retry policy (its notices going elsewhere).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_signature(mut self, signature: RpcSignature) -> Self {
        self.signature = signature;
        self
    }

    /// Call `action`, retrying transient failures. Returns the response document.
    pub fn call(
        &self,
        svc: &Service,
        method: Method,
        action: &str,
        params: &[(String, String)],
    ) -> Result<Value, CallError> {
        let call = Call {
            svc,
            method,
            action,
            params,
        };
        retry::run(&self.retry, || self.once(&call))
    }

    fn once(&self, call: &Call<'_>) -> Result<Value, CallError> {
        let creds = self.creds.get()?;
        let req = match self.signature {
            RpcSignature::V1 => self.request_v1(&creds, call),
            RpcSignature::V3 => self.request_v3(&creds, call),
        };
        let (method, action) = (call.method.as_str(), call.action);
        // The URL is shown without its query: a V1 GET URL carries the AccessKeyId,
        // SecurityToken and Signature.
        let url = call.url();
        let started = std::time::Instant::now();
        let resp = req.send().map_err(|e| {
            let err = retry::network_error(&e, &url);
            super::trace::failed(&self.retry, method, &url, action, started, &err);
            err
        })?;
        super::trace::answered(
            &self.retry,
            method,
            &url,
            action,
            started,
            resp.status().as_u16(),
        );
        let status = resp.status().as_u16();
        let body = read_body(resp)?;
        parse_response(status, &body)
    }

    /// V3: parameters in the query for GET and POST (as the vendor's SDKs send RPC calls),
    /// an empty body, the signature in `Authorization`.
    fn request_v3(
        &self,
        creds: &Credentials,
        call: &Call<'_>,
    ) -> reqwest::blocking::RequestBuilder {
        let token = creds.security_token.as_ref().map(|t| t.expose());
        let headers = v3_headers(
            call.svc,
            call.action,
            &timestamp(SystemTime::now()),
            &nonce(),
            token,
        );
        let hash = empty_payload_hash();
        let signed = sign_v3::sign(
            &creds.access_key_id,
            &creds.access_key_secret,
            &call.v3_request(&headers, &hash),
        );
        let query = canonical_query(call.params);
        let url = if query.is_empty() {
            call.url()
        } else {
            format!("{}?{query}", call.url())
        };
        let mut req = match call.method {
            Method::Get => self.http.get(url),
            Method::Post => self.http.post(url),
        };
        // reqwest writes Host from the URL; the signed value is the same by construction.
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k.as_str(), v.as_str());
        }
        req.header("Authorization", signed.authorization)
            .header("Accept", "application/json")
    }

    fn request_v1(
        &self,
        creds: &Credentials,
        call: &Call<'_>,
    ) -> reqwest::blocking::RequestBuilder {
        let mut all = common_params(creds, call.svc, call.action);
        all.extend(call.params.iter().cloned());
        all.push(("Timestamp".into(), timestamp(SystemTime::now())));
        all.push(("SignatureNonce".into(), nonce()));
        let signature = rpc_signature(&creds.access_key_secret, call.method.as_str(), &all);
        all.push(("Signature".into(), signature));
        let query = canonical_query(&all);
        let url = call.url();
        match call.method {
            Method::Get => self.http.get(format!("{url}?{query}")),
            Method::Post => self
                .http
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(query),
        }
    }

    /// What `call` would send, with secrets masked; nothing is sent. For V3 the canonical
    /// request is shown as signed, with the security token, date and nonce as placeholders.
    pub fn preview(
        creds: Option<&Credentials>,
        signature: RpcSignature,
        svc: &Service,
        method: Method,
        action: &str,
        params: &[(String, String)],
    ) -> Preview {
        let key_id = creds.map_or(
            "(no credentials found)".to_string(),
            Credentials::masked_key_id,
        );
        let call = Call {
            svc,
            method,
            action,
            params,
        };
        if signature == RpcSignature::V3 {
            return preview_v3(creds, &key_id, &call);
        }
        let mut all = common_params_without(svc, action, &key_id);
        if creds.is_some_and(|c| c.security_token.is_some()) {
            all.push(("SecurityToken".into(), REDACTED.into()));
        }
        all.extend(params.iter().cloned());
        all.push(("Timestamp".into(), "(time of sending)".into()));
        all.push(("SignatureNonce".into(), "(fresh for every attempt)".into()));
        all.push(("Signature".into(), REDACTED.into()));
        Preview {
            method: method.as_str(),
            url: call.url(),
            params: all,
            headers: Vec::new(),
            canonical_request: None,
        }
    }
}

const REDACTED: &str = "(redacted)";

fn preview_v3(creds: Option<&Credentials>, key_id: &str, call: &Call<'_>) -> Preview {
    let token = creds
        .and_then(|c| c.security_token.as_ref())
        .map(|_| REDACTED);
    let headers = v3_headers(
        call.svc,
        call.action,
        "(time of sending)",
        "(fresh for every attempt)",
        token,
    );
    let hash = empty_payload_hash();
    let (canonical, signed) = sign_v3::canonical_request(&call.v3_request(&headers, &hash));
    let mut shown = headers;
    shown.push((
        "Authorization".into(),
        format!(
            "{} Credential={key_id},SignedHeaders={signed},Signature={REDACTED}",
            sign_v3::ALGORITHM
        ),
    ));
    Preview {
        method: call.method.as_str(),
        url: call.url(),
        params: call.params.to_vec(),
        headers: shown,
        canonical_request: Some(canonical),
    }
}

/// The largest RPC answer we read: real ones are a few KiB; anything bigger is not the API.
const MAX_ANSWER: u64 = 1 << 20;

/// The answer's body, read up to `MAX_ANSWER` (a garbage or hostile server cannot make us
/// allocate without bound).
fn read_body(resp: reqwest::blocking::Response) -> Result<String, CallError> {
    let bytes = super::http::read_bounded(resp, MAX_ANSWER)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn common_params(creds: &Credentials, svc: &Service, action: &str) -> Vec<(String, String)> {
    let mut p = common_params_without(svc, action, &creds.access_key_id);
    if let Some(t) = &creds.security_token {
        p.push(("SecurityToken".into(), t.expose().to_string()));
    }
    p
}

fn common_params_without(svc: &Service, action: &str, key_id: &str) -> Vec<(String, String)> {
    [
        ("Action", action),
        ("Version", svc.version),
        ("AccessKeyId", key_id),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Format", "JSON"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn field(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Success is a 2xx with a JSON object; anything else becomes a `CallError`.
pub fn parse_response(status: u16, body: &str) -> Result<Value, CallError> {
    let doc: Option<Value> = serde_json::from_str(body).ok();
    if (200..300).contains(&status) {
        return doc.filter(Value::is_object).ok_or_else(|| {
            CallError::Transport(format!(
                "HTTP {status} with a body that is not a JSON object"
            ))
        });
    }
    let doc = doc.unwrap_or(Value::Null);
    let code = match field(&doc, "Code") {
        c if c.is_empty() => format!("HTTP{status}"),
        c => c,
    };
    Err(CallError::Api {
        status,
        code,
        message: field(&doc, "Message"),
        request_id: field(&doc, "RequestId"),
    })
}

/// A fresh SignatureNonce: 32 hex digits.
pub fn nonce() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// UTC `YYYY-MM-DDThh:mm:ssZ`, as the RPC Timestamp wants.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// ISO 8601 basic UTC `YYYYMMDDThhmmssZ`, as OSS V4's `x-oss-date` wants.
pub fn basic_datetime(t: SystemTime) -> String {
    timestamp(t).replace(['-', ':'], "")
}

/// RFC 1123 GMT (`Thu, 17 Nov 2005 18:49:58 GMT`), as the OSS `Date` header wants.
pub fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m as usize).saturating_sub(1) % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), for days since
/// 1970-01-01 (never before: a time before the epoch is taken as the epoch). Unsigned, since
/// every intermediate is non-negative from day 0 on.
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // doy is 0..=365 and mp 0..=11: the day is 1..=31, the month 1..=12.
    #[allow(clippy::cast_possible_truncation)]
    let (d, m) = (
        (doy - (153 * mp + 2) / 5 + 1) as u32,
        if mp < 10 { mp + 3 } else { mp - 9 } as u32,
    );
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_456_231_584);
        assert_eq!(timestamp(t), "2016-02-23T12:46:24Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00Z");
        assert_eq!(basic_datetime(leap), "20000229T000000Z");
    }

    #[test]
    fn http_date_format() {
        // The official OSS vector's date.
        let t = UNIX_EPOCH + Duration::from_secs(1_132_253_398);
        assert_eq!(http_date(t), "Thu, 17 Nov 2005 18:49:58 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn nonces_differ() {
        let a = nonce();
        assert_eq!(a.len(), 32);
        assert_ne!(a, nonce());
    }

    #[test]
    fn response_classification() {
        assert!(parse_response(200, r#"{"ImageId":"m-1"}"#).is_ok());
        assert!(parse_response(200, "<xml/>").unwrap_err().retryable());
        let e = parse_response(
            400,
            r#"{"Code":"Throttling.User","Message":"slow","RequestId":"r"}"#,
        )
        .unwrap_err();
        assert!(e.retryable());
        let e = parse_response(503, "").unwrap_err();
        assert_eq!(e.code(), Some("HTTP503"));
        assert!(e.retryable());
        let e = parse_response(400, r#"{"Code":"InvalidImageName.Duplicated"}"#).unwrap_err();
        assert!(!e.retryable());
    }
}
