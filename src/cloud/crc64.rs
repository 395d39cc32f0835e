//! CRC-64/XZ (ECMA-182 polynomial, reflected, init and xorout all ones): the checksum OSS
//! returns as `x-oss-hash-crc64ecma`. Computing is `crc64fast` (SIMD; it computes exactly this
//! variant, pinned below by the check value); combining part CRCs into the object's CRC is the
//! GF(2) matrix method of zlib's `crc32_combine`, carried over to 64 bits, so the whole
//! object's checksum never needs a second pass over the data.

/// The reflected ECMA-182 polynomial.
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// CRC-64/XZ of `data`.
pub fn checksum(data: &[u8]) -> u64 {
    let mut d = crc64fast::Digest::new();
    d.write(data);
    d.sum64()
}

/// An incremental CRC-64/XZ.
#[derive(Clone, Default)]
pub struct Digest(crc64fast::Digest);

impl Digest {
    pub fn new() -> Self {
        Digest(crc64fast::Digest::new())
    }
    pub fn write(&mut self, data: &[u8]) {
        self.0.write(data);
    }
    pub fn sum(&self) -> u64 {
        self.0.sum64()
    }
}

/// `mat` (64 columns) times `vec` over GF(2).
fn times(mat: &[u64; 64], mut vec: u64) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while vec != 0 {
        if vec & 1 != 0 {
            sum ^= mat[i];
        }
        vec >>= 1;
        i += 1;
    }
    sum
}

fn square(mat: &[u64; 64]) -> [u64; 64] {
    let mut sq = [0u64; 64];
    for (n, out) in sq.iter_mut().enumerate() {
        *out = times(mat, mat[n]);
    }
    sq
}

/// The CRC of `A || B` from `crc_a = crc(A)`, `crc_b = crc(B)` and `len_b = len(B)`.
/// Appending `len_b` zero bytes to A's register is a linear map; it is built from the
/// one-zero-bit operator by repeated squaring, so the cost is O(log len_b).
pub fn combine(crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    // The operator for one zero bit: shift right, and fold in the polynomial.
    let mut bit = [0u64; 64];
    bit[0] = POLY;
    for (n, v) in bit.iter_mut().enumerate().skip(1) {
        *v = 1u64 << (n - 1);
    }
    let mut op = square(&square(&bit)); // four zero bits
    let mut crc = crc_a;
    let mut len = len_b;
    // Each pass squares the operator (8, 16, 32 ... zero bits: one zero byte, two, four...)
    // and applies it where `len` has a one bit, as zlib does (zlib alternates two matrices
    // to avoid a copy; one is enough here).
    while len != 0 {
        op = square(&op);
        if len & 1 != 0 {
            crc = times(&op, crc);
        }
        len >>= 1;
    }
    crc ^ crc_b
}

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    /// The bit-at-a-time definition, to check the fast paths against.
    fn bitwise(data: &[u8]) -> u64 {
        let mut crc = !0u64;
        for &b in data {
            crc ^= u64::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A small deterministic generator: the tests must be repeatable.
    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn check_value_is_crc64_xz() {
        assert_eq!(checksum(b"123456789"), 11_051_210_869_376_104_954);
        assert_eq!(bitwise(b"123456789"), 11_051_210_869_376_104_954);
        assert_eq!(checksum(b""), 0);
    }

    #[test]
    fn fast_matches_bitwise_on_odd_lengths() {
        let mut s = 0x1234_5678_9abc_def1;
        let data: Vec<u8> = (0..5000).map(|_| xorshift(&mut s) as u8).collect();
        for len in [1, 7, 15, 16, 17, 63, 64, 65, 255, 4999, 5000] {
            assert_eq!(checksum(&data[..len]), bitwise(&data[..len]), "len {len}");
        }
    }

    #[test]
    fn combine_equals_direct_on_random_splits() {
        let mut s = 0xdead_beef_cafe_f00d;
        let data: Vec<u8> = (0..20_000).map(|_| xorshift(&mut s) as u8).collect();
        for _ in 0..50 {
            let n = (xorshift(&mut s) % 6 + 1) as usize;
            let mut cuts: Vec<usize> = (0..n)
                .map(|_| (xorshift(&mut s) % data.len() as u64) as usize)
                .collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let mut crc = 0;
            for w in cuts.windows(2) {
                let piece = &data[w[0]..w[1]];
                crc = combine(crc, checksum(piece), piece.len() as u64);
            }
            assert_eq!(crc, checksum(&data), "cuts {cuts:?}");
        }
    }

    #[test]
    fn combine_with_empty_pieces() {
        let a = checksum(b"1234");
        assert_eq!(combine(a, 0, 0), a);
        assert_eq!(combine(0, a, 4), a);
    }
}
