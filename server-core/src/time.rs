//! The clock, as the driver reads it once per input.

use std::time::{Duration, Instant};

/// The time of one input: the monotonic instant every deadline is measured on, and the wall clock
/// that token expiries are written in. The driver reads both once per call; the core never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub at: Instant,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl Now {
    /// The instant at which the wall clock reads `unix_ms` (now, if that is already past).
    pub(crate) fn instant_of(&self, unix_ms: u64) -> Instant {
        deadline(
            self.at,
            Duration::from_millis(unix_ms.saturating_sub(self.unix_ms)),
        )
    }
}

/// Longest delay a deadline is computed with, so `Instant` arithmetic cannot overflow.
const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `from + after`, or as late as can be represented (a deadline must not panic on overflow).
pub(crate) fn deadline(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(MAX_DELAY))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_expiries_map_onto_the_monotonic_clock() {
        let now = Now {
            at: Instant::now(),
            unix_ms: 1_000_000,
        };
        assert_eq!(
            now.instant_of(1_000_250),
            now.at + Duration::from_millis(250)
        );
        assert_eq!(now.instant_of(10), now.at, "a past expiry is due now");
        assert!(now.instant_of(u64::MAX) > now.at, "no overflow");
        assert!(deadline(now.at, Duration::MAX) >= now.at);
    }
}
