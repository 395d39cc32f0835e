//! The qcow2 header (versions 2 and 3) and its extensions, parsed from the first cluster and
//! validated field by field. Offsets and names follow QEMU's docs/interop/qcow2.txt.

use crate::bytes::{Bytes, Fixed, Short};
use crate::error::{Error, Result};
use crate::image::fit::min_len;
use crate::image::source::SourceFile;

pub const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";
/// A version 2 header ends here; version 3 adds the feature words and `header_length`.
pub const V2_HEADER_LEN: u32 = 72;
/// The smallest version 3 header (up to and including `header_length`).
pub const V3_HEADER_LEN: u32 = 104;

/// Byte offsets of the header's fields (QEMU docs/interop/qcow2.txt, "Header").
pub mod off {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 4;
    pub const BACKING_FILE_OFFSET: usize = 8;
    pub const BACKING_FILE_SIZE: usize = 16;
    pub const CLUSTER_BITS: usize = 20;
    pub const SIZE: usize = 24;
    pub const CRYPT_METHOD: usize = 32;
    pub const L1_SIZE: usize = 36;
    pub const L1_TABLE_OFFSET: usize = 40;
    pub const REFCOUNT_TABLE_OFFSET: usize = 48;
    pub const REFCOUNT_TABLE_CLUSTERS: usize = 56;
    pub const NB_SNAPSHOTS: usize = 60;
    pub const SNAPSHOTS_OFFSET: usize = 64;
    /// Version 3 only from here.
    pub const INCOMPATIBLE_FEATURES: usize = 72;
    pub const COMPATIBLE_FEATURES: usize = 80;
    pub const AUTOCLEAR_FEATURES: usize = 88;
    pub const REFCOUNT_ORDER: usize = 96;
    pub const HEADER_LENGTH: usize = 100;
    /// Present when header_length > 104.
    pub const COMPRESSION_TYPE: usize = 104;
    /// What imgtool reads of the header (the rest of a longer header is padding).
    pub const LEN: usize = 112;
}
/// Cluster sizes QEMU supports: 512 B (9) to 2 MiB (21).
pub const MIN_CLUSTER_BITS: u32 = 9;
pub const MAX_CLUSTER_BITS: u32 = 21;
/// The largest L1 table QEMU opens (32 MiB of entries); we hold the part covering the disk.
pub const MAX_L1_ENTRIES: u64 = 4 << 20;
/// The largest refcount table QEMU opens: 8 MiB.
pub const MAX_REFTABLE_BYTES: u64 = 8 << 20;
/// QEMU's limit on internal snapshots.
pub const MAX_SNAPSHOTS: u32 = 65536;
/// QEMU's limit on a backing file name.
pub const MAX_BACKING_NAME: u32 = 1023;

/// Incompatible feature bits.
pub const INCOMPAT_DIRTY: u64 = 1 << 0;
pub const INCOMPAT_CORRUPT: u64 = 1 << 1;
pub const INCOMPAT_DATA_FILE: u64 = 1 << 2;
pub const INCOMPAT_COMPRESSION: u64 = 1 << 3;
pub const INCOMPAT_EXTL2: u64 = 1 << 4;
const INCOMPAT_KNOWN: u64 = 0x1f;
/// Compatible feature bits.
pub const COMPAT_LAZY_REFCOUNTS: u64 = 1 << 0;
/// Autoclear feature bits.
pub const AUTOCLEAR_BITMAPS: u64 = 1 << 0;
pub const AUTOCLEAR_DATA_FILE_RAW: u64 = 1 << 1;

/// Header extension types.
pub const EXT_END: u32 = 0;
pub const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
pub const EXT_FEATURE_TABLE: u32 = 0x6803_f857;
pub const EXT_CRYPTO: u32 = 0x0537_be77;
pub const EXT_BITMAPS: u32 = 0x2385_2875;
pub const EXT_DATA_FILE: u32 = 0x4441_5441;

/// One header extension as found: where, what, how long.
#[derive(Debug, Clone)]
pub struct Extension {
    pub kind: u32,
    pub offset: u64,
    pub length: u32,
}

