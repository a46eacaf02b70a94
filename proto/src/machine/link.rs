//! The one link to the server and its reconnect backoff.

use std::time::{Duration, Instant};

use super::ConnId;

/// The link's state. Per-state data lives in the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    /// No connection and none wanted (no active room).
    Idle,
    /// A connection attempt is under way; it is abandoned at `deadline`.
    Connecting {
        conn: ConnId,
        deadline: Instant,
        /// The logins (room, login ID) that ride in this attempt's Hello: the ones ended while
        /// connecting are logged out as soon as it connects.
        carried: Vec<(String, u64)>,
    },
    /// Connected. The link is lost when nothing has arrived by `silent_until`: normally the ping
    /// timeout after the last inbound frame. While a wake-up probe is out (`probing`, see
    /// `lifecycle`) it is the probe's deadline, and only the pong to the probe (the last of the
    /// `unanswered` pings: pongs come in order) ends it; anything else that arrives may have
    /// waited in the socket since before the suspension.
    Open {
        conn: ConnId,
        silent_until: Instant,
        next_ping: Instant,
        /// Pings sent on this connection and not yet answered by a pong.
        unanswered: u32,
        probing: bool,
        /// Rooms whose login answer (`Joined`/`Resumed`/`LoginFailed`) on this connection is to
        /// be ignored: the room was logged out after its login went out. They die with the
        /// connection, as the answers do.
        stale_answers: Vec<String>,
    },
    /// Waiting before the next attempt.
    Backoff { until: Instant },
}

impl Link {
    /// The connection this state is about, if any.
    pub(crate) fn conn(&self) -> Option<ConnId> {
        match *self {
            Link::Connecting { conn, .. } | Link::Open { conn, .. } => Some(conn),
            Link::Idle | Link::Backoff { .. } => None,
        }
    }

    pub(crate) fn open_conn(&self) -> Option<ConnId> {
        match *self {
            Link::Open { conn, .. } => Some(conn),
            _ => None,
        }
    }

    /// The earliest instant this link state needs attention.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match *self {
            Link::Idle => None,
            Link::Connecting { deadline, .. } => Some(deadline),
            Link::Open {
                silent_until,
                next_ping,
                ..
            } => Some(next_ping.min(silent_until)),
            Link::Backoff { until } => Some(until),
        }
    }
}

/// The upper bound of attempt `n`'s full-jitter wait: `min(cap, base·2ⁿ)`, without overflow.
pub(crate) fn backoff_ceiling(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt).filter(|f| *f != 0);
    match factor.and_then(|f| base.checked_mul(f)) {
        Some(d) => d.min(cap),
        None => cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps_without_overflow() {
        let base = Duration::from_millis(300);
        let cap = Duration::from_secs(8);
        assert_eq!(backoff_ceiling(base, cap, 0), base);
        assert_eq!(backoff_ceiling(base, cap, 1), Duration::from_millis(600));
        assert_eq!(backoff_ceiling(base, cap, 5), cap);
        assert_eq!(backoff_ceiling(base, cap, 31), cap);
        assert_eq!(backoff_ceiling(base, cap, u32::MAX), cap);
    }
}
