//! The one writer of dynamic-VHD metadata: which sizes a VHD may hold, the footer (creator,
//! geometry, identity), the dynamic header, the BAT bytes, and where blocks go. Both the file
//! writer (`to_vhd`) and the streamed VHD (`vhd_stream`) take their layout and every
//! metadata byte from here; they differ only in where a block's data starts (see [`Layout`]).
//!
//! **Sizes.** The footer's current size is exactly the disk's size, and nothing else decides
//! it for any reader:
//!
//! - the creator is `qem2`, which QEMU up to 9.2 sizes by the current size (it is on its
//!   list, as QEMU's own `force_size` writer) and QEMU 10 too (every creator but `vpc `/`qemu`);
//! - the geometry is the spec's CHS when that covers the size exactly, and otherwise the
//!   maximum geometry 65535/16/255, which every QEMU since 2012 (and the spec's own algorithm
//!   above 127 GiB) takes as "the size is the current size". The spec's rounded-down CHS
//!   would have a reader that trusts geometry cut the disk's tail, and `check` warns about it.
//! - `MaxTableEntries x BlockSize` is the size rounded up to a whole block, never less: the
//!   rule the service enforces as `InvalidVHDImage.IncorrectSize`.
//!
//! **Blocks are 2 MiB**: QEMU's and Hyper-V's default (every reader takes it, the service
//! included), small enough that a partly used region costs little (a block holding one
//! non-zero byte is sent whole), large enough that the BAT stays small (4 bytes per 2 MiB:
//! 4 MiB for the largest 2040 GiB disk) and every block is one large sequential read.

use super::{CHUNK, Format, atomic, vhd_now};
use crate::error::{Error, Result};
use crate::image::vhd::dynamic::{
    self, BAT_UNALLOCATED, DYNAMIC_COOKIE, DynamicHeader, HEADER_SIZE, HEADER_VERSION,
    ParentLocator,
};
use crate::image::vhd::footer::{
    DATA_OFFSET_NONE, DiskType, FEATURE_RESERVED, FOOTER_SIZE, FORMAT_VERSION, Footer, VHD_COOKIE,
};
use crate::image::vhd::geometry::{Geometry, MAX_GEOMETRY_SECTORS, QEMU_MAX_SECTORS, SECTOR};
use std::path::Path;

/// Our creator application: QEMU's `force_size` creator, the one every QEMU version (and so
/// the import service) sizes by the current size. See the module documentation.
pub const CREATOR_APP: [u8; 4] = *b"qem2";
/// Creator version 0.1, as major.minor words (QEMU itself writes 5.3: ours tells them apart).
pub const CREATOR_VERSION: u32 = 0x0000_0001;
/// The host OS field Windows tools write; some readers expect one of the two spec values.
pub const CREATOR_HOST_OS: [u8; 4] = *b"Wi2k";
/// The block size of every dynamic VHD we write (why 2 MiB: see the module documentation).
pub const BLOCK_SIZE: u64 = CHUNK;
/// [`BLOCK_SIZE`] as the header's Block Size field holds it.
#[allow(clippy::cast_possible_truncation)] // 2 MiB
const BLOCK_SIZE_FIELD: u32 = BLOCK_SIZE as u32;
/// Where the dynamic header goes: right after the footer copy.
pub const HEADER_OFFSET: u64 = FOOTER_SIZE as u64;
/// Where the BAT goes: right after the header.
pub const BAT_OFFSET: u64 = HEADER_OFFSET + HEADER_SIZE as u64;

/// What makes one VHD different from another of the same disk: the footer's unique id and
/// timestamp. A caller that must produce the same bytes again (a resumed upload) keeps these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub unique_id: [u8; 16],
    /// Seconds since 2000-01-01 UTC.
    pub timestamp: u32,
}

impl Identity {
    /// A fresh random (version 4) unique id and the current time.
    pub fn new() -> Result<Identity> {
        let mut unique_id = atomic::random_bytes::<16>()?;
        unique_id[6] = (unique_id[6] & 0x0f) | 0x40;
        unique_id[8] = (unique_id[8] & 0x3f) | 0x80;
        Ok(Identity {
            unique_id,
            timestamp: vhd_now(),
        })
    }
}

/// A disk a VHD can hold: whole sectors, not empty, and for dynamic disks no more than the
/// 2040 GiB QEMU and Hyper-V accept. A disk of a size that is not a whole number of sectors
/// is refused rather than padded: padding would change the disk's size, which the service
/// compares with DiskImageSize and the guest sees.
pub fn check_size(src: &Path, size: u64, format: Format) -> Result<()> {
    if size == 0 || size % SECTOR != 0 {
        return Err(Error::Usage(format!(
            "{}: the disk is {size} bytes, not a whole number of 512-byte sectors; a VHD cannot hold it",
            src.display()
        )));
    }
    if format == Format::VhdDynamic && size > QEMU_MAX_SECTORS * SECTOR {
        return Err(Error::Usage(format!(
            "{}: the disk is {size} bytes, more than the {} bytes (2040 GiB) a dynamic VHD may hold; use --to vhd-fixed",
            src.display(),
            QEMU_MAX_SECTORS * SECTOR
        )));
    }
    Ok(())
}

