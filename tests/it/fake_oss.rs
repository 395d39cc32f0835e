//! A fake OSS on 127.0.0.1, path style (`/bucket/key`), for the integration tests and the
//! upload bench. It verifies every request's signature with its own implementations of the
//! documented OSS V1 and V4 algorithms (never the crate's signers), can refuse either (a
//! bucket past V1's retirement; an old private deployment without V4), answers a V4 request
//! scoped to the wrong region the way OSS does (AccessDenied naming the bucket's endpoint),
//! computes CRC-64/XZ itself (slice-by-8
//! tables, and part CRCs combined by polynomial arithmetic rather than the crate's
//! matrix method), and can misbehave on purpose: 5xx, a dropped connection or a wrong CRC on
//! chosen parts, a stall after some parts, a wrong object CRC on completion.
//!
//! Self-contained (std, base64, hmac, sha1, sha2) so the bench can include it with `#[path]`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The fake's accounts: (key id, secret, STS token if any).
pub const ACCOUNTS: &[(&str, &str, Option<&str>)] = &[
    ("LTAIfakeEnvKey000001", "env-secret-Zq8!x y", None),
    ("LTAIfakeCfgKey000002", "cfg-secret-Pw4", None),
    (
        "STS.fakeStsKey000003",
        "sts-secret-Kk1",
        Some("sts-token-CAIS-Xyz"),
    ),
];

#[derive(Debug, Clone, Default)]
pub struct OssScenario {
    /// Buckets that exist, with their region (`cn-hangzhou`).
    pub buckets: Vec<(String, String)>,
    /// Region of buckets created by PutBucket.
    pub region: String,
    /// Part numbers whose first attempt gets a 503.
    pub fail_parts: Vec<u32>,
    /// Part numbers whose first attempt is read and then dropped without an answer.
    pub reset_parts: Vec<u32>,
    /// Part numbers whose first attempt is answered with a wrong CRC-64 (the part is stored,
    /// as if damaged on the way).
    pub bad_crc_parts: Vec<u32>,
    /// After this many parts are stored, further UploadPart requests never get an answer.
    pub stall_after: Option<usize>,
    /// CompleteMultipartUpload answers a wrong object CRC-64.
    pub bad_object_crc: bool,
    /// Keep no object bytes (the bench: gigabytes), only sizes and CRCs.
    pub discard_data: bool,
    /// ListParts pages hold at most this many parts (the real limit is 1000), so a small
    /// test exercises the paging.
    pub page_limit: Option<usize>,
    /// The first CompleteMultipartUpload completes, then the connection drops unanswered.
    pub drop_first_complete: bool,
    /// Refuse V1 signatures (a new account or bucket).
    pub refuse_v1: bool,
    /// Refuse V4 signatures (an old private deployment).
    pub refuse_v4: bool,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct OssSeen {
    pub method: String,
    pub bucket: String,
    pub key: String,
    /// Decoded query, in order.
    pub query: Vec<(String, Option<String>)>,
    pub part: Option<u32>,
    pub status: u16,
    pub body_len: u64,
    pub at: Instant,
    /// Request line and headers, to check nothing secret travels.
    pub head: String,
    /// "v1" or "v4": how the request was signed.
    pub signature: &'static str,
    /// V4: the region of the request's scope.
    pub scope_region: Option<String>,
}

#[derive(Debug, Clone)]
struct Part {
    etag: String,
    size: u64,
    crc: u64,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Upload {
    bucket: String,
    key: String,
    parts: BTreeMap<u32, Part>,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub size: u64,
    pub crc: u64,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct State {
    sc: OssScenario,
    buckets: HashMap<String, String>,
    objects: HashMap<(String, String), Object>,
    uploads: HashMap<String, Upload>,
    next_upload: u32,
    seen: Vec<OssSeen>,
    first_attempt_done: HashSet<(&'static str, u32)>,
    parts_stored: usize,
}

pub struct FakeOss {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FakeOss {
    pub fn start(sc: OssScenario) -> FakeOss {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            buckets: sc.buckets.iter().cloned().collect(),
            sc,
            ..State::default()
        }));
        let st = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let st = st.clone();
                thread::spawn(move || serve(stream, &st));
            }
        });
        FakeOss { url, state }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn seen(&self) -> Vec<OssSeen> {
        self.lock().seen.clone()
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<Object> {
        self.lock()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }

    pub fn put_object(&self, bucket: &str, key: &str, data: Vec<u8>) {
        let crc = crc64(!0, &data) ^ !0;
        let obj = Object {
            size: data.len() as u64,
            crc,
            data,
        };
        self.lock()
            .objects
            .insert((bucket.to_string(), key.to_string()), obj);
    }

    pub fn bucket_region(&self, bucket: &str) -> Option<String> {
        self.lock().buckets.get(bucket).cloned()
    }

    pub fn parts_stored(&self) -> usize {
        self.lock().parts_stored
    }

    pub fn set_scenario(&self, f: impl FnOnce(&mut OssScenario)) {
        f(&mut self.lock().sc);
    }

    /// Successful UploadPart requests per part number.
    pub fn part_successes(&self) -> BTreeMap<u32, usize> {
        let mut m = BTreeMap::new();
        for s in self.seen() {
            if let (Some(n), 200) = (s.part, s.status) {
                *m.entry(n).or_insert(0) += 1;
            }
        }
        m
    }

    /// Requests that send data or change something (not GET/HEAD).
    pub fn writes(&self) -> Vec<OssSeen> {
        self.seen()
            .into_iter()
            .filter(|s| s.method != "GET" && s.method != "HEAD")
            .collect()
    }
}

// ---- CRC-64/XZ, written again: slice-by-8 tables, and combining by polynomial arithmetic ----

const POLY: u64 = 0xC96C_5795_D787_0F42;

/// Slice-by-8 tables: `t[0]` is the byte table, `t[k]` advances a byte through k more zero
/// bytes. Fast enough that the fake is not what the bench measures.
fn tables() -> &'static [[u64; 256]; 8] {
    static T: std::sync::OnceLock<[[u64; 256]; 8]> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t = [[0u64; 256]; 8];
        for (i, e) in t[0].iter_mut().enumerate() {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            }
            *e = c;
        }
        for k in 1..8 {
            let (done, rest) = t.split_at_mut(k);
            for (e, &prev) in rest[0].iter_mut().zip(done[k - 1].iter()) {
                *e = done[0][(prev & 0xff) as usize] ^ (prev >> 8);
            }
        }
        t
    })
}

