//! The checked byte layer: every little- and big-endian number a parser takes from an
//! on-disk structure is read through here.
//!
//! Three tools, for three situations:
//!
//! - [`Fixed`]: a structure read into a fixed-size array (a VHD footer, a GPT header, an
//!   MBR). Field offsets are constants, so each read is checked when the crate is compiled
//!   (`h.be_u32::<footer::CHECKSUM>()` does not build when the field ends past the array)
//!   and cannot fail at run time.
//! - [`Bytes`]: a slice whose length comes from the file (a table, an extension, a cell).
//!   Each read names the structure and the field; a read past the end is a [`Short`] that
//!   carries the absolute file offset of the field, never a panic and never a made-up zero.
//! - [`Cursor`]: the same, walking forward through variable-length records.
//!
//! And [`be_u64s`] & co. for tables of numbers (whole entries only, by construction).
//!
//! A [`Short`] becomes the crate's [`Error::Malformed`] with [`Short::in_file`] where the
//! parser knows the file, or text (`to_string`, `String::from`) where it reports warnings.

use std::fmt;
use std::path::Path;

use crate::error::Error;

/// A field that lies (partly) past the end of the bytes that hold its structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short {
    /// The structure being read ("GPT header", "qcow2 snapshot table").
    pub what: &'static str,
    /// The field ("partition entry LBA").
    pub field: &'static str,
    /// Absolute offset (in the file or disk) of the field's first byte.
    pub offset: u64,
    /// Bytes the field needs.
    pub need: u64,
    /// Bytes there are from `offset` to the end of the structure (0 when it starts past it).
    pub have: u64,
}

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} at offset {} ({:#x}): needs {} bytes, the {} has {} there",
            self.what, self.field, self.offset, self.offset, self.need, self.what, self.have
        )
    }
}

impl std::error::Error for Short {}

impl From<Short> for String {
    fn from(s: Short) -> String {
        s.to_string()
    }
}

impl Short {
    /// The crate's error for a field of `path` that the file is too short to hold.
    pub fn in_file(self, path: impl AsRef<Path>) -> Error {
        Error::malformed(
            path,
            self.offset,
            format!("{} {}", self.what, self.field),
            format!("{} bytes before the end of the {}", self.have, self.what),
            format!("{} bytes", self.need),
        )
    }
}

/// A structure read into a fixed-size array; reads at constant offsets, checked at compile
/// time.
#[derive(Debug, Clone, Copy)]
pub struct Fixed<'a, const N: usize>(pub &'a [u8; N]);

macro_rules! fixed_reader {
    ($name:ident, $t:ty, $from:ident) => {
        #[doc = concat!("The `", stringify!($t), "` at byte `AT` (", stringify!($from), ").")]
        pub fn $name<const AT: usize>(&self) -> $t {
            const {
                assert!(
                    AT + size_of::<$t>() <= N,
                    "field past the end of the structure"
                )
            };
            <$t>::$from(self.array::<AT, { size_of::<$t>() }>())
        }
    };
}

impl<const N: usize> Fixed<'_, N> {
    /// The `L` bytes at byte `AT`.
    pub fn array<const AT: usize, const L: usize>(&self) -> [u8; L] {
        const { assert!(AT + L <= N, "field past the end of the structure") };
        let mut out = [0u8; L];
        out.copy_from_slice(&self.0[AT..AT + L]);
        out
    }

    pub fn u8<const AT: usize>(&self) -> u8 {
        const { assert!(AT < N, "field past the end of the structure") };
        self.0[AT]
    }

    fixed_reader!(le_u16, u16, from_le_bytes);
    fixed_reader!(le_u32, u32, from_le_bytes);
    fixed_reader!(le_u64, u64, from_le_bytes);
    fixed_reader!(le_i32, i32, from_le_bytes);
    fixed_reader!(be_u16, u16, from_be_bytes);
    fixed_reader!(be_u32, u32, from_be_bytes);
    fixed_reader!(be_u64, u64, from_be_bytes);
}

/// A structure of run-time length at a known place in the file.
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    buf: &'a [u8],
    base: u64,
    what: &'static str,
}

macro_rules! reader {
    ($name:ident, $t:ty, $from:ident) => {
        #[doc = concat!("The `", stringify!($t), "` at byte `at` (", stringify!($from), ").")]
        pub fn $name(&self, at: usize, field: &'static str) -> Result<$t, Short> {
            self.array(at, field).map(<$t>::$from)
        }
    };
}

impl<'a> Bytes<'a> {
    /// `buf` holds the bytes of `what` that start at absolute offset `base`.
    pub fn new(buf: &'a [u8], base: u64, what: &'static str) -> Self {
        Bytes { buf, base, what }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_slice(&self) -> &'a [u8] {
        self.buf
    }

    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Absolute offset of byte `at` (saturating: only used to name a place).
    pub fn offset_of(&self, at: usize) -> u64 {
        self.base
            .saturating_add(u64::try_from(at).unwrap_or(u64::MAX))
    }

