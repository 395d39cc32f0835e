//! One request's body made from a byte range of an upload's source, read in small chunks
//! while the request goes out: no part is ever held whole in memory.
//!
//! A helper thread reads the range [`CHUNK`] bytes at a time (from the page cache, or from
//! the VHD generator), computes the range's CRC-64 as it goes, and hands each chunk to the
//! request's body reader through a queue of [`QUEUE`] chunks; the body reader gives the
//! chunk's buffer back once it is sent, so a connection owns about `QUEUE + 2` buffers of
//! [`CHUNK`] bytes whatever the part size. The reader thread ends when the range is read,
//! when reading fails, or when the request stops taking bytes (a dropped connection).

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::crc64;
use super::oss::{Payload, Reply};
use super::rpc::CallError;
use crate::error::{Error, Result};
use crate::image::fit::min_len;

/// Bytes read from the source and handed to the connection at a time. Large enough that
/// the hand-over costs nothing next to the copy, small enough that every connection's
/// buffers together stay a few MiB.
pub const CHUNK: usize = 512 << 10;
/// Chunks waiting between the reader thread and the connection.
const QUEUE: usize = 2;

/// Reads `buf.len()` bytes at an offset of the source: the source's `read_at`.
pub type ReadAt<'a> = dyn Fn(u64, &mut [u8]) -> Result<()> + Sync + 'a;

/// What one request made with [`send_range`] did.
pub struct Sent {
    pub reply: std::result::Result<Reply, CallError>,
    /// The CRC-64 of the bytes sent (meaningful when the whole range went out).
    pub crc64: u64,
}

enum Produced {
    Done(u64),
    /// The request stopped taking bytes before the end of the range.
    Stopped,
    Failed(Error),
}

/// Make one request with `send`, its body the `len` bytes at `offset` of the source, read
/// with `read` while the request goes out. An error reading the source is the error
/// returned (not retryable: the caller stops); a failed request is in [`Sent::reply`].
pub fn send_range(
    read: &ReadAt<'_>,
    offset: u64,
    len: u64,
    send: &dyn Fn(Payload) -> std::result::Result<Reply, CallError>,
) -> Result<Sent> {
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
        let (back_tx, back_rx) = sync_channel::<Vec<u8>>(QUEUE + 2);
        let producer = s.spawn(move || produce(read, offset, len, &tx, &back_rx));
        let body = Chunks {
            rx,
            cur: Vec::new(),
            pos: 0,
            back: back_tx,
        };
        // The payload (and the body reader in it) is dropped when `send` returns, which
        // ends a reader thread still waiting to hand over a chunk.
        let reply = send(Payload::reader(body, len));
        let produced = producer
            .join()
            .map_err(|_| Error::Failed("an upload reader thread panicked".into()))?;
        match produced {
            Produced::Done(crc64) => Ok(Sent { reply, crc64 }),
            Produced::Stopped => Ok(Sent {
                reply: reply.and_then(|_| {
                    Err(CallError::Transport(
                        "the request ended before its whole body was sent".into(),
                    ))
                }),
                crc64: 0,
            }),
            Produced::Failed(e) => Err(e),
        }
    })
}

/// The CRC-64 of `len` bytes at `offset`, read in [`CHUNK`] pieces into `buf` (grown to
/// one chunk once and reused).
pub fn range_crc(read: &ReadAt<'_>, offset: u64, len: u64, buf: &mut Vec<u8>) -> Result<u64> {
    let mut d = crc64::Digest::new();
    let mut at = 0u64;
    while at < len {
        let n = min_len(CHUNK, len - at);
        buf.resize(n, 0);
        read(offset + at, buf)?;
        d.write(buf);
        at += n as u64;
    }
    Ok(d.sum())
}

fn produce(
    read: &ReadAt<'_>,
    offset: u64,
    len: u64,
    tx: &SyncSender<Vec<u8>>,
    back: &Receiver<Vec<u8>>,
) -> Produced {
    let mut d = crc64::Digest::new();
    let mut at = 0u64;
    while at < len {
        let n = min_len(CHUNK, len - at);
        let mut buf = back.try_recv().unwrap_or_default();
        buf.resize(n, 0);
        if let Err(e) = read(offset + at, &mut buf) {
            return Produced::Failed(e);
        }
        d.write(&buf);
        if tx.send(buf).is_err() {
            return Produced::Stopped;
        }
        at += n as u64;
    }
    Produced::Done(d.sum())
}

/// The body reader: the chunks in order, each buffer given back once copied out.
struct Chunks {
    rx: Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    back: SyncSender<Vec<u8>>,
}

impl Read for Chunks {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            // The body is read only up to its length, so a closed queue here means the
            // reader thread stopped early (it could not read the source).
            let next = self
                .rx
                .recv()
                .map_err(|_| io::Error::other("the upload's source could not be read"))?;
            let done = std::mem::replace(&mut self.cur, next);
            let _ = self.back.try_send(done);
            self.pos = 0;
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
// The fixtures cast small lengths and offsets into in-memory buffers.
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn pattern(offset: u64, buf: &mut [u8]) -> Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = ((offset + i as u64) % 251) as u8;
        }
        Ok(())
    }

    #[test]
    fn the_body_is_the_range_and_the_crc_is_its_crc() {
        let len = 3 * CHUNK as u64 + 17;
        let mut all = vec![0u8; len as usize];
        pattern(5, &mut all).unwrap();
        let got = std::sync::Mutex::new(Vec::new());
        let sent = send_range(&pattern, 5, len, &|p| {
            let Payload::Reader(r, n) = p else {
                panic!("a reader payload")
            };
            assert_eq!(n, len);
            let mut reader = r.lock().unwrap().take().unwrap();
            // Small reads, as the HTTP client does.
            let mut buf = [0u8; 8192];
            let mut out = Vec::new();
            while out.len() < n as usize {
                let k = reader.read(&mut buf).unwrap();
                out.extend_from_slice(&buf[..k]);
            }
            *got.lock().unwrap() = out;
            Err(CallError::Transport("test".into()))
        })
        .unwrap();
        assert!(*got.lock().unwrap() == all);
        assert_eq!(sent.crc64, crc64::checksum(&all));
        let mut buf = Vec::new();
        assert_eq!(range_crc(&pattern, 5, len, &mut buf).unwrap(), sent.crc64);
        assert!(buf.capacity() <= CHUNK);
    }

    #[test]
    fn a_request_that_stops_reading_ends_the_reader_thread() {
        let sent = send_range(&pattern, 0, 10 * CHUNK as u64, &|p| {
            drop(p);
            Err(CallError::Transport("dropped".into()))
        })
        .unwrap();
        assert!(sent.reply.is_err());
    }

    #[test]
    fn a_source_error_is_the_error_and_the_body_fails() {
        let failing = |_: u64, _: &mut [u8]| -> Result<()> { Err(Error::Failed("bad".into())) };
        let r = send_range(&failing, 0, 100, &|p| {
            let Payload::Reader(r, _) = p else {
                panic!("a reader payload")
            };
            let mut reader = r.lock().unwrap().take().unwrap();
            let mut buf = [0u8; 10];
            assert!(reader.read(&mut buf).is_err());
            Err(CallError::Transport("aborted".into()))
        });
        assert!(r.is_err());
    }
}
