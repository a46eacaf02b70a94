//! A log line per *kind* of event per interval instead of one per event, so a flood of refused
//! connections or bad admin requests cannot flood the log (or the disk) at the default level.
//!
//! The first event of a quiet spell is reported at once; later ones within `interval` are only
//! counted and the next report after the interval says how many were held back. Reading the
//! clock is the caller's job ([`RateLog::hit`] takes `now`), so the helper is tested on
//! made-up instants.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often the server reports each kind of refusal at most.
pub(crate) const LOG_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct RateLog {
    interval: Duration,
    /// Every event ever seen (the counter operators and tests read).
    total: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    /// When the last line was written; `None` before the first.
    last_line: Option<Instant>,
    /// Events since that line, not yet reported.
    held_back: u64,
}

impl RateLog {
    pub(crate) const fn new(interval: Duration) -> Self {
        RateLog {
            interval,
            total: AtomicU64::new(0),
            window: Mutex::new(Window {
                last_line: None,
                held_back: 0,
            }),
        }
    }

    /// Counts one event at `now`. `Some(n)`: write a line now, mentioning the `n` earlier events
    /// that were held back since the previous line; `None`: stay quiet.
    pub(crate) fn hit(&self, now: Instant) -> Option<u64> {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let due = w
            .last_line
            .is_none_or(|at| now.saturating_duration_since(at) >= self.interval);
        if due {
            w.last_line = Some(now);
            Some(std::mem::take(&mut w.held_back))
        } else {
            w.held_back += 1;
            None
        }
    }

    /// Every event counted so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

/// Counts an event in `$log` and, when it is due, writes `warn!($fmt, ...)` followed by how many
/// like it were held back since the previous line.
macro_rules! warn_limited {
    ($log:expr, $($arg:tt)+) => {
        if let Some(held_back) = $log.hit(std::time::Instant::now()) {
            if held_back == 0 {
                log::warn!($($arg)+);
            } else {
                log::warn!("{} ({held_back} more like it since the last report)", format_args!($($arg)+));
            }
        }
    };
}
pub(crate) use warn_limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_held_back_count() {
        let log = RateLog::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(
            log.hit(at(0)),
            Some(0),
            "the first event is reported at once"
        );
        for ms in 1..1000 {
            assert_eq!(log.hit(at(ms)), None, "inside the interval: quiet");
        }
        assert_eq!(log.hit(at(9_999)), None, "just inside the interval");
        assert_eq!(
            log.hit(at(10_000)),
            Some(1000),
            "at the interval: the held-back count"
        );
        assert_eq!(
            log.hit(at(30_000)),
            Some(0),
            "after a quiet spell: nothing held back"
        );
        assert_eq!(log.total(), 1003);
    }

    #[test]
    fn a_clock_going_backwards_stays_quiet() {
        let log = RateLog::new(Duration::from_secs(10));
        let t0 = Instant::now() + Duration::from_secs(60);
        assert_eq!(log.hit(t0), Some(0));
        assert_eq!(log.hit(t0 - Duration::from_secs(30)), None);
    }
}
