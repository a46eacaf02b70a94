//! Every session deadline (token expiry, detached-session expiry) in one ordered map; the driver
//! sleeps until the earliest one (`Output::Timeout`) and calls `Rooms::handle_timeout`.
//!
//! One spawned task per session cost ~0.4 KiB each (task cell, its `Sleep`, an abort handle) for a
//! timer that almost never fires; an entry here is a map slot and the session ID. Entries are
//! removed when a session's timer is replaced or cancelled, by the same `&mut` core that fires
//! them, so a cancelled timer can never fire (no epochs needed).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// What happens when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TimerKind {
    /// The session's token expired: it is kicked.
    Token,
    /// The detached session was not resumed in time: it times out.
    Detach,
}

/// Identifies one armed timer, to cancel it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerKey {
    at: Instant,
    /// Tie-breaker so two timers with the same deadline are distinct entries.
    id: u64,
}

#[derive(Debug, Default)]
pub struct Timers {
    due: BTreeMap<TimerKey, (TimerKind, Arc<str>)>,
    next_id: u64,
}

impl Timers {
    /// Arms a timer for session `sid`; the key cancels it.
    pub fn arm(&mut self, at: Instant, kind: TimerKind, sid: Arc<str>) -> TimerKey {
        self.next_id += 1;
        let key = TimerKey {
            at,
            id: self.next_id,
        };
        self.due.insert(key, (kind, sid));
        key
    }

    /// Disarms `key` if it is still armed.
    pub fn cancel(&mut self, key: TimerKey) {
        self.due.remove(&key);
    }

    /// Removes and returns one timer whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TimerKind, Arc<str>)> {
        let entry = self.due.first_entry()?;
        if entry.key().at > now {
            return None;
        }
        Some(entry.remove())
    }

    /// Every armed timer in firing order (for a snapshot: re-arming them in this order keeps
    /// the order of equal deadlines).
    pub fn in_order(&self) -> impl Iterator<Item = (Instant, TimerKind, &Arc<str>)> {
        self.due.iter().map(|(k, (kind, sid))| (k.at, *kind, sid))
    }

    /// The earliest deadline still armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.due.first_key_value().map(|(k, _)| k.at)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn fires_in_deadline_order_and_not_before() {
        let mut t = Timers::default();
        let t0 = Instant::now();
        t.arm(t0 + Duration::from_secs(5), TimerKind::Token, "a".into());
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(5)));
        t.arm(t0 + Duration::from_secs(9), TimerKind::Detach, "b".into());
        t.arm(t0 + Duration::from_secs(1), TimerKind::Detach, "c".into());
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        let now = t0 + Duration::from_secs(6);
        assert_eq!(t.pop_due(now), Some((TimerKind::Detach, "c".into())));
        assert_eq!(t.pop_due(now), Some((TimerKind::Token, "a".into())));
        assert_eq!(t.pop_due(now), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn cancelled_timers_never_fire_and_same_deadlines_stay_distinct() {
        let mut t = Timers::default();
        let at = Instant::now();
        let ka = t.arm(at, TimerKind::Token, "a".into());
        t.arm(at, TimerKind::Token, "b".into());
        assert_eq!(t.len(), 2);
        t.cancel(ka);
        t.cancel(ka);
        assert_eq!(t.pop_due(at), Some((TimerKind::Token, "b".into())));
        assert_eq!(t.pop_due(at), None);
        assert_eq!(t.next_deadline(), None);
    }
}
