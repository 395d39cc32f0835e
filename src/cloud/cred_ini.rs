//! The vendor SDKs' shared credentials file: `ALIBABA_CLOUD_CREDENTIALS_FILE`, else
//! `~/.alibabacloud/credentials`. INI: `[profile]` sections of `key = value`, the profile from
//! `ALIBABA_CLOUD_PROFILE` or `default`, `type = access_key | sts | ram_role_arn |
//! ecs_ram_role`. Messages name keys and files, never values.

use std::path::PathBuf;

use super::keys::{Credentials, Role, Secret};
use crate::error::{Error, Result};

pub fn path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(f) = env("ALIBABA_CLOUD_CREDENTIALS_FILE").filter(|f| !f.trim().is_empty()) {
        return Some(PathBuf::from(f));
    }
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".alibabacloud").join("credentials"))
}

/// `key = value` pairs of `[section]`, or `None` when there is no such section.
pub fn section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = s.trim().to_string();
            if current == name && found.is_none() {
                found = Some(Vec::new());
            }
            continue;
        }
        if current != name {
            continue;
        }
        if let (Some(pairs), Some((k, v))) = (found.as_mut(), line.split_once('=')) {
            let v = v.trim().trim_matches('"');
            pairs.push((k.trim().to_string(), v.to_string()));
        }
    }
    found
}

/// Credentials from the file's profile (`profile`, else `default`); `None` when the file does
/// not exist.
pub fn read(path: &Option<PathBuf>, profile: Option<&str>) -> Result<Option<Credentials>> {
    let Some(path) = path else { return Ok(None) };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let name = profile.unwrap_or("default");
    let file = path.display().to_string();
    let pairs =
        section(&text, name).ok_or_else(|| Error::Usage(format!("{file}: no profile [{name}]")))?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let need =
        |k: &str| get(k).ok_or_else(|| Error::Usage(format!("{file}: profile [{name}] lacks {k}")));
    let kind = get("type").unwrap_or_else(|| "access_key".into());
    let source = format!("{file} profile [{name}] ({kind})");
    let keyed = |token: Option<String>, role: Option<Role>| -> Result<Credentials> {
        Ok(Credentials {
            access_key_id: need("access_key_id")?,
            access_key_secret: Secret::new(need("access_key_secret")?),
            security_token: token.map(Secret::new),
            region: get("region_id"),
            source: source.clone(),
            role,
        })
    };
    let c = match kind.as_str() {
        "access_key" => keyed(None, None)?,
        "sts" => keyed(Some(need("security_token")?), None)?,
        "ram_role_arn" => keyed(
            None,
            Some(Role::AssumeRole {
                arn: need("role_arn")?,
                session: get("role_session_name").unwrap_or_else(|| "imgtool".into()),
            }),
        )?,
        "ecs_ram_role" => Credentials {
            access_key_id: String::new(),
            access_key_secret: Secret::new(""),
            security_token: None,
            region: get("region_id"),
            source,
            role: Some(Role::Ecs {
                name: need("role_name")?,
            }),
        },
        other => {
            return Err(Error::Usage(format!(
                "{file}: profile [{name}] has type {other:?}; imgtool reads access_key, sts, \
                 ram_role_arn and ecs_ram_role"
            )));
        }
    };
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = "# comment\n[default]\ntype = access_key\naccess_key_id = AKID\n\
        access_key_secret = \"sec ret\"\n\n[sts]\ntype = sts\naccess_key_id = STS.x\n\
        access_key_secret = s\nsecurity_token = tok\n[role]\ntype = ram_role_arn\n\
        access_key_id = A\naccess_key_secret = B\nrole_arn = acs:ram::1:role/r\n\
        [ecs]\ntype = ecs_ram_role\nrole_name = MyRole\n[bad]\ntype = oidc_role_arn\n";

    fn read_ini(profile: Option<&str>) -> Result<Option<Credentials>> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("credentials");
        std::fs::write(&p, INI).unwrap();
        read(&Some(p), profile)
    }

    #[test]
    fn every_type() {
        let c = read_ini(None).unwrap().unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.access_key_secret.expose()),
            ("AKID", "sec ret")
        );
        let c = read_ini(Some("sts")).unwrap().unwrap();
        assert_eq!(
            c.security_token.map(|t| t.expose().to_string()).as_deref(),
            Some("tok")
        );
        let c = read_ini(Some("role")).unwrap().unwrap();
        assert_eq!(
            c.role,
            Some(Role::AssumeRole {
                arn: "acs:ram::1:role/r".into(),
                session: "imgtool".into()
            })
        );
        let c = read_ini(Some("ecs")).unwrap().unwrap();
        assert_eq!(
            c.role,
            Some(Role::Ecs {
                name: "MyRole".into()
            })
        );
        let e = read_ini(Some("bad")).unwrap_err().to_string();
        assert!(e.contains("oidc_role_arn"), "{e}");
        let e = read_ini(Some("nope")).unwrap_err().to_string();
        assert!(e.contains("[nope]"), "{e}");
        assert!(
            read(&Some(PathBuf::from("/nonexistent/x")), None)
                .unwrap()
                .is_none()
        );
    }
}