    fn short(&self, at: usize, need: usize, field: &'static str) -> Short {
        let have = self.buf.len().saturating_sub(at);
        Short {
            what: self.what,
            field,
            offset: self.offset_of(at),
            need: u64::try_from(need).unwrap_or(u64::MAX),
            have: u64::try_from(have).unwrap_or(u64::MAX),
        }
    }

    /// The `len` bytes at byte `at`.
    pub fn slice(&self, at: usize, len: usize, field: &'static str) -> Result<&'a [u8], Short> {
        at.checked_add(len)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| self.short(at, len, field))
    }

    /// The `len` bytes at byte `at` as a structure of their own (offsets stay absolute).
    pub fn sub(&self, at: usize, len: usize, what: &'static str) -> Result<Bytes<'a>, Short> {
        let buf = self.slice(at, len, what)?;
        Ok(Bytes::new(buf, self.offset_of(at), what))
    }

    /// The `N` bytes at byte `at`.
    pub fn array<const N: usize>(&self, at: usize, field: &'static str) -> Result<[u8; N], Short> {
        let s = self.slice(at, N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&self, at: usize, field: &'static str) -> Result<u8, Short> {
        self.buf
            .get(at)
            .copied()
            .ok_or_else(|| self.short(at, 1, field))
    }

    reader!(le_u16, u16, from_le_bytes);
    reader!(le_u32, u32, from_le_bytes);
    reader!(le_u64, u64, from_le_bytes);
    reader!(le_i32, i32, from_le_bytes);
    reader!(be_u16, u16, from_be_bytes);
    reader!(be_u32, u32, from_be_bytes);
    reader!(be_u64, u64, from_be_bytes);
}

/// Reads forward through a [`Bytes`], for records whose fields follow one another.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: Bytes<'a>,
    pos: usize,
}

macro_rules! cursor_reader {
    ($name:ident, $t:ty) => {
        #[doc = concat!("The next `", stringify!($t), "`.")]
        pub fn $name(&mut self, field: &'static str) -> Result<$t, Short> {
            let v = self.bytes.$name(self.pos, field)?;
            self.pos += size_of::<$t>();
            Ok(v)
        }
    };
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: Bytes<'a>) -> Self {
        Cursor { bytes, pos: 0 }
    }

    /// Bytes read so far (the position relative to the start of the structure).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> u64 {
        self.bytes.offset_of(self.pos)
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], Short> {
        let s = self.bytes.slice(self.pos, len, field)?;
        self.pos += len;
        Ok(s)
    }

    /// Skip `len` bytes (padding, a field not needed); they must be there.
    pub fn skip(&mut self, len: usize, field: &'static str) -> Result<(), Short> {
        self.take(len, field).map(|_| ())
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Short> {
        let a = self.bytes.array(self.pos, field)?;
        self.pos += N;
        Ok(a)
    }

    cursor_reader!(u8, u8);
    cursor_reader!(le_u16, u16);
    cursor_reader!(le_u32, u32);
    cursor_reader!(le_u64, u64);
    cursor_reader!(le_i32, i32);
    cursor_reader!(be_u16, u16);
    cursor_reader!(be_u32, u32);
    cursor_reader!(be_u64, u64);
}

macro_rules! table {
    ($name:ident, $t:ty, $from:ident) => {
        #[doc = concat!("The whole `", stringify!($t), "`s of a table (", stringify!($from),
            "); a partial entry at the end is left out, as the table's length is checked where it is read.")]
        pub fn $name(b: &[u8]) -> impl Iterator<Item = $t> + '_ {
            b.chunks_exact(size_of::<$t>()).map(|c| {
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(c);
                <$t>::$from(a)
            })
        }
    };
}

