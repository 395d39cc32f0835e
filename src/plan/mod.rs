//! The import plan: what an image is sent as and with which ImportImage parameters, decided
//! before anything is sent. It knows the API's vocabulary and rules (names, enumerations,
//! options, the format rule, what goes up) and nothing of signing or transport: `cloud/`
//! takes a finished [`Plan`] and carries it out.

pub mod build;
pub mod form;
pub mod names;
pub mod options;
pub mod sent;

pub use build::{
    ARCHITECTURES, BOOT_MODES, Fact, Flags, Format, GIB, ImageFacts, LICENSE_TYPES, MAX_DISK_GIB,
    MIN_DISK_GIB, OS_TYPES, PLATFORMS, Plan, WARN_DISK_GIB, build, check_arch_boot, check_bucket,
    check_client_token, check_description, check_image_name, check_object, check_region,
    derive_client_token, derive_image_name, size_floor_gib,
};
