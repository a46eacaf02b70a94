//! The link's lifecycle: connecting, connected, lost, backoff, fatal.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::codes::ErrorCode;
use crate::protocol::{ClientFrame, Fence, Hello};
use crate::transitions::{Phase, Trigger};

use super::LOG_TARGET;
use super::later;
use super::link::{Link, backoff_ceiling};
use super::room::Room;
use super::{ConnId, HELLO_BUDGET_BYTES, LinkError, Machine, Output, Transmit};

/// `{"logins":[]}`: a Hello's JSON without its logins.
const EMPTY_HELLO_JSON_LEN: usize = 13;

/// The length of `n` bytes in unpadded base64.
fn base64_len(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(2) / 3
}

impl Machine {
    /// Opens a new connection now, carrying a Login for every room waiting for one.
    pub(super) fn connect(&mut self, now: Instant) {
        if !self.any_active() {
            self.link = Link::Idle;
            return;
        }
        if let Some(old) = self.link.conn() {
            self.out
                .push_back(Output::Transmit(Transmit::Close { conn: old }));
        }
        let conn = self.next_conn;
        self.next_conn = self.next_conn.saturating_add(1);
        let mut logins = Vec::new();
        let mut carried = Vec::new();
        let mut json_len = EMPTY_HELLO_JSON_LEN;
        let fence = self.fence(conn);
        for (id, room) in self.rooms.iter_mut().filter(|(_, r)| r.wants_login()) {
            if room.phase() == Phase::Reconnecting {
                room.reconnect_attempts = room.reconnect_attempts.saturating_add(1);
            }
            let mut login = room.login(id);
            login.fence = Some(fence.clone());
            let len = serde_json::to_string(&login).map_or(usize::MAX, |j| j.len());
            let with = json_len
                .saturating_add(len)
                .saturating_add(usize::from(!logins.is_empty()));
            if base64_len(with) > HELLO_BUDGET_BYTES {
                // Sent as a Login frame once connected.
                continue;
            }
            json_len = with;
            logins.push(login);
            carried.push((id.clone(), room.login_id));
            room.sent_on = Some(conn);
        }
        // Answers still due on the old connection will never arrive: its stale answers go
        // with its state.
        self.link = Link::Connecting {
            conn,
            deadline: later(now, self.cfg.ping_timeout),
            carried,
        };
        log::debug!(target: LOG_TARGET,
            "connect conn {conn} with {} login(s), attempt {}",
            logins.len(),
            self.attempts
        );
        self.out.push_back(Output::Transmit(Transmit::Connect {
            conn,
            url: self.url,
            hello: Hello { logins },
        }));
    }

