//! imgtool: inspect, check, convert and import disk images (RAW, VHD) into Alibaba Cloud ECS.
//!
//! Data flows one way: file -> image format -> virtual disk -> partitions -> file systems ->
//! guest facts -> import plan -> cloud. Each module knows only the ones before it.

pub mod bytes;
pub mod cli;
pub mod cloud;
pub mod convert;
pub mod disk;
pub mod error;
pub mod fuzzing;
pub mod image;
pub mod import;
pub mod plan;
pub mod sys;
pub mod text;

pub use error::{Error, Result};
pub use image::VirtualDisk;
