//! VHD (Microsoft Virtual Hard Disk): fixed, dynamic and differencing.
//!
//! `open` finds the footer (at the end, a 511-byte one of old images, or the copy at offset 0
//! of a dynamic disk when the end one is damaged), decides the virtual size by QEMU 10's rule,
//! reads the dynamic header and the BAT, and follows a differencing chain to its base.
//!
//! Files by on-disk structure: footer.rs, dynamic.rs (dynamic header, BAT entries),
//! geometry.rs, validate.rs, parent.rs (locators), file.rs (one file opened: footers, header,
//! BAT, sector bitmaps), image.rs (the chain, reads, extents), check.rs, info.rs, format.rs.
//! This file only declares and re-exports, so no child imports it back (no circles).

pub mod check;
pub mod dynamic;
pub mod footer;
mod format;
pub mod geometry;
mod info;
pub mod parent;
pub mod validate;

mod file;
mod image;

pub use self::file::{FooterSource, MAX_BAT_ENTRIES, Sparse, VhdFile, looks_like_vhd};
pub use self::format::ENTRY;
pub use self::image::VhdImage;
