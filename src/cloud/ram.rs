//! The RAM role ImportImage needs to read the bucket: find it, and create it on request.

use super::rpc::{CallError, Client, Method, Service, pairs};

pub const VERSION: &str = "2015-05-01";
pub const DEFAULT_ENDPOINT: &str = "https://ram.aliyuncs.com";
pub const ROLE_NAME: &str = "AliyunECSImageImportDefaultRole";
pub const POLICY_NAME: &str = "AliyunECSImageImportRolePolicy";
/// Lets the ECS service assume the role (from the import documentation).
pub const TRUST_POLICY: &str = r#"{"Statement":[{"Action":"sts:AssumeRole","Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]}}],"Version":"1"}"#;

/// The command that creates the role by hand, for the error message.
pub const CREATE_ROLE_HINT: &str = "re-run with --create-role, or run: \
    aliyun ram CreateRole --RoleName AliyunECSImageImportDefaultRole --AssumeRolePolicyDocument \
    '{\"Statement\":[{\"Action\":\"sts:AssumeRole\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":[\"ecs.aliyuncs.com\"]}}],\"Version\":\"1\"}' \
    && aliyun ram AttachPolicyToRole --PolicyType System --PolicyName AliyunECSImageImportRolePolicy \
    --RoleName AliyunECSImageImportDefaultRole";

/// True when the role exists, false when RAM says `EntityNotExist.Role`.
pub fn role_exists(c: &Client, ram: &Service) -> Result<bool, CallError> {
    match c.call(
        ram,
        Method::Get,
        "GetRole",
        &pairs(&[("RoleName", ROLE_NAME)]),
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == Some("EntityNotExist.Role") => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn create_role_params() -> Vec<(String, String)> {
    pairs(&[
        ("RoleName", ROLE_NAME),
        ("AssumeRolePolicyDocument", TRUST_POLICY),
        (
            "Description",
            "Lets ECS read OSS objects to import images (created by imgtool)",
        ),
    ])
}

pub fn attach_policy_params() -> Vec<(String, String)> {
    pairs(&[
        ("PolicyType", "System"),
        ("PolicyName", POLICY_NAME),
        ("RoleName", ROLE_NAME),
    ])
}

/// Create the role and attach the system policy. An `EntityAlreadyExists.*` answer means a
/// concurrent run (or a half-finished earlier one) did it already, which is fine.
pub fn create_role(c: &Client, ram: &Service) -> Result<(), CallError> {
    let ok_if_exists = |r: Result<serde_json::Value, CallError>| match r {
        Err(e)
            if e.code()
                .is_some_and(|c| c.starts_with("EntityAlreadyExists")) =>
        {
            Ok(())
        }
        other => other.map(|_| ()),
    };
    ok_if_exists(c.call(ram, Method::Post, "CreateRole", &create_role_params()))?;
    ok_if_exists(c.call(
        ram,
        Method::Post,
        "AttachPolicyToRole",
        &attach_policy_params(),
    ))
}
