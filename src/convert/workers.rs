//! A fixed set of threads that each pull the next piece of work as soon as they finish one.
//! No batch barrier: on a busy machine one descheduled worker no longer stalls the others,
//! and each thread owns one buffer, so memory is `threads x buffer` whatever the disk size.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// More threads than cores: the work is mostly the kernel copying pages or waiting for the
/// disk, and a deeper queue keeps both busy. Capped so buffers stay far below 64 MiB.
pub(crate) fn thread_count() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 8)
}

/// Threads for work that ends in writes to one file. Those writes take the file's inode lock
/// in the kernel, so they run one at a time whatever we do, and the kernel's waiters spin on
/// that lock (measured: a quarter of all CPU time, with wall time no better). So writers take
/// turns on a lock of ours, where waiting sleeps, and only as many threads run as keep the
/// one writing busy: one writing, one or two reading and scanning.
pub(crate) fn writer_threads() -> usize {
    thread_count().clamp(2, 3)
}

/// Threads for a source whose reads inflate compressed data: the work is CPU, so one worker
/// per core at least, and more on a small machine, so a worker descheduled by another
/// process's load, or waiting for its turn to write, does not leave a core idle.
pub(crate) fn decompress_threads() -> usize {
    thread_count()
}

/// Run `work` on every item `next` hands out (`next` runs under a lock, in order), on
/// `threads` threads (at least one) each owning a `buf_size` buffer. The first error stops everyone
/// and is returned.
///
/// The threads are those of a rayon pool made for the run, so a source that splits one read
/// into parallel work (qcow2 inflating a piece's compressed clusters with rayon) does that
/// work on these same threads: a worker that calls into rayon works on its own piece (and a
/// worker that has run out of pieces steals from the others) instead of sleeping while the
/// global pool's threads, competing with ours for the cores, do it.
pub(crate) fn pull<T, N, W>(threads: usize, buf_size: usize, next: N, work: W) -> Result<()>
where
    N: FnMut() -> Result<Option<T>> + Send,
    W: Fn(&mut [u8], T) -> Result<()> + Sync,
{
    let threads = threads.max(1);
    let next = Mutex::new(next);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |e: Error| {
        stop.store(true, Ordering::Relaxed);
        if let Ok(mut slot) = first_error.lock() {
            slot.get_or_insert(e);
        }
    };
    let worker = || {
        let mut buf = vec![0u8; buf_size];
        while !stop.load(Ordering::Relaxed) {
            let item = match next.lock() {
                Ok(mut n) => n(),
                Err(_) => return,
            };
            let r = match item {
                Ok(Some(t)) => work(&mut buf, t),
                Ok(None) => return,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                return fail(e);
            }
        }
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("convert-{i}"))
        .build();
    match pool {
        Ok(pool) => pool.scope(|s| {
            for _ in 0..threads {
                s.spawn(|_| worker());
            }
        }),
        // No pool (threads could not be made): plain threads, the same work.
        Err(_) => std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(worker);
            }
        }),
    }
    match first_error.into_inner() {
        Ok(Some(e)) => Err(e),
        Ok(None) => Ok(()),
        Err(_) => Err(Error::Failed("a conversion worker panicked".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_item_once_and_errors_stop_the_run() {
        let sum = AtomicU64::new(0);
        let mut i = 0u64;
        let r = pull(
            3,
            16,
            || {
                i += 1;
                Ok((i <= 1000).then_some(i))
            },
            |buf, n| {
                assert_eq!(buf.len(), 16);
                sum.fetch_add(n, Ordering::Relaxed);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(sum.load(Ordering::Relaxed), 500_500);
        let mut j = 0u64;
        let r = pull(
            2,
            1,
            || {
                j += 1;
                Ok(Some(j))
            },
            |_, n| {
                if n == 50 {
                    Err(Error::Failed("boom".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(matches!(r, Err(Error::Failed(m)) if m == "boom"));
    }

    #[test]
    fn work_that_splits_itself_with_rayon_runs_on_the_workers() {
        use rayon::prelude::*;
        let sum = AtomicU64::new(0);
        let mut i = 0u64;
        let r = pull(
            3,
            1,
            || {
                i += 1;
                Ok((i <= 20).then_some(i))
            },
            |_, n| {
                // Inside the pull: a rayon thread of the run's own pool, not the global one.
                assert!(rayon::current_thread_index().is_some());
                let s: u64 = (0..100u64).into_par_iter().map(|k| k * n).sum();
                sum.fetch_add(s, Ordering::Relaxed);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(sum.load(Ordering::Relaxed), 4950 * 210);
    }
}