/// The register after `data`, from register `reg` (no final xor).
pub fn crc64(mut reg: u64, data: &[u8]) -> u64 {
    let t = tables();
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let v = reg ^ u64::from_le_bytes(w);
        reg = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in chunks.remainder() {
        reg = t[0][((reg ^ u64::from(b)) & 0xff) as usize] ^ (reg >> 8);
    }
    reg
}

/// a * b mod P, with bit 63 the x^0 coefficient (the reflected order).
fn mulmod(a: u64, mut b: u64) -> u64 {
    let mut p = 0u64;
    let mut m = 1u64 << 63;
    while m != 0 {
        if a & m != 0 {
            p ^= b;
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
    }
    p
}

/// x^(8 * len) mod P.
fn x_pow_bytes(len: u64) -> u64 {
    let mut result = 1u64 << 63; // x^0
    let mut sq = 1u64 << 62; // x^1
    let mut n = len * 8;
    while n != 0 {
        if n & 1 != 0 {
            result = mulmod(result, sq);
        }
        sq = mulmod(sq, sq);
        n >>= 1;
    }
    result
}

/// crc(A || B) from crc(A), crc(B), len(B).
pub fn combine(a: u64, b: u64, len_b: u64) -> u64 {
    mulmod(x_pow_bytes(len_b), a) ^ b
}

// ---- the documented OSS v1 signature, written again ----

const SUB_RESOURCES: &[&str] = &["location", "partNumber", "uploadId", "uploads", "acl"];

pub fn expected_signature(
    secret: &str,
    method: &str,
    headers: &[(String, String)],
    resource: &str,
) -> String {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut oss: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .cloned()
        .collect();
    oss.sort();
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    for (k, v) in oss {
        s.push_str(&format!("{k}:{}\n", v.trim()));
    }
    s.push_str(resource);
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(s.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---- HTTP ----

struct Request {
    method: String,
    bucket: String,
    key: String,
    query: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    head: String,
}

impl Request {
    fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
    fn resource(&self) -> String {
        let mut subs: Vec<&(String, Option<String>)> = self
            .query
            .iter()
            .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()))
            .collect();
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        let tail: Vec<String> = subs
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        let mut r = format!("/{}/{}", self.bucket, self.key);
        if !tail.is_empty() {
            r.push('?');
            r.push_str(&tail.join("&"));
        }
        r
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn reply(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body,
    }
}

fn error(status: u16, code: &str, msg: &str) -> Reply {
    reply(
        status,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message><RequestId>FAKE-OSS-1</RequestId></Error>"
        ),
    )
}

/// What to do with a request, decided before its body is read.
enum Action {
    Answer(Reply),
    Drop,
    Stall,
}

fn read_head(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut it = line.split_whitespace();
    let method = it.next()?.to_string();
    let target = it.next()?.to_string();
    let mut head = line.clone();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        head.push_str(&h);
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (pct_decode(k), Some(pct_decode(v))),
            None => (pct_decode(p), None),
        })
        .collect();
    Some(Request {
        method,
        bucket: pct_decode(bucket),
        key: pct_decode(key),
        query,
        headers,
        head,
    })
}

