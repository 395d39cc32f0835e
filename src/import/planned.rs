//! What [`super::prepare`] hands to [`super::run`], in two parts: the [`ImportPlan`] (what
//! will be done: values only, no open file) and the [`Opened`] images (each file opened
//! once; the identity in the plan and the bytes uploaded come from these open files).

use std::path::PathBuf;

use super::data_disks::DataDisk;
use super::request::Endpoints as Asked;
use crate::cloud::settings::Endpoints;
use crate::image::Image;
use crate::plan::{ImageFacts, Plan};

/// An import decided and checked.
#[derive(Debug, Clone)]
pub struct ImportPlan {
    /// The ImportImage call, exactly as sent (data disks and options included).
    pub import_image: Plan,
    /// The system disk: its format, sizes, identity and how its bytes go up.
    pub facts: ImageFacts,
    /// The data disks, in the order of `DiskDeviceMapping.2..`.
    pub data: Vec<DataDisk>,
    pub region: String,
    /// The ECS and RAM endpoints.
    pub endpoints: Endpoints,
    /// The endpoints as the caller gave them (OSS's is resolved when the run starts).
    pub asked: Asked,
    /// `v1` or `v3`, as the caller gave it; `None`: the default.
    pub rpc_signature: Option<String>,
    /// `v1` or `v4`, as the caller gave it; `None`: the default.
    pub oss_signature: Option<String>,
    /// Whether the bucket is imgtool's default (then it may be created).
    pub bucket_defaulted: bool,
    pub options: RunOptions,
}

/// How to run: the steps to take or skip, and the upload's settings.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Create the RAM role when it is missing.
    pub create_role: bool,
    /// The objects are already in OSS: no bucket step, no upload.
    pub skip_upload: bool,
    /// Return once ImportImage accepted the request.
    pub no_wait: bool,
    /// Stop following after this many seconds.
    pub timeout: Option<u64>,
    /// Delete the object once the image is Available.
    pub delete_object: bool,
    /// Read the service's image check once the image is Available.
    pub detect: bool,
    pub part_size: Option<u64>,
    pub parallel: Option<usize>,
    /// Upload everything again, ignoring a resume record.
    pub restart: bool,
    /// Where resume records live; `None`: `$XDG_CACHE_HOME` or `~/.cache`, `imgtool/uploads`.
    pub state_dir: Option<PathBuf>,
}

/// The images of an import, each opened once.
pub struct Opened {
    /// The system disk.
    pub system: Image,
    /// The data disks, in the order of [`ImportPlan::data`].
    pub data: Vec<Image>,
}
