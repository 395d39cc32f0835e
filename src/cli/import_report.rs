//! `imgtool import`'s reports: the dry-run listing of every request (V3/V4 canonical requests
//! included, secrets redacted), the plan, and the JSON document.

use serde_json::{Map, Value, json};

use super::import_args::Args;
use super::output::{escape, print_json};
use crate::cloud::credentials::Credentials;
use crate::cloud::detect::Detection;
use crate::cloud::ecs::Imported;
use crate::cloud::oss::{self, OssSigning};
use crate::cloud::rpc::{Client, Method, Preview, RpcSignature, Service};
use crate::cloud::settings::{self, Endpoints};
use crate::cloud::upload::Outcome;
use crate::cloud::{ram, session};
use crate::error::Result;
use crate::import::Uploaded;
use crate::import::data_disks::DataDisk;
use crate::import::prepare::UNKNOWN_TOKEN;
use crate::plan::Plan;
use crate::plan::sent::{Bytes, Sending};

/// Print (or put in JSON) every request the import would send, as it would be signed.
pub(super) fn dry_run(
    a: &Args,
    plan: &Plan,
    data: &[DataDisk],
    creds: Option<&Credentials>,
    eps: &Endpoints,
) -> Result<i32> {
    let sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &settings::env)?;
    let signing =
        settings::oss_signing(a.oss_signature.as_deref(), &plan.region_id, &settings::env)?;
    let (ecs_svc, ram_svc) = session::services(eps);
    let preview = |svc: &Service, m: Method, act: &'static str, p: &[(String, String)]| {
        (act, Client::preview(creds, sig, svc, m, act, p))
    };
    let mut reqs = vec![preview(
        &ram_svc,
        Method::Get,
        "GetRole",
        &[(String::from("RoleName"), ram::ROLE_NAME.to_string())],
    )];
    if a.create_role {
        reqs.push(preview(
            &ram_svc,
            Method::Post,
            "CreateRole",
            &ram::create_role_params(),
        ));
        reqs.push(preview(
            &ram_svc,
            Method::Post,
            "AttachPolicyToRole",
            &ram::attach_policy_params(),
        ));
    }
    reqs.push(preview(
        &ecs_svc,
        Method::Post,
        "ImportImage",
        &plan.params(),
    ));
    // The first OSS request of the upload, as V4 signs it (V1 signs no canonical request).
    let oss_canonical = match (&signing, a.skip_upload) {
        (OssSigning::V4 { .. }, false) => Some(oss::preview_v4(
            "GET",
            &plan.oss_bucket,
            "",
            &oss::Query {
                sub: vec![("location", None)],
                ..oss::Query::default()
            },
            creds.is_some_and(|c| c.security_token.is_some()),
        )),
        _ => None,
    };
    if a.json {
        let mut doc = base_json(plan, true, "planned", None);
        doc["data_disks"] = data_disks_json(data, None);
        doc["requests"] = reqs.iter().map(|(act, p)| preview_json(act, p)).collect();
        doc["signatures"] = json!({
            "rpc": if sig == RpcSignature::V3 { "v3" } else { "v1" },
            "oss": if matches!(signing, OssSigning::V4 { .. }) { "v4" } else { "v1" },
        });
        doc["oss_canonical_request"] = oss_canonical.map_or(Value::Null, Value::from);
        print_json(&doc);
        return Ok(0);
    }
    print_plan(plan);
    if !a.skip_upload {
        println!(
            "\nupload: GetBucketLocation, HEAD, then the image to oss://{}/{} (multipart, resumable) before ImportImage",
            plan.oss_bucket, plan.oss_object
        );
        if let Some(c) = &oss_canonical {
            println!("  GetBucketLocation canonical request (OSS4-HMAC-SHA256):");
            print_indented(c);
        }
    }
    println!("\nrequests (nothing sent; GetRole decides whether CreateRole runs):");
    for (act, p) in &reqs {
        println!("  {act}: {} {}", p.method, p.url);
        for (k, v) in &p.params {
            println!("    {k}={}", escape(v));
        }
        for (k, v) in &p.headers {
            println!("    header {k}: {}", escape(v));
        }
        if let Some(c) = &p.canonical_request {
            println!("    canonical request (ACS3-HMAC-SHA256):");
            print_indented(c);
        }
    }
    Ok(0)
}

fn print_indented(text: &str) {
    for line in text.split('\n') {
        println!("      | {}", escape(line));
    }
}

pub(super) fn preview_json(action: &str, p: &Preview) -> Value {
    let params: Map<String, Value> = p
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let headers: Map<String, Value> = p
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    json!({ "action": action, "method": p.method, "url": p.url, "params": params,
            "headers": headers, "canonical_request": p.canonical_request })
}