/// The geometry we store for `size` bytes: the spec's CHS when it is exact, else the maximum
/// (meaning "take the current size"; see the module documentation).
pub fn geometry(size: u64) -> Geometry {
    let sectors = size / SECTOR;
    let spec = Geometry::from_sectors(sectors);
    if spec.sectors_total() == sectors {
        spec
    } else {
        Geometry::from_sectors(MAX_GEOMETRY_SECTORS)
    }
}

/// The footer of a disk of `size` bytes.
pub fn footer(kind: DiskType, size: u64, data_offset: u64, id: &Identity) -> Footer {
    Footer {
        cookie: *VHD_COOKIE,
        features: FEATURE_RESERVED,
        format_version: FORMAT_VERSION,
        data_offset,
        timestamp: id.timestamp,
        creator_app: CREATOR_APP,
        creator_version: CREATOR_VERSION,
        creator_host_os: CREATOR_HOST_OS,
        original_size: size,
        current_size: size,
        geometry: geometry(size),
        disk_type: kind.as_u32(),
        checksum: 0,
        unique_id: id.unique_id,
        saved_state: 0,
        reserved_nonzero: false,
    }
}

/// Where things go in a dynamic VHD we write: footer copy, header, BAT, then the blocks (in
/// slot order), then the footer. A block is its sector bitmap followed by its data, in a slot
/// of `head + BLOCK_SIZE` bytes whose bitmap ends `head` bytes in.
///
/// - The file writer uses `head` = one page ([`Layout::page_aligned`]): block data on page
///   boundaries is what lets a file system share blocks with a RAW source (reflink) and
///   spares the kernel partial pages; the padding before a bitmap is never written (a hole).
///   Its workers take slots as they finish, so the BAT is known only at the end.
/// - The stream uses `head` = the bitmap ([`Layout::compact`]): no padding, every byte sent
///   is metadata or data, and slots follow block order so the whole layout is known before
///   the first byte.
#[derive(Debug, Clone)]
pub struct Layout {
    pub size: u64,
    /// BAT entries: one per block of the disk, the last one possibly partly past its end.
    pub entries: u32,
    /// Bytes of the BAT in the file, whole sectors.
    pub bat_bytes: u64,
    /// Bytes of one block's sector bitmap.
    pub bitmap: u64,
    head: u64,
}

