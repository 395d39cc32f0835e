//! DiskImageSize: the API's range and the one rounding of bytes to GiB.

pub const GIB: u64 = 1 << 30;
/// The current SDK's range for the system disk's DiskImageSize, in GiB.
pub const MIN_DISK_GIB: u64 = 1;
pub const MAX_DISK_GIB: u64 = 2048;
/// Older docs and the console allowed at most 500 GiB; above it some regions may refuse.
pub const WARN_DISK_GIB: u64 = 500;

/// The whole GiB that hold `bytes`.
pub fn gib_holding(bytes: u64) -> u64 {
    bytes.div_ceil(GIB)
}
