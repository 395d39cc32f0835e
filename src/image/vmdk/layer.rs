//! One VMDK of a chain, opened: its descriptor (embedded or a file of its own) and its
//! extents laid end to end (sparse, flat, zero), each read through a window of one file.

use std::path::{Path, PathBuf};

use super::descriptor::{self, DESCRIPTOR_SIGNATURE, Descriptor, ExtentLine};
use super::header::{MAX_DESCRIPTOR_BYTES, SECTOR, SPARSE_MAGIC};
use super::ova::{self, Ova};
use super::sparse::SparseExtent;
use super::window::Window;
use crate::error::{Error, Result};
use crate::image::source::SourceFile;

/// The `createType`s we read.
pub const CREATE_TYPES: &[&str] = &[
    "monolithicSparse",
    "monolithicFlat",
    "twoGbMaxExtentSparse",
    "twoGbMaxExtentFlat",
    "streamOptimized",
    "vmfs",
    "vmfsPreallocated",
    "vmfsEagerZeroedThick",
    "vmfsThin",
];

/// Where the bytes of one extent come from.
#[derive(Debug)]
pub enum Data {
    Sparse(Box<SparseExtent>),
    /// A FLAT or VMFS extent: the bytes at `offset` of file `file`.
    Flat {
        file: usize,
        offset: u64,
    },
    Zero,
}

/// One extent of the disk, at `start..start + len` of the virtual disk.
#[derive(Debug)]
pub struct Piece {
    pub start: u64,
    pub len: u64,
    /// The descriptor line, when the extent came from one.
    pub line: Option<ExtentLine>,
    pub data: Data,
}

/// What kind of file was opened.
#[derive(Debug)]
pub enum Container {
    /// A sparse extent file ("KDMV") holding its own descriptor.
    Sparse,
    /// A text descriptor naming extent files.
    Descriptor,
    /// A `.vmdk` member of an OVA archive.
    Ova(Box<Ova>),
}

#[derive(Debug)]
pub struct Layer {
    /// Every file this layer reads; the opened one first.
    pub files: Vec<SourceFile>,
    pub container: Container,
    pub descriptor: Option<Descriptor>,
    /// Offset and length of the descriptor text in the opened file.
    pub descriptor_at: Option<(u64, u64)>,
    pub pieces: Vec<Piece>,
    pub size: u64,
    pub warnings: Vec<String>,
}

/// An embedded descriptor area holding nothing (NULs and spaces).
pub fn is_blank(b: &[u8]) -> bool {
    b.iter().all(|&c| c == 0 || c.is_ascii_whitespace())
}

pub fn is_descriptor(head: &[u8]) -> bool {
    let h = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    h.starts_with(DESCRIPTOR_SIGNATURE)
}

fn refuse(path: &Path, what: String) -> Error {
    Error::Unsupported {
        path: path.to_path_buf(),
        what,
    }
}

fn parse_descriptor(src: &SourceFile, at: u64, bytes: &[u8]) -> Result<Descriptor> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(&bytes[..end]);
    let d = descriptor::parse(&text).map_err(|e| {
        Error::malformed(
            src.path(),
            at + e.at as u64,
            format!("descriptor {}", e.field),
            e.found,
            e.expected,
        )
    })?;
    if !CREATE_TYPES.contains(&d.create_type.as_str()) {
        return Err(refuse(
            src.path(),
            format!(
                "this is a VMDK of createType \"{}\", which imgtool does not read (it reads {}); \
                 convert it first with VMware's vmkfstools or vmware-vdiskmanager",
                crate::text::escape(&d.create_type),
                CREATE_TYPES.join(", ")
            ),
        ));
    }
    Ok(d)
}

impl Layer {
    pub fn src(&self) -> &SourceFile {
        &self.files[0]
    }

