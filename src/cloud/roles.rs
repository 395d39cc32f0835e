//! Temporary credentials from a role: STS AssumeRole with an access key (RamRoleArn,
//! `ram_role_arn`), or the ECS instance's RAM role from instance metadata (EcsRamRole,
//! `ecs_ram_role`; endpoint `IMGTOOL_METADATA_ENDPOINT`, default http://100.100.100.200).
//! Both are renewed while in use: after `IMGTOOL_CREDENTIAL_REFRESH_SECS` (default 2700, 45
//! minutes of AssumeRole's hour; 900 for instance metadata).

use super::keys::temporary;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::credentials::{Credentials, Role};
use super::live::{Live, Renew};
use super::rpc::{CallError, Client, RpcSignature, Service};
use super::settings::{self, Env};
use super::{ecs, sts};
use crate::error::{Error, Result};

/// How long an assumed role's credentials are asked to last.
pub const SESSION_SECONDS: u64 = 3600;

/// Signing credentials from resolved ones: themselves, or what their role gives.
pub fn activate(
    c: Credentials,
    sts_endpoint: &str,
    sig: RpcSignature,
    env: Env<'_>,
) -> Result<Live> {
    let Some(role) = c.role.clone() else {
        return Ok(Live::fixed(c));
    };
    let timing = settings::timing(env)?;
    let secs = |default: u64| -> Result<Duration> {
        match env("IMGTOOL_CREDENTIAL_REFRESH_SECS") {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v.trim().parse().map(Duration::from_secs).map_err(|_| {
                Error::Usage(format!(
                    "IMGTOOL_CREDENTIAL_REFRESH_SECS={v:?} is not a whole number"
                ))
            }),
        }
    };
    let (renew, every): (Arc<Renew>, Duration) = match role {
        Role::AssumeRole { arn, session } => {
            let base = Credentials {
                role: None,
                ..c.clone()
            };
            let client = Client::new(base, timing.retry.clone(), timing.http_timeout)
                .map_err(|e| ecs::explain("setup", &e))?
                .with_signature(sig);
            let svc = Service {
                endpoint: sts_endpoint.to_string(),
                version: sts::VERSION,
            };
            let region = c.region.clone();
            let source = format!("STS AssumeRole {arn} with {}", c.source);
            let renew: Arc<Renew> = Arc::new(move || {
                let mut t = sts::assume_role(&client, &svc, &arn, &session, SESSION_SECONDS)?;
                t.region = region.clone();
                t.source = source.clone();
                Ok(t)
            });
            (renew, secs(2700)?)
        }
        Role::Ecs { name } => {
            let ep = env("IMGTOOL_METADATA_ENDPOINT")
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| "http://100.100.100.200".into());
            let http =
                super::http::client(timing.http_timeout).map_err(|e| ecs::explain("setup", &e))?;
            let region = c.region.clone();
            let renew: Arc<Renew> = Arc::new(move || {
                let mut t = from_metadata(&http, ep.trim_end_matches('/'), &name)?;
                t.region = region.clone();
                Ok(t)
            });
            (renew, secs(900)?)
        }
    };
    let first = renew().map_err(|e| ecs::explain("getting role credentials", &e))?;
    Ok(Live::renewing(first, every, renew))
}

/// Instance metadata answers are a few hundred bytes.
const METADATA_MAX: u64 = 64 << 10;

/// The instance role's credentials; IMDSv2 (a session token) when the server gives one.
fn from_metadata(
    http: &reqwest::blocking::Client,
    ep: &str,
    role: &str,
) -> Result<Credentials, CallError> {
    let token = http
        .put(format!("{ep}/latest/api/token"))
        .header("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")
        .send()
        .ok()
        .filter(|r| r.status().is_success())
        .and_then(|r| super::http::read_bounded(r, METADATA_MAX).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut req = http.get(format!(
        "{ep}/latest/meta-data/ram/security-credentials/{role}"
    ));
    if let Some(t) = &token {
        req = req.header("X-aliyun-ecs-metadata-token", t.trim());
    }
    let url = format!("{ep}/latest/meta-data/ram/security-credentials/");
    let resp = req
        .send()
        .map_err(|e| super::retry::network_error(&e, &url))?;
    let status = resp.status().as_u16();
    let text =
        String::from_utf8_lossy(&super::http::read_bounded(resp, METADATA_MAX)?).into_owned();
    if status != 200 {
        return Err(CallError::Api {
            status,
            code: format!("HTTP{status}"),
            message: format!("instance metadata has no credentials for role {role}"),
            request_id: String::new(),
        });
    }
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| CallError::Transport("instance metadata: not JSON".into()))?;
    if v.get("Code")
        .and_then(Value::as_str)
        .is_some_and(|c| c != "Success")
    {
        return Err(CallError::Transport(format!(
            "instance metadata: role {role} not usable"
        )));
    }
    temporary(&v, &format!("ECS instance role {role}"))
        .ok_or_else(|| CallError::Transport("instance metadata: credentials incomplete".into()))
}
