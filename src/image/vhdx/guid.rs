//! GUIDs as VHDX stores them (the first three fields little-endian). Numbers are read through
//! `crate::bytes`.

use std::fmt;

use crate::bytes::{Bytes, Fixed, Short, le_u16s};

#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    pub const ZERO: Guid = Guid([0; 16]);

    /// A GUID from its text form's fields: `{d1-d2-d3-d4[0..2]-d4[2..8]}`.
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The GUID stored at byte `at` of `b`; a short `b` is an error naming the offset.
    pub fn read(b: &Bytes<'_>, at: usize, field: &'static str) -> Result<Guid, Short> {
        b.array::<16>(at, field).map(Guid)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Parse `{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}` (braces optional, any case).
    pub fn parse(s: &str) -> Option<Guid> {
        let s = s.trim();
        let s = s.strip_prefix('{').unwrap_or(s);
        let s = s.strip_suffix('}').unwrap_or(s);
        let parts: Vec<&str> = s.split('-').collect();
        let lens = [8, 4, 4, 4, 12];
        if parts.len() != 5 || parts.iter().zip(lens).any(|(p, l)| p.len() != l) {
            return None;
        }
        let d1 = u32::from_str_radix(parts[0], 16).ok()?;
        let d2 = u16::from_str_radix(parts[1], 16).ok()?;
        let d3 = u16::from_str_radix(parts[2], 16).ok()?;
        let tail = format!("{}{}", parts[3], parts[4]);
        let mut d4 = [0u8; 8];
        for (i, b) in d4.iter_mut().enumerate() {
            *b = u8::from_str_radix(tail.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Guid::new(d1, d2, d3, d4))
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        let x = Fixed(g);
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
            x.le_u32::<0>(),
            x.le_u16::<4>(),
            x.le_u16::<6>(),
            g[8],
            g[9]
        )?;
        for b in &g[10..16] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

/// CRC-32C of `b` with the four bytes at `field` taken as zeros (where the checksum itself is
/// stored), as every VHDX checksum is computed.
pub fn crc32c_without(b: &[u8], field: usize) -> u32 {
    let (head, rest) = b.split_at(field.min(b.len()));
    let tail = rest.get(4..).unwrap_or(&[]);
    let c = crc32c::crc32c(head);
    let c = crc32c::crc32c_append(c, &[0u8; 4]);
    crc32c::crc32c_append(c, tail)
}

/// UTF-16LE bytes as text, stopping at the first NUL; unpaired surrogates replaced.
pub fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = le_u16s(b).take_while(|&u| u != 0).collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_round_trip() {
        let g = Guid::new(
            0x2DC27766,
            0xF623,
            0x4200,
            [0x9D, 0x64, 0x11, 0x5E, 0x9B, 0xFD, 0x4A, 0x08],
        );
        assert_eq!(g.to_string(), "2dc27766-f623-4200-9d64-115e9bfd4a08");
        assert_eq!(g.0[0], 0x66);
        assert_eq!(
            Guid::parse("{2DC27766-F623-4200-9D64-115E9BFD4A08}"),
            Some(g)
        );
        assert_eq!(Guid::parse("2dc27766-f623-4200-9d64-115e9bfd4a0"), None);
    }

    /// The old `Guid::at` / `le_u*` read zeros from a short slice: a made-up GUID. Now the
    /// read fails and names the absolute offset.
    #[test]
    fn a_guid_past_the_end_is_an_error_with_its_offset() {
        let b = [0xAAu8; 20];
        let e = Guid::read(&Bytes::new(&b, 0x3_0000, "region table"), 8, "GUID").unwrap_err();
        assert_eq!((e.offset, e.need, e.have), (0x3_0008, 16, 12));
        let ok = Guid::read(&Bytes::new(&b, 0, "x"), 4, "GUID").unwrap();
        assert_eq!(ok, Guid([0xAA; 16]));
    }

    #[test]
    fn crc_of_zeroed_field() {
        let mut b = vec![7u8; 64];
        b[4..8].copy_from_slice(&[1, 2, 3, 4]);
        let mut z = b.clone();
        z[4..8].fill(0);
        assert_eq!(crc32c_without(&b, 4), crc32c::crc32c(&z));
    }
}
