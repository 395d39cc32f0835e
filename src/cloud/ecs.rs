//! The ECS calls an import needs, and what to tell the user when one fails.

use serde_json::Value;

use super::rpc::{CallError, Client, Method, Service, pairs};
use crate::error::Error;
use crate::plan::Plan;

pub const VERSION: &str = "2014-05-26";

/// Every image state, because DescribeImages without `Status` shows only Available images
/// and an import in progress would look like "not found".
pub const ALL_IMAGE_STATUSES: &str = "Creating,Waiting,Available,UnAvailable,CreateFailed";

pub fn default_endpoint(region: &str) -> String {
    format!("https://ecs.{region}.aliyuncs.com")
}

/// What ImportImage answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub image_id: String,
    pub task_id: String,
    pub request_id: String,
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub fn import_image(c: &Client, ecs: &Service, plan: &Plan) -> Result<Imported, CallError> {
    let v = c.call(ecs, Method::Post, "ImportImage", &plan.params())?;
    // The 2016 sample response calls the task ImportTaskId.
    let task_id = match s(&v, "TaskId") {
        t if t.is_empty() => s(&v, "ImportTaskId"),
        t => t,
    };
    let imported = Imported {
        image_id: s(&v, "ImageId"),
        task_id,
        request_id: s(&v, "RequestId"),
    };
    if imported.image_id.is_empty() || imported.task_id.is_empty() {
        return Err(CallError::Transport(
            "ImportImage answered without ImageId or TaskId".into(),
        ));
    }
    Ok(imported)
}

/// A task's state as DescribeTasks and DescribeTaskAttribute tell it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskState {
    /// Waiting, Processing, Finished, Failed, Paused, Deleted; empty if the task is unknown.
    pub status: String,
    /// "45%" as the API gives it.
    pub progress: String,
    /// Error code and message of a failed task, when the API gives them.
    pub failure: Option<String>,
}

pub fn describe_task(
    c: &Client,
    ecs: &Service,
    region: &str,
    task_id: &str,
) -> Result<TaskState, CallError> {
    let v = c.call(
        ecs,
        Method::Get,
        "DescribeTasks",
        &pairs(&[
            ("RegionId", region),
            ("TaskIds", task_id),
            ("TaskAction", "ImportImage"),
        ]),
    )?;
    let found = v
        .pointer("/TaskSet/Task")
        .and_then(Value::as_array)
        .and_then(|ts| ts.iter().find(|t| s(t, "TaskId") == task_id));
    let Some(task) = found else {
        return Ok(TaskState::default());
    };
    let mut state = TaskState {
        status: s(task, "TaskStatus"),
        ..TaskState::default()
    };
    let attr = c.call(
        ecs,
        Method::Get,
        "DescribeTaskAttribute",
        &pairs(&[("RegionId", region), ("TaskId", task_id)]),
    )?;
    state.progress = s(&attr, "TaskProcess");
    state.failure = task_failure(&attr);
    if !s(&attr, "TaskStatus").is_empty() {
        state.status = s(&attr, "TaskStatus");
    }
    Ok(state)
}

/// The first ErrorCode/ErrorMsg in OperationProgressSet, where the API reports why.
fn task_failure(attr: &Value) -> Option<String> {
    let ops = attr
        .pointer("/OperationProgressSet/OperationProgress")?
        .as_array()?;
    ops.iter().find_map(|op| {
        let (code, msg) = (s(op, "ErrorCode"), s(op, "ErrorMsg"));
        (!code.is_empty() || !msg.is_empty()).then(|| format!("{code} {msg}").trim().to_string())
    })
}

/// An image's state; `status` is empty when DescribeImages does not list it (yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageState {
    pub status: String,
    pub progress: String,
}

pub fn describe_image(
    c: &Client,
    ecs: &Service,
    region: &str,
    image_id: &str,
) -> Result<ImageState, CallError> {
    let img = find_image(c, ecs, region, image_id)?;
    Ok(img.map_or_else(ImageState::default, |i| ImageState {
        status: s(&i, "Status"),
        progress: s(&i, "Progress"),
    }))
}

/// DescribeImages for one image id in any status; the image's entry, if the answer has it.
pub fn find_image(
    c: &Client,
    ecs: &Service,
    region: &str,
    image_id: &str,
) -> Result<Option<Value>, CallError> {
    let v = c.call(
        ecs,
        Method::Get,
        "DescribeImages",
        &pairs(&[
            ("RegionId", region),
            ("ImageId", image_id),
            ("Status", ALL_IMAGE_STATUSES),
        ]),
    )?;
    Ok(v.pointer("/Images/Image")
        .and_then(Value::as_array)
        .and_then(|is| is.iter().find(|i| s(i, "ImageId") == image_id))
        .cloned())
}

