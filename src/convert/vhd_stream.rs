//! Any virtual disk as a compact dynamic VHD, made on the fly: no temporary file, nothing
//! buffered beyond the caller's buffer.
//!
//! [`VhdStream::new`] first builds the data map: the extents (SEEK_DATA/SEEK_HOLE of a RAW
//! or fixed VHD file, the BAT of a dynamic VHD, a chain's sector bitmaps) name the blocks that
//! may hold data, and a zero scan drops those that hold only zeros. That fixes the whole
//! layout ([`Layout::compact`]): footer copy, dynamic header, BAT, the kept blocks in disk
//! order (sector bitmap all ones, then 2 MiB of data), footer. So the total length is known
//! before the first byte, and any byte range can be made independently with
//! [`VhdStream::read_at`]: upload parts in parallel, or a resumed upload checking the CRC of
//! a part it sent before. [`VhdReader`] is the sequential `Read + Seek` view.
//!
//! The bytes depend only on the disk's bytes and the [`Identity`] (unique id and timestamp)
//! the caller passes in: the same disk and identity give the same stream, byte for byte.
//! The disk must not change between the scan and the last read: a block that was all zeros at
//! the scan and holds data later is not in the stream (a resumed upload's record keeps the
//! source's size and time for that reason).

use std::io::{self, Read, Seek, SeekFrom};

use super::input::{Input, Pieces};
use super::stream::seek_target;
use super::vhd_meta::{BAT_OFFSET, BLOCK_SIZE, HEADER_OFFSET, Identity, Layout, check_size};
use super::{Format, check_interrupted, is_zero};
use crate::error::{Error, Result};
use crate::image::fit::min_len;
use crate::image::vhd::dynamic::{BAT_UNALLOCATED, HEADER_SIZE};
use crate::image::vhd::footer::FOOTER_SIZE;
use crate::image::{Image, VirtualDisk};

/// The zero scan reads a candidate block in pieces that grow from this size: a data block is
/// usually told apart by its first page, so the scan costs about one page per data block
/// (measured in the stream bench), and only blocks that really are zeros are read whole.
const FIRST_PROBE: usize = 4096;
/// The largest piece the zero scan reads at once (its buffer).
const SCAN_BUF: usize = 256 << 10;

/// A dynamic VHD of a virtual disk, as a positional byte stream. See the module documentation.
pub struct VhdStream<'a> {
    disk: &'a dyn VirtualDisk,
    layout: Layout,
    footer: [u8; FOOTER_SIZE],
    header: [u8; HEADER_SIZE],
    /// The kept blocks, in slot (and disk) order.
    slots: Vec<u32>,
    /// One BAT entry per block of the disk.
    bat: Vec<u32>,
    identity: Identity,
}

impl std::fmt::Debug for VhdStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VhdStream")
            .field("size", &self.layout.size)
            .field("blocks", &self.slots.len())
            .field("len", &self.len())
            .finish()
    }
}

