//! The import as a library: [`prepare`] (inspect the image once, choose region, bucket and
//! object, build and check the ImportImage plan) and [`run`] (role, bucket, upload, import,
//! follow), each step told to an [`Observer`]. The CLI parses arguments, calls these and
//! renders; `cloud/` speaks the protocols.

pub mod data_disks;
pub mod facts;
pub mod observer;
pub mod pipeline;
pub mod prepare;
pub mod readiness;
pub mod report;
pub mod request;

pub use observer::{Observer, Silent, Steps, retry_notice};
pub use pipeline::{Outcome, Status, Uploaded, run};
pub use prepare::{Prepared, prepare};
pub use request::Request;
