//! The names ImportImage and OSS take (region, bucket, object key, image name, description),
//! checked by the documented rules before anything is sent; each error names the API error
//! code the server would have answered with.

use crate::error::{Error, Result};

pub(super) fn usage(code: &str, msg: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{msg} (the API would answer {code})"))
}

/// Region ids go into the endpoint's host name, so only `a-z 0-9 -` are accepted.
pub fn check_region(r: &str) -> Result<String> {
    if r.is_empty() {
        return Err(usage(
            "MissingParameter",
            "RegionId is required: pass --region",
        ));
    }
    let ok = r
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok || r.len() > 64 || r.starts_with('-') {
        return Err(usage(
            "InvalidRegionId.NotFound",
            format!("region {r:?} is not a region id like cn-hangzhou"),
        ));
    }
    Ok(r.to_string())
}

/// OSS bucket naming rules: 3..63 of `a-z 0-9 -`, not starting or ending with `-`.
pub fn check_bucket(b: &str) -> Result<String> {
    if b.is_empty() {
        return Err(usage(
            "MissingParameter",
            "OSSBucket is required: pass --bucket",
        ));
    }
    let ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !b.starts_with('-')
        && !b.ends_with('-');
    if !ok {
        return Err(usage(
            "InvalidOSSBucket.NotFound",
            format!("bucket {b:?} breaks the OSS naming rules (3..63 of a-z, 0-9, '-')"),
        ));
    }
    Ok(b.to_string())
}

/// OSS object keys: 1..1023 bytes of UTF-8, not starting with `/` or `\`.
pub fn check_object(o: &str) -> Result<String> {
    if o.is_empty() {
        return Err(usage("MissingParameter", "OSSObject is empty"));
    }
    if o.len() > 1023
        || o.starts_with('/')
        || o.starts_with('\\')
        || o.chars().any(char::is_control)
    {
        return Err(usage(
            "InvalidOSSObject.NotFound",
            format!("object key {o:?} breaks the OSS rules (1..1023 bytes, no leading '/')"),
        ));
    }
    Ok(o.to_string())
}

/// CJK Unified Ideographs and Extension A: what the docs mean by "Chinese characters".
pub(super) fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

pub(super) fn name_char_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '_' | '-') || is_chinese(c)
}

/// Prefixes the API reserves. Compared without case: a name the API might refuse costs a
/// failed import, a renamed image costs nothing.
const RESERVED_PREFIXES: &[&str] = &["http://", "https://", "aliyun", "acs:"];

pub(super) fn reserved_prefix(s: &str) -> Option<&'static str> {
    let lower = s.to_lowercase();
    RESERVED_PREFIXES
        .iter()
        .copied()
        .find(|p| lower.starts_with(p))
}

pub fn check_image_name(n: &str) -> Result<String> {
    let code = "InvalidImageName.Malformed";
    let len = n.chars().count();
    if !(2..=128).contains(&len) {
        return Err(usage(
            code,
            format!("ImageName {n:?} has {len} characters; 2..128 allowed"),
        ));
    }
    if let Some(p) = reserved_prefix(n) {
        return Err(usage(
            code,
            format!("ImageName {n:?} must not start with {p:?}"),
        ));
    }
    let first = n.chars().next().unwrap_or(' ');
    if !(first.is_ascii_alphabetic() || is_chinese(first)) {
        return Err(usage(
            code,
            format!("ImageName {n:?} must start with a letter or a Chinese character"),
        ));
    }
    if let Some(bad) = n.chars().find(|c| !name_char_ok(*c)) {
        return Err(usage(
            code,
            format!(
                "ImageName {n:?} contains {bad:?}; allowed are letters, digits, Chinese characters and . : _ -"
            ),
        ));
    }
    Ok(n.to_string())
}

pub fn check_description(d: &str) -> Result<String> {
    let code = "InvalidDescription.Malformed";
    let len = d.chars().count();
    // The seed allowed 0..256, the current docs 2..256; an empty one is simply not sent.
    if !(2..=256).contains(&len) {
        return Err(usage(
            code,
            format!("Description has {len} characters; 2..256 allowed"),
        ));
    }
    let lower = d.to_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Err(usage(
            code,
            "Description must not start with http:// or https://",
        ));
    }
    if d.chars().any(char::is_control) {
        return Err(usage(
            code,
            "Description must not contain control characters",
        ));
    }
    Ok(d.to_string())
}