impl<'a> VhdStream<'a> {
    /// The stream of an opened image: a RAW's or fixed VHD's holes come from its file.
    pub fn new(img: &'a Image, identity: Identity) -> Result<VhdStream<'a>> {
        check_size(img.file().path(), img.size(), Format::VhdDynamic)?;
        VhdStream::build(&Input::of(img), identity)
    }

    /// The stream of any virtual disk: its extents say where data may be.
    pub fn of_disk(disk: &'a dyn VirtualDisk, identity: Identity) -> Result<VhdStream<'a>> {
        check_size(
            std::path::Path::new("the disk"),
            disk.size(),
            Format::VhdDynamic,
        )?;
        VhdStream::build(&Input::of_disk(disk), identity)
    }

    fn build(input: &Input<'a>, identity: Identity) -> Result<VhdStream<'a>> {
        let layout = Layout::compact(input.size())?;
        let slots = scan(input)?;
        let mut bat = vec![BAT_UNALLOCATED; layout.entries as usize];
        for (slot, &b) in slots.iter().enumerate() {
            let entry = layout.bat_entry(slot as u64)?;
            if let Some(e) = bat.get_mut(b as usize) {
                *e = entry;
            }
        }
        Ok(VhdStream {
            disk: input.disk,
            footer: layout.footer(&identity),
            header: layout.header(),
            layout,
            slots,
            bat,
            identity,
        })
    }

    /// Bytes of the whole stream: metadata, kept blocks, footer.
    pub fn len(&self) -> u64 {
        self.layout.file_len(self.slots.len() as u64)
    }

    /// Never: a stream holds at least its footers.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The virtual size of the disk.
    pub fn disk_size(&self) -> u64 {
        self.layout.size
    }

    /// Blocks of [`BLOCK_SIZE`] bytes in the stream (holding some non-zero byte).
    pub fn blocks(&self) -> u64 {
        self.slots.len() as u64
    }

    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Fill `buf` with the stream's bytes at `offset`. A read past [`VhdStream::len`] is an
    /// error. Reads only the disk blocks the range covers.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.len());
        if end.is_none() {
            return Err(Error::Failed(format!(
                "read of {} bytes at {offset} past the end of the {}-byte VHD stream",
                buf.len(),
                self.len()
            )));
        }
        let mut done = 0;
        while done < buf.len() {
            let n = self.fill(offset + done as u64, &mut buf[done..])?;
            done += n;
        }
        Ok(())
    }

    /// Fill the start of `out` with the bytes at `at`, up to the end of the region `at` is
    /// in; returns how many.
    fn fill(&self, at: u64, out: &mut [u8]) -> Result<usize> {
        let l = &self.layout;
        let data_start = l.data_start();
        let footer_at = l.end(self.slots.len() as u64);
        if at < HEADER_OFFSET {
            return Ok(copy_from(&self.footer, at, out));
        }
        if at < BAT_OFFSET {
            return Ok(copy_from(&self.header, at - HEADER_OFFSET, out));
        }
        if at < BAT_OFFSET + l.bat_bytes {
            let n = min_len(out.len(), BAT_OFFSET + l.bat_bytes - at);
            l.bat_bytes_at(at - BAT_OFFSET, &mut out[..n], |e| {
                usize::try_from(e)
                    .ok()
                    .and_then(|e| self.bat.get(e))
                    .copied()
                    .unwrap_or(BAT_UNALLOCATED)
            });
            return Ok(n);
        }
        if at < data_start {
            let n = min_len(out.len(), data_start - at);
            out[..n].fill(0);
            return Ok(n);
        }
        if at >= footer_at {
            return Ok(copy_from(&self.footer, at - footer_at, out));
        }
        let slot = (at - data_start) / l.stride();
        let within = (at - data_start) % l.stride();
        let head = l.stride() - BLOCK_SIZE;
        if within < head {
            // Padding (none in the compact layout), then the sector bitmap: all sectors here.
            let n = min_len(out.len(), head - within);
            let pad = min_len(n, (head - l.bitmap).saturating_sub(within));
            out[..pad].fill(0);
            out[pad..n].fill(0xff);
            return Ok(n);
        }
        let block = usize::try_from(slot).ok().and_then(|s| self.slots.get(s));
        let block = block.copied().ok_or_else(|| {
            Error::Failed(format!("VHD stream slot {slot} out of range at byte {at}"))
        })?;
        let d = within - head;
        let n = min_len(out.len(), BLOCK_SIZE - d);
        let virt = u64::from(block) * BLOCK_SIZE + d;
        // The tail of the last block, past the disk's end, reads as zeros.
        let real = min_len(n, self.layout.size.saturating_sub(virt));
        if real > 0 {
            self.disk.read_at(virt, &mut out[..real])?;
        }
        out[real..n].fill(0);
        Ok(n)
    }

    /// A sequential reader over the whole stream.
    pub fn reader(&self) -> VhdReader<'_, 'a> {
        VhdReader {
            stream: self,
            pos: 0,
        }
    }
}

/// Copy `src[at..]` into the start of `out`; returns how many bytes.
fn copy_from(src: &[u8], at: u64, out: &mut [u8]) -> usize {
    let from = usize::try_from(at)
        .ok()
        .and_then(|at| src.get(at..))
        .unwrap_or(&[]);
    let n = from.len().min(out.len());
    out[..n].copy_from_slice(&from[..n]);
    n
}

/// The blocks holding a non-zero byte, in order: candidates from the extents, then the zero
/// scan of each candidate's data ranges (pieces the extents call data).
fn scan(input: &Input) -> Result<Vec<u32>> {
    let mut pieces = Pieces::new(input, BLOCK_SIZE);
    let mut kept: Vec<u32> = Vec::new();
    let mut buf = vec![0u8; SCAN_BUF];
    while let Some((off, len)) = pieces.next_piece()? {
        let block = u32::try_from(off / BLOCK_SIZE)
            .map_err(|_| Error::Failed(format!("block at byte {off} past what a VHD addresses")))?;
        if kept.last() == Some(&block) {
            continue;
        }
        check_interrupted()?;
        if !range_is_zero(input.disk, off, len, &mut buf)? {
            kept.push(block);
        }
    }
    Ok(kept)
}

/// Whether the disk reads all zeros in `off..off + len`, read in growing pieces so a range
/// with data is usually decided by its first page.
fn range_is_zero(disk: &dyn VirtualDisk, off: u64, len: u64, buf: &mut [u8]) -> Result<bool> {
    let mut at = 0u64;
    let mut piece = FIRST_PROBE;
    while at < len {
        let n = min_len(piece, len - at);
        disk.read_at(off + at, &mut buf[..n])?;
        if !is_zero(&buf[..n]) {
            return Ok(false);
        }
        at += n as u64;
        piece = (piece * 8).min(buf.len());
    }
    Ok(true)
}

/// `Read + Seek` over a [`VhdStream`]; each reader keeps its own position.
pub struct VhdReader<'s, 'a> {
    stream: &'s VhdStream<'a>,
    pos: u64,
}

impl Read for VhdReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.stream.len().saturating_sub(self.pos);
        let n = min_len(buf.len(), left);
        if n == 0 {
            return Ok(0);
        }
        let n = self
            .stream
            .fill(self.pos, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for VhdReader<'_, '_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = seek_target(self.pos, self.stream.len(), to, "stream")?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::mem::MemDisk;
    use std::io::Write;

    const MIB: usize = 1 << 20;

    fn id(n: u8) -> Identity {
        Identity {
            unique_id: [n; 16],
            timestamp: 0x1234_5678,
        }
    }

    /// 9 MiB + 3 sectors: data in blocks 0 and 4 (the last, partial one), zeros elsewhere.
    fn disk() -> MemDisk {
        let mut d = vec![0u8; 9 * MIB + 1536];
        d[5] = 1;
        d[2 * MIB - 1] = 2;
        let last = d.len() - 1;
        d[last] = 3;
        MemDisk(d)
    }

    fn all(s: &VhdStream) -> Vec<u8> {
        let mut v = Vec::new();
        s.reader().read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn only_blocks_with_data_are_kept_and_the_layout_is_compact() {
        let d = disk();
        let s = VhdStream::of_disk(&d, id(1)).unwrap();
        assert_eq!(s.blocks(), 2);
        assert_eq!(s.len(), 2048 + 2 * (512 + 2 * MIB as u64) + 512);
        let b = all(&s);
        assert_eq!(b.len() as u64, s.len());
        assert_eq!(&b[..8], b"conectix");
        assert_eq!(&b[512..520], b"cxsparse");
        // BAT: block 0 at sector 4, blocks 1..3 unallocated, block 4 after block 0.
        assert_eq!(&b[1536..1540], &4u32.to_be_bytes());
        assert_eq!(&b[1540..1552], &[0xff; 12]);
        assert_eq!(&b[1552..1556], &(4 + 1 + 4096u32).to_be_bytes());
        assert!(b[2048..2560].iter().all(|&x| x == 0xff), "bitmap all ones");
        assert_eq!(b[2560 + 5], 1);
        assert_eq!(b[2560 + 2 * MIB - 1], 2);
        let tail = b.len() - 512;
        assert_eq!(&b[tail..], &b[..512], "footer and its copy");
        // The last block's byte past the disk's end reads as zero; the disk's last byte is
        // 1536 bytes into block 4.
        let blk4 = 2048 + 512 + 2 * MIB + 512;
        assert_eq!(b[blk4 + MIB + 1535], 3);
        assert!(b[blk4 + MIB + 1536..tail].iter().all(|&x| x == 0));
    }

    #[test]
    fn read_at_anywhere_equals_the_sequential_bytes() {
        let d = disk();
        let s = VhdStream::of_disk(&d, id(1)).unwrap();
        let b = all(&s);
        let mut x = 7u64;
        for _ in 0..200 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let at = (x >> 20) % s.len();
            let n = ((x >> 5) % (3 * MIB as u64)).min(s.len() - at) as usize;
            let mut buf = vec![0x55u8; n];
            s.read_at(at, &mut buf).unwrap();
            assert!(buf == b[at as usize..at as usize + n], "at {at} len {n}");
        }
        let mut one = [0u8; 1];
        assert!(s.read_at(s.len(), &mut one).is_err());
        assert!(s.read_at(u64::MAX, &mut one).is_err());
        let mut r = s.reader();
        r.seek(SeekFrom::End(-512)).unwrap();
        let mut f = Vec::new();
        r.read_to_end(&mut f).unwrap();
        assert_eq!(f, b[b.len() - 512..]);
    }

    #[test]
    fn the_same_identity_gives_the_same_bytes() {
        let d = disk();
        let a = all(&VhdStream::of_disk(&d, id(1)).unwrap());
        let b = all(&VhdStream::of_disk(&d, id(1)).unwrap());
        let c = all(&VhdStream::of_disk(&d, id(2)).unwrap());
        assert!(a == b);
        let differ: Vec<usize> = (0..a.len()).filter(|&i| a[i] != c[i]).collect();
        assert!(!differ.is_empty());
        let tail = a.len() - 512;
        assert!(
            differ.iter().all(|&i| i < 512 || i >= tail),
            "only the footers carry the identity"
        );
    }

    #[test]
    fn the_stream_reads_back_through_our_reader() {
        let d = disk();
        let s = VhdStream::of_disk(&d, id(3)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.vhd");
        std::fs::File::create(&p)
            .unwrap()
            .write_all(&all(&s))
            .unwrap();
        let img = crate::image::open(&p).unwrap();
        assert_eq!(img.size(), d.0.len() as u64);
        let mut back = vec![0u8; d.0.len()];
        img.read_at(0, &mut back).unwrap();
        assert!(back == d.0);
        // Block 0 whole, and the part of block 4 inside the disk.
        let want = 2 * MIB + (d.0.len() - 8 * MIB);
        assert_eq!(img.allocated_bytes().unwrap(), want as u64);
    }

    #[test]
    fn sizes_a_vhd_cannot_hold_are_refused() {
        assert!(VhdStream::of_disk(&MemDisk(vec![1; 1000]), id(1)).is_err());
        assert!(VhdStream::of_disk(&MemDisk(Vec::new()), id(1)).is_err());
        // All zeros: a valid VHD with no block.
        let z = MemDisk(vec![0; 4096]);
        let s = VhdStream::of_disk(&z, id(1)).unwrap();
        assert_eq!((s.blocks(), s.len()), (0, 2048 + 512));
    }
}
