//! A token bucket on the injected clock, for rate limits that every replica of a room must agree on
//! (and that the connection driver reuses for its frame limit).
//!
//! Kept as the "generic cell rate" form: one `Instant` (when the bucket will be full again, the
//! *theoretical arrival time*) instead of a token count and a refill time. An event at `now` is
//! admitted while that instant is at most `burst - 1` intervals ahead of `now`, and pushes it one
//! interval further. Integer arithmetic on instants only: no floats, no clock reads, so two replicas
//! fed the same inputs take the same decisions.

use std::time::{Duration, Instant};

use crate::time::deadline;

/// A sustained rate and the burst allowed on top of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events per second, sustained. At least 1.
    pub per_sec: u32,
    /// Events admitted at once from a full bucket. At least 1.
    pub burst: u32,
}

impl Rate {
    /// The time one event costs.
    fn interval(&self) -> Duration {
        Duration::from_secs(1) / self.per_sec.max(1)
    }

    /// How far ahead of now the bucket may be and still admit one more event.
    fn tolerance(&self) -> Duration {
        self.interval() * self.burst.max(1).saturating_sub(1)
    }
}

/// One bucket. Starts full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// When the bucket is full again; `None` = full (never used, or idle since).
    full_at: Option<Instant>,
}

impl TokenBucket {
    pub const fn new() -> Self {
        TokenBucket { full_at: None }
    }

    /// Takes one token at `now`: true if admitted. A refusal changes nothing.
    pub fn take(&mut self, now: Instant, rate: Rate) -> bool {
        let from = self.full_at.filter(|at| *at > now).unwrap_or(now);
        if from.saturating_duration_since(now) > rate.tolerance() {
            return false;
        }
        self.full_at = Some(deadline(from, rate.interval()));
        true
    }

    /// Whether the bucket is full at `now` (forgetting it loses nothing: a new one is the same).
    pub fn is_full(&self, now: Instant) -> bool {
        self.full_at.is_none_or(|at| at <= now)
    }
}

impl TokenBucket {
    /// When the bucket is full again (`None`: full), for a snapshot.
    pub fn full_at(&self) -> Option<Instant> {
        self.full_at
    }

    /// The inverse of [`TokenBucket::full_at`].
    pub fn from_full_at(full_at: Option<Instant>) -> Self {
        TokenBucket { full_at }
    }
}

impl Default for TokenBucket {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        per_sec: 10,
        burst: 3,
    };

    #[test]
    fn a_full_bucket_admits_exactly_the_burst_then_one_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new();
        assert!(b.is_full(t0));
        for i in 0..3 {
            assert!(b.take(t0, RATE), "burst event {i}");
        }
        assert!(!b.take(t0, RATE), "one over the burst");
        assert!(
            !b.take(t0 + Duration::from_millis(99), RATE),
            "not yet refilled"
        );
        assert!(
            b.take(t0 + Duration::from_millis(100), RATE),
            "one interval later"
        );
        assert!(!b.take(t0 + Duration::from_millis(100), RATE));
        assert!(!b.is_full(t0 + Duration::from_millis(399)));
        assert!(b.is_full(t0 + Duration::from_millis(400)));
        // Idle long enough, the whole burst is back (and no more).
        let later = t0 + Duration::from_secs(10);
        for _ in 0..3 {
            assert!(b.take(later, RATE));
        }
        assert!(!b.take(later, RATE));
    }

    #[test]
    fn refusals_cost_nothing_and_the_sustained_rate_holds() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new();
        let mut admitted = 0;
        // 1000 attempts per second for 2 s: burst + rate * time.
        for ms in 0..2000u64 {
            if b.take(t0 + Duration::from_millis(ms), RATE) {
                admitted += 1;
            }
        }
        assert_eq!(
            admitted,
            3 + 20 - 1,
            "burst, then 10/s (the last refill lands at 2 s)"
        );
    }

    #[test]
    fn a_burst_of_one_is_a_plain_rate() {
        let rate = Rate {
            per_sec: 1,
            burst: 1,
        };
        let t0 = Instant::now();
        let mut b = TokenBucket::new();
        assert!(b.take(t0, rate));
        assert!(!b.take(t0 + Duration::from_millis(999), rate));
        assert!(b.take(t0 + Duration::from_secs(1), rate));
    }
}
