//! VMDK (VMware virtual disks): the text descriptor, hosted sparse extents (monolithicSparse,
//! twoGbMaxExtentSparse, streamOptimized with compressed grains), flat and zero extents, a
//! streamOptimized disk inside an OVA read in place, and parent chains with CID checks.
//!
//! The layout follows the on-disk structures: `header.rs` (the "KDMV" header and the stream
//! markers), `descriptor.rs` (the text), `sparse.rs` (grain directory, tables, grains),
//! `ova.rs` (the tar archive), `layer.rs` (one VMDK's extents), `disk.rs` (the chain and the
//! virtual disk), `info.rs` and `check.rs` (the reports), `format.rs` (the registry entry).

pub mod check;
mod check_grains;
pub mod descriptor;
pub mod disk;
mod format;
pub mod header;
mod info;
pub mod layer;
pub mod ova;
pub mod sparse;
pub mod window;

pub use self::disk::VmdkImage;
pub use self::format::ENTRY;
