//! A session with the cloud: live credentials, the ECS and RAM endpoints, the signature
//! versions, the timing (retries, polls, timeouts) and the one HTTP client (see `http`). What
//! `import` and `task` build once and pass around; OSS gets its client from here too.

use super::ecs;
use super::live::Live;
use super::oss::{Endpoint, Oss, OssSigning};
use super::ram;
use super::retry::Notice;
use super::rpc::{Client, RpcSignature, Service};
use super::settings::{self, Endpoints, Timing};
use crate::error::Result;

pub struct Session {
    pub client: Client,
    pub ecs: Service,
    pub ram: Service,
    pub timing: Timing,
    /// The credentials the session signs with (renewed while in use for a role).
    pub live: Live,
}

/// The ECS and RAM services at `eps`.
pub fn services(eps: &Endpoints) -> (Service, Service) {
    (
        Service {
            endpoint: eps.ecs.clone(),
            version: ecs::VERSION,
        },
        Service {
            endpoint: eps.ram.clone(),
            version: ram::VERSION,
        },
    )
}

impl Session {
    /// A session from resolved credentials, signing RPC calls with `signature`; the timing
    /// comes from the environment (`IMGTOOL_RETRY_*`, `IMGTOOL_POLL_INTERVAL_MS`, ...).
    pub fn new(creds: impl Into<Live>, eps: &Endpoints, signature: RpcSignature) -> Result<Self> {
        let live = creds.into();
        let timing = settings::timing(&settings::env)?;
        let client = Client::new(live.clone(), timing.retry.clone(), timing.http_timeout)
            .map_err(|e| ecs::explain("setup", &e))?
            .with_signature(signature);
        let (ecs_svc, ram_svc) = services(eps);
        Ok(Session {
            client,
            ecs: ecs_svc,
            ram: ram_svc,
            timing,
            live,
        })
    }

    /// The same session, its retry notices going to `notice`.
    pub fn with_notice(mut self, notice: Notice) -> Self {
        self.timing.retry = self.timing.retry.with_notice(notice);
        self.client = self.client.with_retry(self.timing.retry.clone());
        self
    }

    /// The same session, its request log (one line per HTTP request, see `trace`) going to
    /// `requests`.
    pub fn with_request_log(mut self, requests: Notice) -> Self {
        self.timing.retry = self.timing.retry.with_request_log(requests);
        self.client = self.client.with_retry(self.timing.retry.clone());
        self
    }

    /// An OSS client at `url` (a checked base URL) with this session's credentials, timing,
    /// retry notices and request log.
    pub fn oss(&self, url: &str, signing: OssSigning) -> Result<Oss> {
        Oss::new(
            self.live.clone(),
            Endpoint::parse(url),
            signing,
            self.timing.retry.clone(),
            self.timing.http_timeout,
        )
        .map_err(|e| ecs::explain("setup", &e))
    }
}
