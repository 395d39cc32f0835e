//! A read-only XFS reader for guest inspection: superblock (v4 and v5), inodes by number,
//! directories in every form (short form, block, leaf and node), extent lists and extent
//! B+trees, files of any size read by byte range, local and remote symlinks.
//!
//! Layout from the public "XFS Algorithms & Data Structures" documentation. Every number
//! from the disk is checked before use, every read goes through a byte budget, and every
//! walk has a bound, so a hostile image gives an error naming the structure and the byte,
//! never a panic or an endless loop. One file per on-disk structure; this one only declares
//! and re-exports.

pub mod bmap;
pub mod dir;
pub mod file;
pub mod guest;
pub mod inode;
pub mod raw;
pub mod reader;
pub mod superblock;

pub use bmap::{Extent, MAX_EXTENTS, parse_extent};
pub use guest::XfsGuest;
pub use inode::Inode;
pub use reader::Xfs;
pub use superblock::Superblock;

#[cfg(test)]
// Test fixtures cast small lengths and offsets they build themselves.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
mod tests;
