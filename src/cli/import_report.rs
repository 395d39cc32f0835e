//! `imgtool import`'s reports: the dry-run listing of every request (V3/V4 canonical requests
//! included, secrets redacted), the plan, and the image check; the JSON document is
//! `crate::import::report`'s.

use super::import_args::Args;
use super::output::{escape, print_json};
use crate::cloud::credentials::Credentials;
use crate::cloud::detect::Detection;
use crate::cloud::oss::{self, OssSigning};
use crate::cloud::rpc::{Client, Method, RpcSignature, Service};
use crate::cloud::settings::{self, Endpoints};
use crate::cloud::{ram, session};
use crate::error::Result;
use crate::import::data_disks::DataDisk;
use crate::import::prepare::UNKNOWN_TOKEN;
use crate::import::report::{DryRunSigning, ImportDoc, RequestPreview, Signatures};
use crate::plan::Plan;

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
        let mut doc = ImportDoc::planned(plan, data);
        doc.requests = reqs
            .iter()
            .map(|(act, p)| RequestPreview::new(act, p))
            .collect();
        doc.dry_run_signing = Some(DryRunSigning {
            signatures: Signatures {
                rpc: if sig == RpcSignature::V3 { "v3" } else { "v1" },
                oss: if matches!(signing, OssSigning::V4 { .. }) {
                    "v4"
                } else {
                    "v1"
                },
            },
            oss_canonical_request: oss_canonical,
        });
        print_json(&doc.to_json());
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
