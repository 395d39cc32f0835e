//! The import plan: image facts plus flags in, a validated `ImportImage` parameter set out.
//! Every documented rule is checked here, before any request is sent, and each error names
//! the API error code the server would have answered with, so a user can look it up.

use std::path::PathBuf;

use sha1::{Digest, Sha1};

use super::choices::Choices;
pub use super::names::{
    check_bucket, check_description, check_image_name, check_object, check_region,
};
use super::names::{is_chinese, name_char_ok, reserved_prefix, usage};
use super::sent::Sending;
use super::size::{MAX_DISK_GIB, MIN_DISK_GIB, WARN_DISK_GIB, gib_holding};
use super::vocab::{
    ApiName, Architecture, BootMode, Detected, ImageFormat, LicenseType, OsType, Platform,
};
use crate::disk::Fact;
use crate::error::{Error, Result};

/// What inspection knows about the image, each fact with its evidence or why it is unknown.
/// A detected value is the API's ([`super::reading`] maps what the disk showed), or a name
/// the API does not list ([`Detected::Other`]): an unlisted platform falls back to the
/// default with a warning, any other unlisted value is refused without a flag and `--force`.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub path: PathBuf,
    pub format: ImageFormat,
    /// The virtual disk size in bytes.
    pub virtual_size: u64,
    /// Bytes the partitions and file systems need (end of the last one), if known.
    pub min_size: Fact<u64>,
    pub architecture: Fact<Detected<Architecture>>,
    pub os_type: Fact<Detected<OsType>>,
    pub platform: Fact<Detected<Platform>>,
    pub boot_mode: Fact<Detected<BootMode>>,
    /// Identifies this exact image for the default ClientToken (e.g. "size=..;mtime=..").
    pub identity: String,
    /// What goes up and its size.
    pub sending: Sending,
}

/// What the user asked for: the ImportImage [`Choices`] (each `None` means "detected, else
/// the API's default") and where the image goes.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub region: String,
    pub bucket: String,
    /// Defaults to the image's file name.
    pub object: Option<String>,
    pub choices: Choices,
    /// Allow a flag to contradict a detected fact.
    pub force: bool,
    /// Checked parameters from [`super::options::params`], sent as they are.
    pub extra: Vec<(String, String)>,
}

/// A validated ImportImage request, minus the transport parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub region_id: String,
    pub image_name: String,
    pub description: Option<String>,
    pub architecture: Architecture,
    pub os_type: OsType,
    pub platform: Platform,
    pub boot_mode: BootMode,
    pub license_type: Option<LicenseType>,
    pub format: ImageFormat,
    pub oss_bucket: String,
    pub oss_object: String,
    /// GiB.
    pub disk_image_size: u64,
    /// The smallest DiskImageSize that holds the disk, GiB.
    pub size_floor: u64,
    /// What goes up and its size.
    pub sending: Sending,
    pub client_token: String,
    /// True when the ClientToken was derived rather than given.
    pub client_token_derived: bool,
    /// Features, ResourceGroupId, Tag.N, DetectionStrategy (see `options`).
    pub extra: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// The ImportImage parameters, in a stable order.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut p: Vec<(&str, String)> = vec![
            ("RegionId", self.region_id.clone()),
            ("ImageName", self.image_name.clone()),
        ];
        if let Some(d) = &self.description {
            p.push(("Description", d.clone()));
        }
        p.push(("Architecture", self.architecture.to_string()));
        p.push(("OSType", self.os_type.to_string()));
        p.push(("Platform", self.platform.to_string()));
        p.push(("BootMode", self.boot_mode.to_string()));
        if let Some(l) = self.license_type {
            p.push(("LicenseType", l.to_string()));
        }
        p.push(("DiskDeviceMapping.1.Format", self.format.api_name().into()));
        p.push(("DiskDeviceMapping.1.OSSBucket", self.oss_bucket.clone()));
        p.push(("DiskDeviceMapping.1.OSSObject", self.oss_object.clone()));
        p.push((
            "DiskDeviceMapping.1.DiskImageSize",
            self.disk_image_size.to_string(),
        ));
        let mut p: Vec<(String, String)> = p.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        p.extend(self.extra.iter().cloned());
        p.push(("ClientToken".into(), self.client_token.clone()));
        p
    }
}

