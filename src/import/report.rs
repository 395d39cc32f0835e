//! The `imgtool.import/1` document (schema: docs/json.md): what an import planned, sent and
//! got back, typed, so a library user gets the document the CLI prints. Build it with
//! [`ImportDoc::planned`] (a dry run) or [`ImportDoc::finished`] (a run), print
//! [`ImportDoc::to_json`]: like every document, its keys come out sorted.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::data_disks::DataDisk;
use super::observer::Steps;
use super::pipeline::{Outcome, Uploaded};
use super::prepare::{Prepared, UNKNOWN_TOKEN};
use crate::cloud::detect::Detection;
use crate::cloud::ecs::Imported;
use crate::cloud::rpc::Preview;
use crate::cloud::upload;
use crate::plan::Plan;
use crate::plan::sent::{Bytes, Sending};

pub const SCHEMA: &str = "imgtool.import/1";

/// The whole document, its fields in the order docs/json.md lists them.
#[derive(Debug, Clone, Serialize)]
pub struct ImportDoc {
    pub schema: &'static str,
    pub dry_run: bool,
    /// The ImportImage parameters, name to value; an unknown ClientToken is `None` (null),
    /// not a string a script could take for the real one.
    pub plan: BTreeMap<String, Option<String>>,
    pub client_token_derived: bool,
    pub size_floor_gib: u64,
    pub send: SendPlan,
    pub warnings: Vec<String>,
    /// Dry run only (else empty): each request that would be sent, in order.
    pub requests: Vec<RequestPreview>,
    /// Dry run only: `signatures` and `oss_canonical_request` (absent otherwise).
    #[serde(flatten)]
    pub dry_run_signing: Option<DryRunSigning>,
    pub image_id: Option<String>,
    pub task_id: Option<String>,
    pub request_id: Option<String>,
    /// `planned`, or [`super::pipeline::Status::name`].
    pub status: &'static str,
    pub upload: Option<SystemUpload>,
    pub data_disks: Vec<DataDiskDoc>,
    pub detection: Option<Detection>,
    pub object_deleted: bool,
    /// Wall time of each step, in milliseconds.
    pub timings_ms: BTreeMap<&'static str, u64>,
}

/// What goes up, decided before anything is sent (`send`, and each data disk's).
#[derive(Debug, Clone, Serialize)]
pub struct SendPlan {
    /// `vhd-stream`, `file` or `raw`.
    #[serde(rename = "as")]
    pub sent_as: &'static str,
    /// The ImportImage Format of the object.
    pub format: &'static str,
    pub bytes_to_send: u64,
    pub file_size: u64,
    pub virtual_size: u64,
    pub why: String,
}

/// One request a dry run would send, as it would be signed (secrets redacted).
#[derive(Debug, Clone, Serialize)]
pub struct RequestPreview {
    pub action: &'static str,
    pub method: &'static str,
    pub url: String,
    pub params: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub canonical_request: Option<String>,
}

/// The signature versions a dry run's requests would carry.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunSigning {
    pub signatures: Signatures,
    /// The OSS V4 canonical request of the upload's first call; `None` (null) with V1 or
    /// without an upload.
    pub oss_canonical_request: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Signatures {
    /// `v3` or `v1`.
    pub rpc: &'static str,
    /// `v4` or `v1`.
    pub oss: &'static str,
}

/// What the upload of one object did: each data disk's `upload`, and the heart of the
/// system disk's.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectUpload {
    pub object_size: u64,
    /// The object's CRC-64/XZ, printed as a decimal string: it may exceed 2^53, where JSON
    /// readers lose digits.
    #[serde(serialize_with = "decimal")]
    pub crc64: u64,
    pub parts: u32,
    pub resumed_parts: u32,
    pub sent_bytes: u64,
    pub already_there: bool,
}

/// The system disk's `upload`: where the object is, what its upload did, and how it went up.
#[derive(Debug, Clone, Serialize)]
pub struct SystemUpload {
    pub bucket: String,
    pub object: String,
    #[serde(flatten)]
    pub object_upload: ObjectUpload,
    pub bucket_created: bool,
    pub converted_to_raw: bool,
    pub sent_as: &'static str,
}

/// One `data_disks` entry: where the disk goes and, once uploaded, what the upload did.
#[derive(Debug, Clone, Serialize)]
pub struct DataDiskDoc {
    pub file: String,
    /// The N of DiskDeviceMapping.N (2..17).
    pub device: usize,
    pub format: &'static str,
    pub object: String,
    pub disk_image_size_gib: u64,
    pub converted_to_raw: bool,
    pub send: SendPlan,
    pub upload: Option<ObjectUpload>,
}

