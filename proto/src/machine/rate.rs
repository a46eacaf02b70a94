//! What the machine does when the server's rate limits refuse it (`RATE_LIMITED`, 1900010).
//!
//! - A login refused with it is retried on the same link after the room's own backoff, like a
//!   `SERVER_UNAVAILABLE` refusal (see `frames::is_retryable_refusal`): no state change.
//! - `Error` 1900010 for a joined room: the server dropped one of its publishes, unpublishes or
//!   renewals, and does not say which (a publish that works is not answered). After
//!   [`Machine::rate_wait`] the room logs in again on the same link: that relogin carries every
//!   stream the app publishes and the server makes the room's streams match (it keeps unchanged
//!   ones, peers see only the difference), then a pending renewal is sent again. An `Error`
//!   1900010 without a room (the connection's frame budget) does this for every joined room.
//! - `Bye` 1900010 (the server closed the link for flooding it): the link is lost as for any bye,
//!   but the next attempt waits at least `backoff_cap / 2`, never the short first backoff, so the
//!   server's buckets have refilled before the engine is back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::protocol::ClientFrame;

use super::LOG_TARGET;
use super::link::Link;
use super::{ConnId, Machine, later};

impl Machine {
    /// A wait in `[backoff_cap / 2, backoff_cap]` (8 s by default: the server's default budgets
    /// refill in under 5 s), jittered so that clients refused together do not return together.
    pub(super) fn rate_wait(&mut self) -> Duration {
        let cap = self.cfg.backoff_cap;
        let half = u64::try_from((cap / 2).as_nanos()).unwrap_or(u64::MAX);
        let jitter = self.rng.below_inclusive(half);
        cap / 2 + Duration::from_nanos(jitter)
    }

    /// `Bye` 1900010 on `conn`.
    pub(super) fn rate_closed(&mut self, now: Instant, conn: ConnId) {
        log::info!(target: LOG_TARGET, "closed by the server for its rate limit: reconnecting after a long backoff");
        self.lose_link(now, Some(conn));
        self.backoff(now);
        if let Link::Backoff { until } = self.link {
            let floor = later(now, self.rate_wait());
            self.link = Link::Backoff {
                until: until.max(floor),
            };
        }
    }

    /// `Error` 1900010 on `conn`, for `room_id` or (without one) for every room joined there.
    pub(super) fn resync_later(&mut self, now: Instant, conn: ConnId, room_id: Option<&str>) {
        let ids = match room_id {
            Some(id) => vec![id.to_string()],
            None => self.room_ids(|r| r.is_joined()),
        };
        for id in ids {
            if self.joined_on_open(&id) != Some(conn) {
                continue;
            }
            let at = later(now, self.rate_wait());
            if let Some(room) = self.rooms.get_mut(&id) {
                room.resync_at.get_or_insert(at);
            }
        }
    }

    /// Sends the state of every room whose resync is due, if still joined on the open link.
    pub(super) fn resync_if_due(&mut self, now: Instant) {
        let due = self.room_ids(|r| r.resync_at.is_some_and(|t| t <= now));
        for id in due {
            if let Some(room) = self.rooms.get_mut(&id) {
                room.resync_at = None;
            }
            let Some(conn) = self.joined_on_open(&id) else {
                continue;
            };
            log::info!(target: LOG_TARGET, "room {id}: sending its state again after a rate-limit refusal");
            self.send_login(conn, &id);
            // Renewals sent before are answered before this login's Joined; the newest token
            // wanted goes out again, after the login (which carried the token in force).
            let Some(room) = self.rooms.get_mut(&id) else {
                continue;
            };
            if let Some(token) = room.wanted_token().cloned() {
                room.unsent_token = None;
                room.renewals = VecDeque::from([token.clone()]);
                self.send(
                    conn,
                    ClientFrame::RenewToken {
                        room_id: id.clone(),
                        token,
                    },
                );
            }
        }
    }
}