/// Build and validate the plan. Nothing is sent; any rule broken is an `Error::Usage`.
pub fn build(facts: &ImageFacts, flags: &Flags) -> Result<Plan> {
    let mut warnings = Vec::new();
    let chosen = &flags.choices;
    let region_id = check_region(&flags.region)?;
    let oss_bucket = check_bucket(&flags.bucket)?;
    let oss_object = match &flags.object {
        Some(o) => check_object(o)?,
        None => check_object(&default_object(facts))?,
    };
    let image_name = match &chosen.image_name {
        Some(n) => check_image_name(n)?,
        None => check_image_name(&derive_image_name(facts))?,
    };
    let description = chosen
        .description
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(check_description)
        .transpose()?;
    let guest = choose_guest(facts, flags, &mut warnings)?;
    let size_floor = size_floor_gib(facts)?;
    let disk_image_size = check_disk_size(chosen.disk_image_size, size_floor, facts)?;
    if disk_image_size > WARN_DISK_GIB {
        warnings.push(format!(
            "DiskImageSize {disk_image_size} GiB is above {WARN_DISK_GIB} GiB, the limit in older \
             documentation and the console; some regions may answer InvalidImageSize"
        ));
    }
    let (client_token, client_token_derived) = match &chosen.client_token {
        Some(t) => (check_client_token(t)?, false),
        None => (
            derive_client_token(
                &region_id,
                &oss_bucket,
                &oss_object,
                &image_name,
                // Other options make another request: another token.
                &if flags.extra.is_empty() {
                    facts.identity.clone()
                } else {
                    format!("{};{:?}", facts.identity, flags.extra)
                },
            ),
            true,
        ),
    };
    Ok(Plan {
        region_id,
        image_name,
        description,
        architecture: guest.architecture,
        os_type: guest.os_type,
        platform: guest.platform,
        boot_mode: guest.boot_mode,
        license_type: guest.license_type,
        format: facts.format,
        oss_bucket,
        oss_object,
        disk_image_size,
        size_floor,
        sending: facts.sending.clone(),
        client_token,
        client_token_derived,
        extra: flags.extra.clone(),
        warnings,
    })
}

/// The guest-describing parameters, chosen and checked together.
struct Guest {
    architecture: Architecture,
    os_type: OsType,
    platform: Platform,
    boot_mode: BootMode,
    license_type: Option<LicenseType>,
}

fn choose_guest(facts: &ImageFacts, flags: &Flags, warnings: &mut Vec<String>) -> Result<Guest> {
    let force = flags.force;
    let chosen = &flags.choices;
    let refuse = Unlisted::Refuse;
    let architecture = choose(
        chosen.architecture,
        &facts.architecture,
        refuse,
        force,
        warnings,
    )?
    .unwrap_or(Architecture::X86_64);
    let os_type =
        choose(chosen.os_type, &facts.os_type, refuse, force, warnings)?.unwrap_or(OsType::Linux);
    let platform = choose(
        chosen.platform,
        &facts.platform,
        Unlisted::Default,
        force,
        warnings,
    )?
    .unwrap_or_else(|| os_type.default_platform());
    let boot_mode = choose(chosen.boot_mode, &facts.boot_mode, refuse, force, warnings)?
        .unwrap_or_else(|| architecture.default_boot_mode());
    let license_type = choose(
        chosen.license_type,
        &Fact::unknown("not detected"),
        refuse,
        force,
        warnings,
    )?;
    check_arch_boot(architecture, boot_mode)?;
    check_platform_os(platform, os_type)?;
    if license_type.is_some() && os_type != OsType::Windows {
        warnings.push("LicenseType applies to Windows images only; the API may ignore it".into());
    }
    Ok(Guest {
        architecture,
        os_type,
        platform,
        boot_mode,
        license_type,
    })
}