fn decimal<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl ImportDoc {
    /// A dry run's document: the plan and the data disks, nothing sent. The request previews
    /// and the signing are the caller's to add (`requests`, `dry_run_signing`).
    pub fn planned(plan: &Plan, data: &[DataDisk]) -> Self {
        let mut doc = Self::base(plan, true, "planned", None);
        doc.data_disks = data_disks(data, None);
        doc
    }

    /// The document of a run that ended with `out`.
    pub fn finished(p: &Prepared, out: &Outcome) -> Self {
        let mut doc = Self::base(
            &p.plan.import_image,
            false,
            out.status.name(),
            Some(&out.imported),
        );
        let up = out.uploaded.as_ref();
        doc.upload = up.map(|u| SystemUpload::new(&p.plan.import_image, u));
        doc.data_disks = data_disks(&p.plan.data, up.map(|u| u.data.as_slice()));
        doc.detection = out.detection.clone();
        doc.object_deleted = out.object_deleted;
        doc.timings_ms = timings(&p.steps, &out.steps);
        doc
    }

    fn base(plan: &Plan, dry_run: bool, status: &'static str, imported: Option<&Imported>) -> Self {
        let token = |v: String| (v != UNKNOWN_TOKEN).then_some(v);
        ImportDoc {
            schema: SCHEMA,
            dry_run,
            plan: plan
                .params()
                .into_iter()
                .map(|(k, v)| (k, token(v)))
                .collect(),
            client_token_derived: plan.client_token_derived,
            size_floor_gib: plan.size_floor,
            send: SendPlan::new(&plan.sending, plan.format.api_name()),
            warnings: plan.warnings.clone(),
            requests: Vec::new(),
            dry_run_signing: None,
            image_id: imported.map(|i| i.image_id.clone()),
            task_id: imported.map(|i| i.task_id.clone()),
            request_id: imported.map(|i| i.request_id.clone()),
            status,
            upload: None,
            data_disks: Vec::new(),
            detection: None,
            object_deleted: false,
            timings_ms: BTreeMap::new(),
        }
    }

    /// The document as JSON, as the CLI prints it (keys sorted).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl SendPlan {
    pub fn new(s: &Sending, format: &'static str) -> Self {
        SendPlan {
            sent_as: s.bytes.name(),
            format,
            bytes_to_send: s.object_size,
            file_size: s.file_size,
            virtual_size: s.virtual_size,
            why: s.why.clone(),
        }
    }
}

impl RequestPreview {
    pub fn new(action: &'static str, p: &Preview) -> Self {
        RequestPreview {
            action,
            method: p.method,
            url: p.url.clone(),
            params: p.params.iter().cloned().collect(),
            headers: p.headers.iter().cloned().collect(),
            canonical_request: p.canonical_request.clone(),
        }
    }
}

impl From<&upload::Outcome> for ObjectUpload {
    fn from(o: &upload::Outcome) -> Self {
        ObjectUpload {
            object_size: o.size,
            crc64: o.crc64,
            parts: o.parts,
            resumed_parts: o.resumed_parts,
            sent_bytes: o.sent_bytes,
            already_there: o.already_there,
        }
    }
}

impl SystemUpload {
    pub fn new(plan: &Plan, u: &Uploaded) -> Self {
        SystemUpload {
            bucket: plan.oss_bucket.clone(),
            object: plan.oss_object.clone(),
            object_upload: ObjectUpload::from(&u.outcome),
            bucket_created: u.bucket_created,
            converted_to_raw: u.sending.bytes == Bytes::Raw,
            sent_as: u.sending.bytes.name(),
        }
    }
}

/// One entry per data disk, with its upload's outcome when there is one.
fn data_disks(data: &[DataDisk], uploads: Option<&[upload::Outcome]>) -> Vec<DataDiskDoc> {
    data.iter()
        .enumerate()
        .map(|(i, d)| {
            let format = d.facts.format.api_name();
            DataDiskDoc {
                file: d.path.display().to_string(),
                device: i + 2,
                format,
                object: d.object.clone(),
                disk_image_size_gib: d.disk_image_size,
                converted_to_raw: d.facts.sending.bytes == Bytes::Raw,
                send: SendPlan::new(&d.facts.sending, format),
                upload: uploads.and_then(|u| u.get(i)).map(ObjectUpload::from),
            }
        })
        .collect()
}

