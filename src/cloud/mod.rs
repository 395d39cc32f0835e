//! Talking to Alibaba Cloud: credentials, request signing, the retrying RPC client, the OSS
//! upload, and the ECS, RAM and STS calls an import needs. Nothing here parses images or
//! decides parameters; it takes a finished [`crate::plan::Plan`] and a byte source
//! ([`upload::Source`]).

// Numbers from files, flags and server answers are converted with checks or a reason
// (issue 13 point 5), as in image/ (see image/fit.rs).
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod bucket;
pub mod call_error;
pub mod crc64;
pub mod cred_ini;
pub mod credentials;
pub mod detect;
pub mod ecs;
pub mod follow;
pub mod http;
pub mod import;
pub mod keys;
pub mod live;
pub mod oss;
pub mod part_body;
pub mod ram;
pub mod regions;
pub mod remote_check;
pub mod resume;
pub mod retry;
pub mod roles;
pub mod rpc;
pub mod session;
pub mod settings;
pub mod sign;
pub mod sign_v3;
pub mod sign_v4;
pub mod sts;
pub mod trace;
pub mod upload;
pub mod vhd_source;
