//! Where the access key comes from, in the order the aliyun CLI and SDKs use:
//! an explicit `--profile` (config file only), then the environment, then
//! `~/.aliyun/config.json` (profile from `ALIBABA_CLOUD_PROFILE`, else `current`).
//!
//! There is deliberately no flag for the secret: command lines end up in shell history and
//! in `ps` output for every user of the machine.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

pub use super::keys::{Credentials, Role, Secret, mask_key_id};

const ID_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABACLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY_ID",
    "ALICLOUD_ACCESS_KEY",
];
const SECRET_VARS: &[&str] = &[
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABACLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_ACCESS_KEY_SECRET",
    "ALICLOUD_SECRET_KEY",
];
const TOKEN_VARS: &[&str] = &[
    "ALIBABA_CLOUD_SECURITY_TOKEN",
    "ALIBABACLOUD_SECURITY_TOKEN",
    "ALICLOUD_SECURITY_TOKEN",
];
const REGION_VARS: &[&str] = &[
    "ALIBABA_CLOUD_REGION_ID",
    "ALIBABACLOUD_REGION_ID",
    "ALICLOUD_REGION_ID",
    "ALICLOUD_REGION",
];
const PROFILE_VARS: &[&str] = &[
    "ALIBABA_CLOUD_PROFILE",
    "ALIBABACLOUD_PROFILE",
    "ALICLOUD_PROFILE",
];

/// The first non-empty variable of `names`, with its name.
fn first_var(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        env(n)
            .filter(|v| !v.trim().is_empty())
            .map(|v| (n.to_string(), v.trim().to_string()))
    })
}

/// The region named by the environment alone (`ALIBABA_CLOUD_REGION_ID` and its older
/// spellings), with the variable's name.
pub fn region_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<(String, String)> {
    first_var(env, REGION_VARS)
}

/// Resolve credentials. `env` reads a variable (the real environment in the binary, a map
/// in tests); `HOME` is read through it too so tests can point it at a temporary directory.
pub fn resolve(profile: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Credentials> {
    let config = config_path(env);
    if let Some(p) = profile {
        return from_config(&config, p, "--profile")?.ok_or_else(|| {
            Error::Usage(format!(
                "--profile {p}: {} does not exist",
                display_path(&config)
            ))
        });
    }
    if let Some(c) = from_env(env)? {
        return Ok(c);
    }
    let (name, how) = match first_var(env, PROFILE_VARS) {
        Some((var, v)) => (Some(v), var),
        None => (None, "current".to_string()),
    };
    let found = match &name {
        Some(n) => from_config(&config, n, &how)?,
        None => from_config_current(&config)?,
    };
    if let Some(c) = found {
        return Ok(c);
    }
    // The SDKs' shared file: ALIBABA_CLOUD_CREDENTIALS_FILE or ~/.alibabacloud/credentials.
    let ini = super::cred_ini::path(env);
    if let Some(c) = super::cred_ini::read(&ini, name.as_deref())? {
        return Ok(c);
    }
    Err(not_found(&config, &ini))
}

fn not_found(config: &Option<PathBuf>, ini: &Option<PathBuf>) -> Error {
    Error::Usage(format!(
        "no Alibaba Cloud credentials found; looked in: the environment ({} with {}; \
         or {} / {} / {} prefixes; or ALICLOUD_ACCESS_KEY with ALICLOUD_SECRET_KEY), \
         then {} (profile from ALIBABA_CLOUD_PROFILE or its \"current\" field), \
         then {} (ALIBABA_CLOUD_CREDENTIALS_FILE; profile from ALIBABA_CLOUD_PROFILE or \
         [default]). Set the variables, run `aliyun configure`, or pass --profile NAME",
        ID_VARS[0],
        SECRET_VARS[0],
        "ALIBABA_CLOUD_",
        "ALIBABACLOUD_",
        "ALICLOUD_",
        display_path(config),
        ini.as_ref().map_or(
            "~/.alibabacloud/credentials (HOME is not set)".to_string(),
            |p| p.display().to_string()
        )
    ))
}

fn display_path(p: &Option<PathBuf>) -> String {
    match p {
        Some(p) => p.display().to_string(),
        None => "~/.aliyun/config.json (HOME is not set)".into(),
    }
}

fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".aliyun").join("config.json"))
}

fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Credentials>> {
    let id = first_var(env, ID_VARS);
    let secret = first_var(env, SECRET_VARS);
    match (id, secret) {
        (None, None) => Ok(None),
        (Some((var, _)), None) => Err(Error::Usage(format!(
            "{var} is set but no secret is: set one of {}",
            SECRET_VARS.join(", ")
        ))),
        (None, Some((var, _))) => Err(Error::Usage(format!(
            "{var} is set but no access key id is: set one of {}",
            ID_VARS.join(", ")
        ))),
        (Some((var, id)), Some((_, secret))) => Ok(Some(Credentials {
            access_key_id: id,
            access_key_secret: Secret::new(secret),
            security_token: first_var(env, TOKEN_VARS).map(|(_, t)| Secret::new(t)),
            region: first_var(env, REGION_VARS).map(|(_, r)| r),
            source: format!("environment {var}"),
            role: None,
        })),
    }
}

fn read_config(path: &Option<PathBuf>) -> Result<Option<Value>> {
    let Some(path) = path else { return Ok(None) };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // serde_json's message gives a line and column and never echoes the file's values.
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::Usage(format!("{}: not valid JSON: {e}", path.display())))
}

fn from_config_current(path: &Option<PathBuf>) -> Result<Option<Credentials>> {
    let Some(cfg) = read_config(path)? else {
        return Ok(None);
    };
    let current = cfg
        .get("current")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
        .to_string();
    profile_from(path, &cfg, &current, "current").map(Some)
}

fn from_config(path: &Option<PathBuf>, name: &str, how: &str) -> Result<Option<Credentials>> {
    let Some(cfg) = read_config(path)? else {
        return Ok(None);
    };
    profile_from(path, &cfg, name, how).map(Some)
}

