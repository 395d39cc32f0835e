//! Sending a byte range of the source as one request's body, retried on transient failures
//! and on a CRC-64 the server computed differently from the one of the bytes sent.

use super::source::{Source, reader};
use crate::cloud::oss::{Oss, Payload, Reply};
use crate::cloud::part_body;
use crate::cloud::rpc::CallError;
use crate::error::{Error, Result};

pub(super) fn explain(action: &str, e: &CallError) -> Error {
    crate::cloud::ecs::explain(action, e)
}

/// Send the `len` bytes at `offset` of `src`, each attempt a request made by `request`
/// (PutObject, or UploadPart of one part), until the server's CRC-64 of what it received
/// equals ours; returns the ETag and the CRC-64.
pub(super) fn send_range_checked(
    oss: &Oss,
    what: &str,
    src: &dyn Source,
    (offset, len): (u64, u64),
    request: &dyn Fn(Payload) -> std::result::Result<Reply, CallError>,
) -> Result<(String, u64)> {
    let read = reader(src);
    let mut crc = 0;
    let etag = send_checked(oss, what, &mut || {
        let sent = part_body::send_range(&read, offset, len, request)?;
        crc = sent.crc64;
        Ok((sent.reply, sent.crc64))
    })?;
    Ok((etag, crc))
}

/// Send with retries on transient failures and on a CRC-64 the server computed differently
/// from the one of the bytes sent (damaged on the way); returns the ETag. `send` makes one
/// attempt and gives its reply and the CRC-64 of what it sent; an `Err` from it (the source
/// could not be read) stops at once.
fn send_checked(
    oss: &Oss,
    what: &str,
    send: &mut dyn FnMut() -> Result<(std::result::Result<Reply, CallError>, u64)>,
) -> Result<String> {
    enum Failed {
        /// Trying again cannot help.
        Final(Error),
        Call(CallError),
    }
    let once = || -> std::result::Result<String, Failed> {
        let (reply, crc) = send().map_err(Failed::Final)?;
        let r = reply.map_err(Failed::Call)?;
        match r.crc64() {
            Some(c) if c == crc => Ok(r.etag().unwrap_or_default()),
            Some(c) => Err(Failed::Call(CallError::Transport(format!(
                "{what}: the server computed CRC-64 {c}, we sent {crc}"
            )))),
            None => Err(Failed::Final(Error::Failed(format!(
                "{what}: the answer has no x-oss-hash-crc64ecma, so the data cannot be verified"
            )))),
        }
    };
    let cause = |e: &Failed| match e {
        Failed::Call(c) if c.retryable() => Some(c.brief()),
        _ => None,
    };
    crate::cloud::retry::run_with(oss.retry_policy(), once, cause).map_err(|e| match e {
        Failed::Final(e) => e,
        Failed::Call(c) => explain(what, &c),
    })
}