    /// Open one VMDK file (not its parent).
    pub fn open(src: SourceFile) -> Result<Layer> {
        let mut head = [0u8; 512];
        let n = src.len().min(512) as usize;
        src.read_exact_at(0, &mut head[..n], "VMDK header")?;
        if head.starts_with(SPARSE_MAGIC) {
            let win = Window {
                file: 0,
                base: 0,
                len: src.len(),
            };
            return Self::sparse(src, win, Container::Sparse);
        }
        if is_descriptor(&head[..n]) {
            return Self::from_descriptor(src);
        }
        if ova::is_tar(&head[..n]) {
            let o = ova::find_disk(&src)?;
            let win = Window {
                file: 0,
                base: o.disk.offset,
                len: o.disk.size,
            };
            let mut magic = [0u8; 4];
            if o.disk.size < 512 || {
                src.read_exact_at(win.base, &mut magic, "VMDK header")?;
                &magic != SPARSE_MAGIC
            } {
                return Err(refuse(
                    src.path(),
                    format!(
                        "the OVA's disk \"{}\" is not a sparse VMDK (\"KDMV\"); imgtool reads \
                         streamOptimized and sparse disks inside an OVA, not descriptor files \
                         naming other members",
                        crate::text::escape(&o.disk.name)
                    ),
                ));
            }
            return Self::sparse(src, win, Container::Ova(Box::new(o)));
        }
        Err(Error::malformed(
            src.path(),
            0,
            "VMDK signature",
            crate::text::escape(&String::from_utf8_lossy(&head[..n.min(21)])),
            "\"KDMV\" or \"# Disk DescriptorFile\"",
        ))
    }

    /// A sparse extent file that is the whole disk, with its embedded descriptor.
    fn sparse(src: SourceFile, win: Window, container: Container) -> Result<Layer> {
        let x = SparseExtent::open(&src, win)?;
        let h = x.first_header.as_ref().unwrap_or(&x.header);
        let (mut descriptor, mut descriptor_at) = (None, None);
        if h.descriptor_offset != 0 && h.descriptor_size != 0 {
            let (at, len) = (h.descriptor_offset * SECTOR, h.descriptor_size * SECTOR);
            // At most MAX_DESCRIPTOR_BYTES: SparseExtent::open refuses a larger one (header.rs).
            #[allow(clippy::cast_possible_truncation)]
            let mut b = vec![0u8; len as usize];
            win.read(&src, at, &mut b, "embedded VMDK descriptor")?;
            // The extents of a split sparse disk reserve the space but leave it empty.
            if !is_blank(&b) {
                descriptor = Some(parse_descriptor(&src, win.at(at), &b)?);
                descriptor_at = Some((win.at(at), len));
            }
        }
        let size = x.header.capacity * SECTOR;
        let mut warnings = Vec::new();
        if let Some(d) = &descriptor {
            if d.extents_bytes() != Some(size) {
                warnings.push(format!(
                    "{}: the embedded descriptor's extents add up to {} bytes, the header's capacity is {size} bytes; the capacity is used",
                    src.path().display(),
                    d.extents_bytes().map_or("more than 2^64".into(), |b| b.to_string())
                ));
            }
        }
        Ok(Layer {
            files: vec![src],
            container,
            descriptor,
            descriptor_at,
            pieces: vec![Piece {
                start: 0,
                len: size,
                line: None,
                data: Data::Sparse(Box::new(x)),
            }],
            size,
            warnings,
        })
    }

    fn from_descriptor(src: SourceFile) -> Result<Layer> {
        if src.len() > MAX_DESCRIPTOR_BYTES {
            return Err(Error::malformed(
                src.path(),
                0,
                "VMDK descriptor file size",
                format!("{} bytes", src.len()),
                format!("at most {MAX_DESCRIPTOR_BYTES} bytes (imgtool's limit)"),
            ));
        }
        #[allow(clippy::cast_possible_truncation)] // at most MAX_DESCRIPTOR_BYTES, checked above
        let mut b = vec![0u8; src.len() as usize];
        src.read_exact_at(0, &mut b, "VMDK descriptor")?;
        let d = parse_descriptor(&src, 0, &b)?;
        let dir = src.path().parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut layer = Layer {
            descriptor_at: Some((0, src.len())),
            files: vec![src],
            container: Container::Descriptor,
            descriptor: None,
            pieces: Vec::new(),
            size: 0,
            warnings: Vec::new(),
        };
        for line in &d.extents {
            let len = line.sectors.checked_mul(SECTOR).ok_or_else(|| {
                layer.line_error(
                    line,
                    "extent size",
                    format!("{} sectors", line.sectors),
                    "a size below 2^64 bytes",
                )
            })?;
            let data = layer.extent_data(&dir, line, len)?;
            let start = layer.size;
            layer.size = start.checked_add(len).ok_or_else(|| {
                layer.line_error(
                    line,
                    "extent size",
                    format!("{} sectors", line.sectors),
                    "a disk below 2^64 bytes",
                )
            })?;
            layer.pieces.push(Piece {
                start,
                len,
                line: Some(line.clone()),
                data,
            });
        }
        if layer.size == 0 {
            return Err(Error::malformed(
                layer.src().path(),
                0,
                "descriptor extents",
                "none (or all empty)",
                "at least one extent line",
            ));
        }
        layer.descriptor = Some(d);
        Ok(layer)
    }

