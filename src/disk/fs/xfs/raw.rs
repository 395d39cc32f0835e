//! Big-endian fields of XFS structures, each read with a bound check whose error names the
//! byte offset, so a short or damaged block is an error, never a panic.

/// XFS errors are text naming the structure, the byte offset and what was found; the
/// caller adds the file system ("partition 2 (xfs): ...").
pub type R<T> = Result<T, String>;

pub fn field<const N: usize>(b: &[u8], at: usize, what: &str) -> R<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| format!("{what} at byte {at} lies past the {} bytes read", b.len()))
}

pub fn byte(b: &[u8], at: usize, what: &str) -> R<u8> {
    field::<1>(b, at, what).map(|[x]| x)
}

pub fn be16(b: &[u8], at: usize) -> R<u16> {
    field(b, at, "u16").map(u16::from_be_bytes)
}

pub fn be32(b: &[u8], at: usize) -> R<u32> {
    field(b, at, "u32").map(u32::from_be_bytes)
}

pub fn be64(b: &[u8], at: usize) -> R<u64> {
    field(b, at, "u64").map(u64::from_be_bytes)
}
