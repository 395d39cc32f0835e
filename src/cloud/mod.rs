//! Talking to Alibaba Cloud: credentials, request signing, the import plan, the retrying RPC
//! client, and the ECS and RAM calls an import needs. Nothing here reads images; it takes a
//! finished [`plan::Plan`].

pub mod crc64;
pub mod credentials;
pub mod ecs;
pub mod follow;
pub mod import;
pub mod plan;
pub mod ram;
pub mod rpc;
pub mod settings;
pub mod sign;