pub fn cancel_task(
    c: &Client,
    ecs: &Service,
    region: &str,
    task_id: &str,
) -> Result<(), CallError> {
    c.call(
        ecs,
        Method::Post,
        "CancelTask",
        &pairs(&[("RegionId", region), ("TaskId", task_id)]),
    )?;
    Ok(())
}

/// Both spellings the API has used for "the import role is missing".
pub fn is_role_missing(e: &CallError) -> bool {
    matches!(
        e.code(),
        Some("NoSetRoletoECSServiceAcount" | "NoSetRoletoECSServiceAccount")
    )
}

/// Every error code the current ImportImage reference lists (with the seed's and the
/// transport's), each of which [`advice`] answers; a test holds the two together.
pub const IMPORT_ERROR_CODES: &[&str] = &[
    "MissingParameter",
    "MissingParameter.DiskDeviceMapping",
    "InvalidImageName.Malformed",
    "InvalidImageName.Duplicated",
    "InvalidDescription.Malformed",
    "InvalidArchitecture.Malformed",
    "InvalidArchitecture.PlatformUnsupported",
    "InvalidPlatform.Malformed",
    "InvalidOSType.Malformed",
    "InvalidFormat.Malformed",
    "InvalidImageFormat.Malformed",
    "InvalidImageFormat.RegionNotSupported",
    "InvalidImageSize",
    "InvalidDataDiskSize",
    "InvalidBootMode.Malformed",
    "InvalidBootMode.NotSupport",
    "InvalidLicenseType.NotSupported",
    "InvalidLicenseType.BYOLOnly",
    "InvalidParameter.DetectionStrategy",
    "InvalidParameter.FeaturesImdsSupport",
    "InvalidClientToken.Malformed",
    "InvalidRegionId.NotFound",
    "RegionId.NotFound",
    "InvalidRegion.NotSupport",
    "IncorrectImageStatus",
    "ImageIsImporting",
    "QuotaExceed.Image",
    "QuotaExceed.Snapshot",
    "Forbidden",
    "Forbbiden",
    "NoSetRoletoECSServiceAcount",
    "NoSetRoletoECSServiceAccount",
    "InvalidOSSBucket.NotFound",
    "InvalidOSSBucket.NotMatched",
    "InvalidOSSBucket.Malformed",
    "InvalidOSSBucket.EncryptUnsupported",
    "InvalidOSSBucket.FlowLimit",
    "InvalidOSSObject.NotFound",
    "InvalidOSSObject.Size",
    "InvalidOSSObject.NeedRestore",
    "InvalidOSS.NotAuthorized",
    "UnsupportedSuffix.OSSObject",
    "InvalidVHDImage.IncorrectSize",
    "InvalidBlockSize.NotSupport",
    "InvalidResourceGroup.NotFound",
    "InvalidStorageLocation.NotFound",
    "InvalidOperation.CloudBoxImageImportRoleRequired",
    "InvalidOperation.CloudBoxImageImportUnsupported",
    "ImageCheckUnsupported.WindowsImage",
    "TagKey.Duplication",
    "IdempotentParameterMismatch",
    "ImportImageFailed",
    "UserNotInTheWhiteList",
    "Account.Arrearage",
    "InvalidAccountStatus.OSSDisabled",
    "SignatureDoesNotMatch",
    "SignatureNonceUsed",
    "InvalidTimeStamp.Expired",
    "Throttling",
];

