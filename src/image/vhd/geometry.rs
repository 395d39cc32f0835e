//! CHS geometry, and the rule that decides a VHD's virtual size.

/// Cylinders, heads and sectors per track, as stored in the footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub cylinders: u16,
    pub heads: u8,
    pub sectors: u8,
}

pub const SECTOR: u64 = 512;
/// The largest geometry the footer can hold that the spec's algorithm produces: 65535/16/255.
pub const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;
/// QEMU's limit for VHD images: 2040 GiB.
pub const QEMU_MAX_SECTORS: u64 = 0xff00_0000;

impl Geometry {
    pub fn sectors_total(&self) -> u64 {
        u64::from(self.cylinders) * u64::from(self.heads) * u64::from(self.sectors)
    }

    pub fn bytes(&self) -> u64 {
        self.sectors_total() * SECTOR
    }

    pub fn is_max(&self) -> bool {
        self.sectors_total() == MAX_GEOMETRY_SECTORS
    }

    /// The geometry the VHD specification's appendix computes for `total_sectors` (integer
    /// arithmetic throughout; it may round the size down).
    pub fn from_sectors(total_sectors: u64) -> Geometry {
        let ts = total_sectors.min(MAX_GEOMETRY_SECTORS);
        let (mut spt, mut heads, mut cth);
        if ts >= 65535 * 16 * 63 {
            spt = 255;
            heads = 16;
            cth = ts / spt;
        } else {
            spt = 17;
            cth = ts / spt;
            heads = cth.div_ceil(1024).max(4);
            if cth >= heads * 1024 || heads > 16 {
                spt = 31;
                heads = 16;
                cth = ts / spt;
            }
            if cth >= heads * 1024 {
                spt = 63;
                heads = 16;
                cth = ts / spt;
            }
        }
        // heads is 4..=16 and spt one of 17, 31, 63, 255 (set above): both fit a u8.
        #[allow(clippy::cast_possible_truncation)]
        Geometry {
            cylinders: (cth / heads).min(65535) as u16,
            heads: heads as u8,
            sectors: spt as u8,
        }
    }

    /// The smallest CHS-representable size not below `bytes`, with its geometry, as
    /// `qemu-img create -f vpc` rounds (without force_size). `None` above the CHS maximum.
    pub fn round_up(bytes: u64) -> Option<(Geometry, u64)> {
        let want = bytes.div_ceil(SECTOR);
        if want > MAX_GEOMETRY_SECTORS {
            return None;
        }
        let mut s = want;
        loop {
            let g = Geometry::from_sectors(s);
            if g.sectors_total() >= want {
                return Some((g, g.sectors_total() * SECTOR));
            }
            s += 1;
        }
    }
}

/// How the virtual size was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// Cylinders x heads x sectors x 512.
    Geometry,
    /// The footer's current size.
    CurrentSize,
}

impl SizeSource {
    pub fn name(self) -> &'static str {
        match self {
            SizeSource::Geometry => "geometry",
            SizeSource::CurrentSize => "current_size",
        }
    }
}

/// QEMU 10's rule: Virtual PC (`vpc `) and old QEMU (`qemu`) size a disk by its geometry;
/// every other creator (Hyper-V `win `, `qem2`, Disk2vhd, XenServer, Azure...) by the current
/// size. The maximum geometry means the current size for everyone. The current size is taken
/// in whole sectors, as QEMU does.
pub fn virtual_size(
    creator_app: &[u8; 4],
    geometry: Geometry,
    current_size: u64,
) -> (u64, SizeSource) {
    let chs_creator = creator_app == b"vpc " || creator_app == b"qemu";
    if chs_creator && !geometry.is_max() {
        (geometry.bytes(), SizeSource::Geometry)
    } else {
        (current_size / SECTOR * SECTOR, SizeSource::CurrentSize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_geometry_examples() {
        // 1 GiB: 2097152 sectors -> 63 spt, 16 heads, 2080 cylinders (qemu-img rounds 1 GiB
        // up to 2080*16*63*512 = 1073479680? no: that is below; see round_up test).
        let g = Geometry::from_sectors(2_097_152);
        assert_eq!((g.cylinders, g.heads, g.sectors), (2080, 16, 63));
        // Small disk: 20 MiB = 40960 sectors -> spt 17, heads 4, cylinders 602.
        let g = Geometry::from_sectors(40_960);
        assert_eq!((g.cylinders, g.heads, g.sectors), (602, 4, 17));
        // Very large: clamps to the maximum.
        let g = Geometry::from_sectors(u64::MAX);
        assert!(g.is_max());
    }

    #[test]
    fn round_up_covers_request() {
        for mib in [1u64, 5, 10, 64, 100, 1000, 1024, 4096] {
            let want = mib << 20;
            let (g, size) = Geometry::round_up(want).unwrap();
            assert!(size >= want, "{mib} MiB");
            assert_eq!(g.bytes(), size);
        }
    }

    #[test]
    fn qemu10_size_rule() {
        let g = Geometry {
            cylinders: 100,
            heads: 16,
            sectors: 63,
        };
        assert_eq!(virtual_size(b"vpc ", g, 1 << 30).0, g.bytes());
        assert_eq!(virtual_size(b"qemu", g, 1 << 30).0, g.bytes());
        assert_eq!(virtual_size(b"win ", g, 1 << 30).0, 1 << 30);
        assert_eq!(virtual_size(b"wa\0\0", g, 1 << 30).0, 1 << 30);
        assert_eq!(virtual_size(b"qem2", g, 1 << 30).0, 1 << 30);
        let max = Geometry {
            cylinders: 65535,
            heads: 16,
            sectors: 255,
        };
        assert_eq!(
            virtual_size(b"vpc ", max, 1 << 40),
            (1 << 40, SizeSource::CurrentSize)
        );
        // Current size is taken in whole sectors.
        assert_eq!(virtual_size(b"win ", g, 1000).0, 512);
    }
}
