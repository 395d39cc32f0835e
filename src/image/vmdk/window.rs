//! A byte range of one of a layer's files: a whole extent file, or a `.vmdk` member inside an
//! `.ova` archive read in place. Every read is checked against the window, and errors give
//! the offset in the real file.

use crate::error::{Error, Result};
use crate::image::source::SourceFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the file among the layer's files.
    pub file: usize,
    /// Where the window starts in that file.
    pub base: u64,
    pub len: u64,
}

impl Window {
    /// Read `buf.len()` bytes at `off` inside the window.
    pub fn read(&self, src: &SourceFile, off: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let end = off.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(Error::malformed(
                src.path(),
                self.base.saturating_add(off),
                what,
                format!("{} bytes at offset {off} of the extent", buf.len()),
                format!("the structure to lie inside the {}-byte extent", self.len),
            ));
        }
        src.read_exact_at(self.base + off, buf, what)
    }

    /// The offset in the real file of offset `off` in the window.
    pub fn at(&self, off: u64) -> u64 {
        self.base.saturating_add(off)
    }
}
