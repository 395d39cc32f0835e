//! How OSS requests are signed: V4 by default, V1 on request. A child of `oss` so the
//! signing methods read the client's credentials and endpoint without making them public.

use std::time::SystemTime;

use super::super::credentials::Credentials;
use super::super::rpc::basic_datetime;
use super::super::sign::{OssRequest, oss_signature};
use super::super::sign_v4::{self, UNSIGNED_PAYLOAD, V4Request};
use super::{Oss, Query, Request};

/// How OSS requests are signed: V4 (the default; the scope names the bucket's region) or V1
/// for old private deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OssSigning {
    V1,
    V4 { region: String },
}

/// `v1` or `v4`, as `--oss-signature` and `IMGTOOL_OSS_SIGNATURE` take it.
pub fn parse_signature_version(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "v1" | "1" => Some(false),
        "v4" | "4" => Some(true),
        _ => None,
    }
}

impl Query<'_> {
    /// Every parameter, signed or not, raw: what V4 signs.
    pub fn all(&self) -> Vec<(String, Option<String>)> {
        self.sub
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .chain(
                self.other
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(v.clone()))),
            )
            .collect()
    }
}

/// The headers a V4 request carries besides Authorization and Date.
fn v4_headers(
    headers: &[(&str, &str)],
    content_type: &str,
    datetime: &str,
    token: Option<&str>,
) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("x-oss-date".into(), datetime.into()));
    all.push(("x-oss-content-sha256".into(), UNSIGNED_PAYLOAD.into()));
    if let Some(t) = token {
        all.push(("x-oss-security-token".into(), t.into()));
    }
    if !content_type.is_empty() {
        all.push(("Content-Type".into(), content_type.into()));
    }
    all
}

/// What V4 covers of `r`: its query parameters as `pairs`, the headers sent as `headers`.
fn v4_request<'a>(
    r: &Request<'a>,
    pairs: &'a [(String, Option<String>)],
    headers: &'a [(String, String)],
) -> V4Request<'a> {
    V4Request {
        method: r.method,
        bucket: r.bucket,
        key: r.key,
        query: pairs,
        headers,
        additional: &[],
    }
}

/// What a V4 request would sign, for dry-run: the security token and the time as
/// placeholders, nothing secret.
pub fn preview_v4(
    method: &str,
    bucket: &str,
    key: &str,
    query: &Query<'_>,
    with_token: bool,
) -> String {
    let token = with_token.then_some("(redacted)");
    let all = v4_headers(&[], "", "(time of sending)", token);
    let pairs = query.all();
    let r = Request::empty(method, bucket, key, query);
    sign_v4::canonical_request(&v4_request(&r, &pairs, &all))
}

impl Oss {
    /// V1: (URL, Authorization, headers to send with Content-Type).
    pub(super) fn sign_v1(
        &self,
        creds: &Credentials,
        r: &Request<'_>,
        date: &str,
    ) -> (String, String, Vec<(String, String)>) {
        let mut all: Vec<(&str, &str)> = r.headers.to_vec();
        if let Some(t) = &creds.security_token {
            all.push(("x-oss-security-token", t.expose()));
        }
        let resource = format!("/{}/{}{}", r.bucket, r.key, r.query.signed());
        let content_type = r.payload.content_type();
        let sig = oss_signature(
            &creds.access_key_secret,
            &OssRequest {
                verb: r.method,
                content_md5: "",
                content_type,
                date,
                headers: &all,
                resource: &resource,
            },
        );
        let url = format!("{}{}", self.endpoint.url(r.bucket, r.key), r.query.url());
        let mut sent: Vec<(String, String)> = all
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !content_type.is_empty() {
            sent.push(("Content-Type".into(), content_type.into()));
        }
        (url, format!("OSS {}:{sig}", creds.access_key_id), sent)
    }

    /// V4: every query parameter signed, the URL's query the canonical one.
    pub(super) fn sign_v4(
        &self,
        creds: &Credentials,
        r: &Request<'_>,
        region: &str,
        now: SystemTime,
    ) -> (String, String, Vec<(String, String)>) {
        let datetime = basic_datetime(now);
        let token = creds.security_token.as_ref().map(|t| t.expose());
        let all = v4_headers(r.headers, r.payload.content_type(), &datetime, token);
        let pairs = r.query.all();
        let signed = sign_v4::sign(
            &creds.access_key_id,
            &creds.access_key_secret,
            region,
            &datetime,
            &v4_request(r, &pairs, &all),
        );
        let q = sign_v4::canonical_query(&pairs);
        let base = self.endpoint.url(r.bucket, r.key);
        let url = if q.is_empty() {
            base
        } else {
            format!("{base}?{q}")
        };
        (url, signed.authorization, all)
    }
}
