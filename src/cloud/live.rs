//! Credentials as the signers read them at each request: fixed ones, or temporary ones (STS
//! AssumeRole, ECS instance metadata) renewed once they are older than a set age, so an upload
//! of many hours never signs with an expired key. Renewal happens under a lock: parallel
//! parts wait for one renewal instead of each making its own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::call_error::CallError;
use super::credentials::Credentials;

/// Gets fresh temporary credentials.
pub type Renew = dyn Fn() -> Result<Credentials, CallError> + Send + Sync;

#[derive(Clone)]
pub struct Live {
    state: Arc<Mutex<(Credentials, Instant)>>,
    renew: Option<(Arc<Renew>, Duration)>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live(..)")
    }
}

impl From<Credentials> for Live {
    fn from(c: Credentials) -> Live {
        Live::fixed(c)
    }
}

impl Live {
    pub fn fixed(c: Credentials) -> Live {
        Live {
            state: Arc::new(Mutex::new((c, Instant::now()))),
            renew: None,
        }
    }

    /// `first` as obtained now; renewed through `renew` once older than `every`.
    pub fn renewing(first: Credentials, every: Duration, renew: Arc<Renew>) -> Live {
        Live {
            state: Arc::new(Mutex::new((first, Instant::now()))),
            renew: Some((renew, every)),
        }
    }

    /// The credentials to sign the next request with.
    pub fn get(&self) -> Result<Credentials, CallError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((renew, every)) = &self.renew {
            if st.1.elapsed() >= *every {
                *st = (renew()?, Instant::now());
            }
        }
        Ok(st.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::credentials::Secret;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn creds(id: &str) -> Credentials {
        Credentials {
            access_key_id: id.into(),
            access_key_secret: Secret::new("s"),
            security_token: None,
            region: None,
            source: "t".into(),
            role: None,
        }
    }

    #[test]
    fn renews_only_when_old() {
        let n = Arc::new(AtomicU32::new(0));
        let m = n.clone();
        let renew: Arc<Renew> = Arc::new(move || {
            let k = m.fetch_add(1, Ordering::SeqCst);
            Ok(creds(&format!("new{k}")))
        });
        let fresh = Live::renewing(creds("first"), Duration::from_secs(3600), renew.clone());
        assert_eq!(fresh.get().unwrap().access_key_id, "first");
        assert_eq!(n.load(Ordering::SeqCst), 0);
        let old = Live::renewing(creds("first"), Duration::ZERO, renew);
        assert_eq!(old.get().unwrap().access_key_id, "new0");
        assert_eq!(old.get().unwrap().access_key_id, "new1");
        assert_eq!(Live::fixed(creds("f")).get().unwrap().access_key_id, "f");
    }
}
