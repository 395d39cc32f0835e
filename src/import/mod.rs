//! The import as a library, in two calls. [`prepare`] inspects the image (opened once),
//! chooses region, bucket and object, and builds and checks the ImportImage plan: it returns
//! a [`Prepared`] holding the [`ImportPlan`] (what will be done: the ImportImage parameters,
//! the data disks, the endpoints, the [`RunOptions`]) and the [`Opened`] images apart.
//! [`run`]`(plan, images, session, observer)` carries it out: role, bucket, upload, import,
//! follow. Each step, and (when the session is given the sinks: [`observe`]) each retry and
//! each HTTP request, is told to an [`Observer`]. The CLI parses arguments, calls these and renders;
//! `cloud/` speaks the protocols.

pub mod data_disks;
pub mod facts;
pub mod observer;
pub mod pipeline;
pub mod planned;
pub mod prepare;
pub mod readiness;
pub mod report;
pub mod request;

pub use observer::{Observer, Silent, Steps, observe, request_log, retry_notice};
pub use pipeline::{Outcome, Status, Uploaded, run};
pub use planned::{ImportPlan, Opened, RunOptions};
pub use prepare::{Prepared, prepare};
pub use request::Request;
