//! `imgtool import`'s arguments.

use std::path::PathBuf;

use clap::builder::PossibleValue;

use crate::plan::{ApiName, ImageFormat};

/// Where to send requests and with which credentials; shared by `import` and `task`.
#[derive(Debug, Clone, clap::Args)]
pub struct CloudArgs {
    /// Profile of ~/.aliyun/config.json to use (otherwise: environment, then the
    /// config's current profile). There is no flag for the secret on purpose.
    #[arg(long)]
    pub profile: Option<String>,
    /// ECS endpoint [default: https://ecs.<region>.aliyuncs.com; env IMGTOOL_ECS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub ecs_endpoint: Option<String>,
    /// RAM endpoint [default: https://ram.aliyuncs.com; env IMGTOOL_RAM_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub ram_endpoint: Option<String>,
    /// RPC signature for ECS, RAM and STS: v3 (ACS3-HMAC-SHA256) or v1 (HMAC-SHA1, for old
    /// private deployments) [default: v3; env IMGTOOL_RPC_SIGNATURE]
    #[arg(long, value_name = "VERSION")]
    pub rpc_signature: Option<String>,
    /// Accept plain http:// endpoints on other machines (signed requests then travel
    /// unencrypted); http:// to this machine (localhost, 127.0.0.0/8, [::1]) needs no flag
    #[arg(long)]
    pub allow_http: bool,
    /// Log every HTTP request on stderr: method, URL without its query, status, time
    /// (never a secret: no query, no header, no body)
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  imgtool import disk.vhd --region cn-hangzhou --dry-run      what would be sent, nothing sent
  imgtool import disk.qcow2 --region cn-hangzhou --image-name web-1
  imgtool import disk.raw --region cn-hangzhou --no-wait --json | jq -r .task_id")]
pub struct Args {
    /// The image file (RAW or VHD)
    pub image: PathBuf,
    /// Region of the bucket and of the new image [default: from the credentials' source]
    #[arg(long)]
    pub region: Option<String>,
    /// OSS bucket holding (or to hold) the image [default: imgtool-<account id>-<region>,
    /// created private if missing]
    #[arg(long)]
    pub bucket: Option<String>,
    /// OSS object key [default: imgtool/<file name>; .raw when a VHD goes up as RAW]
    #[arg(long)]
    pub object: Option<String>,
    /// Format given to ImportImage: vhd uploads a VHD as it is (default for one file), raw
    /// converts it while uploading (default, and the only choice, for a differencing chain),
    /// qcow2 uploads a self-contained qcow2 as it is
    #[arg(long, value_enum)]
    pub format: Option<ImageFormat>,
    /// Multipart part size in bytes, or with K, M, G (KiB...) [default: 64M, grown to stay
    /// within 10000 parts]
    #[arg(long, value_name = "SIZE", value_parser = parse_part_size)]
    pub part_size: Option<u64>,
    /// Parts in flight [default: min(8, 2 x cores)]; memory is about this times the part size
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: Option<u16>,
    /// Abort an earlier unfinished upload of this image and start again
    #[arg(long, conflicts_with = "skip_upload")]
    pub restart: bool,
    /// Delete the OSS object once the image is Available
    #[arg(long, conflicts_with = "no_wait")]
    pub delete_object: bool,
    /// OSS endpoint [default: https://oss-<region>.aliyuncs.com; env IMGTOOL_OSS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub oss_endpoint: Option<String>,
    /// OSS signature: v4 (OSS4-HMAC-SHA256) or v1 (old private deployments)
    /// [default: v4; env IMGTOOL_OSS_SIGNATURE]
    #[arg(long, value_name = "VERSION")]
    pub oss_signature: Option<String>,
    /// Use oss-<region>-internal.aliyuncs.com (from an ECS instance in the region)
    #[arg(long, conflicts_with = "oss_endpoint")]
    pub oss_internal: bool,
    /// STS endpoint, asked for the account id [default: https://sts.aliyuncs.com;
    /// env IMGTOOL_STS_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub sts_endpoint: Option<String>,
    /// DiskImageSize: the smallest whole GiB holding the disk and its file systems (the default)
    #[arg(long, conflicts_with = "disk_image_size")]
    pub auto_size: bool,
    /// DiskImageSize in GiB; refused below what the image needs
    #[arg(long, value_name = "GIB")]
    pub disk_image_size: Option<u64>,
    /// [default: from the file name, made to fit the API's rules]
    #[arg(long)]
    pub image_name: Option<String>,
    /// i386, x86_64, arm64 [default: detected, else x86_64]
    #[arg(long)]
    pub architecture: Option<String>,
    /// linux, windows [default: detected, else linux]
    #[arg(long)]
    pub os_type: Option<String>,
    /// e.g. Ubuntu, "Rocky Linux", "Windows Server 2022" [default: detected, else Others Linux]
    #[arg(long)]
    pub platform: Option<String>,
    /// BIOS, UEFI [default: detected, else BIOS; UEFI for arm64]
    #[arg(long)]
    pub boot_mode: Option<String>,
    /// Aliyun, BYOL (Windows)
    #[arg(long)]
    pub license_type: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Idempotency token [default: derived from region, bucket, object, name and the image]
    #[arg(long)]
    pub client_token: Option<String>,
    /// The object is already in the bucket: do not upload
    #[arg(long)]
    pub skip_upload: bool,
    /// Print the plan and the exact requests; send nothing
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: send ImportImage with DryRun=true, so the service checks the request
    /// (permissions, bucket, object, role) without importing; asks STS for the account id
    #[arg(long, requires = "dry_run")]
    pub remote_check: bool,
    /// Create the RAM role AliyunECSImageImportDefaultRole if it is missing
    #[arg(long)]
    pub create_role: bool,
    /// Return once ImportImage accepted the import
    #[arg(long, conflicts_with = "timeout")]
    pub no_wait: bool,
    /// Stop following after this many seconds (the import goes on in the cloud)
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    #[arg(long)]
    pub json: bool,
    #[arg(long, short)]
    pub quiet: bool,
    /// Go ahead where imgtool would refuse: flags that contradict what was detected in the
    /// image, a region missing from imgtool's list of known regions (one newer than this
    /// release), readiness errors found in the image
    #[arg(long)]
    pub force: bool,
    /// Features.NvmeSupport: supported, unsupported
    #[arg(long, value_name = "SUPPORT")]
    pub nvme: Option<String>,
    /// Features.ImdsSupport: v1 (the service's default), v2 (token-only metadata access)
    #[arg(long, value_name = "VERSION")]
    pub imds: Option<String>,
    /// ResourceGroupId of the new image (rg-...)
    #[arg(long, value_name = "ID")]
    pub resource_group: Option<String>,
    /// Tag the image (repeatable, at most 20): KEY=VALUE; no acs: or aliyun prefix
    #[arg(long, value_name = "KEY=VALUE")]
    pub tag: Vec<String>,
    /// DetectionStrategy=Standard: the service checks the image after import
    #[arg(long)]
    pub detect: bool,
    /// A data disk image (repeatable, at most 16): inspected, sized and uploaded like the
    /// system disk (object imgtool/<file name>), sent as DiskDeviceMapping.2..17
    #[arg(long, value_name = "FILE")]
    pub data_disk: Vec<PathBuf>,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// `--format raw|vhd|qcow2`: clap parses the word into the ImportImage format (the same
/// words, help and refusal as a list of strings would give).
impl clap::ValueEnum for ImageFormat {
    fn value_variants<'a>() -> &'a [Self] {
        <ImageFormat as ApiName>::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.flag_name()))
    }
}

/// `--part-size`: a size OSS takes for a multipart part (100 KiB to 5 GiB), refused here so
/// that the dry run and the real run refuse the same values.
fn parse_part_size(s: &str) -> std::result::Result<u64, String> {
    use crate::cloud::upload::{MAX_PART, MIN_PART};
    let n = parse_size(s)?;
    if (MIN_PART..=MAX_PART).contains(&n) {
        return Ok(n);
    }
    Err(format!(
        "{n} bytes is outside the OSS part size range: 100K ({MIN_PART} bytes) to 5G \
         ({MAX_PART} bytes), at most 10000 parts (a larger part size is chosen for large \
         images)"
    ))
}

/// `1048576`, `100K`, `64M`, `1G` (binary units).
pub(super) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 64M)"))
}