/// The body, streamed through the CRC; kept only when `keep`.
fn read_body(r: &mut BufReader<TcpStream>, len: u64, keep: bool) -> Option<(u64, Vec<u8>)> {
    let mut reg = !0u64;
    let mut data = Vec::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut left = len;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        r.read_exact(&mut buf[..n]).ok()?;
        reg = crc64(reg, &buf[..n]);
        if keep {
            data.extend_from_slice(&buf[..n]);
        }
        left -= n as u64;
    }
    Some((reg ^ !0, data))
}

fn serve(stream: TcpStream, st: &Arc<Mutex<State>>) {
    let Ok(read_side) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(read_side);
    let mut w = stream;
    // Keep-alive: serve requests on this connection until it closes.
    while let Some(req) = read_head(&mut r) {
        let len: u64 = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // Control documents (CompleteMultipartUpload) are always kept; data only if asked.
        let keep =
            req.method == "POST" || !st.lock().unwrap_or_else(|e| e.into_inner()).sc.discard_data;
        let Some((crc, data)) = read_body(&mut r, len, keep) else {
            return;
        };
        let action = {
            let mut s = st.lock().unwrap_or_else(|e| e.into_inner());
            let action = handle(&mut s, &req, len, crc, data);
            let status = match &action {
                Action::Answer(rep) => rep.status,
                _ => 0,
            };
            s.seen.push(OssSeen {
                method: req.method.clone(),
                bucket: req.bucket.clone(),
                key: req.key.clone(),
                query: req.query.clone(),
                part: req.q("partNumber").and_then(|p| p.parse().ok()),
                status,
                body_len: len,
                at: Instant::now(),
                head: req.head.clone(),
                signature: if req
                    .header("authorization")
                    .is_some_and(|a| a.starts_with("OSS4-HMAC-SHA256 "))
                {
                    "v4"
                } else {
                    "v1"
                },
                scope_region: v4_fields(&req).map(|f| f.region),
            });
            action
        };
        match action {
            Action::Drop => return,
            Action::Stall => {
                thread::sleep(Duration::from_secs(30));
                return;
            }
            Action::Answer(rep) => {
                if write_reply(&mut w, &req, &rep).is_err() {
                    return;
                }
            }
        }
    }
}

fn write_reply(w: &mut TcpStream, req: &Request, rep: &Reply) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nx-oss-request-id: FAKE-OSS-1\r\nContent-Type: application/xml\r\n",
        rep.status
    );
    for (k, v) in &rep.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = if req.method == "HEAD" { "" } else { &rep.body };
    if req.method == "HEAD" {
        if !rep.headers.iter().any(|(k, _)| k == "Content-Length") {
            head.push_str("Content-Length: 0\r\n");
        }
    } else {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body.as_bytes())?;
    w.flush()
}

