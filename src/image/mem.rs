//! A virtual disk held in memory, for unit tests of everything that reads a `VirtualDisk`.

use super::VirtualDisk;
use crate::error::{Error, Result};

/// The bytes are the disk. A read past the end is an error, as it is for real images.
pub struct MemDisk(pub Vec<u8>);

impl VirtualDisk for MemDisk {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| self.0.get(o..o.checked_add(buf.len())?))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "read of {} bytes at {offset} past the end",
                    buf.len()
                ))
            })?;
        buf.copy_from_slice(src);
        Ok(())
    }
}
