//! What the caller chose of the ImportImage parameters, typed: each enumeration is parsed
//! once, where the request is made ([`asked`]), so the plan compares values, never strings.
//! The library's `import::Request` and the plan's [`super::Flags`] hold the same [`Choices`].

use super::names::usage;
use super::vocab::{ApiName, Architecture, BootMode, LicenseType, OsType, Platform};
use crate::error::Result;

/// The ImportImage parameters a caller may set; each unset one comes from the image (or the
/// API's default), and the plan says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub image_name: Option<String>,
    pub description: Option<String>,
    pub architecture: Option<Architecture>,
    pub os_type: Option<OsType>,
    pub platform: Option<Platform>,
    pub boot_mode: Option<BootMode>,
    pub license_type: Option<LicenseType>,
    /// Explicit DiskImageSize in GiB; without it the size is computed (auto).
    pub disk_image_size: Option<u64>,
    pub client_token: Option<String>,
}

/// The value a caller named (`--platform "rocky linux"`: any case, blanks around ignored), or
/// the usage error the API would answer for a value not in its list
/// (`Invalid<Field>.Malformed`), listing the values it takes.
pub fn asked<T: ApiName>(name: &str) -> Result<T> {
    let field = T::FIELD;
    T::parse(name).ok_or_else(|| {
        usage(
            &format!("Invalid{field}.Malformed"),
            format!("{field} {name:?} is not one of: {}", T::names().join(", ")),
        )
    })
}

/// [`asked`] for a flag that may be absent.
pub fn asked_opt<T: ApiName>(name: Option<&str>) -> Result<Option<T>> {
    name.map(asked).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_value_in_any_case() {
        assert_eq!(
            asked::<Platform>(" rocky LINUX").unwrap(),
            Platform::RockyLinux
        );
        assert_eq!(asked_opt::<BootMode>(None).unwrap(), None);
        assert_eq!(
            asked_opt::<Architecture>(Some("ARM64")).unwrap(),
            Some(Architecture::Arm64)
        );
    }

    #[test]
    fn an_unlisted_value_is_the_apis_error_word_for_word() {
        // The message the plan gave when it parsed the flags itself: exit 2 (usage), the
        // field, the value as given, every listed value, the API's error code.
        let e = asked::<Architecture>("amd64").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "Architecture \"amd64\" is not one of: i386, x86_64, arm64 \
             (the API would answer InvalidArchitecture.Malformed)"
        );
        let e = asked::<OsType>("bsd").unwrap_err().to_string();
        assert!(
            e.starts_with("OSType \"bsd\" is not one of: linux, windows")
                && e.ends_with("(the API would answer InvalidOSType.Malformed)"),
            "{e}"
        );
        for (e, code) in [
            (
                asked::<Platform>("Other Windows").unwrap_err(),
                "InvalidPlatform.Malformed",
            ),
            (
                asked::<BootMode>("CSM").unwrap_err(),
                "InvalidBootMode.Malformed",
            ),
            (
                asked::<LicenseType>("GPL").unwrap_err(),
                "InvalidLicenseType.Malformed",
            ),
        ] {
            assert!(e.to_string().contains(code), "{e}");
        }
    }
}
