//! The streamed dynamic VHD as an upload's byte source: what lets `import` send only a disk's
//! data (its blocks holding a non-zero byte plus a few KiB of metadata) instead of its whole
//! virtual size, with no temporary file and no buffer beyond each worker's own.
//!
//! A resumed upload must regenerate the same bytes, so the stream's [`Identity`] (the
//! footer's unique id and timestamp) must be the same on the re-run.
//! [`crate::plan::sent::identity_for`] derives
//! it from what the resume record already compares (the source's size, mtime and id, and how
//! its bytes are produced), so nothing more needs keeping; [`identity_to_record`] and
//! [`identity_from_record`] store and read one explicitly for a caller that prefers a random
//! identity kept in its record.

use super::upload::Source;
use crate::convert::{Identity, VhdStream};
use crate::error::{Error, Result};

/// A [`VhdStream`] as an upload [`Source`]: parts are generated on the fly into each
/// worker's buffer, in any order, any number of times, always the same bytes.
pub struct VhdSource<'a>(pub VhdStream<'a>);

impl Source for VhdSource<'_> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_at(offset, buf)
    }
}

/// An identity as text for a resume record: 32 hex digits, `:`, the timestamp in decimal.
pub fn identity_to_record(id: &Identity) -> String {
    let hex: String = id.unique_id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}:{}", id.timestamp)
}

/// The identity [`identity_to_record`] wrote; an error naming the text when it is not one.
pub fn identity_from_record(text: &str) -> Result<Identity> {
    let bad = || {
        Error::Failed(format!(
            "resume record: VHD identity {text:?} is not 32 hex digits, ':' and a timestamp"
        ))
    };
    let (hex, ts) = text.split_once(':').ok_or_else(bad)?;
    if hex.len() != 32 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut unique_id = [0u8; 16];
    for (i, b) in unique_id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    let timestamp = ts.parse().map_err(|_| bad())?;
    Ok(Identity {
        unique_id,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::mem::MemDisk;
    use crate::plan::sent::identity_for;

    #[test]
    fn the_same_fingerprint_gives_the_same_identity() {
        let a = identity_for("size=1 mtime=2 id=x", 9);
        assert_eq!(a, identity_for("size=1 mtime=2 id=x", 9));
        assert_ne!(a, identity_for("size=1 mtime=3 id=x", 9));
        assert_eq!(a.unique_id[6] >> 4, 5);
        assert_eq!(a.timestamp, 9);
    }

    #[test]
    fn identities_survive_the_record() {
        let a = identity_for("f", 0x2e00_0001);
        let text = identity_to_record(&a);
        assert_eq!(identity_from_record(&text).unwrap(), a);
        for bad in [
            "",
            "00:1",
            "zz000000000000000000000000000000:1",
            &text[..33],
        ] {
            assert!(identity_from_record(bad).is_err(), "{bad:?}");
        }
        let multibyte = format!("{}é:1", &text[..30]);
        assert!(identity_from_record(&multibyte).is_err());
    }

    #[test]
    fn a_source_gives_the_streams_bytes() {
        let mut d = vec![0u8; 6 << 20];
        d[3 << 20] = 9;
        let disk = MemDisk(d);
        let s = VhdStream::of_disk(&disk, identity_for("m", 1)).unwrap();
        let src = VhdSource(VhdStream::of_disk(&disk, identity_for("m", 1)).unwrap());
        assert_eq!(src.len(), s.len());
        let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
        let at = src.len() - 5000;
        src.read_at(at, &mut a).unwrap();
        s.read_at(at, &mut b).unwrap();
        assert!(a == b);
        assert!(src.read_at(src.len() - 10, &mut a).is_err());
    }
}
