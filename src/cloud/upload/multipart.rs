//! A multipart upload: the upload to continue (from the resume record, if the server still
//! has it) or a new one, its parts planned, sent by several workers (a part the server
//! already has with our CRC-64 is kept), the record saved after each part, and the
//! completion checked against the CRC-64 combined from the parts.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::options::{MAX_PARTS, Outcome, Upload};
use super::send::{explain, send_range_checked};
use super::source::reader;
use crate::cloud::crc64;
use crate::cloud::oss::{ListedPart, Oss};
use crate::cloud::part_body;
use crate::cloud::resume::{self, DonePart, State};
use crate::error::{Error, Result};

/// One part to produce: its number (from 1), where it starts, how long it is, and what the
/// server already has for it (from ListParts).
#[derive(Debug, Clone)]
struct Job {
    number: u32,
    offset: u64,
    len: u64,
    listed: Option<ListedPart>,
}

/// Shared between the workers.
struct Shared<'a> {
    up: &'a Upload<'a>,
    upload_id: String,
    jobs: Vec<Job>,
    next: AtomicUsize,
    failed: AtomicBool,
    sent: AtomicU64,
    done: &'a (dyn Fn(u64) + Sync),
    state: Mutex<(State, Option<Error>)>,
    state_path: Option<PathBuf>,
    resumed: AtomicU32,
}

pub(super) fn run(
    up: &Upload<'_>,
    note: &mut dyn FnMut(String),
    done: &(dyn Fn(u64) + Sync),
) -> Result<Outcome> {
    let (oss, o) = (up.oss, up.o);
    let size = up.src.len();
    let count = part_count(size, o.part_size)?;
    let state_path = o
        .state_dir
        .as_ref()
        .map(|d| resume::path(d, &o.bucket, &o.key, &o.identity));
    let fresh = State {
        version: 1,
        endpoint_host: oss.endpoint.host.clone(),
        bucket: o.bucket.clone(),
        key: o.key.clone(),
        upload_id: String::new(),
        part_size: o.part_size,
        size,
        identity: o.identity.clone(),
        parts: Vec::new(),
    };
    let (state, listed) = open_upload(oss, &fresh, state_path.as_deref(), o.restart, note)?;
    let jobs = plan_jobs(size, o.part_size, count, &listed);
    note(format!(
        "uploading {size} bytes to oss://{}/{} in {} parts of {} bytes, {} at a time",
        o.bucket,
        o.key,
        jobs.len(),
        o.part_size,
        o.parallel
    ));
    let shared = Shared {
        up,
        upload_id: state.upload_id.clone(),
        jobs,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        done,
        state: Mutex::new((state, None)),
        state_path,
        resumed: AtomicU32::new(0),
    };
    run_workers(&shared);
    let (state, err) = shared
        .state
        .into_inner()
        .map_err(|_| Error::Failed("an upload worker panicked".into()))?;
    if let Some(e) = err {
        if shared.state_path.is_some() {
            note(format!(
                "{} parts are uploaded; re-running the same command sends only the rest \
                 (--restart starts over)",
                state.parts.len()
            ));
        }
        return Err(e);
    }
    let crc = finish(oss, &state, shared.jobs.len(), note)?;
    if let Some(p) = &shared.state_path {
        resume::remove(p);
    }
    Ok(Outcome {
        size,
        crc64: crc,
        parts: count,
        resumed_parts: shared.resumed.load(Ordering::Relaxed),
        already_there: false,
        sent_bytes: shared.sent.load(Ordering::Relaxed),
    })
}

/// How many parts of `part_size` bytes hold `size` bytes. `part_size` (the function) keeps
/// them to 10000; a library caller's own part size may not, and a count that a part number
/// cannot hold, or a part size of 0, is refused before anything is sent.
fn part_count(size: u64, part_size: u64) -> Result<u32> {
    if part_size == 0 {
        return Err(Error::Usage("a part size of 0 bytes".into()));
    }
    u32::try_from(size.div_ceil(part_size)).map_err(|_| {
        Error::Usage(format!(
            "{size} bytes in parts of {part_size} bytes: more parts than OSS numbers \
             (at most {MAX_PARTS})"
        ))
    })
}

