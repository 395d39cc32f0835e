//! Putting an image's bytes into OSS: one PutObject for a small object, else a multipart
//! upload with parts in flight on several threads, each part's CRC-64 checked against the
//! server's, the object's CRC combined from the parts and checked after completion, and a
//! resume record so a re-run sends only what is missing.
//!
//! Memory does not grow with the part size: a part is read from its source (the page cache,
//! a virtual disk read through its reader, or the VHD generator) in chunks of
//! [`part_body::CHUNK`] bytes while the request sends it, its CRC-64 computed on the way
//! (see `part_body`); each connection owns a few such chunks.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::crc64;
use super::oss::{ListedPart, Oss, Reply};
use super::part_body;
use super::resume::{self, DonePart, State};
use super::rpc::CallError;
use crate::error::{Error, Result};
use crate::image::VirtualDisk;

pub const KIB: u64 = 1 << 10;
pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;
/// OSS: every part but the last at least 100 KiB, at most 5 GiB, at most 10000 parts.
pub const MIN_PART: u64 = 100 * KIB;
pub const MAX_PART: u64 = 5 * GIB;
pub const MAX_PARTS: u64 = 10_000;
pub const DEFAULT_PART: u64 = 64 * MIB;
/// A single PutObject is limited to 5 GiB.
pub const MAX_PUT: u64 = 5 * GIB;

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
pub struct ImageFileSource<'a>(pub &'a crate::image::source::SourceFile);

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

#[derive(Debug, Clone)]
pub struct Options {
    pub bucket: String,
    pub key: String,
    pub part_size: u64,
    pub parallel: usize,
    pub restart: bool,
    /// Identifies the source's bytes: file size, mtime, VHD id, and how bytes are produced.
    pub identity: String,
    /// Where resume records live; `None` disables resuming.
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub size: u64,
    pub crc64: u64,
    /// 0 for a single PutObject or an object already there.
    pub parts: u32,
    /// Parts found already uploaded (and verified) from an earlier run.
    pub resumed_parts: u32,
    /// An identical object was already in the bucket: nothing was sent.
    pub already_there: bool,
    pub sent_bytes: u64,
}

/// The part size: the requested one (or 64 MiB), grown when needed so there are at most
/// 10000 parts. A request below 100 KiB or above 5 GiB is refused.
pub fn part_size(size: u64, requested: Option<u64>) -> Result<u64> {
    if let Some(r) = requested {
        if !(MIN_PART..=MAX_PART).contains(&r) {
            return Err(Error::Usage(format!(
                "--part-size {r}: OSS parts are 100 KiB ({MIN_PART} bytes) to 5 GiB"
            )));
        }
    }
    let want = requested.unwrap_or(DEFAULT_PART);
    let ps = if size.div_ceil(want) > MAX_PARTS {
        size.div_ceil(MAX_PARTS).next_multiple_of(MIB)
    } else {
        want
    };
    if ps > MAX_PART {
        return Err(Error::Usage(format!(
            "{size} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB"
        )));
    }
    Ok(ps)
}

/// Parts in flight by default: enough to fill a link without flooding a small machine.
pub fn default_parallel() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(1, 8)
}

fn explain(action: &str, e: &CallError) -> Error {
    super::ecs::explain(action, e)
}

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
    let size = src.len();
    if let Some(out) = already_there(oss, src, o, note)? {
        return Ok(out);
    }
    if size <= o.part_size && size <= MAX_PUT {
        let out = put_whole(oss, src, o, note)?;
        done(size);
        return Ok(out);
    }
    multipart(oss, src, o, note, done)
}

/// HEAD the object; when its size and CRC-64 equal ours, there is nothing to send. Our CRC
/// needs a read of the whole source, done only when the sizes already agree.
fn already_there(
    oss: &Oss,
    src: &dyn Source,
    o: &Options,
    note: &mut dyn FnMut(String),
) -> Result<Option<Outcome>> {
    let meta = oss
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

/// The source's `read_at` as the chunked body wants it.
fn reader<'a>(src: &'a dyn Source) -> impl Fn(u64, &mut [u8]) -> Result<()> + Sync + 'a {
    move |offset, buf| src.read_at(offset, buf)
}