impl Extension {
    pub fn name(&self) -> &'static str {
        match self.kind {
            EXT_BACKING_FORMAT => "backing format",
            EXT_FEATURE_TABLE => "feature name table",
            EXT_CRYPTO => "full disk encryption header",
            EXT_BITMAPS => "bitmaps",
            EXT_DATA_FILE => "external data file name",
            _ => "unknown",
        }
    }
}

/// An entry of the feature name table: (type 0 incompatible, 1 compatible, 2 autoclear; bit; name).
#[derive(Debug, Clone)]
pub struct FeatureName {
    pub kind: u8,
    pub bit: u8,
    pub name: String,
}

/// The bitmaps extension.
#[derive(Debug, Clone, Copy)]
pub struct Bitmaps {
    pub count: u32,
    pub directory_size: u64,
    pub directory_offset: u64,
}

#[derive(Debug, Clone)]
pub struct Header {
    pub version: u32,
    pub backing_file_offset: u64,
    pub backing_file_size: u32,
    pub cluster_bits: u32,
    pub size: u64,
    pub crypt_method: u32,
    pub l1_size: u32,
    pub l1_table_offset: u64,
    pub refcount_table_offset: u64,
    pub refcount_table_clusters: u32,
    pub nb_snapshots: u32,
    pub snapshots_offset: u64,
    pub incompatible: u64,
    pub compatible: u64,
    pub autoclear: u64,
    pub refcount_order: u32,
    pub header_length: u32,
    pub compression_type: u8,
    pub extensions: Vec<Extension>,
    pub backing_file: Option<String>,
    pub backing_format: Option<String>,
    pub data_file: Option<String>,
    pub feature_names: Vec<FeatureName>,
    pub bitmaps: Option<Bitmaps>,
}

/// Whether the file starts with the qcow magic.
pub fn has_magic(src: &SourceFile) -> Result<bool> {
    if src.len() < 4 {
        return Ok(false);
    }
    let mut m = [0u8; 4];
    src.read_exact_at(0, &mut m, "qcow2 magic")?;
    Ok(&m == QCOW2_MAGIC)
}

