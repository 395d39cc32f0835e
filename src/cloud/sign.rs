//! Request signing: Alibaba Cloud RPC signature version 1.0 (ECS, RAM) and OSS signature
//! version 1. Pure functions over strings so the official vectors can pin them.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::credentials::Secret;

type HmacSha1 = Hmac<Sha1>;

/// Percent-encode as the RPC signature wants: UTF-8 bytes, `A-Z a-z 0-9 - _ . ~` kept,
/// everything else `%XY` in upper-case hex. Unlike form encoding, a space is `%20`, and `*`
/// is encoded, which is why this is not `form_urlencoded`.
pub fn percent_encode(s: &str) -> String {
    encode_keeping(s, b"")
}

/// Percent-encode a path (an OSS key in a URL, V4's canonical URI): as [`percent_encode`],
/// but `/` stays.
pub fn encode_path(s: &str) -> String {
    encode_keeping(s, b"/")
}

/// Unreserved bytes and those of `keep` stay; every other byte is `%XX`.
fn encode_keeping(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical query: pairs sorted by name (byte order), encoded, joined with `&`.
/// The same string is the GET query and the POST body.
pub fn canonical_query(params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `METHOD&%2F&enc(canonical query)`.
pub fn rpc_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

fn hmac_sha1_base64(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to an empty tag anyway
    // rather than panic.
    let Ok(mut mac) = HmacSha1::new_from_slice(key) else {
        return String::new();
    };
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The RPC v1.0 `Signature` value (before it is itself encoded for sending). `params` must
/// not contain `Signature`.
pub fn rpc_signature(secret: &Secret, method: &str, params: &[(String, String)]) -> String {
    let key = format!("{}&", secret.expose());
    hmac_sha1_base64(
        key.as_bytes(),
        rpc_string_to_sign(method, params).as_bytes(),
    )
}

/// The parts of an OSS request that signature version 1 covers.
#[derive(Debug, Default)]
pub struct OssRequest<'a> {
    pub verb: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    /// RFC 1123 GMT date, also sent as the `Date` header.
    pub date: &'a str,
    /// All headers; only `x-oss-*` ones are signed.
    pub headers: &'a [(&'a str, &'a str)],
    /// `/bucket/key` plus the sorted sub-resources in use (`?uploadId=..&partNumber=..`).
    pub resource: &'a str,
}

/// The OSS v1 string to sign: verb, MD5, type, date, canonical `x-oss-*` headers, resource.
pub fn oss_string_to_sign(r: &OssRequest<'_>) -> String {
    let mut oss: Vec<(String, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss.sort();
    let headers: String = oss.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    format!(
        "{}\n{}\n{}\n{}\n{headers}{}",
        r.verb, r.content_md5, r.content_type, r.date, r.resource
    )
}

/// The OSS v1 signature; the header is `Authorization: OSS <AccessKeyId>:<this>`.
pub fn oss_signature(secret: &Secret, r: &OssRequest<'_>) -> String {
    hmac_sha1_base64(secret.expose().as_bytes(), oss_string_to_sign(r).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_params() -> Vec<(String, String)> {
        [
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Version", "2014-05-26"),
            ("AccessKeyId", "testid"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn rpc_official_vector_get() {
        let p = vector_params();
        assert_eq!(
            rpc_string_to_sign("GET", &p),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
        );
        let s = Secret::new("testsecret");
        assert_eq!(rpc_signature(&s, "GET", &p), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    #[test]
    fn rpc_official_vector_post() {
        let s = Secret::new("testsecret");
        assert_eq!(
            rpc_signature(&s, "POST", &vector_params()),
            "MxbnVAM4w6sft9xjVpe/GCKueuk="
        );
    }

    #[test]
    fn rpc_signature_depends_on_secret() {
        let p = vector_params();
        assert_ne!(
            rpc_signature(&Secret::new("other"), "GET", &p),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn encoding_edge_cases() {
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("~"), "~");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("a-b_c.d"), "a-b_c.d");
        assert_eq!(percent_encode("="), "%3D");
        assert_eq!(percent_encode("镜像"), "%E9%95%9C%E5%83%8F");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_name_bytes() {
        let p = vec![
            ("b".to_string(), "2 3".to_string()),
            ("B".to_string(), "x".to_string()),
            ("a".to_string(), "名".to_string()),
        ];
        assert_eq!(canonical_query(&p), "B=x&a=%E5%90%8D&b=2%203");
    }

    #[test]
    fn oss_official_vector() {
        let headers = [
            ("X-OSS-Meta-Author", "foo@bar.com"),
            ("X-OSS-Magic", "abracadabra"),
            ("Host", "oss-example.oss-cn-hangzhou.aliyuncs.com"),
        ];
        let r = OssRequest {
            verb: "PUT",
            content_md5: "ODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=",
            content_type: "text/html",
            date: "Thu, 17 Nov 2005 18:49:58 GMT",
            headers: &headers,
            resource: "/oss-example/nelson",
        };
        assert_eq!(
            oss_string_to_sign(&r),
            "PUT\nODBGOERFMDMzQTczRUY3NUE3NzA5QzdFNUYzMDQxNEM=\ntext/html\nThu, 17 Nov 2005 18:49:58 GMT\nx-oss-magic:abracadabra\nx-oss-meta-author:foo@bar.com\n/oss-example/nelson"
        );
        let s = Secret::new("OtxrzxIsfpFjA7SwPzILwy8Bw21TLhquhboDYROV");
        assert_eq!(oss_signature(&s, &r), "26NBxoKdsyly4EDv6inkoDft/yA=");
    }
}
