//! Image formats behind one trait. A format turns a file (or a chain of files) into a
//! [`VirtualDisk`]: a byte-addressable disk of a fixed size. Nothing here knows about
//! partitions or file systems.

// Numbers from files are converted with checks or a reason (issue 13 point 5): see fit.rs.
#![warn(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

pub mod cache;
pub mod chain;
pub mod check;
pub mod finding;
pub mod fit;
pub mod foreign;
pub mod format;
pub mod info;
pub mod kind;
#[cfg(test)]
pub(crate) mod mem;
pub mod qcow2;
pub mod raw;
pub mod registry;
pub mod source;
pub mod vhd;
pub mod vhdx;
pub mod virtual_disk;
pub mod vmdk;

pub use self::format::{Format, InPlace, Kind};
pub use self::registry::open;
pub use self::virtual_disk::{Extent, ExtentKind, VirtualDisk};
use crate::error::Result;

/// An opened image of any supported format. It derefs to [`Format`], which is all the rest of
/// the program may know of it.
#[derive(Debug)]
pub struct Image(Box<dyn Format>);

impl std::ops::Deref for Image {
    type Target = dyn Format;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Image {
    pub fn format_name(&self) -> &'static str {
        self.kind().name()
    }
}

impl VirtualDisk for Image {
    fn size(&self) -> u64 {
        self.0.size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_at(offset, buf)
    }
    fn extent(&self, offset: u64) -> Result<Extent> {
        self.0.extent(offset)
    }
}
