//! `imgtool import --dry-run --remote-check`: ImportImage sent with `DryRun=true`, so the
//! service checks the request (parameters, permissions, the bucket and object, the role)
//! without importing anything. The ImportImage reference documents the success answer two
//! ways: the DryRun parameter's text says `DryRunOperation`, its error table says HTTP 400
//! `DRYRUN.SUCCESS`; both are success here, and any other answer is the error it names.

use super::ecs;
use super::rpc::{CallError, Client, Method, Service};
use crate::error::Result;
use crate::plan::Plan;

/// The codes that mean "the request would have succeeded".
pub const SUCCESS_CODES: &[&str] = &["DryRunOperation", "DRYRUN.SUCCESS"];

/// Send ImportImage with `DryRun=true`; returns the success code the service answered.
pub fn check(client: &Client, svc: &Service, plan: &Plan) -> Result<String> {
    let mut params = plan.params();
    params.push(("DryRun".into(), "true".into()));
    match client.call(svc, Method::Post, "ImportImage", &params) {
        Err(CallError::Api { code, .. }) if SUCCESS_CODES.contains(&code.as_str()) => Ok(code),
        // A 2xx answer to a DryRun request: the service did not dry-run it. Say so rather
        // than call it a pass (and nothing should have been imported).
        Ok(v) => Err(crate::error::Error::Failed(format!(
            "ImportImage with DryRun=true answered as if it ran the import ({}); check the \
             image list and cancel any new import task",
            v.get("TaskId")
                .and_then(|t| t.as_str())
                .unwrap_or("no TaskId")
        ))),
        Err(e) => Err(ecs::explain("ImportImage (DryRun)", &e)),
    }
}