// ---- the API ----

fn authenticate(s: &State, req: &Request) -> Option<Reply> {
    let Some(auth) = req.header("authorization") else {
        return Some(error(403, "AccessDenied", "no Authorization"));
    };
    if auth.starts_with("OSS4-HMAC-SHA256 ") {
        if s.sc.refuse_v4 {
            // What old private OSS gateways answer to a V4 header.
            return Some(error(
                400,
                "InvalidArgument",
                "Authorization header is invalid.",
            ));
        }
        return authenticate_v4(s, req);
    }
    let Some((id, sig)) = auth.strip_prefix("OSS ").and_then(|a| a.split_once(':')) else {
        return Some(error(
            400,
            "InvalidArgument",
            "Authorization is not OSS id:sig",
        ));
    };
    if s.sc.refuse_v1 {
        // The OSS error page 0002-00000080 ("OSS returns a 403 error when you call an API
        // operation signed with a V1 signature... OSS no longer supports V1 signatures") gives
        // the status and the EC, not the <Code>; AccessDenied is the code OSS sends with its
        // 0002-* (authorization) ECs. Refused before anything is done.
        return Some(reply(
            403,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
             <Message>OSS no longer supports V1 signatures; use V4 (OSS4-HMAC-SHA256).</Message>\
             <RequestId>FAKE-OSS-1</RequestId><EC>0002-00000080</EC></Error>"
                .to_string(),
        ));
    }
    let Some((_, secret, token)) = ACCOUNTS.iter().find(|(k, _, _)| *k == id) else {
        return Some(error(403, "InvalidAccessKeyId", "unknown key"));
    };
    if req.header("date").is_none_or(|d| !d.ends_with(" GMT")) {
        return Some(error(403, "AccessDenied", "Date missing or not GMT"));
    }
    if token.is_some() && req.header("x-oss-security-token") != *token {
        return Some(error(403, "InvalidSecurityToken", "token missing or wrong"));
    }
    if expected_signature(secret, &req.method, &req.headers, &req.resource()) != sig {
        return Some(error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
        ));
    }
    None
}

// ---- the documented OSS V4 signature, written again ----

struct V4Fields {
    key_id: String,
    date: String,
    region: String,
    additional: Vec<String>,
    signature: String,
}

fn v4_fields(req: &Request) -> Option<V4Fields> {
    let rest = req
        .header("authorization")?
        .strip_prefix("OSS4-HMAC-SHA256 ")?;
    let mut f: HashMap<&str, &str> = HashMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        f.insert(k, v);
    }
    let cred: Vec<&str> = f.get("Credential")?.split('/').collect();
    if cred.len() != 5 || cred[3] != "oss" || cred[4] != "aliyun_v4_request" {
        return None;
    }
    Some(V4Fields {
        key_id: cred[0].to_string(),
        date: cred[1].to_string(),
        region: cred[2].to_string(),
        additional: f
            .get("AdditionalHeaders")
            .map(|a| a.split(';').map(str::to_string).collect())
            .unwrap_or_default(),
        signature: f.get("Signature")?.to_string(),
    })
}

fn enc(s: &str, keep_slash: bool) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b'/' if keep_slash => o.push('/'),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The V4 signature of `req` as received, with `secret`.
fn expected_v4(req: &Request, f: &V4Fields, datetime: &str, secret: &str) -> String {
    let (bucket, key, query, headers) = (&req.bucket, &req.key, &req.query, &req.headers);
    let (additional, region, req_method) = (&f.additional, f.region.as_str(), &req.method);
    let uri = enc(&format!("/{bucket}/{key}"), true);
    let mut q: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (enc(k, false), enc(v.as_deref().unwrap_or(""), false)))
        .collect();
    q.sort();
    let cq: Vec<String> = q
        .iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let mut hs: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| {
            k.starts_with("x-oss-")
                || k == "content-type"
                || k == "content-md5"
                || additional.contains(k)
        })
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    hs.sort();
    let ch: String = hs.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = headers
        .iter()
        .find(|(k, _)| k == "x-oss-content-sha256")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let canonical = format!(
        "{req_method}\n{uri}\n{}\n{ch}\n{}\n{payload}",
        cq.join("&"),
        additional.join(";")
    );
    let date = &datetime[..8.min(datetime.len())];
    let scope = format!("{date}/{region}/oss/aliyun_v4_request");
    let to_sign = format!(
        "OSS4-HMAC-SHA256\n{datetime}\n{scope}\n{}",
        hexs(&Sha256::digest(canonical.as_bytes()))
    );
    let mut k = hmac256(format!("aliyun_v4{secret}").as_bytes(), date);
    for part in [region, "oss", "aliyun_v4_request"] {
        k = hmac256(&k, part);
    }
    hexs(&hmac256(&k, &to_sign))
}

