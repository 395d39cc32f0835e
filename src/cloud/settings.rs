//! Endpoints and timing. Endpoints come from a flag, else `IMGTOOL_ECS_ENDPOINT` /
//! `IMGTOOL_RAM_ENDPOINT` (`IMGTOOL_OSS_ENDPOINT`, `IMGTOOL_STS_ENDPOINT`), else the public
//! defaults. The defaults are https. Plain `http://` is taken only when it was asked for
//! explicitly: an endpoint on this machine (loopback: a test server, a local proxy) given by
//! flag or environment, or any endpoint with `--allow-http`. A plain-http endpoint elsewhere
//! without the flag is refused: an environment variable left over in a shell must not send
//! signed requests (and STS tokens) across a network in clear.
//!
//! Timing is tunable through the environment so tests run in milliseconds:
//! `IMGTOOL_POLL_INTERVAL_MS` (default 10000), `IMGTOOL_RETRY_BASE_MS` (500),
//! `IMGTOOL_RETRY_ATTEMPTS` (6), `IMGTOOL_HTTP_TIMEOUT_MS` (30000),
//! `IMGTOOL_ROLE_WAIT_MS` (120000: how long ImportImage is retried after creating the role).

use std::time::Duration;

use super::oss::{OssSigning, parse_signature_version};
use super::retry::is_loopback;
use super::rpc::{RetryPolicy, RpcSignature};
use super::{ecs, ram};
use crate::error::{Error, Result};

pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, as an [`Env`].
pub fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub ecs: String,
    pub ram: String,
}

pub fn endpoints(
    region: &str,
    ecs_flag: Option<&str>,
    ram_flag: Option<&str>,
    allow_http: bool,
    env: Env<'_>,
) -> Result<Endpoints> {
    Ok(Endpoints {
        ecs: pick(
            ecs_flag,
            "IMGTOOL_ECS_ENDPOINT",
            ecs::default_endpoint(region),
            allow_http,
            env,
        )?,
        ram: pick(
            ram_flag,
            "IMGTOOL_RAM_ENDPOINT",
            ram::DEFAULT_ENDPOINT.to_string(),
            allow_http,
            env,
        )?,
    })
}

/// The OSS endpoint: `--oss-endpoint`, else `IMGTOOL_OSS_ENDPOINT`, else
/// `https://oss-<region>.aliyuncs.com` (`oss-<region>-internal` with `internal`: from an ECS
/// instance in the region, traffic stays inside and costs nothing).
pub fn oss_endpoint(
    region: &str,
    flag: Option<&str>,
    internal: bool,
    allow_http: bool,
    env: Env<'_>,
) -> Result<String> {
    let suffix = if internal { "-internal" } else { "" };
    pick(
        flag,
        "IMGTOOL_OSS_ENDPOINT",
        format!("https://oss-{region}{suffix}.aliyuncs.com"),
        allow_http,
        env,
    )
}

/// The STS endpoint (GetCallerIdentity): `--sts-endpoint`, else `IMGTOOL_STS_ENDPOINT`,
/// else `https://sts.aliyuncs.com`.
pub fn sts_endpoint(flag: Option<&str>, allow_http: bool, env: Env<'_>) -> Result<String> {
    pick(
        flag,
        "IMGTOOL_STS_ENDPOINT",
        "https://sts.aliyuncs.com".into(),
        allow_http,
        env,
    )
}

/// The RPC signature: `--rpc-signature`, else `IMGTOOL_RPC_SIGNATURE`, else V3.
pub fn rpc_signature(flag: Option<&str>, env: Env<'_>) -> Result<RpcSignature> {
    match chosen(flag, "IMGTOOL_RPC_SIGNATURE", env) {
        None => Ok(RpcSignature::default()),
        Some((v, from)) => RpcSignature::parse(&v)
            .ok_or_else(|| Error::Usage(format!("{from}: RPC signature {v:?} is not v1 or v3"))),
    }
}

/// The OSS signature: `--oss-signature`, else `IMGTOOL_OSS_SIGNATURE`, else V4, whose scope
/// names `region` (the bucket's region: ImportImage reads only from a bucket in its own).
pub fn oss_signing(flag: Option<&str>, region: &str, env: Env<'_>) -> Result<OssSigning> {
    let v4 = match chosen(flag, "IMGTOOL_OSS_SIGNATURE", env) {
        None => true,
        Some((v, from)) => parse_signature_version(&v)
            .ok_or_else(|| Error::Usage(format!("{from}: OSS signature {v:?} is not v1 or v4")))?,
    };
    Ok(if v4 {
        OssSigning::V4 {
            region: region.to_string(),
        }
    } else {
        OssSigning::V1
    })
}

fn chosen(flag: Option<&str>, var: &str, env: Env<'_>) -> Option<(String, String)> {
    match flag {
        Some(f) => Some((f.to_string(), "flag".into())),
        None => env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (v, var.to_string())),
    }
}

fn pick(
    flag: Option<&str>,
    var: &str,
    default: String,
    allow_http: bool,
    env: Env<'_>,
) -> Result<String> {
    let (url, from) = match (flag, env(var).filter(|v| !v.is_empty())) {
        (Some(f), _) => (f.to_string(), "flag"),
        (None, Some(v)) => (v, var),
        (None, None) => (default, "default"),
    };
    check_endpoint(&url, from, allow_http)
}

