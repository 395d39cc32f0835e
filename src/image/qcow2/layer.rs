//! One qcow2 file (not its backing file): header, L1 table, L2 tables read on demand through a
//! bounded cache, and what a virtual offset maps to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::compress;
use super::entry::{self, Cluster, OFFSET_MASK, Sub};
use super::header::Header;
use super::snapshot::{self, Snapshot};
use crate::bytes::be_u64s;
use crate::error::{Error, Result};
use crate::image::cache::Cache;
use crate::image::fit::zero_past;
use crate::image::source::SourceFile;

/// The most bytes of L2 tables kept cached per file.
pub const L2_CACHE_BYTES: usize = 32 << 20;
/// The most bytes of decompressed clusters kept cached per file.
pub const CLUSTER_CACHE_BYTES: usize = 16 << 20;

/// Compressed bytes read at once by [`Qcow2File::decompress`], per thread.
pub const READ_AHEAD: u64 = 512 << 10;

/// A thread's window on one file's compressed clusters (`file` is a [`Qcow2File`]'s id, never
/// reused, so a window is never taken for another file's).
struct Window {
    file: u64,
    start: u64,
    bytes: Vec<u8>,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What a run of the virtual disk holds, as far as this file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    /// Not in this file: the backing file's bytes, or zeros without one.
    Backing,
    Zero,
    /// Bytes at `host` in the data source (this file or the external data file).
    Data {
        host: u64,
    },
    /// Inside the compressed cluster at `host` (`len` bytes), starting `at` bytes into it.
    Compressed {
        host: u64,
        len: u64,
        at: u64,
    },
}

#[derive(Debug)]
pub struct Qcow2File {
    pub src: SourceFile,
    pub header: Header,
    pub snapshots: Vec<Snapshot>,
    pub snapshot_table_len: u64,
    /// The external data file, when the header names one.
    pub data_file: Option<SourceFile>,
    /// The L1 entries covering the virtual size.
    pub l1: Vec<u64>,
    l2_cache: Cache<[u64]>,
    clusters: Cache<[u8]>,
    /// Unique in the process: keys the per-thread read-ahead windows.
    id: u64,
}

/// `name` as the image at `image` means it: absolute, or relative to the image's folder.
pub fn resolve(image: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        image.parent().unwrap_or(Path::new("")).join(p)
    }
}

