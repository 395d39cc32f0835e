//! The OSS calls an import needs, signed with OSS signature version 1: bucket location and
//! creation, HEAD, PutObject, the multipart upload calls, and DeleteObject.
//!
//! Addressing follows the official SDKs: a host name is addressed virtual-host style
//! (`https://<bucket>.<host>/<key>`), an IP address path style (`http://<ip>:<port>/<bucket>/<key>`),
//! since an IP has no per-bucket names. The key is percent-encoded in the URL but signed raw
//! in the CanonicalizedResource, as the service computes it from the decoded path.
//!
//! Every request has the client's timeout, no redirect is followed (it would carry the
//! signature and STS token to a host nobody chose), and response bodies are read up to a bound.

use std::io::Read;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::blocking::{Body, Client};
use reqwest::header::HeaderMap;

use super::live::Live;
use super::rpc::{CallError, RetryPolicy, http_date};

mod sign;
pub mod xml;
pub use sign::{OssSigning, parse_signature_version, preview_v4};

/// The largest response body read: ListParts with 1000 parts is about 250 KiB.
const MAX_BODY: u64 = 4 << 20;

/// Where OSS is and how buckets are addressed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` or `http`.
    pub scheme: String,
    /// `oss-cn-hangzhou.aliyuncs.com` or `127.0.0.1:9000`.
    pub host: String,
    pub path_style: bool,
}

impl Endpoint {
    /// From a checked base URL (`scheme://host[:port]`).
    pub fn parse(url: &str) -> Endpoint {
        let (scheme, host) = url.split_once("://").unwrap_or(("https", url));
        Endpoint {
            scheme: scheme.to_string(),
            host: host.to_string(),
            path_style: is_ip_host(host),
        }
    }

    /// The URL of `key` in `bucket` (an empty key is the bucket itself).
    pub fn url(&self, bucket: &str, key: &str) -> String {
        let key = super::sign::encode_path(key);
        if self.path_style {
            format!("{}://{}/{bucket}/{key}", self.scheme, self.host)
        } else {
            format!("{}://{bucket}.{}/{key}", self.scheme, self.host)
        }
    }
}

/// True for `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`.
fn is_ip_host(host: &str) -> bool {
    if let Some(rest) = host.strip_prefix('[') {
        return rest
            .split_once(']')
            .is_some_and(|(ip, _)| ip.parse::<IpAddr>().is_ok());
    }
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    name.parse::<IpAddr>().is_ok()
}

fn encode_query(s: &str) -> String {
    super::sign::percent_encode(s)
}

/// A request's sub-resources (signed) and other query parameters (not signed).
#[derive(Debug, Default, Clone)]
pub struct Query<'a> {
    pub sub: Vec<(&'a str, Option<String>)>,
    pub other: Vec<(&'a str, String)>,
}

impl Query<'_> {
    /// `?a&b=1` sorted by name, raw values: the tail of the CanonicalizedResource.
    fn signed(&self) -> String {
        let mut sub = self.sub.clone();
        sub.sort_by(|a, b| a.0.cmp(b.0));
        join_query(sub.iter().map(|(k, v)| (k.to_string(), v.clone())))
    }

    fn url(&self) -> String {
        let all = self
            .sub
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_deref().map(encode_query)))
            .chain(
                self.other
                    .iter()
                    .map(|(k, v)| (k.to_string(), Some(encode_query(v)))),
            );
        join_query(all)
    }
}

fn join_query(pairs: impl Iterator<Item = (String, Option<String>)>) -> String {
    let parts: Vec<String> = pairs
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k,
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `x-oss-hash-crc64ecma`, when present and a number.
    pub fn crc64(&self) -> Option<u64> {
        self.header("x-oss-hash-crc64ecma")
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn etag(&self) -> Option<String> {
        self.header("etag").map(str::to_string)
    }
}

/// What a request carries as its body.
#[derive(Clone)]
pub enum Payload {
    Empty,
    Xml(String),
    /// `len` bytes read from a reader as the request goes out (an upload's part, produced in
    /// small chunks, never held whole). The reader is taken by the first request made with
    /// this payload: a retry needs a new one.
    Reader(Arc<Mutex<Option<Box<dyn Read + Send>>>>, u64),
}

impl Payload {
    /// A payload of the `len` bytes `reader` gives.
    pub fn reader(reader: impl Read + Send + 'static, len: u64) -> Payload {
        Payload::Reader(Arc::new(Mutex::new(Some(Box::new(reader)))), len)
    }

    fn content_type(&self) -> &'static str {
        match self {
            Payload::Xml(_) => "application/xml",
            _ => "",
        }
    }

    fn body(&self) -> Body {
        match self {
            Payload::Empty => Body::from(Vec::new()),
            Payload::Xml(s) => Body::from(s.clone()),
            Payload::Reader(r, len) => {
                let taken = r.lock().ok().and_then(|mut g| g.take());
                match taken {
                    Some(reader) => Body::sized(reader, *len),
                    // Used twice: send a body of the wrong length, which the server refuses
                    // (and whose CRC never matches), rather than panic.
                    None => Body::from(Vec::new()),
                }
            }
        }
    }
}

