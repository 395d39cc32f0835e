//! imgtool: inspect, check, convert and import disk images (RAW, VHD) into Alibaba Cloud ECS.
//!
//! Data flows one way: file -> image format -> virtual disk -> partitions -> file systems ->
//! guest facts -> import plan -> cloud. Each module knows only the ones before it.

pub mod cli;
pub mod convert;
pub mod error;
pub mod image;

pub use error::{Error, Result};
pub use image::VirtualDisk;