fn authenticate_v4(s: &State, req: &Request) -> Option<Reply> {
    let Some(f) = v4_fields(req) else {
        return Some(error(
            400,
            "InvalidArgument",
            "Authorization header is invalid.",
        ));
    };
    let Some((_, secret, token)) = ACCOUNTS.iter().find(|(k, _, _)| *k == f.key_id) else {
        return Some(error(403, "InvalidAccessKeyId", "unknown key"));
    };
    let datetime = req.header("x-oss-date").unwrap_or_default();
    let dt_ok = datetime.len() == 16 && datetime.as_bytes()[8] == b'T' && datetime.ends_with('Z');
    if !dt_ok || !datetime.starts_with(&f.date) {
        return Some(error(
            403,
            "AccessDenied",
            "x-oss-date missing, malformed or not the scope's date",
        ));
    }
    if req.header("x-oss-content-sha256").is_none() {
        return Some(error(
            403,
            "AccessDenied",
            "x-oss-content-sha256 is required by V4",
        ));
    }
    if token.is_some() && req.header("x-oss-security-token") != *token {
        return Some(error(403, "InvalidSecurityToken", "token missing or wrong"));
    }
    let sorted = {
        let mut a = f.additional.clone();
        a.sort();
        a
    };
    if sorted != f.additional {
        return Some(error(
            400,
            "InvalidArgument",
            "AdditionalHeaders are not sorted",
        ));
    }
    let want = expected_v4(req, &f, datetime, secret);
    if want != f.signature {
        return Some(error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
        ));
    }
    // The scope must name the bucket's region (a new bucket: the endpoint's region).
    let region = s
        .buckets
        .get(&req.bucket)
        .cloned()
        .unwrap_or_else(|| s.sc.region.clone());
    if !region.is_empty() && f.region != region {
        return Some(reply(
            403,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><RequestId>FAKE-OSS-2</RequestId><Bucket>{}</Bucket><Endpoint>oss-{region}.aliyuncs.com</Endpoint></Error>",
                req.bucket
            ),
        ));
    }
    None
}

fn handle(s: &mut State, req: &Request, len: u64, crc: u64, data: Vec<u8>) -> Action {
    if let Some(r) = authenticate(s, req) {
        return Action::Answer(r);
    }
    let m = req.method.as_str();
    if req.key.is_empty() {
        return Action::Answer(match (m, req.q("location")) {
            (_, Some(_)) => location(s, req),
            ("PUT", None) => put_bucket(s, req),
            _ => error(400, "NotImplemented", "bucket operation"),
        });
    }
    if !s.buckets.contains_key(&req.bucket) {
        return Action::Answer(error(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        ));
    }
    match (m, req.q("uploads"), req.q("uploadId")) {
        ("POST", Some(_), _) => Action::Answer(initiate(s, req)),
        ("PUT", _, Some(id)) => upload_part(s, req, id, len, crc, data),
        ("GET", _, Some(id)) => Action::Answer(list_parts(s, req, id)),
        ("POST", _, Some(id)) => {
            let r = complete(s, req, id, &data);
            let drop = s.sc.drop_first_complete && s.first_attempt_done.insert(("complete", 0));
            if drop {
                Action::Drop
            } else {
                Action::Answer(r)
            }
        }
        ("DELETE", _, Some(id)) => Action::Answer(abort(s, id)),
        ("PUT", None, None) => Action::Answer(put_object(s, req, len, crc, data)),
        ("HEAD", None, None) => Action::Answer(head(s, req)),
        ("DELETE", None, None) => {
            s.objects.remove(&(req.bucket.clone(), req.key.clone()));
            Action::Answer(reply(204, String::new()))
        }
        _ => Action::Answer(error(400, "NotImplemented", "object operation")),
    }
}

