//! VHDX (Microsoft's Hyper-V virtual hard disk, MS-VHDX): fixed, dynamic and differencing.
//!
//! `open` reads the file identifier and the two headers (the valid one with the higher
//! sequence number), replays a non-empty log in memory (the file is never written), reads the
//! region table, the metadata and the BAT, and follows a differencing chain to its base
//! through the parent locators. One module per on-disk structure.

pub mod bat;
mod check;
pub mod file;
mod format;
pub mod guid;
pub mod header;
pub mod image;
mod info;
pub mod log;
pub mod metadata;
pub mod parent;
pub mod view;

pub use self::format::ENTRY;
pub use self::image::VhdxImage;