/// One OSS request: what is signed and sent, the same on every attempt.
pub struct Request<'a> {
    pub method: &'a str,
    pub bucket: &'a str,
    /// Empty for the bucket itself.
    pub key: &'a str,
    pub query: &'a Query<'a>,
    /// Extra headers, signed (`x-oss-acl`).
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a Payload,
}

impl<'a> Request<'a> {
    /// A request with no extra headers and no body.
    pub fn empty(method: &'a str, bucket: &'a str, key: &'a str, query: &'a Query<'a>) -> Self {
        Request {
            method,
            bucket,
            key,
            query,
            headers: &[],
            payload: &Payload::Empty,
        }
    }
}

pub struct Oss {
    http: Client,
    creds: Live,
    pub endpoint: Endpoint,
    retry: RetryPolicy,
    timeout: Duration,
    signing: OssSigning,
}

/// The slowest link a data request is given time for: a 64 MiB part may take 256 s more
/// than the plain timeout before it is cut off and retried.
const SLOWEST_BYTES_PER_SEC: u64 = 256 * 1024;

/// One listed part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    pub crc64: Option<u64>,
}

/// What HEAD says about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub crc64: Option<u64>,
}

impl Oss {
    pub fn new(
        creds: impl Into<Live>,
        endpoint: Endpoint,
        signing: OssSigning,
        retry: RetryPolicy,
        timeout: Duration,
    ) -> Result<Oss, CallError> {
        // Requests that carry data get more time, in `send`.
        let http = super::http::client(timeout)?;
        Ok(Oss {
            http,
            creds: creds.into(),
            endpoint,
            retry,
            timeout,
            signing,
        })
    }