fn location(s: &mut State, req: &Request) -> Reply {
    match s.buckets.get(&req.bucket) {
        Some(r) => reply(
            200,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint>oss-{r}</LocationConstraint>"
            ),
        ),
        None => error(404, "NoSuchBucket", "The specified bucket does not exist."),
    }
}

fn put_bucket(s: &mut State, req: &Request) -> Reply {
    if req.header("x-oss-acl") != Some("private") {
        return error(
            400,
            "InvalidArgument",
            "imgtool must create private buckets",
        );
    }
    if s.buckets.contains_key(&req.bucket) {
        return error(409, "BucketAlreadyExists", "exists");
    }
    let region = s.sc.region.clone();
    s.buckets.insert(req.bucket.clone(), region);
    reply(200, String::new())
}

fn with_crc(mut r: Reply, crc: u64, etag: &str) -> Reply {
    r.headers
        .push(("x-oss-hash-crc64ecma".into(), crc.to_string()));
    r.headers.push(("ETag".into(), etag.to_string()));
    r
}

fn etag_of(crc: u64) -> String {
    format!("\"{crc:016X}\"")
}

fn head(s: &mut State, req: &Request) -> Reply {
    match s.objects.get(&(req.bucket.clone(), req.key.clone())) {
        Some(o) => {
            let mut r = with_crc(reply(200, String::new()), o.crc, &etag_of(o.crc));
            r.headers
                .push(("Content-Length".into(), o.size.to_string()));
            r
        }
        None => reply(404, String::new()),
    }
}

fn put_object(s: &mut State, req: &Request, len: u64, crc: u64, data: Vec<u8>) -> Reply {
    if len > 5 << 30 {
        return error(400, "EntityTooLarge", "over 5 GiB");
    }
    s.objects.insert(
        (req.bucket.clone(), req.key.clone()),
        Object {
            size: len,
            crc,
            data,
        },
    );
    with_crc(reply(200, String::new()), crc, &etag_of(crc))
}

fn initiate(s: &mut State, req: &Request) -> Reply {
    s.next_upload += 1;
    let id = format!("FAKEUPLOAD{:04}", s.next_upload);
    s.uploads.insert(
        id.clone(),
        Upload {
            bucket: req.bucket.clone(),
            key: req.key.clone(),
            parts: BTreeMap::new(),
        },
    );
    reply(
        200,
        format!(
            "<InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
            req.bucket, req.key
        ),
    )
}

/// True the first time `(kind, n)` is asked about: injections hit first attempts only.
fn first(s: &mut State, kind: &'static str, n: u32, chosen: &[u32]) -> bool {
    chosen.contains(&n) && s.first_attempt_done.insert((kind, n))
}

fn upload_part(
    s: &mut State,
    req: &Request,
    id: &str,
    len: u64,
    crc: u64,
    data: Vec<u8>,
) -> Action {
    let Some(n) = req.q("partNumber").and_then(|p| p.parse::<u32>().ok()) else {
        return Action::Answer(error(400, "InvalidArgument", "partNumber"));
    };
    if !(1..=10_000).contains(&n) || len > 5 << 30 {
        return Action::Answer(error(400, "InvalidArgument", "part number or size"));
    }
    if s.sc.stall_after.is_some_and(|k| s.parts_stored >= k) {
        return Action::Stall;
    }
    let sc = s.sc.clone();
    if first(s, "fail", n, &sc.fail_parts) {
        return Action::Answer(error(503, "ServiceUnavailable", "try again"));
    }
    if first(s, "reset", n, &sc.reset_parts) {
        return Action::Drop;
    }
    let Some(up) = s.uploads.get_mut(id) else {
        return Action::Answer(error(
            404,
            "NoSuchUpload",
            "The specified upload does not exist.",
        ));
    };
    let etag = etag_of(crc);
    up.parts.insert(
        n,
        Part {
            etag: etag.clone(),
            size: len,
            crc,
            data,
        },
    );
    s.parts_stored += 1;
    let shown = if first(s, "crc", n, &sc.bad_crc_parts) {
        crc ^ 1
    } else {
        crc
    };
    Action::Answer(with_crc(reply(200, String::new()), shown, &etag))
}

