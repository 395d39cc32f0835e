//! Access keys and where temporary ones come from: the types every credential source fills and
//! every signer reads. Their own file so the sources (`credentials.rs`, `cred_ini.rs`) do not
//! import each other.

use std::fmt;

use serde_json::Value;

/// A secret string. No `Display`, and `Debug` prints `***`, so a secret cannot reach output
/// through `{}` or `{:?}` by accident; reading it takes an explicit `expose()`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// Present with STS credentials; sent as `SecurityToken`.
    pub security_token: Option<Secret>,
    /// A default region from the same source, used when `--region` is absent.
    pub region: Option<String>,
    /// Where these came from, for messages ("environment ALIBABA_CLOUD_ACCESS_KEY_ID").
    pub source: String,
    /// These are not the keys to sign with but what gets them: a role to assume with them,
    /// or the ECS instance's role. `roles::activate` turns them into signing keys.
    pub role: Option<Role>,
}

/// Where temporary credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// STS AssumeRole with the access key, as aliyun CLI's RamRoleArn and the SDKs'
    /// `ram_role_arn`.
    AssumeRole { arn: String, session: String },
    /// The ECS instance's RAM role, from instance metadata (EcsRamRole, `ecs_ram_role`).
    Ecs { name: String },
}

impl Credentials {
    /// The key id with its middle hidden, for dry-run output: `LTAI****wxyz`.
    pub fn masked_key_id(&self) -> String {
        mask_key_id(&self.access_key_id)
    }
}

/// Show at most the first 4 and last 4 characters, and only if at least 4 stay hidden.
pub fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 {
        return "****".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// `{AccessKeyId, AccessKeySecret, SecurityToken}` as STS and instance metadata give them.
pub fn temporary(v: &Value, source: &str) -> Option<Credentials> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Some(Credentials {
        access_key_id: s("AccessKeyId")?,
        access_key_secret: Secret::new(s("AccessKeySecret")?),
        security_token: Some(Secret::new(s("SecurityToken")?)),
        region: None,
        source: source.to_string(),
        role: None,
    })
}