impl Header {
    pub fn cluster_size(&self) -> u64 {
        1u64 << self.cluster_bits
    }
    pub fn extended_l2(&self) -> bool {
        self.incompatible & INCOMPAT_EXTL2 != 0
    }
    pub fn has_data_file(&self) -> bool {
        self.incompatible & INCOMPAT_DATA_FILE != 0
    }
    /// Bytes per L2 entry: 8, or 16 with extended L2 (entry + subcluster bitmap).
    pub fn l2_entry_size(&self) -> u64 {
        if self.extended_l2() { 16 } else { 8 }
    }
    pub fn l2_entries(&self) -> u64 {
        self.cluster_size() / self.l2_entry_size()
    }
    pub fn compression_name(&self) -> &'static str {
        if self.compression_type == 1 {
            "zstd"
        } else {
            "zlib"
        }
    }
    /// L1 entries needed to cover the virtual size.
    pub fn l1_needed(&self) -> u64 {
        let per = self.cluster_size() * self.l2_entries();
        self.size.div_ceil(per)
    }
    pub fn encryption_name(&self) -> Option<&'static str> {
        match self.crypt_method {
            0 => None,
            1 => Some("AES"),
            2 => Some("LUKS"),
            _ => Some("unknown"),
        }
    }

    /// Read and validate the header and its extensions.
    pub fn read(src: &SourceFile) -> Result<Header> {
        let p = src.path();
        let bad = |off: u64, field: &str, found: String, expected: &str| {
            Error::malformed(p, off, field, found, expected.to_string())
        };
        if src.len() < u64::from(V2_HEADER_LEN) {
            return Err(bad(
                0,
                "qcow2 header",
                format!("a file of {} bytes", src.len()),
                "at least the 72 bytes of a version 2 header",
            ));
        }
        let mut buf = [0u8; off::LEN];
        // Fields past the end of a short file stay zero; the version's length is checked below.
        let n = usize::try_from(src.len()).map_or(off::LEN, |l| l.min(off::LEN));
        src.read_exact_at(0, buf.get_mut(..n).unwrap_or(&mut []), "qcow2 header")?;
        let fixed = Fixed(&buf);
        let magic = fixed.array::<{ off::MAGIC }, 4>();
        if &magic != QCOW2_MAGIC {
            return Err(bad(0, "qcow2 magic", format!("{magic:02x?}"), "QFI\\xfb"));
        }
        let version = fixed.be_u32::<{ off::VERSION }>();
        if version == 1 {
            return Err(Error::Unsupported {
                path: p.to_path_buf(),
                what: "this is a qcow version 1 image, which imgtool does not read; convert it \
                       first, e.g. `qemu-img convert -O qcow2 IMAGE new.qcow2`"
                    .into(),
            });
        }
        if version != 2 && version != 3 {
            return Err(bad(4, "qcow2 version", version.to_string(), "2 or 3"));
        }
        let cluster_bits = fixed.be_u32::<{ off::CLUSTER_BITS }>();
        if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&cluster_bits) {
            return Err(bad(
                20,
                "cluster_bits",
                cluster_bits.to_string(),
                "9 to 21 (clusters of 512 B to 2 MiB)",
            ));
        }
        let mut h = Header {
            version,
            backing_file_offset: fixed.be_u64::<{ off::BACKING_FILE_OFFSET }>(),
            backing_file_size: fixed.be_u32::<{ off::BACKING_FILE_SIZE }>(),
            cluster_bits,
            size: fixed.be_u64::<{ off::SIZE }>(),
            crypt_method: fixed.be_u32::<{ off::CRYPT_METHOD }>(),
            l1_size: fixed.be_u32::<{ off::L1_SIZE }>(),
            l1_table_offset: fixed.be_u64::<{ off::L1_TABLE_OFFSET }>(),
            refcount_table_offset: fixed.be_u64::<{ off::REFCOUNT_TABLE_OFFSET }>(),
            refcount_table_clusters: fixed.be_u32::<{ off::REFCOUNT_TABLE_CLUSTERS }>(),
            nb_snapshots: fixed.be_u32::<{ off::NB_SNAPSHOTS }>(),
            snapshots_offset: fixed.be_u64::<{ off::SNAPSHOTS_OFFSET }>(),
            incompatible: 0,
            compatible: 0,
            autoclear: 0,
            refcount_order: 4,
            header_length: V2_HEADER_LEN,
            compression_type: 0,
            extensions: Vec::new(),
            backing_file: None,
            backing_format: None,
            data_file: None,
            feature_names: Vec::new(),
            bitmaps: None,
        };
        if version == 3 {
            if src.len() < u64::from(V3_HEADER_LEN) {
                return Err(bad(
                    0,
                    "qcow2 header",
                    format!("a file of {} bytes", src.len()),
                    "at least the 104 bytes of a version 3 header",
                ));
            }
            h.incompatible = fixed.be_u64::<{ off::INCOMPATIBLE_FEATURES }>();
            h.compatible = fixed.be_u64::<{ off::COMPATIBLE_FEATURES }>();
            h.autoclear = fixed.be_u64::<{ off::AUTOCLEAR_FEATURES }>();
            h.refcount_order = fixed.be_u32::<{ off::REFCOUNT_ORDER }>();
            h.header_length = fixed.be_u32::<{ off::HEADER_LENGTH }>();
            if h.header_length < V3_HEADER_LEN
                || h.header_length % 8 != 0
                || u64::from(h.header_length) > h.cluster_size()
            {
                return Err(bad(
                    100,
                    "header_length",
                    h.header_length.to_string(),
                    "a multiple of 8, at least 104, inside the first cluster",
                ));
            }
            if h.header_length > 104 {
                h.compression_type = fixed.u8::<{ off::COMPRESSION_TYPE }>();
            }
        }
        h.validate(src)?;
        // The cluster is at most 2 MiB (MAX_CLUSTER_BITS, validated just above).
        #[allow(clippy::cast_possible_truncation)]
        let mut first = vec![0u8; h.cluster_size().min(src.len()) as usize];
        src.read_exact_at(0, &mut first, "qcow2 header cluster")?;
        h.read_extensions(src, &first)?;
        h.read_backing_name(src, &first)?;
        h.validate_extensions(src)?;
        Ok(h)
    }

    fn validate(&self, src: &SourceFile) -> Result<()> {
        let p = src.path();
        let bad = |off: u64, field: &str, found: String, expected: String| {
            Err(Error::malformed(p, off, field, found, expected))
        };
        if let Some(m) = self.encryption_name() {
            return Err(Error::Unsupported {
                path: p.to_path_buf(),
                what: format!(
                    "this qcow2 image is encrypted ({m}, crypt_method {}), which imgtool does not \
                     read; decrypt it first with qemu-img convert and a --object secret",
                    self.crypt_method
                ),
            });
        }
        let unknown = self.incompatible & !INCOMPAT_KNOWN;
        if unknown != 0 {
            return Err(Error::Unsupported {
                path: p.to_path_buf(),
                what: format!(
                    "qcow2 incompatible feature bits {unknown:#x} are set, which imgtool does not know"
                ),
            });
        }
        if self.version == 2 && self.refcount_order != 4 {
            return bad(
                96,
                "refcount_order",
                self.refcount_order.to_string(),
                "4".into(),
            );
        }
        if self.refcount_order > 6 {
            return bad(
                96,
                "refcount_order",
                self.refcount_order.to_string(),
                "0 to 6 (refcounts of 1 to 64 bits)".into(),
            );
        }
        let with_type = self.incompatible & INCOMPAT_COMPRESSION != 0;
        if self.compression_type > 1 || (!with_type && self.compression_type != 0) {
            return bad(
                104,
                "compression_type",
                self.compression_type.to_string(),
                "0 (zlib), or 1 (zstd) with the compression type feature bit".into(),
            );
        }
        if self.extended_l2() && self.cluster_bits < 14 {
            return bad(
                20,
                "cluster_bits",
                self.cluster_bits.to_string(),
                "at least 14 (16 KiB clusters) with extended L2 entries, as QEMU requires".into(),
            );
        }
        let cs = self.cluster_size();
        let l1 = u64::from(self.l1_size);
        if l1 > MAX_L1_ENTRIES {
            return bad(
                36,
                "l1_size",
                l1.to_string(),
                format!("at most {MAX_L1_ENTRIES} entries (QEMU's limit)"),
            );
        }
        if l1 < self.l1_needed() {
            return bad(
                36,
                "l1_size",
                l1.to_string(),
                format!(
                    "at least {} entries to cover the virtual size of {} bytes",
                    self.l1_needed(),
                    self.size
                ),
            );
        }
        if l1 > 0 {
            self.table_in_file(src, 40, "l1_table_offset", self.l1_table_offset, l1 * 8)?;
        }
        let rt = u64::from(self.refcount_table_clusters) * cs;
        if rt == 0 || rt > MAX_REFTABLE_BYTES {
            return bad(
                56,
                "refcount_table_clusters",
                self.refcount_table_clusters.to_string(),
                format!(
                    "1 to {} clusters (8 MiB, QEMU's limit)",
                    MAX_REFTABLE_BYTES / cs
                ),
            );
        }
        self.table_in_file(
            src,
            48,
            "refcount_table_offset",
            self.refcount_table_offset,
            rt,
        )?;
        if self.nb_snapshots > MAX_SNAPSHOTS {
            return bad(
                60,
                "nb_snapshots",
                self.nb_snapshots.to_string(),
                format!("at most {MAX_SNAPSHOTS}"),
            );
        }
        if self.nb_snapshots > 0 {
            self.table_in_file(src, 64, "snapshots_offset", self.snapshots_offset, 40)?;
        }
        Ok(())
    }

    /// A table at `offset` of `len` bytes: cluster-aligned and inside the file.
    pub fn table_in_file(
        &self,
        src: &SourceFile,
        field_at: u64,
        field: &str,
        offset: u64,
        len: u64,
    ) -> Result<()> {
        let end = offset.checked_add(len);
        if offset % self.cluster_size() != 0 || offset == 0 || end.is_none_or(|e| e > src.len()) {
            return Err(Error::malformed(
                src.path(),
                field_at,
                field,
                format!("{offset:#x} ({len} bytes)"),
                format!(
                    "a non-zero multiple of the cluster size ({}) with the table inside the {}-byte file",
                    self.cluster_size(),
                    src.len()
                ),
            ));
        }
        Ok(())
    }

    fn read_extensions(&mut self, src: &SourceFile, first: &[u8]) -> Result<()> {
        let end = if self.backing_file_offset != 0 {
            min_len(first.len(), self.backing_file_offset)
        } else {
            first.len()
        };
        let mut at = self.header_length as usize;
        // Each extension takes at least 8 bytes: bounded by the cluster.
        let area = Bytes::new(first, 0, "qcow2 header extension");
        while at + 8 <= end {
            let kind = area.be_u32(at, "type").map_err(|e| e.in_file(src.path()))?;
            let length = area
                .be_u32(at + 4, "length")
                .map_err(|e| e.in_file(src.path()))?;
            if kind == EXT_END {
                return Ok(());
            }
            let data_at = at + 8;
            let data_end = data_at.checked_add(length as usize).filter(|&e| e <= end);
            let Some(data_end) = data_end else {
                return Err(Error::malformed(
                    src.path(),
                    at as u64 + 4,
                    "header extension length",
                    format!("{length} bytes for extension {kind:#010x}"),
                    format!("the extension to end inside the header area (before byte {end})"),
                ));
            };
            let data = &first[data_at..data_end];
            self.extensions.push(Extension {
                kind,
                offset: at as u64,
                length,
            });
            self.parse_extension(src, kind, data_at as u64, data)?;
            at = data_at + (length as usize).div_ceil(8) * 8;
        }
        Ok(())
    }

    fn parse_extension(&mut self, src: &SourceFile, kind: u32, at: u64, data: &[u8]) -> Result<()> {
        let text = |d: &[u8]| {
            let d: Vec<u8> = d.iter().copied().take_while(|&c| c != 0).collect();
            String::from_utf8_lossy(&d).into_owned()
        };
        match kind {
            EXT_BACKING_FORMAT => self.backing_format = Some(text(data)),
            EXT_DATA_FILE => self.data_file = Some(text(data)),
            EXT_FEATURE_TABLE => {
                for e in data.chunks_exact(48) {
                    self.feature_names.push(FeatureName {
                        kind: e[0],
                        bit: e[1],
                        name: text(&e[2..]),
                    });
                }
            }
            EXT_BITMAPS => {
                if data.len() < 24 {
                    return Err(Error::malformed(
                        src.path(),
                        at,
                        "bitmaps extension",
                        format!("{} bytes", data.len()),
                        "at least 24 bytes",
                    ));
                }
                let d = Bytes::new(data, at, "bitmaps extension");
                let short = |e: Short| e.in_file(src.path());
                self.bitmaps = Some(Bitmaps {
                    count: d.be_u32(0, "nb_bitmaps").map_err(short)?,
                    directory_size: d.be_u64(8, "bitmap_directory_size").map_err(short)?,
                    directory_offset: d.be_u64(16, "bitmap_directory_offset").map_err(short)?,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn read_backing_name(&mut self, src: &SourceFile, first: &[u8]) -> Result<()> {
        if self.backing_file_offset == 0 {
            return Ok(());
        }
        let off = self.backing_file_offset;
        let len = u64::from(self.backing_file_size);
        let end = off.checked_add(len).filter(|&e| e <= first.len() as u64);
        if len == 0 || len > u64::from(MAX_BACKING_NAME) || end.is_none() {
            return Err(Error::malformed(
                src.path(),
                8,
                "backing file name",
                format!("{len} bytes at offset {off}"),
                format!(
                    "1 to {MAX_BACKING_NAME} bytes inside the first cluster ({} bytes)",
                    first.len()
                ),
            ));
        }
        // off + len is at most first.len(), checked just above.
        #[allow(clippy::cast_possible_truncation)]
        let name = &first[off as usize..(off + len) as usize];
        self.backing_file = Some(String::from_utf8_lossy(name).into_owned());
        Ok(())
    }

    fn validate_extensions(&self, src: &SourceFile) -> Result<()> {
        if self.has_data_file() && self.data_file.is_none() {
            return Err(Error::malformed(
                src.path(),
                72,
                "incompatible features",
                "the external data file bit set, but no data file name extension",
                "an external data file name (extension 0x44415441)",
            ));
        }
        if self.has_data_file() && self.backing_file.is_some() && self.version < 3 {
            return Err(Error::malformed(
                src.path(),
                4,
                "version",
                "2 with an external data file",
                "3",
            ));
        }
        Ok(())
    }
}