impl Qcow2File {
    pub fn open(src: SourceFile) -> Result<Qcow2File> {
        let header = Header::read(&src)?;
        let (snapshots, snapshot_table_len) = snapshot::read_table(&src, &header)?;
        let data_file = match &header.data_file {
            Some(name) if header.has_data_file() => {
                Some(SourceFile::open(resolve(src.path(), name))?)
            }
            _ => None,
        };
        let l1 = read_l1(&src, &header)?;
        Ok(Qcow2File {
            src,
            header,
            snapshots,
            snapshot_table_len,
            data_file,
            l1,
            l2_cache: Cache::new(L2_CACHE_BYTES),
            clusters: Cache::new(CLUSTER_CACHE_BYTES),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    pub fn cluster_size(&self) -> u64 {
        self.header.cluster_size()
    }

    pub fn size(&self) -> u64 {
        self.header.size
    }

    /// The L2 table of L1 entry `i`, or `None` when the entry is unallocated.
    pub fn l2_table(&self, i: usize) -> Result<Option<Arc<[u64]>>> {
        let Some(&e) = self.l1.get(i) else {
            return Ok(None);
        };
        let off = e & OFFSET_MASK;
        if off == 0 {
            return Ok(None);
        }
        self.read_l2(
            off,
            &format!("L1 entry {i}"),
            self.header.l1_table_offset + i as u64 * 8,
        )
        .map(Some)
    }

    /// The L2 table at `off`, checked to be cluster-aligned and inside the file.
    pub fn read_l2(&self, off: u64, what: &str, entry_at: u64) -> Result<Arc<[u64]>> {
        let cs = self.cluster_size();
        if off % cs != 0 || off.checked_add(cs).is_none_or(|e| e > self.src.len()) {
            return Err(Error::malformed(
                self.src.path(),
                entry_at,
                what,
                format!("an L2 table at {off:#x}"),
                format!(
                    "a table aligned to the {cs}-byte cluster and inside the {}-byte file",
                    self.src.len()
                ),
            ));
        }
        if let Some(t) = self.l2_cache.get(off) {
            return Ok(t);
        }
        // At most 2 MiB (MAX_CLUSTER_BITS).
        #[allow(clippy::cast_possible_truncation)]
        let mut raw = vec![0u8; cs as usize];
        self.src.read_exact_at(off, &mut raw, "L2 table")?;
        let t: Arc<[u64]> = be_u64s(&raw).collect();
        self.l2_cache.put(off, t.clone(), raw.len());
        Ok(t)
    }

    /// Entry `i` of an L2 table, decoded.
    pub fn decode(&self, table: &[u64], i: usize) -> Cluster {
        let h = &self.header;
        if h.extended_l2() {
            let e = table.get(2 * i).copied().unwrap_or(0);
            let bm = table.get(2 * i + 1).copied().unwrap_or(0);
            entry::decode(e, Some(bm), h.cluster_bits, h.has_data_file())
        } else {
            let e = table.get(i).copied().unwrap_or(0);
            entry::decode(e, None, h.cluster_bits, h.has_data_file())
        }
    }

    /// What `offset` (below the virtual size) maps to, and for how many bytes: a run never
    /// leaves one L2 table's range, and never passes the end of the disk.
    pub fn run(&self, offset: u64) -> Result<(Run, u64)> {
        let cs = self.cluster_size();
        let n = self.header.l2_entries();
        let cluster = offset >> self.header.cluster_bits;
        let l1i = cluster / n;
        let table_end = ((l1i + 1) * n).saturating_mul(cs).min(self.size());
        let Some(table) = self.l2_table(usize::try_from(l1i).unwrap_or(usize::MAX))? else {
            return Ok((Run::Backing, table_end - offset));
        };
        #[allow(clippy::cast_possible_truncation)] // below n, the entries of one L2 table
        let mut i = (cluster % n) as usize;
        let (first, mut len) = self.classify(&table, i, offset % cs, l1i)?;
        let mut end = offset + len;
        // Extend over the next clusters of the table while they continue the run.
        while end < table_end && end % cs == 0 && !matches!(first, Run::Compressed { .. }) {
            i += 1;
            let (next, more) = self.classify(&table, i, 0, l1i)?;
            let continues = match (first, next) {
                (Run::Data { host }, Run::Data { host: h2 }) => h2 == host + len,
                (a, b) => a == b,
            };
            if !continues {
                break;
            }
            len += more;
            end += more;
        }
        Ok((first, len.min(self.size() - offset)))
    }

    /// Entry `i` of `table`, from `at` bytes into its cluster: the run and its length inside
    /// the cluster.
    fn classify(&self, table: &[u64], i: usize, at: u64, l1i: u64) -> Result<(Run, u64)> {
        let cs = self.cluster_size();
        let rest = cs - at;
        let run = match self.decode(table, i) {
            Cluster::Unallocated => (Run::Backing, rest),
            Cluster::Zero { .. } => (Run::Zero, rest),
            Cluster::Normal { host } => (
                Run::Data {
                    host: self.data_host(host, i, l1i)? + at,
                },
                rest,
            ),
            Cluster::Compressed { host, len } => {
                if self.data_file.is_some() || host >= self.src.len() || len == 0 {
                    return Err(self.bad_entry(
                        i,
                        l1i,
                        format!("a compressed cluster at {host:#x} ({len} bytes)"),
                        "compressed data inside the file (and no external data file)",
                    ));
                }
                (Run::Compressed { host, len, at }, rest)
            }
            Cluster::Sub { host, bitmap } => {
                let sc = cs / entry::SUBCLUSTERS;
                let s = at / sc;
                let kind = entry::sub(host, bitmap, s);
                let mut e = s + 1;
                while e < entry::SUBCLUSTERS && entry::sub(host, bitmap, e) == kind {
                    e += 1;
                }
                let len = e * sc - at;
                match (kind, host) {
                    (Sub::Unallocated, _) => (Run::Backing, len),
                    (Sub::Zero, _) => (Run::Zero, len),
                    (Sub::Data, Some(h)) => (
                        Run::Data {
                            host: self.data_host(h, i, l1i)? + at,
                        },
                        len,
                    ),
                    _ => {
                        return Err(self.bad_entry(
                            i,
                            l1i,
                            format!("subcluster bitmap {bitmap:#018x} (subcluster {s})"),
                            "a subcluster either allocated or zero, and allocated only in an allocated cluster",
                        ));
                    }
                }
            }
        };
        Ok(run)
    }

    /// A data cluster's host offset, checked: cluster-aligned, and in the image file starting
    /// inside it (an external data file may be shorter: it reads as zeros past its end).
    fn data_host(&self, host: u64, i: usize, l1i: u64) -> Result<u64> {
        let cs = self.cluster_size();
        let past_end = self.data_file.is_none() && host >= self.src.len();
        if host % cs != 0 || past_end {
            return Err(self.bad_entry(
                i,
                l1i,
                format!("a data cluster at {host:#x}"),
                &format!(
                    "a cluster aligned to {cs} bytes inside the {}-byte file",
                    self.src.len()
                ),
            ));
        }
        Ok(host)
    }

    fn bad_entry(&self, i: usize, l1i: u64, found: String, expected: &str) -> Error {
        let l2 = usize::try_from(l1i)
            .ok()
            .and_then(|l1i| self.l1.get(l1i))
            .map_or(0, |e| e & OFFSET_MASK);
        Error::malformed(
            self.src.path(),
            l2 + i as u64 * self.header.l2_entry_size(),
            format!("L2 entry {i} of L1 entry {l1i}"),
            found,
            expected.to_string(),
        )
    }

    /// Read data bytes at `host`; bytes past the end of the data source read as zeros.
    pub fn read_data(&self, host: u64, buf: &mut [u8]) -> Result<()> {
        let f = self.data_file.as_ref().unwrap_or(&self.src);
        let inside = zero_past(buf, host, f.len());
        f.read_exact_at(host, inside, "qcow2 cluster data")
    }

    /// The decompressed cluster stored at `host` (`len` bytes, clipped at the end of the file),
    /// through the cache: for reads of part of a cluster.
    pub fn cluster(&self, host: u64, len: u64) -> Result<Arc<[u8]>> {
        if let Some(c) = self.clusters.get(host) {
            return Ok(c);
        }
        #[allow(clippy::cast_possible_truncation)] // at most 2 MiB (MAX_CLUSTER_BITS)
        let cs = self.cluster_size() as usize;
        let mut out = vec![0u8; cs];
        self.decompress(host, len, &mut out)?;
        let out: Arc<[u8]> = out.into();
        self.clusters.put(host, out.clone(), cs);
        Ok(out)
    }

    /// Decompress the cluster stored at `host` into `out` (exactly one cluster long), without
    /// the cache: what a read of whole clusters (convert) does, in the reading thread. The
    /// compressed bytes come from a per-thread window read ahead of them ([`READ_AHEAD`]):
    /// compressed clusters lie one after another, so one read serves many.
    // len is a compressed cluster's length (a few MiB at most, by the L2 entry's bit width);
    // the window is at most READ_AHEAD or that, and `at` inside it: every cast fits.
    #[allow(clippy::cast_possible_truncation)]
    pub fn decompress(&self, host: u64, len: u64, out: &mut [u8]) -> Result<()> {
        thread_local! {
            static WINDOW: std::cell::RefCell<Window> = const {
                std::cell::RefCell::new(Window { file: 0, start: 0, bytes: Vec::new() })
            };
        }
        let n = len.min(self.src.len().saturating_sub(host));
        WINDOW.with(|cell| {
            let mut w = cell.borrow_mut();
            let inside =
                w.file == self.id && host >= w.start && host + n <= w.start + w.bytes.len() as u64;
            if !inside {
                let want = n.max(READ_AHEAD).min(self.src.len().saturating_sub(host));
                w.file = 0;
                w.bytes.resize(want as usize, 0);
                self.src
                    .read_exact_at(host, &mut w.bytes, "compressed cluster")?;
                (w.file, w.start) = (self.id, host);
            }
            let at = (host - w.start) as usize;
            let input = &w.bytes[at..at + n as usize];
            let r = if self.header.compression_type == 1 {
                compress::unzstd(input, out)
            } else {
                compress::inflate(input, out)
            };
            r.map_err(|found| {
                Error::malformed(
                    self.src.path(),
                    host,
                    format!("compressed cluster ({})", self.header.compression_name()),
                    found,
                    format!("exactly one cluster ({} bytes) of data", out.len()),
                )
            })
        })
    }

    /// Bytes of the virtual disk stored in this file (data and compressed (sub)clusters).
    pub fn allocated_bytes(&self) -> Result<u64> {
        let cs = self.cluster_size();
        #[allow(clippy::cast_possible_truncation)] // at most a cluster of entries (2 MiB / 8)
        let n = self.header.l2_entries() as usize;
        let mut total = 0u64;
        for l1i in 0..self.l1.len() {
            let Some(table) = self.l2_table(l1i)? else {
                continue;
            };
            for i in 0..n {
                let start = (l1i as u64 * n as u64 + i as u64) * cs;
                if start >= self.size() {
                    break;
                }
                let stored = match self.decode(&table, i) {
                    Cluster::Normal { .. } | Cluster::Compressed { .. } => cs,
                    Cluster::Sub {
                        host: Some(_),
                        bitmap,
                    } => u64::from((bitmap & 0xffff_ffff).count_ones()) * (cs / entry::SUBCLUSTERS),
                    _ => 0,
                };
                total += stored.min(self.size() - start);
            }
        }
        Ok(total)
    }
}

/// The L1 entries covering the virtual size (the header's checks bound the count).
fn read_l1(src: &SourceFile, h: &Header) -> Result<Vec<u64>> {
    let n = h.l1_needed().min(u64::from(h.l1_size));
    // The header's checks bound l1_size (MAX_L1_ENTRIES).
    #[allow(clippy::cast_possible_truncation)]
    let mut raw = vec![0u8; (n * 8) as usize];
    if n > 0 {
        src.read_exact_at(h.l1_table_offset, &mut raw, "L1 table")?;
    }
    Ok(be_u64s(&raw).collect())
}