table!(le_u16s, u16, from_le_bytes);
table!(le_u32s, u32, from_le_bytes);
table!(le_u64s, u64, from_le_bytes);
table!(be_u16s, u16, from_be_bytes);
table!(be_u32s, u32, from_be_bytes);
table!(be_u64s, u64, from_be_bytes);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_reads_both_orders() {
        let a: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
        let f = Fixed(&a);
        assert_eq!(f.le_u16::<0>(), 0x0201);
        assert_eq!(f.be_u16::<6>(), 0x0708);
        assert_eq!(f.le_u32::<4>(), 0x0807_0605);
        assert_eq!(f.be_u32::<0>(), 0x0102_0304);
        assert_eq!(f.le_u64::<0>(), 0x0807_0605_0403_0201);
        assert_eq!(f.be_u64::<0>(), 0x0102_0304_0506_0708);
        assert_eq!(f.u8::<7>(), 8);
        assert_eq!(f.array::<2, 3>(), [3, 4, 5]);
        assert_eq!(Fixed(&[0xff, 0xff, 0xff, 0xff]).le_i32::<0>(), -1);
    }

    #[test]
    fn bytes_reads_both_orders_at_any_offset() {
        let b = Bytes::new(&[0, 1, 2, 3, 4, 5, 6, 7, 8], 1000, "test");
        assert_eq!(b.le_u16(1, "f"), Ok(0x0201));
        assert_eq!(b.be_u16(1, "f"), Ok(0x0102));
        assert_eq!(b.le_u32(5, "f"), Ok(0x0807_0605));
        assert_eq!(b.be_u32(5, "f"), Ok(0x0506_0708));
        assert_eq!(b.le_u64(1, "f"), Ok(0x0807_0605_0403_0201));
        assert_eq!(b.be_u64(1, "f"), Ok(0x0102_0304_0506_0708));
        assert_eq!(b.u8(8, "f"), Ok(8));
        assert_eq!(b.slice(2, 2, "f"), Ok(&[2u8, 3][..]));
        assert_eq!(b.offset_of(3), 1003);
    }

    #[test]
    fn a_short_slice_is_an_error_with_the_absolute_offset() {
        let b = Bytes::new(&[0u8; 6], 0x200, "GPT header");
        let e = b.le_u32(4, "revision").unwrap_err();
        assert_eq!(
            e,
            Short {
                what: "GPT header",
                field: "revision",
                offset: 0x204,
                need: 4,
                have: 2
            }
        );
        assert_eq!(
            e.to_string(),
            "GPT header revision at offset 516 (0x204): needs 4 bytes, the GPT header has 2 there"
        );
        let e = b.be_u64(100, "far").unwrap_err();
        assert_eq!((e.offset, e.need, e.have), (0x200 + 100, 8, 0));
        assert!(b.u8(6, "one past").is_err());
        assert!(b.le_u16(5, "straddles").is_err());
        assert!(Bytes::new(&[], 0, "empty").le_u64(0, "x").is_err());
    }

    #[test]
    fn offsets_near_usize_max_do_not_overflow() {
        let b = Bytes::new(&[0u8; 16], u64::MAX - 4, "end");
        let e = b.le_u64(usize::MAX - 2, "wraps").unwrap_err();
        assert_eq!(e.offset, u64::MAX);
        assert!(b.slice(usize::MAX, 2, "wraps").is_err());
        assert!(b.sub(8, usize::MAX, "wraps").is_err());
    }

    #[test]
    fn sub_keeps_absolute_offsets() {
        let data = [0u8; 32];
        let outer = Bytes::new(&data, 4096, "table");
        let entry = outer.sub(16, 8, "entry").unwrap();
        assert_eq!(entry.len(), 8);
        let e = entry.le_u32(6, "tail").unwrap_err();
        assert_eq!((e.what, e.offset, e.have), ("entry", 4096 + 16 + 6, 2));
        assert!(outer.sub(30, 8, "entry").is_err());
    }

    #[test]
    fn cursor_walks_and_stops_at_the_end() {
        let data = [1u8, 0, 0, 0, 2, 0, 0xAB, 0xCD, 9];
        let mut c = Cursor::new(Bytes::new(&data, 10, "rec"));
        assert_eq!(c.le_u32("a"), Ok(1));
        assert_eq!(c.le_u16("b"), Ok(2));
        assert_eq!(c.be_u16("c"), Ok(0xABCD));
        assert_eq!((c.pos(), c.offset(), c.remaining()), (8, 18, 1));
        let e = c.le_u32("d").unwrap_err();
        assert_eq!((e.offset, e.have), (18, 1));
        // A failed read does not move the cursor.
        assert_eq!(c.pos(), 8);
        assert_eq!(c.u8("e"), Ok(9));
        assert!(c.skip(1, "f").is_err());
        assert_eq!(c.take(0, "g"), Ok(&[][..]));
    }

    #[test]
    fn tables_take_whole_entries_only() {
        let data = [0, 0, 0, 1, 0, 0, 0, 2, 0xff];
        assert_eq!(be_u32s(&data).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(le_u16s(&data).collect::<Vec<_>>(), [0, 0x0100, 0, 0x0200]);
        assert_eq!(be_u64s(&data).collect::<Vec<_>>(), [0x0000_0001_0000_0002]);
        assert_eq!(le_u64s(&data[..7]).count(), 0);
    }

    #[test]
    fn short_becomes_a_malformed_error_naming_the_file() {
        let e = Bytes::new(&[0u8; 2], 64, "qcow2 header")
            .be_u32(0, "magic")
            .unwrap_err()
            .in_file("/x/disk.qcow2");
        assert_eq!(
            e.to_string(),
            "/x/disk.qcow2: qcow2 header magic at offset 64 (0x40): found 2 bytes before the end \
             of the qcow2 header, expected 4 bytes"
        );
        assert_eq!(e.exit_code(), 2);
    }
}
