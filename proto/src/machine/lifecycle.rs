//! App-lifecycle hints, and what the machine does when the process comes back from a suspension.
//!
//! A phone suspends a backgrounded app's process: nothing runs, nothing is read, and the clock
//! the driver passes as `now` (suspend-inclusive, see the engine's `clock`) jumps ahead when it
//! resumes. The socket may still look connected although the server, or a NAT in between, gave it
//! up long ago (a "zombie" link). Two hints and one rule:
//!
//! - `on_app_background`: the app is about to be suspended. The machine pings at once, so the
//!   server last heard of this session as late as possible and its heartbeat timeout (which ends
//!   the session for the peers) runs from now, not from the last regular ping up to one
//!   heartbeat interval ago. Nothing else changes: a call with background audio keeps working.
//! - `on_app_foreground` (the engine also calls it by itself when it notices that the process was
//!   suspended): rooms whose deadlines passed during the suspension (the retry window, a login
//!   timeout) end first, as their timers would have. Then an open link is probed instead of being
//!   judged by when it last heard something (which a suspension makes meaningless): a ping goes
//!   out now, and the link is lost unless its pong arrives within [`probe_window`] (frames that
//!   waited in the socket through the suspension, pongs to earlier pings among them, do not count). A link waiting out a
//!   backoff, or an attempt under way since before the suspension, is retried at once.

use std::time::{Duration, Instant};

use crate::protocol::ClientFrame;

use super::LOG_TARGET;
use super::Machine;
use super::later;
use super::link::Link;

/// How long a wake-up probe waits for an answer: the heartbeat interval (the time a healthy link
/// has between two pings), at most the ping timeout.
pub(super) fn probe_window(heartbeat_interval: Duration, ping_timeout: Duration) -> Duration {
    heartbeat_interval.min(ping_timeout)
}

impl Machine {
    /// Sends a ping on the open link (if any) and counts it; the next regular one is a heartbeat
    /// interval from now.
    pub(super) fn ping(&mut self, now: Instant) {
        let heartbeat = self.cfg.heartbeat_interval;
        if let Link::Open {
            conn,
            next_ping,
            unanswered,
            ..
        } = &mut self.link
        {
            let conn = *conn;
            *next_ping = later(now, heartbeat);
            *unanswered = unanswered.saturating_add(1);
            self.send(conn, ClientFrame::Ping);
        }
    }

    pub(super) fn app_background(&mut self, now: Instant) {
        log::debug!(target: LOG_TARGET, "app going to the background; pinging now");
        self.ping(now);
    }

    pub(super) fn app_foreground(&mut self, now: Instant) {
        // The probe first, so the timeout below judges the link by it and not by a silence that
        // was only the suspension.
        self.ping(now);
        let window = probe_window(self.cfg.heartbeat_interval, self.cfg.ping_timeout);
        if let Link::Open {
            conn,
            silent_until,
            probing,
            ..
        } = &mut self.link
        {
            log::debug!(target: LOG_TARGET, "conn {conn}: app in the foreground; probing the link");
            *silent_until = later(now, window);
            *probing = true;
        }
        // Whatever fell due while suspended: a room past its retry window fails here, before
        // any new attempt is made for it.
        self.timeout(now);
        if matches!(self.link, Link::Backoff { .. } | Link::Connecting { .. }) && self.any_active()
        {
            // As for a network that came back: the wait was for a network that may be fine now,
            // and an attempt started before the suspension may be stuck on a dead path.
            self.attempts = 0;
            self.failed_in_round = 0;
            self.connect(now);
        }
    }
}