    fn line_error(&self, line: &ExtentLine, field: &str, found: String, expected: &str) -> Error {
        Error::malformed(
            self.src().path(),
            line.at as u64,
            format!("descriptor {field}"),
            found,
            expected,
        )
    }

    /// The file an extent line names, opened (each file once per layer).
    fn extent_file(&mut self, dir: &Path, line: &ExtentLine) -> Result<usize> {
        let name = line.file.as_deref().unwrap_or("");
        let path: PathBuf = dir.join(name);
        if let Some(i) = self.files.iter().position(|f| f.path() == path) {
            if i == 0 {
                return Err(self.line_error(
                    line,
                    "extent file",
                    format!("\"{}\", the descriptor itself", crate::text::escape(name)),
                    "a separate extent file",
                ));
            }
            return Ok(i);
        }
        let f = SourceFile::open(&path).map_err(|e| Error::Chain {
            path: self.src().path().to_path_buf(),
            what: format!(
                "extent file \"{}\" (descriptor offset {}) cannot be opened: {e}",
                crate::text::escape(name),
                line.at
            ),
        })?;
        self.files.push(f);
        Ok(self.files.len() - 1)
    }

    fn extent_data(&mut self, dir: &Path, line: &ExtentLine, len: u64) -> Result<Data> {
        match line.kind.as_str() {
            "ZERO" => Ok(Data::Zero),
            "FLAT" | "VMFS" => {
                let file = self.extent_file(dir, line)?;
                let offset = line.offset.checked_mul(SECTOR);
                let flen = self.files[file].len();
                let end = offset.and_then(|o| o.checked_add(len));
                match (offset, end) {
                    (Some(offset), Some(end)) if end <= flen => Ok(Data::Flat { file, offset }),
                    _ => Err(self.line_error(
                        line,
                        "flat extent",
                        format!(
                            "{} sectors at sector {} of a {flen}-byte file",
                            line.sectors, line.offset
                        ),
                        "the extent inside its file",
                    )),
                }
            }
            "SPARSE" => {
                let file = self.extent_file(dir, line)?;
                let win = Window {
                    file,
                    base: 0,
                    len: self.files[file].len(),
                };
                let x = SparseExtent::open(&self.files[file], win)?;
                if x.header.capacity != line.sectors {
                    self.warnings.push(format!(
                        "{}: sparse extent of {} sectors in the descriptor, {} in its header; the descriptor's size is used",
                        self.files[file].path().display(),
                        line.sectors,
                        x.header.capacity
                    ));
                }
                Ok(Data::Sparse(Box::new(x)))
            }
            other => Err(refuse(
                self.src().path(),
                format!(
                    "extent type {} (descriptor offset {}) is not one imgtool reads (SPARSE, FLAT, VMFS, ZERO); \
                     vmfsSparse, seSparse and raw device mappings must be converted on the ESXi host first",
                    crate::text::escape(other),
                    line.at
                ),
            )),
        }
    }

    /// The extent holding `offset` (below `size`).
    pub fn piece_at(&self, offset: u64) -> Option<&Piece> {
        let i = self.pieces.partition_point(|p| p.start <= offset);
        self.pieces
            .get(i.checked_sub(1)?)
            .filter(|p| offset - p.start < p.len)
    }

    /// Bytes this layer itself stores: flat extents whole, allocated grains of sparse ones.
    pub fn allocated_bytes(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| match &p.data {
                Data::Zero => 0,
                Data::Flat { .. } => p.len,
                Data::Sparse(x) => {
                    let (a, _) = x.grain_counts();
                    a.saturating_mul(x.grain_bytes).min(p.len)
                }
            })
            .sum()
    }

    /// Every sparse extent's findings and every warning, as text.
    pub fn warning_texts(&self) -> Vec<String> {
        let mut w = self.warnings.clone();
        for p in &self.pieces {
            if let Data::Sparse(x) = &p.data {
                let path = self.files[x.win.file].path().display();
                w.extend(
                    x.findings
                        .iter()
                        .map(|f| format!("{path}: {}", f.message())),
                );
            }
        }
        w
    }
}