impl Layout {
    fn new(size: u64, head: u64) -> Result<Layout> {
        let entries = u32::try_from(size.div_ceil(BLOCK_SIZE))
            .ok()
            .filter(|&e| e != u32::MAX)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "{size} bytes need more BAT entries than a VHD holds"
                ))
            })?;
        Ok(Layout {
            size,
            entries,
            bat_bytes: (u64::from(entries) * dynamic::BAT_ENTRY_SIZE).div_ceil(SECTOR) * SECTOR,
            bitmap: dynamic::bitmap_size(BLOCK_SIZE_FIELD),
            head,
        })
    }

    /// Blocks whose data starts on a page boundary (the file writer's layout).
    pub fn page_aligned(size: u64) -> Result<Layout> {
        Layout::new(size, 4096)
    }

    /// Blocks packed one after the other (the stream's layout).
    pub fn compact(size: u64) -> Result<Layout> {
        let bitmap = dynamic::bitmap_size(BLOCK_SIZE_FIELD);
        Layout::new(size, bitmap)
    }

    /// [`Layout::bitmap`] as a buffer length.
    pub fn bitmap_len(&self) -> usize {
        // bitmap_size(BLOCK_SIZE): 512 bytes for the 2 MiB blocks written here.
        #[allow(clippy::cast_possible_truncation)]
        let n = self.bitmap as usize;
        n
    }

    /// Bytes of one slot: padding, bitmap, data.
    pub fn stride(&self) -> u64 {
        self.head + BLOCK_SIZE
    }

    /// Where the first slot starts: after the BAT, aligned to `head`.
    pub fn data_start(&self) -> u64 {
        (BAT_OFFSET + self.bat_bytes).div_ceil(self.head) * self.head
    }

    /// Where slot `slot`'s sector bitmap starts: the block's offset in the BAT.
    pub fn block_at(&self, slot: u64) -> u64 {
        self.data_start() + slot * self.stride() + self.head - self.bitmap
    }

    /// The BAT entry (a sector number) of a block in slot `slot`.
    pub fn bat_entry(&self, slot: u64) -> Result<u32> {
        let at = self.block_at(slot);
        u32::try_from(at / SECTOR)
            .ok()
            .filter(|&s| s != BAT_UNALLOCATED)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "slot {slot} would start at byte {at}, past what a BAT entry can address"
                ))
            })
    }

    /// The end of the first `slots` slots: where the footer goes.
    pub fn end(&self, slots: u64) -> u64 {
        self.data_start() + slots * self.stride()
    }

    /// The length of the whole file with `slots` blocks.
    pub fn file_len(&self, slots: u64) -> u64 {
        self.end(slots) + FOOTER_SIZE as u64
    }

    /// The footer (at 0 and at the end).
    pub fn footer(&self, id: &Identity) -> [u8; FOOTER_SIZE] {
        footer(DiskType::Dynamic, self.size, HEADER_OFFSET, id).to_bytes()
    }

    /// The dynamic header (at [`HEADER_OFFSET`]).
    pub fn header(&self) -> [u8; HEADER_SIZE] {
        DynamicHeader {
            cookie: *DYNAMIC_COOKIE,
            data_offset: DATA_OFFSET_NONE,
            table_offset: BAT_OFFSET,
            header_version: HEADER_VERSION,
            max_table_entries: self.entries,
            block_size: BLOCK_SIZE_FIELD,
            checksum: 0,
            parent_unique_id: [0; 16],
            parent_timestamp: 0,
            parent_name: Vec::new(),
            locators: [ParentLocator::default(); dynamic::LOCATOR_COUNT],
            reserved_nonzero: false,
        }
        .to_bytes()
    }

    /// The BAT bytes at `offset..offset + out.len()` inside the table, entry `i` being
    /// `entry(i)`. Padding after the last entry reads as unallocated, as QEMU writes it.
    pub fn bat_bytes_at(&self, offset: u64, out: &mut [u8], entry: impl Fn(u32) -> u32) {
        for (i, b) in out.iter_mut().enumerate() {
            let at = offset + i as u64;
            let e = at / dynamic::BAT_ENTRY_SIZE;
            let v = match u32::try_from(e) {
                Ok(e) if e < self.entries => entry(e),
                _ => BAT_UNALLOCATED,
            };
            *b = v.to_be_bytes()[(at % dynamic::BAT_ENTRY_SIZE) as usize];
        }
    }
}

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::image::vhd::geometry::virtual_size;

    #[test]
    fn page_aligned_layout_places_blocks_after_the_bat() {
        let l = Layout::page_aligned((5 << 20) + 512).unwrap();
        assert_eq!(l.entries, 3);
        assert_eq!(l.bat_bytes, 512);
        assert_eq!(l.data_start(), 4096);
        // Bitmaps end, and data starts, on page boundaries.
        assert_eq!(l.block_at(0), 4096 + 4096 - 512);
        assert_eq!(l.block_at(2), 4096 + 2 * (4096 + (2 << 20)) + 4096 - 512);
        assert_eq!((l.block_at(2) + 512) % 4096, 0);
        assert_eq!(l.end(3), 4096 + 3 * (4096 + (2 << 20)));
        // A BAT ending on a page boundary needs no padding.
        let big = Layout::page_aligned(2560 << 20).unwrap();
        assert_eq!(big.bat_bytes, 5120);
        assert_eq!(big.data_start(), 8192);
    }

    #[test]
    fn compact_layout_has_no_padding() {
        let l = Layout::compact((5 << 20) + 512).unwrap();
        assert_eq!(l.data_start(), 512 + 1024 + 512);
        assert_eq!(l.block_at(0), 2048);
        assert_eq!(l.block_at(1), 2048 + 512 + (2 << 20));
        assert_eq!(l.bat_entry(1).unwrap(), 4 + 1 + 4096);
        assert_eq!(l.file_len(2), 2048 + 2 * (512 + (2 << 20)) + 512);
        // The IncorrectSize rule: the table covers the disk.
        assert!(u64::from(l.entries) * BLOCK_SIZE >= l.size);
    }

    #[test]
    fn bat_bytes_are_big_endian_then_unallocated() {
        let l = Layout::compact(3 << 20).unwrap();
        let mut t = vec![0u8; l.bat_bytes as usize];
        l.bat_bytes_at(0, &mut t, |e| 0x0102_0300 + e);
        assert_eq!(&t[..9], &[1, 2, 3, 0, 1, 2, 3, 1, 0xff]);
        assert!(t[8..].iter().all(|&b| b == 0xff));
        let mut mid = [0u8; 3];
        l.bat_bytes_at(2, &mut mid, |e| 0x0102_0300 + e);
        assert_eq!(mid, [3, 0, 1]);
    }

    #[test]
    fn every_reader_takes_the_exact_size() {
        let id = Identity {
            unique_id: [1; 16],
            timestamp: 5,
        };
        // Not CHS-representable (8 GiB, odd sizes) and representable ones.
        for size in [
            8u64 << 30,
            (37 << 20) + 5 * 512,
            16 * 63 * 512 * 100,
            1 << 40,
        ] {
            let f = footer(DiskType::Dynamic, size, 512, &id);
            let (v, _) = virtual_size(&f.creator_app, f.geometry, f.current_size);
            assert_eq!(v, size, "QEMU 10's rule");
            // A reader that trusts geometry (QEMU before 10 with an unlisted creator) gets the
            // size too: exact CHS, or the maximum that means "use the current size".
            assert!(f.geometry.bytes() == size || f.geometry.is_max(), "{size}");
            assert_eq!(&f.creator_app, b"qem2");
        }
    }
}
