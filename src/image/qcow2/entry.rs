//! L1 and L2 table entries: what a (sub)cluster of the virtual disk maps to.

/// Offset bits of L1 and standard L2 entries (9..55).
pub const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// The entry's cluster has refcount exactly 1 (may be written in place).
pub const OFLAG_COPIED: u64 = 1 << 63;
pub const OFLAG_COMPRESSED: u64 = 1 << 62;
/// Version 3: the cluster reads as zeros (standard L2 entries only).
pub const OFLAG_ZERO: u64 = 1;
/// Subclusters per cluster with extended L2 entries.
pub const SUBCLUSTERS: u64 = 32;

/// What one L2 entry (with its subcluster bitmap when extended) says about a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cluster {
    /// Not in this file: the backing file's bytes (or zeros).
    Unallocated,
    /// Reads as zeros; `host` is a preallocated cluster, if any.
    Zero { host: Option<u64> },
    /// Stored at `host` (in the image file, or the external data file).
    Normal { host: u64 },
    /// Compressed: `len` bytes at `host` (the last sector may run past the end of the file).
    Compressed { host: u64, len: u64 },
    /// Extended L2: each subcluster is one of the above; `host` for the allocated ones.
    Sub { host: Option<u64>, bitmap: u64 },
}

/// What a subcluster reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Unallocated,
    Zero,
    Data,
    /// The allocation and zero bits are both set: no reader can answer.
    Invalid,
}

/// Decode an L2 entry. `cluster_bits` gives the compressed-size field's position;
/// `data_file`: host offset 0 with COPIED is a real cluster (external data files).
pub fn decode(entry: u64, bitmap: Option<u64>, cluster_bits: u32, data_file: bool) -> Cluster {
    if entry & OFLAG_COMPRESSED != 0 {
        let shift = 62 - (cluster_bits - 8);
        let mask = (1u64 << (cluster_bits - 8)) - 1;
        let host = entry & ((1u64 << shift) - 1);
        let sectors = ((entry >> shift) & mask) + 1;
        return Cluster::Compressed {
            host,
            len: (sectors * 512).saturating_sub(host & 511),
        };
    }
    let off = entry & OFFSET_MASK;
    let allocated = off != 0 || (data_file && entry & OFLAG_COPIED != 0);
    if let Some(bitmap) = bitmap {
        return Cluster::Sub {
            host: allocated.then_some(off),
            bitmap,
        };
    }
    if entry & OFLAG_ZERO != 0 {
        return Cluster::Zero {
            host: allocated.then_some(off),
        };
    }
    if allocated {
        Cluster::Normal { host: off }
    } else {
        Cluster::Unallocated
    }
}

/// Subcluster `i` of an extended entry (QEMU's qcow2_get_subcluster_type).
pub fn sub(host: Option<u64>, bitmap: u64, i: u64) -> Sub {
    let alloc = bitmap >> i & 1 != 0;
    let zero = bitmap >> (32 + i) & 1 != 0;
    match (host.is_some(), alloc, zero) {
        (_, true, true) => Sub::Invalid,
        (false, true, _) => Sub::Invalid,
        (_, false, true) => Sub::Zero,
        (true, true, false) => Sub::Data,
        (_, false, false) => Sub::Unallocated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_entry_fields_for_64k_clusters() {
        // cluster_bits 16: offset in bits 0..53, sectors-1 in bits 54..61.
        let e = OFLAG_COMPRESSED | (3u64 << 54) | 0x1_0200;
        assert_eq!(
            decode(e, None, 16, false),
            Cluster::Compressed {
                host: 0x1_0200,
                len: 4 * 512
            }
        );
    }

    #[test]
    fn zero_flag_and_external_offset_zero() {
        assert_eq!(decode(1, None, 16, false), Cluster::Zero { host: None });
        assert_eq!(decode(0, None, 16, false), Cluster::Unallocated);
        assert_eq!(
            decode(OFLAG_COPIED, None, 16, true),
            Cluster::Normal { host: 0 }
        );
        assert_eq!(decode(OFLAG_COPIED, None, 16, false), Cluster::Unallocated);
    }

    #[test]
    fn subcluster_bits() {
        let bm = 1 | (1u64 << 33);
        assert_eq!(sub(Some(0x10000), bm, 0), Sub::Data);
        assert_eq!(sub(Some(0x10000), bm, 1), Sub::Zero);
        assert_eq!(sub(Some(0x10000), bm, 2), Sub::Unallocated);
        assert_eq!(sub(None, 1, 0), Sub::Invalid);
    }
}
