//! qcow2 (QEMU copy-on-write, versions 2 and 3), read-only.
//!
//! `open` reads and validates the header and its extensions, the snapshot table and the L1
//! table; L2 tables and compressed clusters are read when a read needs them, through caches
//! bounded in bytes (`image::cache`), so opening a 1 TiB image reads a few KiB. Backing files
//! (qcow2, RAW or VHD) are opened by their own readers; an external data file is read as RAW.
//!
//! Files by on-disk structure: header.rs (header, feature bits, extensions), snapshot.rs (the
//! snapshot table), entry.rs (L1/L2 entries, subclusters), layer.rs (one file: lookups),
//! compress.rs (deflate, zstd), image.rs (the chain, reads, extents), info.rs
//! (inspect's section), check.rs and refcount.rs (`check`), format.rs (the registry entry).

pub mod check;
mod compress;
pub mod entry;
mod features;
mod format;
pub mod header;
pub mod image;
mod info;
pub mod layer;
mod refcount;
pub mod snapshot;

pub use self::format::ENTRY;
pub use self::image::Qcow2Image;
