//! STS `GetCallerIdentity`: the account id, which names the default bucket.

use super::rpc::{CallError, Client, Method, Service};

pub const VERSION: &str = "2015-04-01";

/// The account id the credentials belong to.
pub fn account_id(client: &Client, endpoint: &str) -> Result<String, CallError> {
    let svc = Service {
        endpoint: endpoint.to_string(),
        version: VERSION,
    };
    let v = client.call(&svc, Method::Post, "GetCallerIdentity", &[])?;
    v.get("AccountId")
        .and_then(|a| {
            a.as_str()
                .map(str::to_string)
                .or_else(|| a.as_u64().map(|n| n.to_string()))
        })
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| CallError::Transport("GetCallerIdentity gave no usable AccountId".into()))
}

/// STS AssumeRole: temporary credentials for `arn`, lasting `seconds`.
pub fn assume_role(
    client: &Client,
    svc: &Service,
    arn: &str,
    session: &str,
    seconds: u64,
) -> Result<super::credentials::Credentials, CallError> {
    let v = client.call(
        svc,
        Method::Post,
        "AssumeRole",
        &super::rpc::pairs(&[
            ("RoleArn", arn),
            ("RoleSessionName", session),
            ("DurationSeconds", &seconds.to_string()),
        ]),
    )?;
    v.get("Credentials")
        .and_then(|c| super::keys::temporary(c, &format!("STS AssumeRole {arn}")))
        .ok_or_else(|| CallError::Transport("AssumeRole gave no usable Credentials".into()))
}
