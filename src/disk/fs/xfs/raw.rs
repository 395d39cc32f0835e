//! Big-endian fields of XFS structures, read through `crate::bytes` (so a short or damaged
//! block is an error, never a panic); errors keep XFS's wording, naming the byte offset
//! within the block and the bytes read.

/// XFS errors are text naming the structure, the byte offset and what was found; the
/// caller adds the file system ("partition 2 (xfs): ...").
pub type R<T> = Result<T, String>;

pub fn field<const N: usize>(b: &[u8], at: usize, what: &str) -> R<[u8; N]> {
    crate::bytes::Bytes::new(b, 0, "XFS block")
        .array::<N>(at, "field")
        .map_err(|_| format!("{what} at byte {at} lies past the {} bytes read", b.len()))
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