/// What the user should do about an error code, where the docs say.
fn advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "MissingParameter" | "MissingParameter.DiskDeviceMapping" => {
            "a required parameter (RegionId, OSSBucket, OSSObject) is missing; check --region, --bucket and --object"
        }
        "InvalidImageName.Malformed" => {
            "ImageName: 2..128 characters, starting with a letter, no http(s)://, not starting with acs: or aliyun; pass another --image-name"
        }
        "InvalidDescription.Malformed" => {
            "Description: 2..256 characters, not starting with http:// or https://; fix --description"
        }
        "InvalidArchitecture.Malformed" => "--architecture must be i386, x86_64 or arm64",
        "InvalidArchitecture.PlatformUnsupported" => {
            "this Platform is not offered for this Architecture; check --platform and --architecture"
        }
        "InvalidPlatform.Malformed" => "--platform must be one of the API's Platform values",
        "InvalidOSType.Malformed" => "--os-type must be linux or windows",
        "InvalidFormat.Malformed" | "InvalidImageFormat.Malformed" => {
            "the Format must be RAW, VHD or QCOW2 and match the file; leave out --format"
        }
        "InvalidImageFormat.RegionNotSupported" => {
            "this region does not take this image format; upload it as RAW (--format raw) or import in another region"
        }
        "InvalidImageSize" => {
            "DiskImageSize must hold the virtual disk and its file systems; try --auto-size"
        }
        "InvalidDataDiskSize" => "a data disk's DiskImageSize is outside 1..2048 GiB",
        "InvalidBootMode.Malformed" | "InvalidBootMode.NotSupport" => {
            "--boot-mode must be BIOS or UEFI, and arm64 (and some platforms) allow only UEFI"
        }
        "InvalidLicenseType.NotSupported" => "--license-type must be Auto, Aliyun or BYOL",
        "InvalidLicenseType.BYOLOnly" => {
            "this image can be imported only with --license-type BYOL (bring your own license)"
        }
        "InvalidParameter.DetectionStrategy" => "DetectionStrategy takes only Standard (--detect)",
        "InvalidParameter.FeaturesImdsSupport" => "--imds must be v1 or v2",
        "InvalidClientToken.Malformed" => "--client-token: at most 64 ASCII characters",
        "InvalidImageName.Duplicated" => {
            "an image with this name exists in the region; pass another --image-name"
        }
        "InvalidOSSObject.NotFound" => {
            "the object is not in the bucket; check --object, or upload it first"
        }
        "InvalidOSSObject.Size" => "the object is empty (0 bytes); upload the image again",
        "InvalidOSSObject.NeedRestore" => {
            "the object is in Archive storage: restore it first (ossutil restore, or RestoreObject in the console), wait until it is readable, then import again"
        }
        "UnsupportedSuffix.OSSObject" => {
            "the service does not take this object name's suffix; name the object .raw, .vhd or .qcow2 (--object)"
        }
        "InvalidOSSBucket.NotFound" => {
            "the bucket does not exist in this region; check --bucket and --region"
        }
        "InvalidOSSBucket.NotMatched" => "the bucket must be in the same region as the import",
        "InvalidOSSBucket.Malformed" => {
            "the bucket name breaks the OSS naming rules; check --bucket"
        }
        "InvalidOSSBucket.EncryptUnsupported" => {
            "the bucket's server-side encryption (KMS) is not supported for import; use a bucket without KMS encryption, or turn it off and upload again"
        }
        "InvalidOSSBucket.FlowLimit" => {
            "the bucket is being throttled by its flow limit; retry later or raise the bucket's limit"
        }
        "InvalidOSS.NotAuthorized" => {
            "ECS may not read the bucket: make sure the role AliyunECSImageImportDefaultRole exists with AliyunECSImageImportRolePolicy (--create-role)"
        }
        "InvalidVHDImage.IncorrectSize" => {
            "the VHD's block table (MaxTableEntries x BlockSize) does not match its size; convert it (imgtool convert --to raw) and import the RAW"
        }
        "InvalidBlockSize.NotSupport" => {
            "the VHD's block size is not supported; convert it (imgtool convert --to vhd, or --to raw) and import again"
        }
        "InvalidResourceGroup.NotFound" => "no such resource group; check --resource-group",
        "InvalidStorageLocation.NotFound" => "the CloudBox storage location does not exist",
        "InvalidOperation.CloudBoxImageImportRoleRequired" => {
            "CloudBox imports need the role AliyunECSCloudBoxImageImportDefaultRole"
        }
        "InvalidOperation.CloudBoxImageImportUnsupported" => {
            "this CloudBox does not support image import"
        }
        "ImageCheckUnsupported.WindowsImage" => {
            "the image check does not cover Windows images; import without --detect"
        }
        "TagKey.Duplication" => "a tag key is given twice; give each --tag key once",
        "IdempotentParameterMismatch" => {
            "this ClientToken was used with other parameters; pass another --client-token or leave it out"
        }
        "ImportImageFailed" => {
            "the service could not import the image; check the image (imgtool check) and retry"
        }
        "UserNotInTheWhiteList" => {
            "this account may not use the feature (e.g. VMDK import is invitational); ask Alibaba Cloud support"
        }
        "Account.Arrearage" => "the account has overdue payments; settle them in the console first",
        "InvalidAccountStatus.OSSDisabled" => {
            "OSS is not activated for this account (or is suspended); activate OSS in the console"
        }
        "NoSetRoletoECSServiceAcount" | "NoSetRoletoECSServiceAccount" => {
            "the RAM role AliyunECSImageImportDefaultRole is missing or not yet effective; re-run with --create-role, or wait a minute after creating it"
        }
        "Forbidden" | "Forbbiden" | "Forbidden.RAM" | "NoPermission" => {
            "this access key lacks permission; grant it ecs:ImportImage (and ram:GetRole, ram:CreateRole, ram:AttachPolicyToRole for --create-role)"
        }
        "SignatureDoesNotMatch" => {
            "the access key secret is wrong for this access key id; check your credentials"
        }
        "SignatureNonceUsed" => "a retried request reused its nonce; retry",
        "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId" => {
            "the access key id is unknown; check your credentials"
        }
        "InvalidTimeStamp.Expired" => {
            "this machine's clock is more than 15 minutes off; fix it (e.g. enable NTP) and retry"
        }
        "IncorrectImageStatus" | "ImageIsImporting" => {
            "the image is busy; wait for its current task to end"
        }
        "InvalidRegionId.NotFound" | "RegionId.NotFound" | "InvalidRegion.NotSupport" => {
            "this region does not exist or does not support import; check --region"
        }
        c if c.starts_with("QuotaExceed") => {
            "a quota is used up; delete unused images or snapshots, or ask for a higher quota"
        }
        c if c.starts_with("Throttling") || c == "ServiceUnavailable" => {
            "the service stayed busy through every retry; try again later"
        }
        _ => return None,
    })
}

