//! Checked conversions between on-disk `u64` counts and in-memory `usize` lengths, for the
//! formats' readers (the `clippy::cast_*` lints are on for `image/`), and buffers clipped by them.

/// The shorter of a buffer length and a `u64` count of bytes: always fits `usize`, since it
/// is at most `len`.
pub fn min_len(len: usize, n: u64) -> usize {
    usize::try_from(n).map_or(len, |n| len.min(n))
}

/// The part of `buf` (the bytes at `offset`) that lies below `end`, after zeroing the rest: a
/// parent smaller than its child, data past the end of a file, read as zeros.
#[inline]
pub fn zero_past(buf: &mut [u8], offset: u64, end: u64) -> &mut [u8] {
    let n = min_len(buf.len(), end.saturating_sub(offset));
    let (inside, past) = buf.split_at_mut(n);
    past.fill(0);
    inside
}