    /// Sends a Login frame for one room on the open connection.
    pub(super) fn send_login(&mut self, conn: ConnId, room_id: &str) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let mut login = room.login(room_id);
        room.sent_on = Some(conn);
        login.fence = Some(self.fence(conn));
        self.send(conn, ClientFrame::Login(login));
    }

    /// What every login on connection `conn` carries so the server can tell this engine's
    /// attempts apart: the connection ID is the attempt number (it only ever increases).
    pub(super) fn fence(&self, conn: ConnId) -> Fence {
        Fence {
            instance: self.instance.clone(),
            attempt: conn,
        }
    }

    pub(super) fn connected(&mut self, now: Instant, conn: ConnId) {
        let Link::Connecting {
            conn: c, carried, ..
        } = &mut self.link
        else {
            return;
        };
        if *c != conn {
            return;
        }
        let carried = std::mem::take(carried);
        // Logins in the Hello that were ended (and maybe started again) while connecting: the
        // server is taking them now, so log them out before anything else for those rooms.
        let stale_answers: Vec<String> = carried
            .iter()
            .filter(|(room_id, login_id)| {
                !self
                    .rooms
                    .get(room_id)
                    .is_some_and(|r| r.is_active() && r.login_id == *login_id)
            })
            .map(|(room_id, _)| room_id.clone())
            .collect();
        for room_id in &stale_answers {
            self.send(
                conn,
                ClientFrame::Logout {
                    room_id: room_id.clone(),
                    session_id: None,
                    token: None,
                },
            );
        }
        self.link = Link::Open {
            conn,
            silent_until: later(now, self.cfg.ping_timeout),
            next_ping: later(now, self.cfg.heartbeat_interval),
            unanswered: 0,
            probing: false,
            stale_answers,
        };
        // Sessions left while there was no link. A room with a login on this connection is
        // skipped: that login replaces the user's old session in the room anyway.
        for a in std::mem::take(&mut self.abandoned) {
            let relogged = carried.iter().any(|(r, _)| *r == a.room_id)
                || self.rooms.get(&a.room_id).is_some_and(|r| r.is_active());
            if !relogged {
                self.send(conn, a.logout());
            }
        }
        // Rooms that asked to log in while this attempt was under way, or did not fit the Hello.
        for id in self.room_ids(|r| r.wants_login() && r.sent_on != Some(conn)) {
            self.send_login(conn, &id);
        }
    }

    pub(super) fn link_down(&mut self, now: Instant, conn: ConnId, error: LinkError) {
        if self.link.conn() != Some(conn) {
            log::debug!(target: LOG_TARGET, "link down on stale conn {conn}: ignored");
            return;
        }
        log::info!(target: LOG_TARGET, "conn {conn} down: {error:?}");
        match error {
            // During an outage a TLS failure or a refused upgrade is what a captive portal or a
            // TLS-intercepting network answers until the user gets past it: retried until the
            // retry window ends. A first login still fails at once (the URL or the certificate
            // may simply be wrong, and the app should hear so).
            LinkError::Fatal { code, .. }
                if code == ErrorCode::CONNECT_FAILED
                    && !matches!(self.link, Link::Open { .. })
                    && self
                        .rooms
                        .values()
                        .any(|r| r.phase() == Phase::Reconnecting) =>
            {
                for id in self.room_ids(|r| r.phase() == Phase::Logining) {
                    self.transition(now, &id, Trigger::Fatal, code, BTreeMap::new());
                }
                // Like any failed attempt: the next server URL, or the backoff after a round.
                self.attempt_failed(now);
            }
            LinkError::Fatal { code, .. } => self.fatal(now, code),
            LinkError::Transient(_) | LinkError::Protocol(_) => match self.link {
                Link::Open { .. } => self.link_lost(now, None),
                _ => self.attempt_failed(now),
            },
        }
    }

    /// The open link is gone. `close` names the connection when the machine itself gives it up.
    pub(super) fn link_lost(&mut self, now: Instant, close: Option<ConnId>) {
        self.lose_link(now, close);
        self.backoff(now);
    }

    /// The server said `bye` 1900008 (`SERVER_DRAINING`) on the open link: the link is lost as
    /// for any other bye (rooms go `Reconnecting` once, their sessions are kept server-side), but
    /// the next attempt dials the next server URL at once instead of waiting out the backoff, and
    /// starts a new round there: a full round of failed attempts after the hop backs off as usual
    /// (so the hop gives at most one immediate round). With one URL (a load balancer in front of
    /// the nodes) the hop redials that URL at once. A second drain bye within `backoff_cap` of
    /// the last hop is handled as a plain lost link, so a server that keeps saying it drains
    /// cannot make the engine redial it in a tight loop.
    pub(super) fn drained(&mut self, now: Instant, conn: ConnId) {
        let recent = self
            .last_drain_hop
            .is_some_and(|at| now < later(at, self.cfg.backoff_cap));
        if recent {
            log::info!(target: LOG_TARGET, "server draining again within backoff_cap of the last hop: backing off");
            self.link_lost(now, Some(conn));
            return;
        }
        self.last_drain_hop = Some(now);
        self.lose_link(now, Some(conn));
        let urls = 1 + self.cfg.more_server_urls.len();
        self.url = (self.url + 1) % urls;
        self.failed_in_round = 0;
        log::info!(target: LOG_TARGET, "server draining: trying server URL {} at once", self.url);
        self.connect(now);
    }

    /// What every lost open link does before the next attempt is scheduled: close it if the
    /// machine gives it up, and report `Reconnecting` once per outage for the joined rooms.
    pub(super) fn lose_link(&mut self, now: Instant, close: Option<ConnId>) {
        if let Some(conn) = close {
            self.out
                .push_back(Output::Transmit(Transmit::Close { conn }));
        }
        self.link = Link::Idle;
        let joined = self.room_ids(Room::is_joined);
        for id in joined {
            // Rooms already Reconnecting stay silent: one Reconnecting per outage (and one
            // retry window: the transition arms it).
            self.transition(
                now,
                &id,
                Trigger::LinkLost,
                ErrorCode::RECONNECTING,
                BTreeMap::new(),
            );
        }
    }

    /// A connection attempt failed (refused, timed out; the machine already closed it or the
    /// driver reported it down): the next attempt dials the next URL at once, unless every URL
    /// failed in a row since the last backoff or success, which waits out the backoff as with one
    /// URL (so a dead cluster is not hammered).
    pub(super) fn attempt_failed(&mut self, now: Instant) {
        let urls = 1 + self.cfg.more_server_urls.len();
        self.url = (self.url + 1) % urls;
        self.failed_in_round = self.failed_in_round.saturating_add(1);
        if self.failed_in_round >= urls {
            self.failed_in_round = 0;
            self.backoff(now);
        } else {
            log::debug!(target: LOG_TARGET, "attempt failed; trying server URL {} at once", self.url);
            // The failed attempt is over: `connect` must not close it again.
            self.link = Link::Idle;
            self.connect(now);
        }
    }

    /// Waits a full-jitter backoff before the next attempt (or goes idle if nothing needs a link).
    pub(super) fn backoff(&mut self, now: Instant) {
        if !self.any_active() {
            self.link = Link::Idle;
            self.attempts = 0;
            self.failed_in_round = 0;
            return;
        }
        let ceiling = backoff_ceiling(self.cfg.backoff_base, self.cfg.backoff_cap, self.attempts);
        let max_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let wait = std::time::Duration::from_nanos(self.rng.below_inclusive(max_nanos));
        self.attempts = self.attempts.saturating_add(1);
        log::debug!(target: LOG_TARGET, "backoff {wait:?} (ceiling {ceiling:?})");
        self.link = Link::Backoff {
            until: later(now, wait),
        };
    }

    /// Retrying cannot help: every active room fails with `code`.
    pub(super) fn fatal(&mut self, now: Instant, code: ErrorCode) {
        self.link = Link::Idle;
        self.attempts = 0;
        self.failed_in_round = 0;
        for id in self.room_ids(Room::is_active) {
            debug_assert!(self.phase_of(&id) != Phase::NotInRoom);
            self.transition(now, &id, Trigger::Fatal, code, BTreeMap::new());
        }
    }
}
