//! What a caller asks of an import: the files, the choices it made (every one optional: the
//! library decides the rest and says so), and how to run. The CLI fills it from its flags.

use std::path::PathBuf;

pub use crate::plan::Choices;
use crate::plan::ImageFormat;
use crate::plan::options::Options;

/// Where the services are, when not the region's public endpoints.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub ecs: Option<String>,
    pub ram: Option<String>,
    pub sts: Option<String>,
    pub oss: Option<String>,
    /// The region's OSS endpoint inside Alibaba Cloud (`oss-<region>-internal`).
    pub oss_internal: bool,
    /// Allow `http://` endpoints (tests, private deployments).
    pub allow_http: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub image: PathBuf,
    pub data_disks: Vec<PathBuf>,
    /// What to send instead of the library's choice (`--format raw|vhd|qcow2`).
    pub format: Option<ImageFormat>,
    pub region: Option<String>,
    pub bucket: Option<String>,
    pub object: Option<String>,
    /// A profile of `~/.aliyun/config.json`.
    pub profile: Option<String>,
    pub endpoints: Endpoints,
    pub rpc_signature: Option<String>,
    pub oss_signature: Option<String>,
    /// The ImportImage parameters the caller chose, typed (see [`crate::plan::asked`]).
    pub choices: Choices,
    /// NvmeSupport, ImdsSupport, resource group, tags, DetectionStrategy.
    pub options: Options,
    /// Allow what the checks would refuse: a flag against a detected fact, a newer region,
    /// readiness errors.
    pub force: bool,
    /// Plan and check only; nothing is sent unless `remote_check`.
    pub dry_run: bool,
    /// With `dry_run`: ImportImage with DryRun=true.
    pub remote_check: bool,
    pub create_role: bool,
    pub skip_upload: bool,
    pub restart: bool,
    pub part_size: Option<u64>,
    pub parallel: Option<usize>,
    /// Return once ImportImage accepted the request.
    pub no_wait: bool,
    /// Stop following after this many seconds.
    pub timeout: Option<u64>,
    /// Delete the object once the image is Available.
    pub delete_object: bool,
    /// Where resume records live; `None`: `$XDG_CACHE_HOME` or `~/.cache`, `imgtool/uploads`.
    pub state_dir: Option<PathBuf>,
}

impl Request {
    /// Whether this run sends requests: a real run, or a dry run with a remote check.
    pub fn sends(&self) -> bool {
        !self.dry_run || self.remote_check
    }
}
