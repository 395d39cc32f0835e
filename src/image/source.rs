//! A file opened for positional reads, which names itself in every error.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::virtual_disk::{Extent, ExtentKind};

/// Formats are read by offset (footers at the end, tables anywhere), so the input must be
/// seekable. Said before opening: opening a FIFO would wait for a writer.
fn refuse_streams(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    const HOW: &str = "imgtool needs a seekable file (a regular file or a block device): \
                       save the stream to a file first";
    if path.as_os_str() == "-" {
        return Err(Error::Usage(format!(
            "-: reading an image from standard input is not supported; {HOW} (a file named - can be given as ./-)"
        )));
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(()); // the open below names the error
    };
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a pipe (FIFO)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_socket() {
        "a socket"
    } else {
        return Ok(());
    };
    Err(Error::Usage(format!(
        "{}: is {what}; {HOW}",
        crate::text::path(path)
    )))
}

#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    file: File,
    len: u64,
}

impl SourceFile {
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        refuse_streams(&path)?;
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            return Err(Error::Usage(format!(
                "{}: is a directory, expected a disk image file",
                path.display()
            )));
        }
        let len = if meta.file_type().is_file() {
            meta.len()
        } else {
            block_device_len(&file).map_err(|e| Error::io(&path, e))?
        };
        Ok(SourceFile { path, file, len })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Read exactly `buf.len()` bytes at `offset`; running past the end of the file is a
    /// `Malformed` error naming what was being read.
    pub fn read_exact_at(&self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(Error::malformed(
                &self.path,
                offset,
                what,
                format!(
                    "{} bytes needed, file is {} bytes long",
                    buf.len(),
                    self.len
                ),
                "the structure to lie inside the file",
            ));
        }
        let mut done = 0usize;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(Error::malformed(
                        &self.path,
                        offset + done as u64,
                        what,
                        "end of file (the file shrank while being read)",
                        format!("{} more bytes", buf.len() - done),
                    ));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(&self.path, e)),
            }
        }
        Ok(())
    }

    /// Where the next data at or after `offset` begins, and where the hole after it begins,
    /// from SEEK_DATA / SEEK_HOLE. `None` when the file system cannot tell.
    pub fn data_region(&self, offset: u64) -> Option<(u64, u64)> {
        crate::sys::data_region(&self.file, offset, self.len)
    }

    /// What lies at `offset` (below `size`) of a disk whose bytes are this file's: its holes
    /// are the disk's zeros; where the file system cannot tell, data to the end.
    pub fn disk_extent(&self, offset: u64, size: u64) -> Extent {
        let (kind, end) = match self.data_region(offset) {
            Some((data, _)) if data > offset => (ExtentKind::Zero, data),
            Some((_, hole)) => (ExtentKind::Data, hole),
            None => (ExtentKind::Data, size),
        };
        Extent {
            kind,
            len: end.min(size).max(offset + 1) - offset,
        }
    }
}

fn block_device_len(file: &File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let mut f = file;
    let len = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(len)
}
