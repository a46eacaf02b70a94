//! App commands: validate first (an error changes nothing), then act.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::codes::ErrorCode;
use crate::config::{RoomConfig, RoomMode};
use crate::model::User;
use crate::protocol::ClientFrame;
use crate::transitions::Trigger;
use crate::validate;

use super::link::Link;
use super::room::Room;
use super::{ConnId, MAX_PUBLISHED_STREAMS, Machine};

impl Machine {
    pub(super) fn cmd_login(
        &mut self,
        now: Instant,
        room_id: &str,
        user: User,
        token: &str,
        config: RoomConfig,
    ) -> Result<(), ErrorCode> {
        validate::room_id(room_id)?;
        validate::user(&user)?;
        if self.rooms.get(room_id).is_some_and(Room::is_active) {
            return Err(ErrorCode::ALREADY_LOGGED_IN);
        }
        if self.cfg.room_mode == RoomMode::SingleRoom && self.any_active() {
            return Err(ErrorCode::ALREADY_LOGGED_IN);
        }
        self.start_login(now, room_id, user, token, config);
        Ok(())
    }

    /// Validated login: Logining, then get the Login to the server by whatever the link allows.
    fn start_login(
        &mut self,
        now: Instant,
        room_id: &str,
        user: User,
        token: &str,
        config: RoomConfig,
    ) {
        // A fresh room state, but own streams do not carry over from an earlier login.
        self.rooms.insert(
            room_id.to_string(),
            Room::new(user, token.to_string(), config),
        );
        self.transition(now, room_id, Trigger::Login, ErrorCode::OK, BTreeMap::new());
        self.next_login = self.next_login.wrapping_add(1);
        let login_id = self.next_login;
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.login_id = login_id;
        }
        match self.link {
            Link::Open { conn, .. } => self.send_login(conn, room_id),
            // A user action does not wait out the backoff.
            Link::Idle | Link::Backoff { .. } => self.connect(now),
            // Sent as a frame once connected: it is not in that attempt's Hello.
            Link::Connecting { .. } => {}
        }
    }

    pub(super) fn cmd_logout(&mut self, now: Instant, room_id: &str) -> Result<(), ErrorCode> {
        if !self.rooms.get(room_id).is_some_and(Room::is_active) {
            // ZEGO fires the callback too; the Err lets bindings report it synchronously.
            self.transition(
                now,
                room_id,
                Trigger::LogoutUnknown,
                ErrorCode::ROOM_NOT_LOGGED_IN,
                BTreeMap::new(),
            );
            return Err(ErrorCode::ROOM_NOT_LOGGED_IN);
        }
        self.leave(now, room_id);
        self.idle_if_unused();
        Ok(())
    }

    /// Logout of an active room, without closing the link (switch_room logs in right after).
    fn leave(&mut self, now: Instant, room_id: &str) {
        self.end_login(now, room_id, Trigger::Logout, ErrorCode::OK);
    }

    /// Reports `trigger` for an active room that the app (or the login timeout) ends, and tells
    /// the server: a `Logout` on the open link if the login went out on it (its answer, if still
    /// due, is then ignored); otherwise a session the server may still hold is remembered, to be
    /// logged out by ID on the next connection.
    pub(super) fn end_login(
        &mut self,
        now: Instant,
        room_id: &str,
        trigger: Trigger,
        code: ErrorCode,
    ) {
        let sent_on_open = self.login_sent_on_open(room_id);
        let Some(room) = self.rooms.get(room_id) else {
            return;
        };
        let answer_due = room.wants_login();
        let refused = sent_on_open.is_some_and(|c| room.awaits_retry_on(c));
        let abandoned = room.session.as_ref().map(|s| super::Abandoned {
            room_id: room_id.to_string(),
            session_id: s.session_id.clone(),
            token: room.token.clone(),
        });
        self.transition(now, room_id, trigger, code, BTreeMap::new());
        if let Some(conn) = sent_on_open.filter(|_| refused) {
            // The server answered that login already (refused for now): no answer is due and
            // this connection holds no session for the room; a session it may still hold
            // elsewhere is ended by ID.
            if let Some(a) = abandoned {
                self.send(conn, a.logout());
            }
        } else if let Some(conn) = sent_on_open {
            if answer_due && let Link::Open { stale_answers, .. } = &mut self.link {
                // `sent_on_open` is `conn`, the open connection.
                stale_answers.push(room_id.to_string());
            }
            self.send(
                conn,
                ClientFrame::Logout {
                    room_id: room_id.to_string(),
                    session_id: None,
                    token: None,
                },
            );
        } else if let Some(a) = abandoned {
            self.abandoned.push(a);
        }
    }

    /// Whether the answer to a login for `room_id` on `conn` is one to ignore (and consumes it).
    pub(super) fn take_stale_answer(&mut self, conn: ConnId, room_id: &str) -> bool {
        let Link::Open {
            conn: open,
            stale_answers,
            ..
        } = &mut self.link
        else {
            return false;
        };
        let pos = stale_answers.iter().position(|r| r == room_id);
        *open == conn && pos.map(|i| stale_answers.remove(i)).is_some()
    }

    /// The open connection, if this room's login went out on it.
    pub(super) fn login_sent_on_open(&self, room_id: &str) -> Option<ConnId> {
        let open = self.link.open_conn()?;
        let room = self.rooms.get(room_id)?;
        (room.sent_on == Some(open)).then_some(open)
    }

    /// The open connection, if the room is joined on it (its session is live there).
    pub(super) fn joined_on_open(&self, room_id: &str) -> Option<ConnId> {
        let conn = self.login_sent_on_open(room_id)?;
        self.rooms
            .get(room_id)
            .filter(|r| r.is_joined())
            .map(|_| conn)
    }

    pub(super) fn cmd_switch(
        &mut self,
        now: Instant,
        from: &str,
        to: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        let Some(from_room) = self.rooms.get(from).filter(|r| r.is_active()) else {
            return Err(ErrorCode::ROOM_NOT_LOGGED_IN);
        };
        let (user, config) = (from_room.user.clone(), from_room.config.clone());
        validate::room_id(to)?;
        if to == from || self.rooms.get(to).is_some_and(Room::is_active) {
            return Err(ErrorCode::ALREADY_LOGGED_IN);
        }
        self.leave(now, from);
        self.start_login(now, to, user, token, config);
        // Only closes anything if `to` failed to become active, which it cannot; kept for safety.
        self.idle_if_unused();
        Ok(())
    }

    pub(super) fn cmd_renew(
        &mut self,
        now: Instant,
        room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        let _ = now;
        if !self.rooms.get(room_id).is_some_and(Room::is_active) {
            return Err(ErrorCode::ROOM_NOT_LOGGED_IN);
        }
        if token.is_empty() {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        // The token only replaces the room's once the server accepts it (TokenRenewed).
        let joined = self.joined_on_open(room_id);
        if let Some(room) = self.rooms.get_mut(room_id) {
            if joined.is_some() {
                room.unsent_token = None;
                room.renewals.push_back(token.to_string());
            } else {
                room.unsent_token = Some(token.to_string());
            }
        }
        if let Some(conn) = joined {
            self.send(
                conn,
                ClientFrame::RenewToken {
                    room_id: room_id.to_string(),
                    token: token.to_string(),
                },
            );
        }
        Ok(())
    }

    pub(super) fn cmd_publish(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
        extra: &str,
    ) -> Result<(), ErrorCode> {
        let _ = now;
        let Some(room) = self.rooms.get(room_id).filter(|r| r.is_active()) else {
            return Err(ErrorCode::ROOM_NOT_LOGGED_IN);
        };
        validate::stream(stream_id, extra)?;
        if room.own_streams.contains_key(stream_id)
            || room.own_streams.len() >= MAX_PUBLISHED_STREAMS
        {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        let joined = self.joined_on_open(room_id);
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.own_streams
                .insert(stream_id.to_string(), extra.to_string());
            room.pending_unpublish.remove(stream_id);
        }
        if let Some(conn) = joined {
            self.send(
                conn,
                ClientFrame::PublishStream {
                    room_id: room_id.to_string(),
                    stream_id: stream_id.to_string(),
                    extra_info: extra.to_string(),
                },
            );
        }
        Ok(())
    }

    pub(super) fn cmd_unpublish(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
    ) -> Result<(), ErrorCode> {
        let _ = now;
        let Some(room) = self.rooms.get(room_id).filter(|r| r.is_active()) else {
            return Err(ErrorCode::ROOM_NOT_LOGGED_IN);
        };
        validate::stream(stream_id, "")?;
        if !room.own_streams.contains_key(stream_id) {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        let joined = self.joined_on_open(room_id);
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.own_streams.remove(stream_id);
            // Only tell the server about streams it may know: sent with a login or a live session.
            if joined.is_none()
                && (room.session.is_some() || room.login_streams.contains(stream_id))
            {
                room.pending_unpublish.insert(stream_id.to_string());
            }
        }
        if let Some(conn) = joined {
            self.send(
                conn,
                ClientFrame::UnpublishStream {
                    room_id: room_id.to_string(),
                    stream_id: stream_id.to_string(),
                },
            );
        }
        Ok(())
    }

    pub(super) fn network_changed(&mut self, now: Instant, available: bool) {
        match (available, &self.link) {
            // A pending attempt may be stuck on the network that just went away, so it is
            // replaced too rather than left to run into its deadline.
            (true, Link::Backoff { .. } | Link::Connecting { .. }) if self.any_active() => {
                self.attempts = 0;
                self.failed_in_round = 0;
                self.connect(now);
            }
            (false, &Link::Open { conn, .. }) => self.link_lost(now, Some(conn)),
            _ => {}
        }
    }
}
