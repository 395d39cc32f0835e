//! Views of part of a virtual disk (a partition), and the adapters the file-system crates
//! need: `Read + Seek (+ Write)` for `fatfs` and `ntfs`, `Ext4Read` for `ext4-view`.
//!
//! Every adapter carries a read budget: a file system that asks for more than its budget gets
//! an error instead of data, so a hostile image cannot make inspection read the whole disk.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use crate::error::{Error, Result};
use crate::image::{Extent, VirtualDisk};

/// A disk that counts the bytes read through it, so a report (and the bench) can say how
/// much of the image inspection touched.
pub struct CountingDisk<'a> {
    inner: &'a dyn VirtualDisk,
    read: AtomicU64,
}

impl<'a> CountingDisk<'a> {
    pub fn new(inner: &'a dyn VirtualDisk) -> Self {
        CountingDisk {
            inner,
            read: AtomicU64::new(0),
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
}

impl VirtualDisk for CountingDisk<'_> {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.read.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
    fn extent(&self, offset: u64) -> Result<Extent> {
        self.inner.extent(offset)
    }
}

/// Bytes `start..start+len` of another disk, seen as a disk of its own.
#[derive(Clone, Copy)]
pub struct Slice<'a> {
    disk: &'a dyn VirtualDisk,
    start: u64,
    len: u64,
}

impl<'a> Slice<'a> {
    /// The part of `disk` from `start` for `len` bytes, clipped to the end of the disk (a
    /// partition that runs past the end is reported elsewhere; its readable part is still
    /// worth looking at).
    pub fn new(disk: &'a dyn VirtualDisk, start: u64, len: u64) -> Self {
        let size = disk.size();
        let start = start.min(size);
        let len = len.min(size - start);
        Slice { disk, start, len }
    }

    pub fn whole(disk: &'a dyn VirtualDisk) -> Self {
        Slice::new(disk, 0, disk.size())
    }

    pub fn start(&self) -> u64 {
        self.start
    }

    /// A `Read + Seek + Write` cursor over this slice that refuses to read more than
    /// `budget` bytes in total.
    pub fn reader(self, budget: u64) -> SliceReader<'a> {
        SliceReader {
            slice: self,
            pos: 0,
            budget,
        }
    }
}

impl VirtualDisk for Slice<'_> {
    fn size(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        match end {
            Some(end) if end <= self.len => self.disk.read_at(self.start + offset, buf),
            _ => Err(Error::Usage(format!(
                "read of {} bytes at {offset} runs past the end of a {}-byte partition at {}",
                buf.len(),
                self.len,
                self.start
            ))),
        }
    }
}

/// `Read + Seek` over a [`Slice`], with a total-bytes budget. `Write` exists only because
/// `fatfs` requires it; every write fails, so nothing is ever changed.
pub struct SliceReader<'a> {
    slice: Slice<'a>,
    pos: u64,
    budget: u64,
}

impl SliceReader<'_> {
    fn take_budget(&mut self, n: usize) -> io::Result<()> {
        let n = n as u64;
        if n > self.budget {
            return Err(io::Error::other("read budget for this file system spent"));
        }
        self.budget -= n;
        Ok(())
    }
}

impl Read for SliceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.slice.len.saturating_sub(self.pos);
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if n == 0 {
            return Ok(0);
        }
        self.take_budget(n)?;
        self.slice
            .read_at(self.pos, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SliceReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.slice.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(t) => {
                self.pos = t;
                Ok(t)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the partition",
            )),
        }
    }
}

impl Write for SliceReader<'_> {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "imgtool opens file systems read-only",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The largest single read `ext4-view` may ask for (it reads blocks, at most 64 KiB, and
/// group-descriptor tables); anything larger is refused rather than allocated.
const EXT4_MAX_READ: usize = 16 << 20;

type ReadRequest = (u64, usize);
type ReadReply = std::result::Result<Vec<u8>, String>;