fn default_object(facts: &ImageFacts) -> String {
    facts
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A default image name from the file name: the stem, disallowed characters turned into
/// `-`, prefixed with `img-` when it would not start with a letter or starts with a
/// reserved prefix, cut to 128 characters.
pub fn derive_image_name(facts: &ImageFacts) -> String {
    let stem = facts
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| if name_char_ok(c) { c } else { '-' })
        .collect();
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || is_chinese(c));
    if !first_ok || reserved_prefix(&name).is_some() || name.chars().count() < 2 {
        name = format!("img-{name}");
    }
    name.chars().take(128).collect()
}

/// What a detected value the API does not list means when no flag is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unlisted {
    /// An unlisted platform ("Arch Linux") is fine as the default, with a warning.
    Default,
    /// An unlisted architecture (riscv64) or boot mode cannot be imported as something else
    /// silently: refused without a flag and `--force`.
    Refuse,
}

/// Pick a value: the flag (checked against the detected fact), else the detected fact, else
/// `None` for the caller's default.
fn choose<T: ApiName + std::fmt::Display>(
    flag: Option<T>,
    fact: &Fact<Detected<T>>,
    unlisted: Unlisted,
    force: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<T>> {
    let field = T::FIELD;
    let Some(value) = &fact.value else {
        return Ok(flag);
    };
    let seen = format!("the image looks like {value} ({})", fact.because);
    match (flag, value.api()) {
        (None, Some(d)) => Ok(Some(d)),
        (None, None) if unlisted == Unlisted::Default => {
            warnings.push(format!("{seen}, not an API {field}; using the default"));
            Ok(None)
        }
        (None, None) => Err(Error::Usage(format!(
            "{seen}, which ECS cannot import as any {field}; pass --{} and --force to import anyway",
            T::FLAG
        ))),
        (Some(v), Some(d)) if v == d => Ok(Some(v)),
        (Some(v), _) if force => {
            warnings.push(format!(
                "{field} {v} contradicts what {seen}; continuing because of --force"
            ));
            Ok(Some(v))
        }
        (Some(v), _) => Err(Error::Usage(format!(
            "{field} {v} contradicts what {seen}; pass --force to import anyway"
        ))),
    }
}

pub fn check_arch_boot(arch: Architecture, boot: BootMode) -> Result<()> {
    if arch == Architecture::Arm64 && boot != BootMode::Uefi {
        return Err(usage(
            "InvalidBootMode.Malformed",
            format!("Architecture arm64 allows only BootMode UEFI, not {boot}"),
        ));
    }
    Ok(())
}

fn check_platform_os(platform: Platform, os_type: OsType) -> Result<()> {
    if platform.os_type() != os_type {
        // Not a documented API rule, so no error code is claimed; the pair can only produce
        // an image that boots the wrong way.
        return Err(Error::Usage(format!(
            "Platform {platform} does not go with OSType {os_type}"
        )));
    }
    Ok(())
}

/// The smallest whole number of GiB holding both the virtual disk and what its file
/// systems need: the DiskImageSize floor of every disk, system or data.
pub fn size_floor_gib(facts: &ImageFacts) -> Result<u64> {
    let need = facts
        .min_size
        .value
        .map_or(facts.virtual_size, |m| m.max(facts.virtual_size));
    Ok(gib_holding(need).max(MIN_DISK_GIB))
}

fn check_disk_size(asked: Option<u64>, floor: u64, facts: &ImageFacts) -> Result<u64> {
    let code = "InvalidImageSize";
    let size = asked.unwrap_or(floor);
    if asked.is_some() && size < floor {
        let why = match facts.min_size.value {
            Some(m) if m > facts.virtual_size => {
                format!(
                    "the file systems need {m} bytes ({})",
                    facts.min_size.because
                )
            }
            _ => format!("the virtual disk is {} bytes", facts.virtual_size),
        };
        return Err(usage(
            code,
            format!(
                "--disk-image-size {size} GiB is below the {floor} GiB the image needs: {why}; \
             a smaller system disk cuts the file system and the instance does not boot"
            ),
        ));
    }
    if !(MIN_DISK_GIB..=MAX_DISK_GIB).contains(&size) {
        return Err(usage(
            code,
            format!("DiskImageSize {size} GiB is outside {MIN_DISK_GIB}..{MAX_DISK_GIB} GiB"),
        ));
    }
    Ok(size)
}

pub fn check_client_token(t: &str) -> Result<String> {
    if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(usage(
            "InvalidClientToken.Malformed",
            "ClientToken must be 1..64 printable ASCII characters",
        ));
    }
    Ok(t.to_string())
}

