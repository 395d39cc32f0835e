//! The legacy lz4 format (`lz4 -l`), the one the kernel's initramfs unpacker reads
//! (lib/decompress_unlz4.c): the magic 0x184C2102, then chunks, each a 32-bit little-endian
//! compressed length and one lz4 block that decompresses to at most 8 MiB. The stream has no end
//! mark: it ends at the end of the input or at a zero length (the zero padding before another
//! archive); a length equal to the magic starts a new stream and is skipped, as the kernel does.
//! lz4_flex decodes the blocks; this is only the framing around them.

use std::io::{self, BufRead, Read};

/// The legacy format's magic, as it is on disk (little-endian 0x184C2102).
pub const MAGIC: [u8; 4] = [0x02, 0x21, 0x4C, 0x18];
/// Most bytes one chunk decompresses to (8 MiB).
pub const CHUNK_OUT: usize = 8 << 20;
/// Largest compressed chunk: LZ4_compressBound(8 MiB), as in the kernel's check.
pub const CHUNK_IN: usize = CHUNK_OUT + CHUNK_OUT / 255 + 16;

/// Decompresses one legacy lz4 stream from `inner`, which is positioned after the magic.
pub struct Legacy<R: BufRead> {
    inner: R,
    out: Vec<u8>,
    src: Vec<u8>,
    start: usize,
    end: usize,
    done: bool,
    /// Bytes consumed from `inner` (after the magic), for error messages.
    consumed: u64,
}

impl<R: BufRead> Legacy<R> {
    pub fn new(inner: R) -> Self {
        Legacy {
            inner,
            out: Vec::new(),
            src: Vec::new(),
            start: 0,
            end: 0,
            done: false,
            consumed: 4,
        }
    }

    /// Decodes the next chunk into `out`; false at the end of the stream.
    fn next_chunk(&mut self) -> io::Result<bool> {
        loop {
            let mut len = [0u8; 4];
            let got = read_full(&mut self.inner, &mut len)?;
            if got == 0 {
                return Ok(false);
            }
            let at = self.consumed;
            self.consumed += got as u64;
            if got < 4 {
                return Err(bad(format!(
                    "lz4 chunk length at byte {at} of the stream is cut after {got} bytes"
                )));
            }
            if len == MAGIC {
                continue;
            }
            let n = crate::bytes::Fixed(&len).le_u32::<0>();
            if n == 0 {
                return Ok(false);
            }
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n > CHUNK_IN {
                return Err(bad(format!(
                    "lz4 chunk at byte {at} of the stream says {n} compressed bytes, more than \
                     the {CHUNK_IN} a legacy chunk can take (damaged, or data follows the \
                     stream without zero padding)"
                )));
            }
            self.src.resize(n, 0);
            let got = read_full(&mut self.inner, &mut self.src)?;
            self.consumed += got as u64;
            if got < n {
                return Err(bad(format!(
                    "lz4 chunk at byte {at} of the stream is cut after {got} of {n} bytes"
                )));
            }
            self.out.resize(CHUNK_OUT, 0);
            let made = lz4_flex::block::decompress_into(&self.src, &mut self.out)
                .map_err(|e| bad(format!("lz4 chunk at byte {at} of the stream: {e}")))?;
            self.start = 0;
            self.end = made;
            if made > 0 {
                return Ok(true);
            }
        }
    }
}

impl<R: BufRead> Read for Legacy<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && (self.done || !self.next_chunk()?) {
            self.done = true;
            return Ok(0);
        }
        let have = self.out.get(self.start..self.end).unwrap_or_default();
        let n = have.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), have.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.start += n;
        Ok(n)
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Fills `buf` as far as the input goes.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
