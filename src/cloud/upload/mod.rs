//! Putting an image's bytes into OSS: one PutObject for a small object, else a multipart
//! upload with parts in flight on several threads, each part's CRC-64 checked against the
//! server's, the object's CRC combined from the parts and checked after completion, and a
//! resume record so a re-run sends only what is missing.
//!
//! Memory does not grow with the part size: a part is read from its source (the page cache,
//! a virtual disk read through its reader, or the VHD generator) in chunks of
//! [`part_body::CHUNK`] bytes while the request sends it, its CRC-64 computed on the way
//! (see `part_body`); each connection owns a few such chunks.
//!
//! - `source.rs`: where the bytes come from;
//! - `options.rs`: what an upload is asked to do within the OSS part rules, what it did;
//! - `send.rs`: one range sent and its CRC-64 checked, with retries;
//! - `multipart.rs`: the resume record, the parts in flight, completion.

mod multipart;
mod options;
mod send;
mod source;

pub use options::{
    DEFAULT_PART, GIB, KIB, MAX_PART, MAX_PARTS, MAX_PUT, MIB, MIN_PART, Options, Outcome,
    default_parallel, part_size,
};
pub use source::{DiskSource, FileSource, ImageFileSource, Source};

use super::oss::Oss;
use super::part_body;
use crate::error::Result;
use options::Upload;
use send::{explain, send_range_checked};
use source::reader;

/// Upload `src` to `o.bucket`/`o.key`, unless an identical object is already there.
pub fn upload(
    oss: &Oss,
    src: &dyn Source,
    o: &Options,
    note: &mut dyn FnMut(String),
) -> Result<Outcome> {
    upload_observed(oss, src, o, note, &|_| {})
}

/// [`upload`], telling `done` each time more bytes are in OSS (a part sent, or found there
/// and verified); called from the worker threads.
pub fn upload_observed(
    oss: &Oss,
    src: &dyn Source,
    o: &Options,
    note: &mut dyn FnMut(String),
    done: &(dyn Fn(u64) + Sync),
) -> Result<Outcome> {
    let up = Upload { oss, src, o };
    let size = src.len();
    if let Some(out) = already_there(&up, note)? {
        return Ok(out);
    }
    if size <= o.part_size && size <= MAX_PUT {
        let out = put_whole(&up, note)?;
        done(size);
        return Ok(out);
    }
    multipart::run(&up, note, done)
}

/// HEAD the object; when its size and CRC-64 equal ours, there is nothing to send. Our CRC
/// needs a read of the whole source, done only when the sizes already agree.
fn already_there(up: &Upload<'_>, note: &mut dyn FnMut(String)) -> Result<Option<Outcome>> {
    let (src, o) = (up.src, up.o);
    let meta = up
        .oss
        .head_object(&o.bucket, &o.key)
        .map_err(|e| explain("HeadObject", &e))?;
    let Some(meta) = meta else { return Ok(None) };
    let Some(theirs) = meta.crc64.filter(|_| meta.size == src.len()) else {
        note(format!(
            "oss://{}/{} exists but differs in size or has no CRC-64; it will be replaced",
            o.bucket, o.key
        ));
        return Ok(None);
    };
    note(format!(
        "oss://{}/{} exists with the same size; comparing CRC-64",
        o.bucket, o.key
    ));
    let ours = whole_crc(src)?;
    if ours != theirs {
        note("its CRC-64 differs; it will be replaced".into());
        return Ok(None);
    }
    note("it is identical: not uploading again".into());
    Ok(Some(Outcome {
        size: src.len(),
        crc64: ours,
        already_there: true,
        ..Outcome::default()
    }))
}

fn whole_crc(src: &dyn Source) -> Result<u64> {
    part_body::range_crc(&reader(src), 0, src.len(), &mut Vec::new())
}

fn put_whole(up: &Upload<'_>, note: &mut dyn FnMut(String)) -> Result<Outcome> {
    let (oss, o) = (up.oss, up.o);
    let size = up.src.len();
    note(format!(
        "uploading {size} bytes to oss://{}/{} in one request",
        o.bucket, o.key
    ));
    let (_, crc) = send_range_checked(oss, "PutObject", up.src, (0, size), &|p| {
        oss.put_object(&o.bucket, &o.key, &p)
    })?;
    Ok(Outcome {
        size,
        crc64: crc,
        sent_bytes: size,
        ..Outcome::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::crc64;

    struct Pattern(u64);
    impl Source for Pattern {
        fn len(&self) -> u64 {
            self.0
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
            for (at, b) in (offset..).zip(buf.iter_mut()) {
                *b = u8::try_from(at % 251).unwrap();
            }
            Ok(())
        }
    }

    #[test]
    fn whole_crc_reads_in_chunks() {
        let s = Pattern(1000);
        let mut all = vec![0u8; 1000];
        s.read_at(0, &mut all).unwrap();
        assert_eq!(whole_crc(&s).unwrap(), crc64::checksum(&all));
    }
}
