//! Talking to Alibaba Cloud: credentials, request signing, the import plan, the retrying RPC
//! client, and the ECS and RAM calls an import needs. Nothing here reads images; it takes a
//! finished [`plan::Plan`].

pub mod credentials;
pub mod plan;
pub mod sign;
