//! Checked conversions between on-disk `u64` counts and in-memory `usize` lengths, for the
//! formats' readers (the `clippy::cast_*` lints are on for `image/`).

/// The shorter of a buffer length and a `u64` count of bytes: always fits `usize`, since it
/// is at most `len`.
pub fn min_len(len: usize, n: u64) -> usize {
    usize::try_from(n).map_or(len, |n| len.min(n))
}
