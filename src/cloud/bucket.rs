//! The bucket an import reads from: its default name, and the checks made before any byte
//! is sent (it exists, or is created when it is ours to create; it is in the import's region).

use super::oss::Oss;
use super::rpc::CallError;
use crate::error::{Error, Result};

/// `imgtool-<account id>-<region>`: unique per account and region, and predictable, so every
/// run of the same account in the same region finds the same bucket.
pub fn default_name(account_id: &str, region: &str) -> String {
    format!("imgtool-{}-{region}", account_id.to_ascii_lowercase())
}

/// What [`ensure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Exists,
    Created,
}

/// Check that `bucket` is in `region`; when it does not exist, create it (private) if it is
/// the default bucket, else stop: a mistyped `--bucket` must not become a new bucket.
pub fn ensure(
    oss: &Oss,
    bucket: &str,
    region: &str,
    may_create: bool,
    note: &mut dyn FnMut(String),
) -> Result<Found> {
    let want = format!("oss-{region}");
    // With V4 the request's scope names the region; a bucket elsewhere is answered with
    // AccessDenied naming its endpoint, which says where it is just as well.
    let loc = match oss.bucket_location(bucket) {
        Ok(l) => l,
        Err(e) => match elsewhere(&e) {
            Some(l) => Some(l),
            None => return Err(super::ecs::explain("GetBucketLocation", &e)),
        },
    };
    match loc {
        Some(l) if l == want => Ok(Found::Exists),
        Some(l) => Err(Error::Usage(format!(
            "bucket {bucket} is in {l}, not {want}: ImportImage reads only from a bucket in the \
             image's region; pass --region {} or a bucket in {region}",
            l.strip_prefix("oss-").unwrap_or(&l)
        ))),
        None if may_create => {
            note(format!(
                "bucket {bucket} does not exist; creating it (private) in {region}"
            ));
            oss.put_bucket(bucket)
                .map_err(|e| super::ecs::explain("PutBucket", &e))?;
            Ok(Found::Created)
        }
        None => Err(Error::Usage(format!(
            "bucket {bucket} does not exist; create it in {region}, or leave out --bucket to use \
             (and create) imgtool's default bucket"
        ))),
    }
}

/// `oss-cn-beijing` from an error that names the bucket's endpoint
/// (`oss-cn-beijing.aliyuncs.com`, as `oss::read_reply` puts it in the message).
fn elsewhere(e: &CallError) -> Option<String> {
    let CallError::Api { message, .. } = e else {
        return None;
    };
    let (_, rest) = message.split_once("(the bucket is at ")?;
    let host = rest.split(')').next()?;
    let name = host.split('.').next()?;
    let name = name.strip_suffix("-internal").unwrap_or(name);
    (name.starts_with("oss-") && name.len() > 4).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_in_an_error_names_the_region() {
        let e = CallError::Api {
            status: 403,
            code: "AccessDenied".into(),
            message: "must be addressed using the specified endpoint (the bucket is at oss-cn-beijing.aliyuncs.com)".into(),
            request_id: String::new(),
        };
        assert_eq!(elsewhere(&e).as_deref(), Some("oss-cn-beijing"));
        assert_eq!(elsewhere(&CallError::Transport("x".into())), None);
    }

    #[test]
    fn default_bucket_name_is_valid() {
        let n = default_name("1234567890123456", "cn-hangzhou");
        assert_eq!(n, "imgtool-1234567890123456-cn-hangzhou");
        assert!(crate::plan::check_bucket(&n).is_ok());
    }
}
