//! The link's lifecycle: connecting, connected, lost, backoff, fatal.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::codes::ErrorCode;
use crate::protocol::{ClientFrame, Hello};
use crate::transitions::{Phase, Trigger};

use super::link::{Link, backoff_ceiling};
use super::{ConnId, LinkError, Machine, Output, Transmit};

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
        for (id, room) in self.rooms.iter_mut().filter(|(_, r)| r.wants_login()) {
            logins.push(room.login(id));
            room.sent_on = Some(conn);
        }
        self.link = Link::Connecting {
            conn,
            deadline: now + self.cfg.ping_timeout,
        };
        log::debug!(
            "connect conn {conn} with {} login(s), attempt {}",
            logins.len(),
            self.attempts
        );
        self.out.push_back(Output::Transmit(Transmit::Connect {
            conn,
            hello: Hello { logins },
        }));
    }

    /// Sends a Login frame for one room on the open connection.
    pub(super) fn send_login(&mut self, conn: ConnId, room_id: &str) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let login = room.login(room_id);
        room.sent_on = Some(conn);
        self.send(conn, ClientFrame::Login(login));
    }

    pub(super) fn connected(&mut self, now: Instant, conn: ConnId) {
        let Link::Connecting { conn: c, .. } = self.link else {
            return;
        };
        if c != conn {
            return;
        }
        self.link = Link::Open {
            conn,
            last_inbound: now,
            next_ping: now + self.cfg.heartbeat_interval,
        };
        // Rooms that asked to log in while this attempt was under way.
        let missing: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.wants_login() && r.sent_on != Some(conn))
            .map(|(id, _)| id.clone())
            .collect();
        for id in missing {
            self.send_login(conn, &id);
        }
    }

    pub(super) fn link_down(&mut self, now: Instant, conn: ConnId, error: LinkError) {
        if self.link.conn() != Some(conn) {
            log::debug!("link down on stale conn {conn}: ignored");
            return;
        }
        log::info!("conn {conn} down: {error:?}");
        match error {
            LinkError::Fatal { code, .. } => self.fatal(code),
            LinkError::Transient(_) | LinkError::Protocol(_) => match self.link {
                Link::Open { .. } => self.link_lost(now, None),
                _ => self.backoff(now),
            },
        }
    }

    /// The open link is gone. `close` names the connection when the machine itself gives it up.
    pub(super) fn link_lost(&mut self, now: Instant, close: Option<ConnId>) {
        if let Some(conn) = close {
            self.out
                .push_back(Output::Transmit(Transmit::Close { conn }));
        }
        self.link = Link::Idle;
        let joined: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.is_joined())
            .map(|(id, _)| id.clone())
            .collect();
        let window = self.cfg.retry_window;
        for id in joined {
            // Rooms already Reconnecting stay silent: one Reconnecting per outage.
            if self.transition(
                &id,
                Trigger::LinkLost,
                ErrorCode::RECONNECTING,
                BTreeMap::new(),
            ) {
                if let Some(room) = self.rooms.get_mut(&id) {
                    room.retry_deadline = Some(now + window);
                }
            }
        }
        self.backoff(now);
    }

    /// Waits a full-jitter backoff before the next attempt (or goes idle if nothing needs a link).
    pub(super) fn backoff(&mut self, now: Instant) {
        if !self.any_active() {
            self.link = Link::Idle;
            self.attempts = 0;
            return;
        }
        let ceiling = backoff_ceiling(self.cfg.backoff_base, self.cfg.backoff_cap, self.attempts);
        let max_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let wait = std::time::Duration::from_nanos(self.rng.below_inclusive(max_nanos));
        self.attempts = self.attempts.saturating_add(1);
        log::debug!("backoff {wait:?} (ceiling {ceiling:?})");
        self.link = Link::Backoff { until: now + wait };
    }

    /// Retrying cannot help: every active room fails with `code`.
    pub(super) fn fatal(&mut self, code: ErrorCode) {
        self.link = Link::Idle;
        self.attempts = 0;
        let active: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.is_active())
            .map(|(id, _)| id.clone())
            .collect();
        for id in active {
            debug_assert!(self.phase_of(&id) != Phase::NotInRoom);
            self.transition(&id, Trigger::Fatal, code, BTreeMap::new());
        }
    }
}
