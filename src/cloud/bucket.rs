//! The bucket an import reads from: its default name, and the checks made before any byte
//! is sent (it exists, or is created when it is ours to create; it is in the import's region).

use super::oss::Oss;
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
    let loc = oss
        .bucket_location(bucket)
        .map_err(|e| super::ecs::explain("GetBucketLocation", &e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bucket_name_is_valid() {
        let n = default_name("1234567890123456", "cn-hangzhou");
        assert_eq!(n, "imgtool-1234567890123456-cn-hangzhou");
        assert!(super::super::plan::check_bucket(&n).is_ok());
    }
}
