//! Where an upload's bytes come from: a file as it is, an image's own open file, or a
//! virtual disk read through its reader.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::image::VirtualDisk;
use crate::image::source::SourceFile;

/// Where an upload's bytes come from.
pub trait Source: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;
}

/// A file's bytes as they are (RAW, or a VHD uploaded as VHD).
pub struct FileSource {
    file: File,
    path: PathBuf,
    len: u64,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(FileSource {
            file,
            path: path.to_path_buf(),
            len,
        })
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// The bytes of an image's own open file (the file uploaded as it is): the same open file
/// its identity was read from, so what goes up is what the resume record describes even if
/// the path is replaced meanwhile.
pub struct ImageFileSource<'a>(pub &'a SourceFile);

impl Source for ImageFileSource<'_> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_exact_at(offset, buf, "the image's bytes")
    }
}

/// A virtual disk's bytes: a VHD chain converted to RAW on the fly, with no copy on disk.
pub struct DiskSource<'a>(pub &'a dyn VirtualDisk);

impl Source for DiskSource<'_> {
    fn len(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_at(offset, buf)
    }
}

/// The source's `read_at` as the chunked body wants it.
pub(super) fn reader<'a>(src: &'a dyn Source) -> impl Fn(u64, &mut [u8]) -> Result<()> + Sync + 'a {
    move |offset, buf| src.read_at(offset, buf)
}