/// The upload to continue (from the record, if the server still has it) or a new one, with
/// the parts the server lists.
fn open_upload(
    oss: &Oss,
    fresh: &State,
    path: Option<&Path>,
    restart: bool,
    note: &mut dyn FnMut(String),
) -> Result<(State, Vec<ListedPart>)> {
    let old = path.and_then(resume::load).filter(|s| s.matches(fresh));
    if let Some(old) = old {
        if restart {
            note(format!(
                "--restart: aborting the earlier upload {}",
                old.upload_id
            ));
            oss.abort(&old.bucket, &old.key, &old.upload_id)
                .map_err(|e| explain("AbortMultipartUpload", &e))?;
        } else {
            match oss.list_parts(&old.bucket, &old.key, &old.upload_id) {
                Ok(listed) => {
                    note(format!(
                        "resuming upload {}: the server has {} parts",
                        old.upload_id,
                        listed.len()
                    ));
                    return Ok((old, listed));
                }
                Err(e) if e.code() == Some("NoSuchUpload") => {
                    note("the earlier upload is gone from the server; starting again".into());
                }
                Err(e) => return Err(explain("ListParts", &e)),
            }
        }
    }
    let upload_id = oss
        .initiate(&fresh.bucket, &fresh.key)
        .map_err(|e| explain("InitiateMultipartUpload", &e))?;
    let state = State {
        upload_id,
        ..fresh.clone()
    };
    if let Some(p) = path {
        resume::save(p, &state)?;
    }
    Ok((state, Vec::new()))
}

/// The `count` parts of `part_size` bytes (the last one shorter) that hold `size` bytes.
fn plan_jobs(size: u64, part_size: u64, count: u32, listed: &[ListedPart]) -> Vec<Job> {
    (1..=count)
        .map(|number| {
            // number - 1 < count = ceil(size / part_size): the offset is below `size`.
            let offset = u64::from(number - 1) * part_size;
            let len = part_size.min(size - offset);
            Job {
                number,
                offset,
                len,
                listed: listed
                    .iter()
                    .find(|p| p.number == number && p.size == len)
                    .cloned(),
            }
        })
        .collect()
}

fn run_workers(sh: &Shared<'_>) {
    let workers = sh.up.o.parallel.clamp(1, sh.jobs.len().max(1));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers).map(|_| scope.spawn(|| worker(sh))).collect();
        for h in handles {
            let _ = h.join();
        }
    });
}

fn worker(sh: &Shared<'_>) {
    // For the CRC of a part the server already has; sent parts use the body's own chunks.
    let mut buf = Vec::new();
    while !sh.failed.load(Ordering::Relaxed) {
        let i = sh.next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = sh.jobs.get(i) else { return };
        if let Err(e) = do_job(sh, job, &mut buf) {
            sh.failed.store(true, Ordering::Relaxed);
            if let Ok(mut st) = sh.state.lock() {
                st.1.get_or_insert(e);
            }
            return;
        }
        (sh.done)(job.len);
    }
}

/// Keep the server's copy of the part if it has the same CRC-64 as ours, else send it
/// (reading it in chunks as it goes out).
fn do_job(sh: &Shared<'_>, job: &Job, buf: &mut Vec<u8>) -> Result<()> {
    let (oss, o) = (sh.up.oss, sh.up.o);
    let listed = match &job.listed {
        Some(l) => {
            let crc = part_body::range_crc(&reader(sh.up.src), job.offset, job.len, buf)?;
            (l.crc64 == Some(crc)).then(|| (l.etag.clone(), crc))
        }
        None => None,
    };
    let (etag, crc) = match listed {
        Some(found) => {
            sh.resumed.fetch_add(1, Ordering::Relaxed);
            found
        }
        None => {
            let what = format!("UploadPart {}", job.number);
            let sent = send_range_checked(oss, &what, sh.up.src, (job.offset, job.len), &|p| {
                oss.upload_part(&o.bucket, &o.key, &sh.upload_id, job.number, &p)
            })?;
            sh.sent.fetch_add(job.len, Ordering::Relaxed);
            sent
        }
    };
    record(sh, job.number, etag, crc)
}