    /// One signed attempt.
    pub fn send(&self, r: &Request<'_>) -> Result<Reply, CallError> {
        let now = SystemTime::now();
        let date = http_date(now);
        let c = self.creds.get()?;
        let (url, auth, all) = match &self.signing {
            OssSigning::V1 => self.sign_v1(&c, r, &date),
            OssSigning::V4 { region } => self.sign_v4(&c, r, region, now),
        };
        let method = r.method;
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| CallError::Transport(format!("bad method {method}")))?;
        let shown = super::retry::without_query(&url);
        let mut req = self
            .http
            .request(m, url)
            .header("Date", &date)
            .header("Authorization", auth)
            .body(r.payload.body());
        if let Payload::Reader(_, len) = r.payload {
            // The client's timeout covers the whole exchange, body included: a fixed 30 s
            // would cut every large part on a slow link, forever.
            let extra = Duration::from_secs(*len / SLOWEST_BYTES_PER_SEC);
            req = req.timeout(self.timeout.saturating_add(extra));
        }
        for (k, v) in &all {
            req = req.header(k.as_str(), v.as_str());
        }
        let started = std::time::Instant::now();
        let resp = req.send().map_err(|e| {
            let err = super::retry::network_error(&e, &shown);
            super::trace::failed(&self.retry, method, &shown, "OSS", started, &err);
            err
        })?;
        super::trace::answered(
            &self.retry,
            method,
            &shown,
            "OSS",
            started,
            resp.status().as_u16(),
        );
        read_reply(resp)
    }

    /// `send`, retried on transient failures with backoff.
    pub fn call(&self, r: &Request<'_>) -> Result<Reply, CallError> {
        super::retry::run(&self.retry, || self.send(r))
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The bucket's region as OSS names it (`oss-cn-hangzhou`); `None` when it does not exist.
    pub fn bucket_location(&self, bucket: &str) -> Result<Option<String>, CallError> {
        let q = Query {
            sub: vec![("location", None)],
            ..Query::default()
        };
        match self.call(&Request::empty("GET", bucket, "", &q)) {
            Ok(r) => Ok(Some(xml::location(&r.body))),
            Err(e) if e.code() == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Create a private bucket.
    pub fn put_bucket(&self, bucket: &str) -> Result<(), CallError> {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateBucketConfiguration><StorageClass>Standard</StorageClass></CreateBucketConfiguration>";
        self.call(&Request {
            headers: &[("x-oss-acl", "private")],
            payload: &Payload::Xml(body.into()),
            ..Request::empty("PUT", bucket, "", &Query::default())
        })
        .map(|_| ())
    }

    pub fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectMeta>, CallError> {
        match self.call(&Request::empty("HEAD", bucket, key, &Query::default())) {
            Ok(r) => {
                let size = r
                    .header("content-length")
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| CallError::Transport("HEAD without Content-Length".into()))?;
                Ok(Some(ObjectMeta {
                    size,
                    crc64: r.crc64(),
                }))
            }
            Err(CallError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn delete_object(&self, bucket: &str, key: &str) -> Result<(), CallError> {
        self.call(&Request::empty("DELETE", bucket, key, &Query::default()))
            .map(|_| ())
    }

    pub fn initiate(&self, bucket: &str, key: &str) -> Result<String, CallError> {
        let q = Query {
            sub: vec![("uploads", None)],
            ..Query::default()
        };
        let r = self.call(&Request::empty("POST", bucket, key, &q))?;
        xml::upload_id(&r.body)
            .ok_or_else(|| CallError::Transport("InitiateMultipartUpload gave no UploadId".into()))
    }

    /// One attempt at one part; the caller retries, since it checks the CRC too.
    pub fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        payload: &Payload,
    ) -> Result<Reply, CallError> {
        let q = Query {
            sub: vec![
                ("partNumber", Some(number.to_string())),
                ("uploadId", Some(upload_id.to_string())),
            ],
            ..Query::default()
        };
        self.send(&Request {
            payload,
            ..Request::empty("PUT", bucket, key, &q)
        })
    }

    /// One attempt at a whole small object.
    pub fn put_object(
        &self,
        bucket: &str,
        key: &str,
        payload: &Payload,
    ) -> Result<Reply, CallError> {
        self.send(&Request {
            payload,
            ..Request::empty("PUT", bucket, key, &Query::default())
        })
    }

    /// Every uploaded part, following the pages (1000 parts at most each).
    pub fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<ListedPart>, CallError> {
        let mut parts = Vec::new();
        let mut marker = 0u32;
        // 10000 parts at 1000 a page: more pages than that means a server going round in circles.
        for _ in 0..20 {
            let q = Query {
                sub: vec![("uploadId", Some(upload_id.to_string()))],
                other: vec![
                    ("max-parts", "1000".into()),
                    ("part-number-marker", marker.to_string()),
                ],
            };
            let r = self.call(&Request::empty("GET", bucket, key, &q))?;
            // Not a ListPartsResult: no parts listed, so every part is sent again.
            let page = xml::list_parts(&r.body).unwrap_or_default();
            parts.extend(page.parts);
            let (truncated, next) = (page.truncated, page.next_marker);
            match next {
                Some(n) if truncated && n > marker => marker = n,
                _ if truncated => {
                    return Err(CallError::Transport(
                        "ListParts is truncated but gives no next marker".into(),
                    ));
                }
                _ => return Ok(parts),
            }
        }
        Err(CallError::Transport("ListParts did not end".into()))
    }

    /// Complete with `(number, etag)` in ascending order; returns the object's CRC header.
    pub fn complete(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<Reply, CallError> {
        let q = Query {
            sub: vec![("uploadId", Some(upload_id.to_string()))],
            ..Query::default()
        };
        self.call(&Request {
            payload: &Payload::Xml(xml::complete(parts)),
            ..Request::empty("POST", bucket, key, &q)
        })
    }

    pub fn abort(&self, bucket: &str, key: &str, upload_id: &str) -> Result<(), CallError> {
        let q = Query {
            sub: vec![("uploadId", Some(upload_id.to_string()))],
            ..Query::default()
        };
        match self.call(&Request::empty("DELETE", bucket, key, &q)) {
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

fn read_reply(resp: reqwest::blocking::Response) -> Result<Reply, CallError> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = super::http::read_bounded(resp, MAX_BODY)?;
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if (200..300).contains(&status) {
        return Ok(Reply {
            status,
            headers,
            body,
        });
    }
    let e = xml::error(&body);
    let request_id = e
        .request_id
        .or_else(|| {
            headers
                .get("x-oss-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut message = e.message.unwrap_or_default().trim().to_string();
    if let Some(ep) = e.endpoint {
        message.push_str(&format!(" (the bucket is at {})", ep.trim()));
    }
    Err(CallError::Api {
        status,
        code: e
            .code
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("HTTP{status}")),
        message,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_endpoints_are_path_style() {
        let e = Endpoint::parse("http://127.0.0.1:9000");
        assert!(e.path_style);
        assert_eq!(
            e.url("b", "dir/a b.raw"),
            "http://127.0.0.1:9000/b/dir/a%20b.raw"
        );
        assert!(Endpoint::parse("http://[::1]:80").path_style);
        let e = Endpoint::parse("https://oss-cn-hangzhou.aliyuncs.com");
        assert!(!e.path_style);
        assert_eq!(
            e.url("b", "镜像.vhd"),
            "https://b.oss-cn-hangzhou.aliyuncs.com/%E9%95%9C%E5%83%8F.vhd"
        );
        assert_eq!(e.url("b", ""), "https://b.oss-cn-hangzhou.aliyuncs.com/");
    }

    #[test]
    fn sub_resources_signed_sorted_and_raw() {
        let q = Query {
            sub: vec![
                ("uploadId", Some("a/b".into())),
                ("partNumber", Some("3".into())),
            ],
            other: vec![("max-parts", "1000".into())],
        };
        assert_eq!(q.signed(), "?partNumber=3&uploadId=a/b");
        assert_eq!(q.url(), "?uploadId=a%2Fb&partNumber=3&max-parts=1000");
        let q = Query {
            sub: vec![("uploads", None)],
            ..Query::default()
        };
        assert_eq!(q.signed(), "?uploads");
    }
}