/// A base URL: scheme and host (and port), nothing after a trailing slash.
fn check_endpoint(url: &str, from: &str, allow_http: bool) -> Result<String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        if !allow_http && !is_loopback(r.trim_end_matches('/')) {
            return Err(Error::Usage(format!(
                "endpoint {url} (from {from}) is plain http to another machine; pass --allow-http to send signed requests unencrypted"
            )));
        }
        r
    } else {
        return Err(Error::Usage(format!(
            "endpoint {url:?} (from {from}) must start with https://"
        )));
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(Error::Usage(format!(
            "endpoint {url:?} (from {from}) must be a scheme and host[:port] only"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[derive(Debug, Clone)]
pub struct Timing {
    pub poll: Duration,
    pub retry: RetryPolicy,
    pub http_timeout: Duration,
    pub role_wait: Duration,
}

fn millis(env: Env<'_>, var: &str, default: u64) -> Result<u64> {
    match env(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::Usage(format!("{var}={v:?} is not a whole number"))),
    }
}

pub fn timing(env: Env<'_>) -> Result<Timing> {
    let retry = RetryPolicy {
        attempts: u32::try_from(millis(env, "IMGTOOL_RETRY_ATTEMPTS", 6)?.clamp(1, 100))
            .unwrap_or(6),
        base_delay: Duration::from_millis(millis(env, "IMGTOOL_RETRY_BASE_MS", 500)?),
        ..RetryPolicy::default()
    };
    Ok(Timing {
        poll: Duration::from_millis(millis(env, "IMGTOOL_POLL_INTERVAL_MS", 10_000)?.max(1)),
        retry,
        http_timeout: Duration::from_millis(millis(env, "IMGTOOL_HTTP_TIMEOUT_MS", 30_000)?.max(1)),
        role_wait: Duration::from_millis(millis(env, "IMGTOOL_ROLE_WAIT_MS", 120_000)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_and_overrides() {
        let e = endpoints("cn-hangzhou", None, None, false, &no_env).unwrap();
        assert_eq!(e.ecs, "https://ecs.cn-hangzhou.aliyuncs.com");
        assert_eq!(e.ram, "https://ram.aliyuncs.com");
        let env =
            |k: &str| (k == "IMGTOOL_ECS_ENDPOINT").then(|| "https://ecs.example/".to_string());
        let e = endpoints("r", None, None, false, &env).unwrap();
        assert_eq!(e.ecs, "https://ecs.example");
        let e = endpoints("r", Some("https://flag.example"), None, false, &env).unwrap();
        assert_eq!(e.ecs, "https://flag.example");
    }

    #[test]
    fn signature_versions() {
        assert_eq!(rpc_signature(None, &no_env).unwrap(), RpcSignature::V3);
        assert_eq!(
            rpc_signature(Some("v1"), &no_env).unwrap(),
            RpcSignature::V1
        );
        let env = |k: &str| (k == "IMGTOOL_RPC_SIGNATURE").then(|| "V1".to_string());
        assert_eq!(rpc_signature(None, &env).unwrap(), RpcSignature::V1);
        assert_eq!(rpc_signature(Some("v3"), &env).unwrap(), RpcSignature::V3);
        assert!(rpc_signature(Some("v2"), &no_env).is_err());
        assert_eq!(
            oss_signing(None, "cn-x", &no_env).unwrap(),
            OssSigning::V4 {
                region: "cn-x".into()
            }
        );
        let env = |k: &str| (k == "IMGTOOL_OSS_SIGNATURE").then(|| "v1".to_string());
        assert_eq!(oss_signing(None, "r", &env).unwrap(), OssSigning::V1);
        assert!(oss_signing(Some("v2"), "r", &no_env).is_err());
    }

    #[test]
    fn oss_and_sts_endpoints() {
        let e = oss_endpoint("cn-beijing", None, false, false, &no_env).unwrap();
        assert_eq!(e, "https://oss-cn-beijing.aliyuncs.com");
        let e = oss_endpoint("cn-beijing", None, true, false, &no_env).unwrap();
        assert_eq!(e, "https://oss-cn-beijing-internal.aliyuncs.com");
        let env = |k: &str| (k == "IMGTOOL_OSS_ENDPOINT").then(|| "http://oss.lan:5".to_string());
        assert!(oss_endpoint("r", None, false, false, &env).is_err());
        assert_eq!(
            oss_endpoint("r", None, false, true, &env).unwrap(),
            "http://oss.lan:5"
        );
        let env = |k: &str| (k == "IMGTOOL_OSS_ENDPOINT").then(|| "http://127.0.0.1:5".to_string());
        assert_eq!(
            oss_endpoint("r", None, false, false, &env).unwrap(),
            "http://127.0.0.1:5"
        );
        assert_eq!(
            sts_endpoint(None, false, &no_env).unwrap(),
            "https://sts.aliyuncs.com"
        );
    }

    #[test]
    fn http_to_another_machine_needs_allow_http() {
        let err = endpoints("r", Some("http://10.1.2.3:80"), None, false, &no_env).unwrap_err();
        assert!(err.to_string().contains("--allow-http"));
        let err = endpoints("r", Some("http://ecs.example"), None, false, &no_env).unwrap_err();
        assert!(err.to_string().contains("--allow-http"));
        assert!(endpoints("r", Some("http://10.1.2.3:80"), None, true, &no_env).is_ok());
        // Loopback, asked for explicitly: a local test server or proxy.
        for local in [
            "http://127.0.0.1:1",
            "http://localhost:8080",
            "http://[::1]:9",
            "http://127.9.9.9",
        ] {
            assert!(
                endpoints("r", Some(local), None, false, &no_env).is_ok(),
                "{local}"
            );
        }
        // Not loopback, whatever the name looks like.
        assert!(
            endpoints(
                "r",
                Some("http://127.0.0.1.example.com"),
                None,
                false,
                &no_env
            )
            .is_err()
        );
        assert!(endpoints("r", Some("ftp://x"), None, true, &no_env).is_err());
        assert!(endpoints("r", Some("https://x/path"), None, true, &no_env).is_err());
    }
}
