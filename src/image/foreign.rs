//! Formats we recognise and refuse by name, so that none of them is ever taken for RAW.

use super::fit::min_len;
use super::source::SourceFile;
use crate::error::{Error, Result};

/// A recognised format that imgtool does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Foreign {
    pub name: &'static str,
    pub hint: &'static str,
}

const CONVERT: &str =
    "convert it first, e.g. `qemu-img convert -O raw IMAGE disk.raw`, then use the RAW file";

/// VDI's signature at offset 64 (little-endian 0xbeda107f).
const VDI_SIGNATURE: [u8; 4] = [0x7f, 0x10, 0xda, 0xbe];
/// ISO 9660's primary volume descriptor: `CD001` at 0x8001.
const ISO_MAGIC_OFFSET: u64 = 0x8001;

/// Look at the first bytes of a file for the magic of a format we do not read.
pub fn detect(src: &SourceFile) -> Result<Option<Foreign>> {
    let mut head = [0u8; 512];
    let n = min_len(head.len(), src.len());
    src.read_exact_at(0, &mut head[..n], "file header")?;
    let h = &head[..n];
    let f = |name, hint| Some(Foreign { name, hint });
    if h.starts_with(b"COWD") {
        return Ok(f("VMDK (COWD: ESX vmfsSparse or VMware 3)", CONVERT));
    }
    if h.starts_with(b"<<< ") && h.len() >= 68 && h[64..68] == VDI_SIGNATURE {
        return Ok(f("VDI", CONVERT));
    }
    if src.len() >= ISO_MAGIC_OFFSET + 5 {
        let mut m = [0u8; 5];
        src.read_exact_at(ISO_MAGIC_OFFSET, &mut m, "ISO 9660 volume descriptor")?;
        if &m == b"CD001" {
            return Ok(f(
                "ISO 9660",
                "ECS does not import ISO images: install the system onto a disk image (RAW or VHD) first",
            ));
        }
    }
    Ok(None)
}

pub fn refuse(src: &SourceFile, f: Foreign) -> Error {
    Error::Unsupported {
        path: src.path().to_path_buf(),
        what: format!(
            "this is a {} image, which imgtool does not read; {}",
            f.name, f.hint
        ),
    }
}