fn put_whole(
    oss: &Oss,
    src: &dyn Source,
    o: &Options,
    note: &mut dyn FnMut(String),
) -> Result<Outcome> {
    let size = src.len();
    note(format!(
        "uploading {size} bytes to oss://{}/{} in one request",
        o.bucket, o.key
    ));
    let read = reader(src);
    let mut crc = 0;
    send_checked(oss, "PutObject", &mut || {
        let sent =
            part_body::send_range(&read, 0, size, &|p| oss.put_object(&o.bucket, &o.key, &p))?;
        crc = sent.crc64;
        Ok((sent.reply, sent.crc64))
    })?;
    Ok(Outcome {
        size,
        crc64: crc,
        sent_bytes: size,
        ..Outcome::default()
    })
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
    super::retry::run_with(oss.retry_policy(), once, cause).map_err(|e| match e {
        Failed::Final(e) => e,
        Failed::Call(c) => explain(what, &c),
    })
}

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
    oss: &'a Oss,
    src: &'a dyn Source,
    o: &'a Options,
    upload_id: String,
    jobs: Vec<Job>,
    next: AtomicUsize,
    failed: AtomicBool,
    sent: AtomicU64,
    done: &'a (dyn Fn(u64) + Sync),
    state: Mutex<(State, Option<Error>)>,
    state_path: Option<PathBuf>,
    resumed: AtomicU64,
}

fn multipart(
    oss: &Oss,
    src: &dyn Source,
    o: &Options,
    note: &mut dyn FnMut(String),
    done: &(dyn Fn(u64) + Sync),
) -> Result<Outcome> {
    let size = src.len();
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
    let jobs = plan_jobs(size, o.part_size, &listed);
    note(format!(
        "uploading {size} bytes to oss://{}/{} in {} parts of {} bytes, {} at a time",
        o.bucket,
        o.key,
        jobs.len(),
        o.part_size,
        o.parallel
    ));
    let shared = Shared {
        oss,
        src,
        o,
        upload_id: state.upload_id.clone(),
        jobs,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        done,
        state: Mutex::new((state, None)),
        state_path,
        resumed: AtomicU64::new(0),
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
        parts: shared.jobs.len() as u32,
        resumed_parts: shared.resumed.load(Ordering::Relaxed) as u32,
        already_there: false,
        sent_bytes: shared.sent.load(Ordering::Relaxed),
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

fn plan_jobs(size: u64, part_size: u64, listed: &[ListedPart]) -> Vec<Job> {
    let count = size.div_ceil(part_size);
    (0..count)
        .map(|i| {
            let offset = i * part_size;
            let len = part_size.min(size - offset);
            let number = (i + 1) as u32;
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
    let workers = sh.o.parallel.clamp(1, sh.jobs.len().max(1));
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
    let read = reader(sh.src);
    let listed = match &job.listed {
        Some(l) => {
            let crc = part_body::range_crc(&read, job.offset, job.len, buf)?;
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
            let mut crc = 0;
            let etag = send_checked(sh.oss, &what, &mut || {
                let sent = part_body::send_range(&read, job.offset, job.len, &|p| {
                    sh.oss
                        .upload_part(&sh.o.bucket, &sh.o.key, &sh.upload_id, job.number, &p)
                })?;
                crc = sent.crc64;
                Ok((sent.reply, sent.crc64))
            })?;
            sh.sent.fetch_add(job.len, Ordering::Relaxed);
            (etag, crc)
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
    fn part_size_rules() {
        assert_eq!(part_size(10 * GIB, None).unwrap(), DEFAULT_PART);
        // 2 TiB in 64 MiB parts would be 32768 parts: grow to fit 10000.
        let ps = part_size(2048 * GIB, None).unwrap();
        assert!((2048 * GIB).div_ceil(ps) <= MAX_PARTS);
        assert!(ps % MIB == 0);
        assert!(part_size(1, Some(MIN_PART - 1)).is_err());
        assert_eq!(part_size(1 << 20, Some(MIN_PART)).unwrap(), MIN_PART);
        assert!(part_size(1, Some(MAX_PART + 1)).is_err());
    }

    #[test]
    fn jobs_cover_the_source_once() {
        let listed = vec![ListedPart {
            number: 2,
            etag: "e".into(),
            size: 100,
            crc64: Some(1),
        }];
        let jobs = plan_jobs(250, 100, &listed);
        assert_eq!(jobs.len(), 3);
        assert_eq!((jobs[2].offset, jobs[2].len), (200, 50));
        assert!(jobs[1].listed.is_some() && jobs[0].listed.is_none());
    }

    struct Pattern(u64);
    impl Source for Pattern {
        fn len(&self) -> u64 {
            self.0
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = ((offset + i as u64) % 251) as u8;
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
