//! Timers: everything due fires in `handle_timeout`; the next deadline is the minimum of all armed.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::codes::ErrorCode;
use crate::transitions::Trigger;

use super::LOG_TARGET;
use super::link::Link;
use super::room::{Room, Status};
use super::{Machine, Output, Transmit};

impl Machine {
    pub(super) fn timeout(&mut self, now: Instant) {
        // Rooms first, so a room that is giving up does not cause one more connection attempt.
        let ids = self.room_ids(Room::is_active);
        for id in &ids {
            let Some(room) = self.rooms.get(id) else {
                continue;
            };
            match room.status {
                Status::Logining { login_by } if login_by <= now => {
                    self.end_login(now, id, Trigger::LoginTimeout, ErrorCode::NETWORK_TIMEOUT);
                }
                Status::Reconnecting { retry_until } if retry_until <= now => {
                    self.transition(
                        now,
                        id,
                        Trigger::RetryWindowEnded,
                        ErrorCode::NETWORK_TIMEOUT,
                        BTreeMap::new(),
                    );
                }
                _ => self.token_warning_if_due(now, id),
            }
        }
        self.retry_logins_if_due(now);
        self.resync_if_due(now);
        self.idle_if_unused();

        match self.link {
            Link::Idle => {}
            Link::Connecting { conn, deadline, .. } if deadline <= now => {
                log::info!(target: LOG_TARGET, "conn {conn}: attempt timed out");
                self.out
                    .push_back(Output::Transmit(Transmit::Close { conn }));
                self.attempt_failed(now);
            }
            Link::Connecting { .. } => {}
            Link::Open {
                conn, silent_until, ..
            } if silent_until <= now => {
                log::info!(target: LOG_TARGET, "conn {conn}: nothing heard in time; link lost");
                self.link_lost(now, Some(conn));
            }
            Link::Open { next_ping, .. } if next_ping <= now => self.ping(now),
            Link::Open { .. } => {}
            Link::Backoff { until } if until <= now => self.connect(now),
            Link::Backoff { .. } => {}
        }
    }

    /// Logins refused retryably on the open link whose wait is over go out again on it. (A
    /// retry armed on a link lost since is moot: the next connection carries the login.)
    fn retry_logins_if_due(&mut self, now: Instant) {
        let Some(open) = self.link.open_conn() else {
            return;
        };
        let due = self.room_ids(|r| {
            r.wants_login() && r.awaits_retry_on(open) && r.login_retry_at.is_some_and(|t| t <= now)
        });
        for id in due {
            log::debug!(target: LOG_TARGET, "room {id}: sending the refused login again");
            self.send_login(open, &id);
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let warning = self.cfg.token_warning;
        let open = self.link.open_conn();
        let rooms = self.rooms.values().filter(|r| r.is_active()).flat_map(|r| {
            let phase_deadline = r.status.deadline();
            let retry = open
                .filter(|c| r.wants_login() && r.awaits_retry_on(*c))
                .and(r.login_retry_at);
            [
                phase_deadline,
                r.token_warning_at(warning),
                retry,
                r.resync_at,
            ]
        });
        rooms.chain([self.link.deadline()]).flatten().min()
    }
}
