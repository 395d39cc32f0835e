//! The virtual disk as a stream of RAW bytes, for consumers that want converted bytes without
//! a file (uploading object-storage parts straight from a VHD).

use std::io::{self, Read, Seek, SeekFrom};

use crate::image::fit::min_len;
use crate::image::{ExtentKind, VirtualDisk};

/// `Read + Seek` over any [`VirtualDisk`]: exactly `disk.size()` bytes, the RAW image the disk
/// converts to. Ranges the disk's extents call zero are filled without reading the file.
///
/// Each stream keeps its own position, so parallel workers each make one over the same
/// (shared, `Sync`) disk and seek to their part:
///
/// ```no_run
/// # fn f() -> imgtool::Result<()> {
/// use std::io::{Read, Seek, SeekFrom};
/// let disk = imgtool::image::open("disk.vhd")?;
/// let mut part = imgtool::convert::RawStream::new(&disk);
/// part.seek(SeekFrom::Start(64 << 20)).map_err(|e| imgtool::Error::io("disk.vhd", e))?;
/// let mut buf = vec![0u8; 8 << 20];
/// part.read_exact(&mut buf).map_err(|e| imgtool::Error::io("disk.vhd", e))?;
/// # Ok(()) }
/// ```
pub struct RawStream<'a> {
    disk: &'a dyn VirtualDisk,
    pos: u64,
    /// The last extent seen, `(kind, start, end)`: sequential reads ask the disk once per
    /// extent rather than once per call.
    cached: Option<(ExtentKind, u64, u64)>,
}

impl<'a> RawStream<'a> {
    pub fn new(disk: &'a dyn VirtualDisk) -> Self {
        RawStream {
            disk,
            pos: 0,
            cached: None,
        }
    }

    /// The RAW size: the disk's virtual size.
    pub fn len(&self) -> u64 {
        self.disk.size()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    fn extent_here(&mut self) -> io::Result<(ExtentKind, u64)> {
        if let Some((kind, start, end)) = self.cached {
            if (start..end).contains(&self.pos) {
                return Ok((kind, end));
            }
        }
        let e = self.disk.extent(self.pos).map_err(io::Error::other)?;
        let end = self.pos + e.len.max(1);
        self.cached = Some((e.kind, self.pos, end));
        Ok((e.kind, end))
    }
}

impl Read for RawStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.disk.size();
        if self.pos >= size || buf.is_empty() {
            return Ok(0);
        }
        let (kind, end) = self.extent_here()?;
        let n = min_len(buf.len(), end.min(size) - self.pos);
        let out = &mut buf[..n];
        match kind {
            ExtentKind::Zero => out.fill(0),
            ExtentKind::Data => self.disk.read_at(self.pos, out).map_err(io::Error::other)?,
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RawStream<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = seek_target(self.pos, self.disk.size(), to, "disk")?;
        Ok(self.pos)
    }
}

/// Where a seek to `to` lands from `pos` in a `what` of `len` bytes (past the end is allowed,
/// as for a file; before the start is an error).
pub(super) fn seek_target(pos: u64, len: u64, to: SeekFrom, what: &str) -> io::Result<u64> {
    let base = match to {
        SeekFrom::Start(n) => Some(n),
        SeekFrom::End(d) => len.checked_add_signed(d),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
    };
    base.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("seek before the start of the {what}"),
        )
    })
}

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::image::Extent;

    /// A disk made of alternating zero and data extents, counting data reads.
    struct Striped {
        size: u64,
        stripe: u64,
        reads: std::sync::atomic::AtomicU64,
    }

    impl VirtualDisk for Striped {
        fn size(&self) -> u64 {
            self.size
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> crate::Result<()> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for (i, b) in buf.iter_mut().enumerate() {
                let at = offset + i as u64;
                assert!((at / self.stripe) % 2 == 1, "read inside a zero extent");
                *b = (at % 251) as u8 | 1;
            }
            Ok(())
        }
        fn extent(&self, offset: u64) -> crate::Result<Extent> {
            let kind = if (offset / self.stripe) % 2 == 0 {
                ExtentKind::Zero
            } else {
                ExtentKind::Data
            };
            let end = ((offset / self.stripe + 1) * self.stripe).min(self.size);
            Ok(Extent {
                kind,
                len: end - offset,
            })
        }
    }

    #[test]
    fn streams_the_whole_disk_without_reading_holes() {
        let d = Striped {
            size: 10_000,
            stripe: 1000,
            reads: Default::default(),
        };
        let mut s = RawStream::new(&d);
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 10_000);
        for (i, &b) in all.iter().enumerate() {
            let want = if (i / 1000) % 2 == 1 {
                (i % 251) as u8 | 1
            } else {
                0
            };
            assert_eq!(b, want, "byte {i}");
        }
        s.seek(SeekFrom::Start(9_990)).unwrap();
        let mut tail = [0u8; 64];
        assert_eq!(s.read(&mut tail).unwrap(), 10);
        assert!(s.seek(SeekFrom::Current(-20_000)).is_err());
    }
}