/// `ext4_view::Ext4Read` over a slice. `Ext4::load` wants a `'static` reader, and a slice
/// borrows the disk, so the reads go over a channel to a scoped thread that holds the borrow
/// (see [`with_ext4_reader`]).
pub struct Ext4Reader {
    requests: mpsc::Sender<ReadRequest>,
    replies: mpsc::Receiver<ReadReply>,
}

impl ext4_view::Ext4Read for Ext4Reader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        if dst.len() > EXT4_MAX_READ {
            return Err(format!("refused a {}-byte read", dst.len()).into());
        }
        self.requests.send((start_byte, dst.len()))?;
        let data = self.replies.recv()??;
        if data.len() != dst.len() {
            return Err("short read".into());
        }
        dst.copy_from_slice(&data);
        Ok(())
    }
}

/// Run `f` with an `Ext4Read` over `slice` that may read at most `budget` bytes. A scoped
/// thread serves the reads; it ends when `f` has dropped the reader.
pub fn with_ext4_reader<R>(slice: Slice<'_>, budget: u64, f: impl FnOnce(Ext4Reader) -> R) -> R {
    let (req_tx, req_rx) = mpsc::channel::<ReadRequest>();
    let (rep_tx, rep_rx) = mpsc::channel::<ReadReply>();
    std::thread::scope(|s| {
        s.spawn(move || serve_reads(slice, budget, req_rx, rep_tx));
        f(Ext4Reader {
            requests: req_tx,
            replies: rep_rx,
        })
    })
}

fn serve_reads(
    slice: Slice<'_>,
    mut budget: u64,
    requests: mpsc::Receiver<ReadRequest>,
    replies: mpsc::Sender<ReadReply>,
) {
    for (offset, len) in requests {
        let reply = if len as u64 > budget {
            Err("read budget for this file system spent".to_string())
        } else {
            budget -= len as u64;
            let mut buf = vec![0u8; len];
            slice
                .read_at(offset, &mut buf)
                .map(|()| buf)
                .map_err(|e| e.to_string())
        };
        if replies.send(reply).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::image::mem::MemDisk as Mem;

    #[test]
    fn slice_reads_inside_and_refuses_past_end() {
        let m = Mem((0..100u8).collect());
        let s = Slice::new(&m, 10, 20);
        let mut b = [0u8; 5];
        s.read_at(15, &mut b).unwrap();
        assert_eq!(b, [25, 26, 27, 28, 29]);
        assert!(s.read_at(16, &mut b).is_err());
        assert!(s.read_at(u64::MAX, &mut b).is_err());
    }

    #[test]
    fn slice_is_clipped_to_the_disk() {
        let m = Mem(vec![0; 100]);
        assert_eq!(Slice::new(&m, 90, 1000).size(), 10);
        assert_eq!(Slice::new(&m, 1000, 10).size(), 0);
    }

    #[test]
    fn reader_honours_budget_and_refuses_writes() {
        let m = Mem(vec![7; 100]);
        let mut r = Slice::whole(&m).reader(8);
        let mut b = [0u8; 8];
        r.read_exact(&mut b).unwrap();
        assert!(r.read(&mut b).is_err());
        assert!(r.write(&[1]).is_err());
        assert_eq!(r.seek(SeekFrom::End(-1)).unwrap(), 99);
        assert!(r.seek(SeekFrom::Current(-1000)).is_err());
    }

    #[test]
    fn counting_disk_counts() {
        let m = Mem(vec![0; 100]);
        let c = CountingDisk::new(&m);
        let mut b = [0u8; 10];
        c.read_at(0, &mut b).unwrap();
        c.read_at(50, &mut b).unwrap();
        assert_eq!(c.bytes_read(), 20);
    }

    #[test]
    fn ext4_reader_serves_reads_through_the_thread() {
        use ext4_view::Ext4Read;
        let m = Mem((0..100u8).collect());
        let got = with_ext4_reader(Slice::new(&m, 50, 50), 10, |mut r| {
            let mut b = [0u8; 4];
            r.read(2, &mut b).unwrap();
            let over = r.read(0, &mut [0u8; 8]).is_err();
            (b, over)
        });
        assert_eq!(got, ([52, 53, 54, 55], true));
    }
}
