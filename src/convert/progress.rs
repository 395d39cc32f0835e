//! A progress line on stderr (bytes done, rate, ETA), drawn by its own thread so the workers
//! only bump a counter. Nothing is drawn for work that ends within a moment.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::text::human;

/// Work shorter than this shows no progress at all.
const QUIET_START: Duration = Duration::from_millis(700);
const TICK: Duration = Duration::from_millis(100);
const REDRAW_TICKS: u32 = 3;

struct Shared {
    label: &'static str,
    total: u64,
    done: AtomicU64,
    stop: AtomicBool,
}

pub(crate) struct Progress {
    shared: Arc<Shared>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    pub fn start(label: &'static str, total: u64, enabled: bool) -> Progress {
        let shared = Arc::new(Shared {
            label,
            total,
            done: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let drawer = enabled.then(|| {
            let s = Arc::clone(&shared);
            std::thread::spawn(move || draw_loop(&s))
        });
        Progress { shared, drawer }
    }

    /// Count `n` more virtual bytes as done (holes included: they are done when skipped).
    pub fn add(&self, n: u64) {
        self.shared.done.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.drawer.take() {
            let _ = h.join();
        }
    }
}

fn draw_loop(s: &Shared) {
    let started = Instant::now();
    let mut drawn = false;
    let mut ticks = 0u32;
    while !s.stop.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        ticks += 1;
        if started.elapsed() < QUIET_START || ticks % REDRAW_TICKS != 0 {
            continue;
        }
        let line = render(
            s.label,
            s.done.load(Ordering::Relaxed),
            s.total,
            started.elapsed(),
        );
        let _ = write!(std::io::stderr(), "\r{line}\x1b[K");
        drawn = true;
    }
    if drawn {
        let _ = write!(std::io::stderr(), "\r\x1b[K");
    }
}

pub(crate) fn render(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let pct = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let eta = if rate > 0.0 {
        format!("{:.0}s", total.saturating_sub(done) as f64 / rate)
    } else {
        "?".into()
    };
    // A rate of bytes per second, never negative; `as` saturates (NaN becomes 0).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let per_second = rate as u64;
    format!(
        "{label}: {} / {} ({pct:.0}%), {}/s, ETA {eta}",
        human(done),
        human(total),
        human(per_second)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rate_and_eta() {
        let s = render("converting", 1 << 30, 4 << 30, Duration::from_secs(2));
        assert_eq!(
            s, "converting: 1 GiB / 4 GiB (25%), 512 MiB/s, ETA 6s",
            "{s}"
        );
    }
}