fn profile_from(path: &Option<PathBuf>, cfg: &Value, name: &str, how: &str) -> Result<Credentials> {
    let file = display_path(path);
    let profile = cfg
        .get("profiles")
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
        })
        .ok_or_else(|| Error::Usage(format!("{file}: no profile named {name:?} (from {how})")))?;
    let field = |k: &str| {
        profile
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mode = field("mode").unwrap_or_else(|| "AK".into());
    let need = |k: &str| {
        field(k).ok_or_else(|| {
            Error::Usage(format!(
                "{file}: profile {name:?} has mode {mode} but no {k}"
            ))
        })
    };
    let (token, role) = match mode.as_str() {
        "AK" => (None, None),
        "StsToken" => (Some(need("sts_token")?), None),
        "RamRoleArn" => (
            None,
            Some(Role::AssumeRole {
                arn: need("ram_role_arn")?,
                session: field("ram_session_name").unwrap_or_else(|| "imgtool".into()),
            }),
        ),
        "EcsRamRole" => {
            return Ok(Credentials {
                access_key_id: String::new(),
                access_key_secret: Secret::new(""),
                security_token: None,
                region: field("region_id"),
                source: format!("{file} profile {name:?} (EcsRamRole)"),
                role: Some(Role::Ecs {
                    name: need("ram_role_name")?,
                }),
            });
        }
        other => {
            return Err(Error::Usage(format!(
                "{file}: profile {name:?} has mode {other:?}; imgtool reads AK, StsToken, \
                 RamRoleArn and EcsRamRole"
            )));
        }
    };
    let (Some(id), Some(secret)) = (field("access_key_id"), field("access_key_secret")) else {
        return Err(Error::Usage(format!(
            "{file}: profile {name:?} lacks access_key_id or access_key_secret"
        )));
    };
    Ok(Credentials {
        access_key_id: id,
        access_key_secret: Secret::new(secret),
        security_token: token.map(Secret::new),
        region: field("region_id"),
        source: format!("{file} profile {name:?}"),
        role,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn home_with(config: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join(".aliyun")).unwrap();
        std::fs::write(d.path().join(".aliyun/config.json"), config).unwrap();
        d
    }

    const CONFIG: &str = r#"{"current":"work","profiles":[
        {"name":"default","mode":"AK","access_key_id":"CFGDEFAULTID","access_key_secret":"s1","region_id":"cn-beijing"},
        {"name":"work","mode":"StsToken","access_key_id":"CFGWORKID","access_key_secret":"s2","sts_token":"tok","region_id":"cn-shanghai"},
        {"name":"odd","mode":"RamRoleArn","access_key_id":"X","access_key_secret":"Y"}]}"#;

    #[test]
    fn secret_debug_is_masked() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        let c = Credentials {
            access_key_id: "id".into(),
            access_key_secret: s,
            security_token: Some(Secret::new("tok")),
            region: None,
            source: "t".into(),
            role: None,
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("tok\""), "{dbg}");
    }

    #[test]
    fn env_beats_config_and_prefixes_are_read_in_order() {
        let home = home_with(CONFIG);
        let h = home.path().to_str().unwrap();
        let c = resolve(
            None,
            &env_of(&[
                ("HOME", h),
                ("ALICLOUD_ACCESS_KEY", "TFID"),
                ("ALICLOUD_SECRET_KEY", "tfsecret"),
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", "MAINID"),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "mainsecret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.access_key_id, "MAINID");
        assert_eq!(c.access_key_secret.expose(), "mainsecret");
    }

    #[test]
    fn terraform_names_work_alone() {
        let c = resolve(
            None,
            &env_of(&[
                ("ALICLOUD_ACCESS_KEY", "TFID"),
                ("ALICLOUD_SECRET_KEY", "tfsecret"),
                ("ALICLOUD_REGION", "cn-hangzhou"),
            ]),
        )
        .unwrap();
        assert_eq!(c.access_key_id, "TFID");
        assert_eq!(c.region.as_deref(), Some("cn-hangzhou"));
    }

    #[test]
    fn half_set_environment_is_an_error() {
        let e = resolve(None, &env_of(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "X")])).unwrap_err();
        assert!(e.to_string().contains("no secret"), "{e}");
    }

    #[test]
    fn config_current_profile_and_sts() {
        let home = home_with(CONFIG);
        let c = resolve(None, &env_of(&[("HOME", home.path().to_str().unwrap())])).unwrap();
        assert_eq!(c.access_key_id, "CFGWORKID");
        assert_eq!(c.security_token.as_ref().map(Secret::expose), Some("tok"));
        assert_eq!(c.region.as_deref(), Some("cn-shanghai"));
    }

    #[test]
    fn profile_flag_and_env_profile_select() {
        let home = home_with(CONFIG);
        let h = home.path().to_str().unwrap();
        let c = resolve(Some("default"), &env_of(&[("HOME", h)])).unwrap();
        assert_eq!(c.access_key_id, "CFGDEFAULTID");
        let c = resolve(
            None,
            &env_of(&[("HOME", h), ("ALIBABA_CLOUD_PROFILE", "default")]),
        )
        .unwrap();
        assert_eq!(c.access_key_id, "CFGDEFAULTID");
        let e = resolve(Some("nope"), &env_of(&[("HOME", h)])).unwrap_err();
        assert!(e.to_string().contains("no profile named \"nope\""), "{e}");
        let e = resolve(Some("odd"), &env_of(&[("HOME", h)])).unwrap_err();
        assert!(e.to_string().contains("ram_role_arn"), "{e}");
    }

    #[test]
    fn nothing_found_lists_every_place() {
        let home = tempfile::tempdir().unwrap();
        let e = resolve(None, &env_of(&[("HOME", home.path().to_str().unwrap())])).unwrap_err();
        let m = e.to_string();
        for want in [
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "ALIBABACLOUD_",
            "ALICLOUD_ACCESS_KEY",
            ".aliyun/config.json",
            ".alibabacloud/credentials",
            "ALIBABA_CLOUD_CREDENTIALS_FILE",
            "--profile",
        ] {
            assert!(m.contains(want), "{want} missing from {m}");
        }
    }

    #[test]
    fn key_id_masking() {
        assert_eq!(mask_key_id("LTAI5tABCDEFGHwxyz"), "LTAI****wxyz");
        assert_eq!(mask_key_id("short"), "****");
    }
}