/// The plan's steps, then the run's; a step timed twice keeps its last time.
fn timings(plan: &Steps, run: &Steps) -> BTreeMap<&'static str, u64> {
    plan.0
        .iter()
        .chain(&run.0)
        .map(|&(k, v)| (k, u64::try_from(v).unwrap_or(u64::MAX)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::cloud::detect::Item;

    /// A document with every optional part present, so every key it can print is printed.
    fn full() -> ImportDoc {
        let send = SendPlan {
            sent_as: "vhd-stream",
            format: "VHD",
            bytes_to_send: 3,
            file_size: 4,
            virtual_size: 5,
            why: "smaller".into(),
        };
        // Above 2^53: a JSON number would lose digits.
        let object_upload = ObjectUpload {
            object_size: 6,
            crc64: u64::MAX - 1,
            parts: 2,
            resumed_parts: 1,
            sent_bytes: 7,
            already_there: false,
        };
        ImportDoc {
            schema: SCHEMA,
            dry_run: true,
            plan: [("ClientToken".to_string(), None)].into(),
            client_token_derived: true,
            size_floor_gib: 1,
            send: send.clone(),
            warnings: vec!["w".into()],
            requests: vec![RequestPreview {
                action: "GetRole",
                method: "GET",
                url: "https://ram.aliyuncs.com/".into(),
                params: [("RoleName".to_string(), "r".to_string())].into(),
                headers: [("x-acs-date".to_string(), "d".to_string())].into(),
                canonical_request: None,
            }],
            dry_run_signing: Some(DryRunSigning {
                signatures: Signatures {
                    rpc: "v3",
                    oss: "v4",
                },
                oss_canonical_request: None,
            }),
            image_id: Some("m-1".into()),
            task_id: Some("t-1".into()),
            request_id: Some("r-1".into()),
            status: "Available",
            upload: Some(SystemUpload {
                bucket: "b".into(),
                object: "o".into(),
                object_upload: object_upload.clone(),
                bucket_created: true,
                converted_to_raw: false,
                sent_as: "vhd-stream",
            }),
            data_disks: vec![DataDiskDoc {
                file: "d.raw".into(),
                device: 2,
                format: "RAW",
                object: "imgtool/d.raw".into(),
                disk_image_size_gib: 1,
                converted_to_raw: false,
                send,
                upload: Some(object_upload),
            }],
            detection: Some(Detection {
                status: "Finished".into(),
                items: vec![Item::default()],
            }),
            object_deleted: true,
            timings_ms: [("upload", 8)].into(),
        }
    }

    fn key_paths(v: &Value, at: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(p.clone());
                    key_paths(v, &p, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| key_paths(v, &format!("{at}[]"), out)),
            _ => {}
        }
    }

    /// The ` ```keys import ` block of docs/json.md.
    fn documented() -> BTreeSet<String> {
        let doc = include_str!("../../docs/json.md");
        let block = doc.split("```keys import\n").nth(1).unwrap_or_default();
        let block = block.split("```").next().unwrap_or_default();
        block.lines().map(str::to_string).collect()
    }

    /// `plan.*`, `requests[].params.*`: a map whose keys are data.
    fn covers(doc: &BTreeSet<String>, path: &str) -> bool {
        doc.contains(path)
            || doc.iter().any(|d| {
                d.strip_suffix('*')
                    .is_some_and(|pre| path.strip_prefix(pre).is_some_and(|k| !k.contains('.')))
            })
    }

    #[test]
    fn every_key_is_documented_and_every_documented_key_printed() {
        let mut printed = BTreeSet::new();
        key_paths(&full().to_json(), "", &mut printed);
        let doc = documented();
        assert!(doc.len() > 50, "the key index was found: {doc:?}");
        for p in &printed {
            assert!(covers(&doc, p), "{p} is printed but not in docs/json.md");
        }
        // The step names are the pipeline's; the rest a full document prints.
        for d in doc.iter().filter(|d| !d.starts_with("timings_ms.")) {
            let printed = match d.strip_suffix(".*") {
                Some(map) => printed.iter().any(|p| p.starts_with(&format!("{map}."))),
                None => printed.contains(d),
            };
            assert!(printed, "{d} is documented but never printed");
        }
    }

    #[test]
    fn values_keep_their_json_shape() {
        let v = full().to_json();
        assert_eq!(v["schema"], "imgtool.import/1");
        assert_eq!(v["upload"]["crc64"], (u64::MAX - 1).to_string());
        assert_eq!(
            v["data_disks"][0]["upload"]["crc64"],
            (u64::MAX - 1).to_string()
        );
        assert_eq!(v["send"]["as"], "vhd-stream");
        assert!(v["plan"]["ClientToken"].is_null());
        assert!(v["oss_canonical_request"].is_null());
        assert_eq!(v["signatures"]["rpc"], "v3");
        // The system disk's upload carries the object upload's fields at its own level.
        assert_eq!(v["upload"]["resumed_parts"], 1);
        assert!(v["upload"].get("object_upload").is_none());

        // Not a dry run: no `signatures`, no `oss_canonical_request` at all; the rest null.
        let mut run = full();
        run.dry_run_signing = None;
        run.upload = None;
        run.detection = None;
        run.image_id = None;
        let v = run.to_json();
        let o = v.as_object().unwrap();
        assert!(!o.contains_key("signatures") && !o.contains_key("oss_canonical_request"));
        for k in ["upload", "detection", "image_id"] {
            assert!(o[k].is_null(), "{k}: {v}");
        }
    }
}