/// A token fixed by what the import is: re-running the same import sends the same token,
/// and the API answers with the first ImageId instead of creating a second image.
pub fn derive_client_token(
    region: &str,
    bucket: &str,
    object: &str,
    name: &str,
    identity: &str,
) -> String {
    let mut h = Sha1::new();
    for part in ["imgtool-import-v1", region, bucket, object, name, identity] {
        h.update(part.as_bytes());
        // A separator that cannot appear in the parts keeps ("ab","c") apart from ("a","bc").
        h.update([0u8]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("imgtool-{}", &hex[..32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::choices::asked;
    use crate::plan::size::GIB;

    fn facts() -> ImageFacts {
        ImageFacts {
            path: PathBuf::from("/images/web server.raw"),
            format: ImageFormat::Raw,
            virtual_size: 10 * GIB + 1,
            min_size: Fact::unknown("not inspected"),
            architecture: Fact::unknown("not inspected"),
            os_type: Fact::unknown("not inspected"),
            platform: Fact::unknown("not inspected"),
            boot_mode: Fact::unknown("not inspected"),
            identity: "size=1;mtime=2".into(),
            sending: Sending::plain(
                super::super::sent::Bytes::File,
                10 * GIB + 1,
                10 * GIB + 1,
                "the file is RAW".into(),
            ),
        }
    }

    fn flags() -> Flags {
        Flags {
            region: "cn-hangzhou".into(),
            bucket: "my-bucket".into(),
            ..Flags::default()
        }
    }

    fn err(f: &ImageFacts, fl: &Flags) -> String {
        build(f, fl).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_params() {
        let p = build(&facts(), &flags()).unwrap();
        assert_eq!(p.image_name, "web-server");
        assert_eq!(p.oss_object, "web server.raw");
        assert_eq!(p.disk_image_size, 11, "10 GiB + 1 byte rounds up");
        assert_eq!(
            (p.architecture.api_name(), p.os_type.api_name()),
            ("x86_64", "linux")
        );
        assert_eq!(
            (p.platform.api_name(), p.boot_mode.api_name()),
            ("Others Linux", "BIOS")
        );
        let params = p.params();
        assert!(params.contains(&("DiskDeviceMapping.1.Format".into(), "RAW".into())));
        assert!(params.contains(&("DiskDeviceMapping.1.DiskImageSize".into(), "11".into())));
        assert!(p.client_token.len() <= 64 && p.client_token_derived);
    }

    #[test]
    fn image_name_rules() {
        for good in ["ab", "Web-1.2:x_y", "镜像-ubuntu", &"a".repeat(128)] {
            assert!(check_image_name(good).is_ok(), "{good}");
        }
        for bad in [
            "a",
            "1abc",
            "-ab",
            "web server",
            "aliyun-x",
            "AliyunX",
            "http://x",
            "https://x",
            "acs:x",
            "ab/c",
            &"a".repeat(129),
        ] {
            let e = check_image_name(bad).unwrap_err().to_string();
            assert!(e.contains("InvalidImageName.Malformed"), "{bad}: {e}");
        }
    }

    #[test]
    fn derived_names_pass_the_rules() {
        for path in [
            "/x/1.raw",
            "/x/aliyun.raw",
            "/x/a.raw",
            "/x/.raw",
            "/x/名字 1.vhd",
            "/x/http:.raw",
        ] {
            let f = ImageFacts {
                path: path.into(),
                ..facts()
            };
            let n = derive_image_name(&f);
            assert!(check_image_name(&n).is_ok(), "{path} -> {n}");
        }
    }

    #[test]
    fn description_rules() {
        assert!(check_description(&"d".repeat(256)).is_ok());
        assert!(check_description("ok").is_ok());
        for bad in ["x", "http://x", "HTTPS://x", &"d".repeat(257)] {
            assert!(
                check_description(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("InvalidDescription.Malformed")
            );
        }
    }

    #[test]
    fn enumerations() {
        let mut fl = flags();
        fl.choices.platform = Some(asked("rocky linux").unwrap());
        assert_eq!(build(&facts(), &fl).unwrap().platform, Platform::RockyLinux);
        assert!(
            asked::<Platform>("Arch")
                .unwrap_err()
                .to_string()
                .contains("InvalidPlatform.Malformed")
        );
        let mut fl = flags();
        fl.choices.os_type = Some(asked("Windows").unwrap());
        let p = build(&facts(), &fl).unwrap();
        assert_eq!(
            (p.os_type.api_name(), p.platform.api_name()),
            ("windows", "Windows Server 2022")
        );
        fl.choices.platform = Some(Platform::Ubuntu);
        assert!(err(&facts(), &fl).contains("does not go with OSType windows"));
        let mut fl = flags();
        fl.choices.license_type = Some(LicenseType::Byol);
        let p = build(&facts(), &fl).unwrap();
        assert!(p.warnings.iter().any(|w| w.contains("Windows images only")));
    }

    #[test]
    fn arm64_needs_uefi() {
        let mut fl = flags();
        fl.choices.architecture = Some(Architecture::Arm64);
        assert_eq!(build(&facts(), &fl).unwrap().boot_mode, BootMode::Uefi);
        fl.choices.boot_mode = Some(BootMode::Bios);
        assert!(err(&facts(), &fl).contains("InvalidBootMode.Malformed"));
    }

    #[test]
    fn disk_size_floor_and_range() {
        let f = ImageFacts {
            min_size: Fact::known(20 * GIB, "ext4 ends at 20 GiB"),
            ..facts()
        };
        assert_eq!(build(&f, &flags()).unwrap().disk_image_size, 20);
        let mut fl = flags();
        fl.choices.disk_image_size = Some(19);
        let e = err(&f, &fl);
        assert!(
            e.contains("19 GiB") && e.contains("20 GiB") && e.contains("InvalidImageSize"),
            "{e}"
        );
        fl.choices.disk_image_size = Some(20);
        assert!(build(&f, &fl).is_ok());
        fl.choices.disk_image_size = Some(2049);
        assert!(err(&f, &fl).contains("InvalidImageSize"));
        fl.choices.disk_image_size = Some(501);
        assert!(
            build(&f, &fl)
                .unwrap()
                .warnings
                .iter()
                .any(|w| w.contains("500"))
        );
        let tiny = ImageFacts {
            virtual_size: 512,
            ..facts()
        };
        assert_eq!(build(&tiny, &flags()).unwrap().disk_image_size, 1);
        let huge = ImageFacts {
            virtual_size: 3000 * GIB,
            ..facts()
        };
        assert!(err(&huge, &flags()).contains("InvalidImageSize"));
    }

    #[test]
    fn contradiction_needs_force() {
        let f = ImageFacts {
            architecture: Fact::known(Architecture::Arm64, "ELF e_machine"),
            ..facts()
        };
        assert_eq!(
            build(&f, &flags()).unwrap().architecture,
            Architecture::Arm64
        );
        let mut fl = flags();
        fl.choices.architecture = Some(Architecture::X86_64);
        let e = err(&f, &fl);
        assert!(e.contains("--force") && e.contains("ELF e_machine"), "{e}");
        fl.force = true;
        let p = build(&f, &fl).unwrap();
        assert_eq!(p.architecture, Architecture::X86_64);
        assert!(p.warnings.iter().any(|w| w.contains("--force")));
        fl.choices.architecture = Some(asked("ARM64").unwrap());
        fl.force = false;
        assert!(
            build(&f, &fl).is_ok(),
            "same value in another case is no contradiction"
        );
    }

    #[test]
    fn unknown_detected_values() {
        let f = ImageFacts {
            architecture: Fact::known(Detected::from_name("riscv64"), "ELF e_machine 243"),
            ..facts()
        };
        // Word for word: an unlisted machine is refused, never imported as the default.
        let e = build(&f, &flags()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "the image looks like riscv64 (ELF e_machine 243), which ECS cannot import as any \
             Architecture; pass --architecture and --force to import anyway"
        );
        let mut fl = flags();
        fl.choices.architecture = Some(Architecture::X86_64);
        assert!(err(&f, &fl).contains("--force"));
        fl.force = true;
        assert_eq!(build(&f, &fl).unwrap().architecture, Architecture::X86_64);
        let f = ImageFacts {
            platform: Fact::known(Detected::Other("Arch Linux".into()), "os-release ID=arch"),
            ..facts()
        };
        let p = build(&f, &flags()).unwrap();
        assert_eq!(p.platform, Platform::OthersLinux);
        assert_eq!(
            p.warnings,
            [
                "the image looks like Arch Linux (os-release ID=arch), not an API Platform; \
              using the default"
            ]
        );
        // An unlisted boot mode is refused like an unlisted machine; the flag says it.
        let f = ImageFacts {
            boot_mode: Fact::known(Detected::Other("CSM".into()), "a made-up witness"),
            ..facts()
        };
        assert!(err(&f, &flags()).contains("pass --boot-mode and --force"));
        let mut fl = flags();
        fl.choices.boot_mode = Some(BootMode::Bios);
        assert!(err(&f, &fl).contains("BootMode BIOS contradicts what the image looks like CSM"));
        fl.force = true;
        assert_eq!(build(&f, &fl).unwrap().boot_mode, BootMode::Bios);
        // A listed detected value and a flag of the same value: no contradiction.
        let f = ImageFacts {
            os_type: Fact::known(OsType::Windows, "cmd.exe"),
            ..facts()
        };
        let mut fl = flags();
        fl.choices.os_type = Some(OsType::Windows);
        assert_eq!(build(&f, &fl).unwrap().os_type, OsType::Windows);
        fl.choices.os_type = Some(OsType::Linux);
        assert!(
            err(&f, &fl)
                .contains("OSType linux contradicts what the image looks like windows (cmd.exe)")
        );
    }

    #[test]
    fn client_token_rules_and_derivation() {
        assert!(check_client_token(&"t".repeat(64)).is_ok());
        for bad in ["", "with space", "ü", &"t".repeat(65)] {
            assert!(check_client_token(bad).is_err(), "{bad}");
        }
        let a = derive_client_token("r", "b", "o", "n", "i");
        assert_eq!(a, derive_client_token("r", "b", "o", "n", "i"));
        assert_ne!(a, derive_client_token("r", "b", "o", "n", "i2"));
        assert_ne!(
            derive_client_token("ab", "c", "o", "n", "i"),
            derive_client_token("a", "bc", "o", "n", "i")
        );
        let mut fl = flags();
        fl.choices.client_token = Some("mine".into());
        let p = build(&facts(), &fl).unwrap();
        assert_eq!(
            (p.client_token.as_str(), p.client_token_derived),
            ("mine", false)
        );
    }

    #[test]
    fn region_bucket_object_rules() {
        assert!(check_region("cn-hangzhou").is_ok());
        assert!(
            check_region("")
                .unwrap_err()
                .to_string()
                .contains("MissingParameter")
        );
        assert!(check_region("evil.com/").is_err());
        assert!(check_bucket("abc").is_ok());
        for bad in ["ab", "Abc", "-abc", "a_b", ""] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
        assert!(check_object("dir/x.raw").is_ok());
        assert!(check_object("/x.raw").is_err());
    }
}