fn list_parts(s: &mut State, req: &Request, id: &str) -> Reply {
    let Some(up) = s.uploads.get(id) else {
        return error(404, "NoSuchUpload", "The specified upload does not exist.");
    };
    let max: usize = req
        .q("max-parts")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000)
        .min(1000)
        .min(s.sc.page_limit.unwrap_or(1000));
    let marker: u32 = req
        .q("part-number-marker")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let page: Vec<(&u32, &Part)> = up.parts.range(marker + 1..).take(max).collect();
    let truncated = up.parts.range(marker + 1..).count() > page.len();
    let next = page.last().map_or(marker, |(n, _)| **n);
    let mut body = format!(
        "<ListPartsResult><UploadId>{id}</UploadId><PartNumberMarker>{marker}</PartNumberMarker>\
         <NextPartNumberMarker>{next}</NextPartNumberMarker><MaxParts>{max}</MaxParts>\
         <IsTruncated>{truncated}</IsTruncated>"
    );
    for (n, p) in page {
        body.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><LastModified>2026-01-01T00:00:00.000Z</LastModified>\
             <ETag>{}</ETag><HashCrc64ecma>{}</HashCrc64ecma><Size>{}</Size></Part>",
            p.etag.replace('"', "&quot;"),
            p.crc,
            p.size
        ));
    }
    body.push_str("</ListPartsResult>");
    reply(200, body)
}

fn tag_values(doc: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    doc.split(&open)
        .skip(1)
        .filter_map(|s| s.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

fn complete(s: &mut State, req: &Request, id: &str, body: &[u8]) -> Reply {
    let doc = String::from_utf8_lossy(body);
    let numbers: Vec<u32> = tag_values(&doc, "PartNumber")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    let etags = tag_values(&doc, "ETag");
    let Some(up) = s.uploads.get(id) else {
        return error(404, "NoSuchUpload", "The specified upload does not exist.");
    };
    if numbers.is_empty()
        || numbers.len() != etags.len()
        || !numbers.windows(2).all(|w| w[0] < w[1])
    {
        return error(
            400,
            "InvalidPartOrder",
            "parts must be listed in ascending order",
        );
    }
    let (mut crc, mut size, mut data) = (0u64, 0u64, Vec::new());
    for (i, (n, etag)) in numbers.iter().zip(&etags).enumerate() {
        let Some(p) = up.parts.get(n) else {
            return error(400, "InvalidPart", "a listed part was not uploaded");
        };
        // The documented form: the ETag in quotes, as UploadPart returned it.
        if *etag != p.etag {
            return error(400, "InvalidPart", "ETag does not match");
        }
        if i + 1 < numbers.len() && p.size < 100 * 1024 {
            return error(
                400,
                "EntityTooSmall",
                "a part but the last is under 100 KiB",
            );
        }
        crc = combine(crc, p.crc, p.size);
        size += p.size;
        data.extend_from_slice(&p.data);
    }
    let key = (up.bucket.clone(), up.key.clone());
    s.uploads.remove(id);
    s.objects.insert(key, Object { size, crc, data });
    let shown = if s.sc.bad_object_crc { crc ^ 2 } else { crc };
    let etag = format!("\"{crc:016X}-{}\"", numbers.len());
    with_crc(
        reply(
            200,
            format!(
                "<CompleteMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><ETag>{etag}</ETag></CompleteMultipartUploadResult>",
                req.bucket, req.key
            ),
        ),
        shown,
        &etag,
    )
}

fn abort(s: &mut State, id: &str) -> Reply {
    match s.uploads.remove(id) {
        Some(_) => reply(204, String::new()),
        None => error(404, "NoSuchUpload", "The specified upload does not exist."),
    }
}