/// Turn a failed call into the error the user sees: what failed, the server's code and
/// message, the request id for support, and what to do. Codes that say the input was wrong
/// are usage errors (exit 2); the rest are failed operations (exit 1).
pub fn explain(action: &str, e: &CallError) -> Error {
    match e {
        CallError::Transport(why) => Error::Failed(format!(
            "{action}: no answer from the service ({why}); check the network and the endpoint, then retry"
        )),
        CallError::Network {
            url,
            cause,
            permanent,
        } => Error::Failed(format!(
            "{action}: no answer from {url}: {cause}; {}",
            if *permanent {
                "not retried, since trying again cannot help: check the endpoint (is the server running? is its certificate valid?)"
            } else {
                "check the network and the endpoint, then retry"
            }
        )),
        CallError::Api {
            status,
            code,
            message,
            request_id,
        } => {
            let mut msg = format!("{action} failed: {code} (HTTP {status})");
            if !message.is_empty() {
                msg.push_str(&format!(": {message}"));
            }
            if !request_id.is_empty() {
                msg.push_str(&format!(" [RequestId {request_id}]"));
            }
            if let Some(a) = advice(code) {
                msg.push_str(&format!("\n  what to do: {a}"));
            }
            if code.starts_with("Invalid") || code == "MissingParameter" {
                Error::Usage(msg)
            } else {
                Error::Failed(msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str) -> CallError {
        CallError::Api {
            status: 400,
            code: code.into(),
            message: "m".into(),
            request_id: "R1".into(),
        }
    }

    #[test]
    fn explain_names_code_request_and_advice() {
        let e = explain("ImportImage", &api("InvalidImageName.Duplicated"));
        let m = e.to_string();
        assert!(
            m.contains("InvalidImageName.Duplicated")
                && m.contains("R1")
                && m.contains("--image-name"),
            "{m}"
        );
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            explain("ImportImage", &api("QuotaExceed.Image")).exit_code(),
            1
        );
        assert!(
            explain("x", &api("InvalidTimeStamp.Expired"))
                .to_string()
                .contains("clock")
        );
    }

    #[test]
    fn every_listed_code_says_what_to_do() {
        for code in IMPORT_ERROR_CODES {
            assert!(advice(code).is_some(), "{code}");
        }
        let m = explain("ImportImage", &api("InvalidOSSObject.NeedRestore")).to_string();
        assert!(
            m.contains("Archive") && m.contains("restore it first"),
            "{m}"
        );
    }

    #[test]
    fn role_error_both_spellings() {
        assert!(is_role_missing(&api("NoSetRoletoECSServiceAcount")));
        assert!(is_role_missing(&api("NoSetRoletoECSServiceAccount")));
        assert!(!is_role_missing(&api("Forbidden")));
    }

    #[test]
    fn task_failure_reason() {
        let v: Value = serde_json::from_str(
            r#"{"OperationProgressSet":{"OperationProgress":[{"ErrorCode":"ImageCheckFailed","ErrorMsg":"no root"}]}}"#,
        )
        .unwrap();
        assert_eq!(
            task_failure(&v).as_deref(),
            Some("ImageCheckFailed no root")
        );
    }
}
