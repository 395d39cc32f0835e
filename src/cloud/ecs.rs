//! The ECS calls an import needs, and what to tell the user when one fails.

use serde_json::Value;

use super::plan::Plan;
use super::rpc::{CallError, Client, Method, Service, pairs};
use crate::error::Error;

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
    let img = v
        .pointer("/Images/Image")
        .and_then(Value::as_array)
        .and_then(|is| is.iter().find(|i| s(i, "ImageId") == image_id));
    Ok(img.map_or_else(ImageState::default, |i| ImageState {
        status: s(i, "Status"),
        progress: s(i, "Progress"),
    }))
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

/// What the user should do about an error code, where the docs say.
fn advice(code: &str) -> Option<&'static str> {
    Some(match code {
        "InvalidImageSize" => {
            "DiskImageSize must hold the virtual disk and its file systems; try --auto-size"
        }
        "InvalidImageName.Duplicated" => {
            "an image with this name exists in the region; pass another --image-name"
        }
        "InvalidOSSObject.NotFound" => {
            "the object is not in the bucket; check --object, or upload it first"
        }
        "InvalidOSSBucket.NotFound" => {
            "the bucket does not exist in this region; check --bucket and --region"
        }
        "InvalidOSSBucket.NotMatched" => "the bucket must be in the same region as the import",
        "NoSetRoletoECSServiceAcount" | "NoSetRoletoECSServiceAccount" => {
            "the RAM role AliyunECSImageImportDefaultRole is missing or not yet effective; re-run with --create-role, or wait a minute after creating it"
        }
        "Forbidden" | "Forbbiden" | "Forbidden.RAM" | "NoPermission" => {
            "this access key lacks permission; grant it ecs:ImportImage (and ram:GetRole, ram:CreateRole, ram:AttachPolicyToRole for --create-role)"
        }
        "SignatureDoesNotMatch" => {
            "the access key secret is wrong for this access key id; check your credentials"
        }
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
