//! The import plan: what an image is sent as and with which ImportImage parameters, decided
//! before anything is sent. It knows the API's vocabulary ([`vocab`]) and rules (names,
//! enumerations, options, the format rule, what goes up) and nothing of signing or transport:
//! `cloud/` takes a finished [`Plan`] and carries it out.

pub mod build;
pub mod choices;
pub mod form;
pub mod names;
pub mod options;
pub mod reading;
pub mod sent;
pub mod size;
pub mod vocab;

pub use crate::disk::Fact;
pub use build::{
    Flags, ImageFacts, Plan, build, check_arch_boot, check_bucket, check_client_token,
    check_description, check_image_name, check_object, check_region, derive_client_token,
    derive_image_name, size_floor_gib,
};
pub use choices::{Choices, asked, asked_opt};
pub use reading::inspect_disk;
pub use size::{GIB, MAX_DISK_GIB, MIN_DISK_GIB, WARN_DISK_GIB};
pub use vocab::{
    ApiName, Architecture, BootMode, Detected, ImageFormat, LicenseType, OsType, Platform,
};