/// One entry per data disk: where it goes and, once uploaded, what the upload did.
pub(super) fn data_disks_json(data: &[DataDisk], uploads: Option<&[Outcome]>) -> Value {
    data.iter()
        .enumerate()
        .map(|(i, d)| {
            let up = uploads.and_then(|u| u.get(i)).map_or(Value::Null, |o| {
                json!({
                    "object_size": o.size,
                    "crc64": o.crc64.to_string(),
                    "parts": o.parts,
                    "resumed_parts": o.resumed_parts,
                    "sent_bytes": o.sent_bytes,
                    "already_there": o.already_there,
                })
            });
            json!({
                "file": d.path.display().to_string(),
                "device": i + 2,
                "format": d.facts.format.api_name(),
                "object": d.object,
                "disk_image_size_gib": d.disk_image_size,
                "converted_to_raw": d.facts.sending.bytes == Bytes::Raw,
                "send": send_json(&d.facts.sending, d.facts.format.api_name()),
                "upload": up,
            })
        })
        .collect()
}

pub(super) fn base_json(
    plan: &Plan,
    dry_run: bool,
    status: &str,
    imported: Option<&Imported>,
) -> Value {
    // An unknown ClientToken is null, not a string a script could take for the real one.
    let params: Map<String, Value> = plan
        .params()
        .into_iter()
        .map(|(k, v)| {
            let v = if v == UNKNOWN_TOKEN {
                Value::Null
            } else {
                Value::from(v)
            };
            (k, v)
        })
        .collect();
    json!({
        "schema": "imgtool.import/1",
        "dry_run": dry_run,
        "plan": params,
        "client_token_derived": plan.client_token_derived,
        "size_floor_gib": plan.size_floor,
        "send": send_json(&plan.sending, plan.format.api_name()),
        "warnings": plan.warnings,
        "requests": [],
        "image_id": imported.map(|i| i.image_id.as_str()),
        "task_id": imported.map(|i| i.task_id.as_str()),
        "request_id": imported.map(|i| i.request_id.as_str()),
        "status": status,
        "upload": null,
        "data_disks": [],
        "detection": null,
        "object_deleted": false,
        "timings_ms": {},
    })
}

pub(super) fn print_plan(plan: &Plan) {
    println!("import plan:");
    for (k, v) in plan.params() {
        println!("  {k}: {}", escape(&v));
    }
    println!(
        "  (DiskImageSize floor: {} GiB, from the virtual disk and its file systems)",
        plan.size_floor
    );
    let s = &plan.sending;
    println!(
        "upload: {} as {}: {} bytes to send (file {} bytes, virtual disk {} bytes)\n  {}",
        s.bytes.name(),
        plan.format.api_name(),
        s.object_size,
        s.file_size,
        s.virtual_size,
        escape(&s.why)
    );
    if plan.client_token == UNKNOWN_TOKEN {
        println!(
            "the account id is unknown (a dry run asks nobody; without credentials nobody can be \
             asked): the default bucket's name and the ClientToken derived from it are shown as \
             unknown; pass --bucket to see them, or --remote-check (with credentials)"
        );
    } else if plan.client_token_derived {
        println!(
            "client token {} is derived from region, bucket, object, image name and the image file; \
             re-running this command resumes the same import instead of creating a second image",
            plan.client_token
        );
    }
}

pub(super) fn upload_json(plan: &Plan, up: Option<&Uploaded>) -> Value {
    let Some(u) = up else { return Value::Null };
    let o = &u.outcome;
    json!({
        "bucket": plan.oss_bucket,
        "object": plan.oss_object,
        "object_size": o.size,
        "crc64": o.crc64.to_string(),
        "parts": o.parts,
        "resumed_parts": o.resumed_parts,
        "sent_bytes": o.sent_bytes,
        "already_there": o.already_there,
        "bucket_created": u.bucket_created,
        "converted_to_raw": u.sending.bytes == Bytes::Raw,
        "sent_as": u.sending.bytes.name(),
    })
}

/// What goes up, before it is sent: see docs/json.md.
fn send_json(s: &Sending, format: &str) -> Value {
    json!({
        "as": s.bytes.name(),
        "format": format,
        "bytes_to_send": s.object_size,
        "file_size": s.file_size,
        "virtual_size": s.virtual_size,
        "why": s.why,
    })
}

/// `--remote-check`: ImportImage with DryRun=true; the service's success code.
pub(super) fn remote_check(
    a: &Args,
    live: &crate::cloud::live::Live,
    eps: &Endpoints,
    plan: &Plan,
) -> Result<String> {
    let sig = settings::rpc_signature(a.cloud.rpc_signature.as_deref(), &settings::env)?;
    let s = session::Session::new(live.clone(), eps, sig)?;
    crate::cloud::remote_check::check(&s.client, &s.ecs, plan)
}

/// The service's image check (DetectionOptions), as text.
pub(super) fn print_detection(d: &Detection) {
    println!(
        "image check: {} ({} finding{})",
        if d.status.is_empty() {
            "no result"
        } else {
            &d.status
        },
        d.items.len(),
        if d.items.len() == 1 { "" } else { "s" }
    );
    for i in &d.items {
        println!(
            "  {}: {} [{} {}]",
            escape(&i.name),
            escape(&i.value),
            escape(&i.risk_level),
            escape(&i.risk_code)
        );
    }
}