fn record(sh: &Shared<'_>, number: u32, etag: String, crc64: u64) -> Result<()> {
    let mut st = sh
        .state
        .lock()
        .map_err(|_| Error::Failed("an upload worker panicked".into()))?;
    st.0.parts.retain(|p| p.number != number);
    st.0.parts.push(DonePart {
        number,
        etag,
        crc64,
    });
    match &sh.state_path {
        Some(p) => resume::save(p, &st.0),
        None => Ok(()),
    }
}

/// Complete the upload and check the object's CRC-64 against the one combined from the parts.
fn finish(oss: &Oss, state: &State, count: usize, note: &mut dyn FnMut(String)) -> Result<u64> {
    let mut parts = state.parts.clone();
    parts.sort_by_key(|p| p.number);
    if parts.len() != count {
        return Err(Error::Failed(format!(
            "{} of {count} parts were uploaded",
            parts.len()
        )));
    }
    let mut crc = 0;
    let mut left = state.size;
    for p in &parts {
        let len = state.part_size.min(left);
        crc = crc64::combine(crc, p.crc64, len);
        left -= len;
    }
    let list: Vec<(u32, String)> = parts.iter().map(|p| (p.number, p.etag.clone())).collect();
    let theirs = match oss.complete(&state.bucket, &state.key, &state.upload_id, &list) {
        Ok(reply) => reply.crc64(),
        // A retried Complete whose first attempt did complete: the object tells.
        Err(e) if e.code() == Some("NoSuchUpload") => {
            oss.head_object(&state.bucket, &state.key)
                .map_err(|e| explain("HeadObject", &e))?
                .filter(|m| m.size == state.size)
                .ok_or_else(|| explain("CompleteMultipartUpload", &e))?
                .crc64
        }
        Err(e) => return Err(explain("CompleteMultipartUpload", &e)),
    };
    match theirs {
        Some(c) if c == crc => {
            note(format!("upload complete; CRC-64 {crc} verified"));
            Ok(crc)
        }
        Some(c) => Err(Error::Failed(format!(
            "the object oss://{}/{} has CRC-64 {c} but its parts combine to {crc}: \
             the object is damaged; do not import it (delete it and upload again)",
            state.bucket, state.key
        ))),
        None => Err(Error::Failed(
            "CompleteMultipartUpload gave no x-oss-hash-crc64ecma; the object cannot be verified"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_cover_the_source_once() {
        let listed = vec![ListedPart {
            number: 2,
            etag: "e".into(),
            size: 100,
            crc64: Some(1),
        }];
        let jobs = plan_jobs(250, 100, part_count(250, 100).unwrap(), &listed);
        assert_eq!(jobs.len(), 3);
        assert_eq!((jobs[2].offset, jobs[2].len), (200, 50));
        assert!(jobs[1].listed.is_some() && jobs[0].listed.is_none());
    }

    /// A part number is a u32: a part count past it wrapped (`as u32`) into part numbers
    /// that repeat; it is refused now, and so is a part size of 0 (which divided by zero).
    #[test]
    fn part_counts_past_a_part_number_are_refused() {
        assert_eq!(part_count(250, 100).unwrap(), 3);
        assert_eq!(part_count(0, 100).unwrap(), 0);
        let most = u64::from(u32::MAX);
        assert_eq!(part_count(most, 1).unwrap(), u32::MAX);
        let e = part_count(most + 1, 1).unwrap_err().to_string();
        assert!(e.contains("more parts than OSS numbers"), "{e}");
        assert!(part_count(1, 0).is_err());
    }
}
