//! [`Rooms`]: the inputs, admin commands and output of the server's rules.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use roomlink_proto::protocol::{Login, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, validate};

use crate::counters::{Counts, Gauges, Owner};
use crate::fence;
use crate::info::RoomInfo;
use crate::inject::{AuthError, Authenticator, Grant, IdSource};
use crate::output::{ConnEnd, ConnId, Output};
use crate::rules::Rules;
use crate::session::Session;
use crate::snapshot::CoreSnapshot;
use crate::state::{Leave, RATE_LIMITED_MESSAGE, Room, State, broadcast, room_info, snapshot_for};
use crate::tag::Tag;
use crate::time::{Now, deadline};
use crate::timers::{TimerKind, Timers};

/// Every room and session of one server (or simulator).
///
/// Methods come in four kinds, after quinn-proto's `Connection`:
/// - getters (`&self`): [`Rooms::rooms`], [`Rooms::room`], [`Rooms::poll_timeout`];
/// - `handle_*`: input from a connection or the clock, each with the [`Now`] it happened at;
/// - admin commands: [`Rooms::kick`], [`Rooms::close_room`], [`Rooms::clear`];
/// - [`Rooms::poll_output`]. After every input or command, drain it until it returns
///   [`Output::Timeout`], handing each `Send` to its connection in the order polled (that keeps a
///   session's frames in order: a login's answer before any event for it, a kick after the
///   events before it).
pub struct Rooms {
    rules: Rules,
    auth: Box<dyn Authenticator>,
    ids: Box<dyn IdSource>,
    st: State,
}

/// Beyond this many queued frames' worth of capacity, a drained queue gives the memory back (a
/// fan-out to a big room queues one frame per member, once).
const KEPT_QUEUE_CAPACITY: usize = 1024;

impl Rooms {
    pub fn new(rules: Rules, auth: Box<dyn Authenticator>, ids: Box<dyn IdSource>) -> Self {
        Rooms {
            rules,
            auth,
            ids,
            st: State::default(),
        }
    }

    /// Everything the core holds, as data (see [`CoreSnapshot`]), with times relative to `now`.
    /// Only between inputs: frames not yet polled are not part of it.
    pub fn snapshot(&self, now: Now) -> CoreSnapshot {
        crate::snapshot::take(&self.st, now)
    }

    /// A core that decides from here on exactly what the one `snap` was taken of would, `now`
    /// standing for the `Now` the snapshot was taken at.
    pub fn restore(
        rules: Rules,
        auth: Box<dyn Authenticator>,
        ids: Box<dyn IdSource>,
        snap: CoreSnapshot,
        now: Now,
    ) -> Self {
        let st = crate::snapshot::restore(snap, now, rules.replay_buffer);
        Rooms {
            rules,
            auth,
            ids,
            st,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Every room, sorted by room ID.
    pub fn rooms(&self) -> Vec<RoomInfo> {
        let mut out: Vec<RoomInfo> = self
            .st
            .rooms
            .iter()
            .map(|(id, r)| room_info(&self.st.sessions, id, r))
            .collect();
        out.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        out
    }

    pub fn room(&self, room_id: &str) -> Option<RoomInfo> {
        self.st
            .rooms
            .get(room_id)
            .map(|r| room_info(&self.st.sessions, room_id, r))
    }

    /// Every connection that holds a session, in ascending order (a replica that detaches a lost
    /// node's connections must do so in the same order everywhere, so its timers come out the
    /// same).
    pub fn connections(&self) -> Vec<ConnId> {
        let mut conns: Vec<ConnId> = self.st.by_conn.keys().copied().collect();
        conns.sort_unstable();
        conns
    }

    /// No room and no session: nothing left that a timer, a resume or a peer could need (recent
    /// kicks aside).
    pub fn is_empty(&self) -> bool {
        self.st.rooms.is_empty() && self.st.sessions.is_empty()
    }

    /// How many sessions (one per room) connection `conn` holds, and whether one is in `room_id`:
    /// what a driver's per-connection room cap is checked against. Not a rule of the core: a
    /// connection spans rooms, and a room's replicas must decide on that room's inputs alone.
    pub fn conn_rooms(&self, conn: ConnId, room_id: &str) -> (usize, bool) {
        let held = self.st.by_conn.get(&conn).map_or(0, Vec::len);
        (held, self.st.session_on(conn, room_id).is_some())
    }

    /// The earliest armed deadline (also the value of the `Timeout` that ends every drain).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.st.timers.next_deadline()
    }

    /// The next thing to do; see the type's documentation for the order.
    pub fn poll_output(&mut self) -> Output {
        match self.st.out.pop_front() {
            Some((conn, frame)) => {
                self.st.counters.frame(conn, &frame);
                Output::Send { conn, frame }
            }
            None => {
                if self.st.out.capacity() > KEPT_QUEUE_CAPACITY {
                    self.st.out.shrink_to(KEPT_QUEUE_CAPACITY);
                }
                Output::Timeout(self.poll_timeout())
            }
        }
    }

    /// Forgets everything (server shutdown): no more events, timers or kicks. Frames not yet
    /// polled are dropped too.
    pub fn clear(&mut self) {
        let counters = std::mem::take(&mut self.st.counters);
        self.st = State::default();
        self.st.counters = counters;
    }

    // ---- what the rules counted (see `crate::counters`) ----

    /// From now on, count only the connections of `owner`'s node (a cluster replica).
    pub fn count_only(&mut self, owner: Owner) {
        self.st.counters.owner = Some(owner);
    }

    /// Everything counted since start (or since the last [`Rooms::take_counts`]).
    pub fn counts(&self) -> &Counts {
        &self.st.counters.counts
    }

    /// The counts so far, leaving zeros: for a driver that sums many cores.
    pub fn take_counts(&mut self) -> Counts {
        std::mem::take(&mut self.st.counters.counts)
    }

    /// Sessions and rooms now, of the counted connections: a session under the connection it is
    /// (or was last) attached to, a room under its first member's (by user ID, so every replica
    /// names the same one). Summed over a cluster's nodes, each is counted once.
    pub fn gauges(&self) -> Gauges {
        let c = &self.st.counters;
        let sessions = self
            .st
            .sessions
            .values()
            .filter(|s| c.counts_conn(s.home))
            .count();
        let rooms = self
            .st
            .rooms
            .values()
            .filter_map(|r| r.members.values().next())
            .filter_map(|sid| self.st.sessions.get(sid))
            .filter(|s| c.counts_conn(s.home))
            .count();
        Gauges { sessions, rooms }
    }

    // ---- input from connections ----

    /// A `Login` (from the hello or a `login` frame) on `conn`: a fresh login or a resume.
    /// Answers `Joined`, `Resumed` or `LoginFailed` on `conn`, and tells the room's peers.
    pub fn handle_login(&mut self, now: Now, conn: ConnId, login: Login) {
        let room_id = login.room_id.clone();
        // 1. The login itself is well-formed.
        if let Err(code) = validate::room_id(&room_id).and_then(|_| validate::user(&login.user)) {
            return self
                .st
                .login_failed(conn, &room_id, code, "invalid room ID or user");
        }
        if login
            .streams
            .iter()
            .any(|s| validate::stream(&s.stream_id, &s.extra_info).is_err())
        {
            return self.st.login_failed(
                conn,
                &room_id,
                ErrorCode::INVALID_ARGUMENT,
                "invalid stream",
            );
        }
        // 2. Admission checks that refuse before any state changes. One connection speaks for
        // one user per room: frames name only the room, so a second user there would make
        // `logout`/`publish_stream` ambiguous.
        let other_user = self
            .st
            .session_on(conn, &room_id)
            .and_then(|sid| self.st.sessions.get(&sid))
            .is_some_and(|s| s.user.user_id != login.user.user_id);
        if other_user {
            return self.st.login_failed(
                conn,
                &room_id,
                ErrorCode::ALREADY_LOGGED_IN,
                "this connection already has another user in this room",
            );
        }
        // A late attempt the engine already gave up on changes nothing (see `crate::fence`).
        let live = self
            .st
            .rooms
            .get(room_id.as_str())
            .and_then(|r| r.members.get(&login.user.user_id))
            .and_then(|sid| self.st.sessions.get(sid));
        if fence::check(live.and_then(|s| s.fence.as_ref()), login.fence.as_ref())
            == fence::Verdict::Stale
        {
            log::info!(
                "conn {conn}: stale attempt of {} in {room_id} refused",
                login.user.user_id
            );
            return self
                .st
                .login_failed(conn, &room_id, ErrorCode::STALE_ATTEMPT, "stale attempt");
        }
        // 3. A resume of a live session, or an answer for one that was kicked.
        if let Some(resume) = &login.resume {
            if let Some(k) = self
                .st
                .kicked
                .get(&resume.session_id)
                .filter(|k| k.room_id == room_id)
            {
                let (code, reason) = (k.code, k.reason.clone());
                return self.st.login_failed(conn, &room_id, code, reason);
            }
            let alive = self
                .st
                .sessions
                .get(resume.session_id.as_str())
                .is_some_and(|s| *s.room_id == *room_id && s.user.user_id == login.user.user_id);
            if alive {
                return match self.verify(now, &login.token, &login.user.user_id, &room_id) {
                    Ok(grant) => self.resume(now, conn, login, grant),
                    Err(e) => {
                        let message = match e {
                            AuthError::Expired => "token expired",
                            AuthError::Invalid => "bad token",
                        };
                        self.st
                            .login_failed(conn, &room_id, e.resume_code(), message)
                    }
                };
            }
            log::info!(
                "resume of unknown/expired session for {} in {room_id}: fresh login",
                login.user.user_id
            );
            self.st.counters.resumed_fresh(conn);
        }
        // 4. A fresh session.
        self.fresh_login(now, conn, login);
    }

    /// A `Logout`. Without `session_id`: the session of `conn` in `room_id` logs out; answers
    /// `Error{ROOM_NOT_LOGGED_IN}` if none. With it: that session logs out if it exists and is in
    /// `room_id`, whichever connection holds it (or none), provided `token` is one of the
    /// session's user for the room (expired or not) or `conn` holds the session itself; the
    /// connection that holds it elsewhere is told `Kicked{KICKED_LOGGED_OUT_ELSEWHERE}`. Without
    /// that proof: `Error{LOGOUT_UNPROVEN}` and nothing changes. No answer when the session is
    /// gone.
    pub fn handle_logout(
        &mut self,
        now: Now,
        conn: ConnId,
        room_id: &str,
        session_id: Option<&str>,
        token: Option<&str>,
    ) {
        let Some(sid) = session_id else {
            let st = &mut self.st;
            if let Some(sid) = st.session_or_error(conn, room_id) {
                log::info!("session {} logged out of {room_id}", Tag(&sid));
                st.remove_session(now, &sid, Leave::LoggedOut);
            }
            return;
        };
        // No answer when it is gone: it may have expired already, and an error naming the room
        // could be mistaken for one about the client's newer session there.
        let Some((holder, user_id)) = self
            .st
            .sessions
            .get(sid)
            .filter(|s| &*s.room_id == room_id)
            .map(|s| (s.conn, s.user.user_id.clone()))
        else {
            log::debug!("conn {conn}: logout of unknown session in {room_id} ignored");
            return;
        };
        if holder == Some(conn) {
            log::info!("session {} logged out of {room_id} by ID", Tag(sid));
            return self.st.remove_session(now, sid, Leave::LoggedOut);
        }
        // A session ID alone is no proof: it travels to every connection that resumes, and an
        // ID seen once must not be enough to log a user out. The token is; its expiry does not
        // matter, since a logout grants nothing and follows outages that may outlast the token.
        let proven = token.is_some_and(|t| {
            matches!(
                self.verify(now, t, &user_id, room_id),
                Ok(_) | Err(AuthError::Expired)
            )
        });
        if !proven {
            log::info!(
                "conn {conn}: logout of session {} in {room_id} refused: no token of its user",
                Tag(sid)
            );
            return self.st.error(
                conn,
                room_id,
                ErrorCode::LOGOUT_UNPROVEN,
                "a logout by session ID needs a token of that session's user for the room",
            );
        }
        log::info!(
            "session {} logged out of {room_id} by ID (from conn {conn})",
            Tag(sid)
        );
        self.st.remove_session(now, sid, Leave::EndedElsewhere);
    }

    /// Answers `TokenRenewed`, or `Error{AUTH_FAILED}` leaving the old token in force.
    pub fn handle_renew_token(&mut self, now: Now, conn: ConnId, room_id: &str, token: &str) {
        let Some(sid) = self.st.session_or_error(conn, room_id) else {
            return;
        };
        let Some(user_id) = self.st.sessions.get(&sid).map(|s| s.user.user_id.clone()) else {
            return;
        };
        let rate = self.rules.member_events;
        if !self.st.spend_or_error(conn, room_id, &user_id, now, rate) {
            return;
        }
        match self.verify(now, token, &user_id, room_id) {
            Ok(grant) => {
                let st = &mut self.st;
                if let Some(sess) = st.sessions.get_mut(&sid) {
                    sess.token_expires_at_ms = grant.expires_at_ms;
                    arm_token_timer(&mut st.timers, sess, now);
                }
                let frame = ServerFrame::TokenRenewed {
                    room_id: room_id.to_string(),
                    token_expires_in_ms: grant.expires_in_ms(now.unix_ms),
                };
                st.out.push_back((conn, frame));
            }
            Err(_) => self.st.error(
                conn,
                room_id,
                ErrorCode::AUTH_FAILED,
                "bad or expired token; the old one stays in force",
            ),
        }
    }

    /// Peers get `StreamAdd`; a bad stream answers `Error{INVALID_ARGUMENT}`.
    pub fn handle_publish_stream(
        &mut self,
        now: Now,
        conn: ConnId,
        room_id: &str,
        stream_id: &str,
        extra_info: &str,
    ) {
        let rate = self.rules.member_events;
        let st = &mut self.st;
        if validate::stream(stream_id, extra_info).is_err() {
            return st.error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "invalid stream ID or extra info",
            );
        }
        let Some(sid) = st.session_or_error(conn, room_id) else {
            return;
        };
        let Some(user) = st.sessions.get(&sid).map(|s| s.user.clone()) else {
            return;
        };
        let owner = st
            .rooms
            .get(room_id)
            .and_then(|r| r.streams.get(stream_id))
            .map(|s| s.user.user_id.clone());
        match owner {
            // Publishing a stream again is a no-op: nothing changed for peers.
            Some(o) if o == user.user_id => {}
            Some(_) => st.error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "stream ID in use by another user",
            ),
            None => {
                if st.spend_or_error(conn, room_id, &user.user_id, now, rate) {
                    st.add_streams(
                        room_id,
                        &sid,
                        &user,
                        [(stream_id.to_string(), extra_info.to_string())],
                    );
                }
            }
        }
    }

    /// Peers get `StreamDelete{Stopped}`; an unknown stream answers `Error{INVALID_ARGUMENT}`.
    pub fn handle_unpublish_stream(
        &mut self,
        now: Now,
        conn: ConnId,
        room_id: &str,
        stream_id: &str,
    ) {
        let rate = self.rules.member_events;
        let st = &mut self.st;
        let Some(sid) = st.session_or_error(conn, room_id) else {
            return;
        };
        let Some(uid) = st.sessions.get(&sid).map(|s| s.user.user_id.clone()) else {
            return;
        };
        let owned = st
            .rooms
            .get(room_id)
            .and_then(|r| r.streams.get(stream_id))
            .is_some_and(|s| s.user.user_id == uid);
        if owned && !st.spend_or_error(conn, room_id, &uid, now, rate) {
            return;
        }
        let room = st.rooms.get_mut(room_id).filter(|_| owned);
        let Some((room, info)) = room.and_then(|r| r.streams.remove(stream_id).map(|i| (r, i)))
        else {
            return st.error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "no such stream published by this user",
            );
        };
        let event = RoomEvent::StreamDelete {
            streams: vec![info],
            reason: StreamDeleteReason::Stopped,
        };
        broadcast(
            &mut st.sessions,
            &mut st.out,
            st.counters.owner,
            room,
            Some(&sid),
            event,
        );
    }

    /// `conn` is gone; see [`ConnEnd`]. Nothing more is sent to it.
    pub fn handle_connection_ended(&mut self, now: Now, conn: ConnId, end: ConnEnd) {
        let st = &mut self.st;
        let sids = st.by_conn.remove(&conn).unwrap_or_default();
        for sid in sids {
            match end {
                ConnEnd::Silent => {
                    log::info!("session {} expired with its silent conn {conn}", Tag(&sid));
                    st.remove_session(now, &sid, Leave::TimedOut);
                }
                ConnEnd::Closed { last_heard } => {
                    let Some(sess) = st.sessions.get_mut(&sid) else {
                        continue;
                    };
                    sess.conn = None;
                    let at = deadline(last_heard, self.rules.heartbeat_timeout);
                    sess.cancel_detach_timer(&mut st.timers);
                    sess.detach_timer = Some(st.timers.arm(
                        at,
                        TimerKind::Detach,
                        sess.session_id.clone(),
                    ));
                    log::info!("session {} detached (conn {conn} closed)", Tag(&sid));
                }
            }
        }
    }

    /// Fires every timer due at `now`: token-expiry kicks and detached-session expiries.
    pub fn handle_timeout(&mut self, now: Now) {
        let st = &mut self.st;
        while let Some((kind, sid)) = st.timers.pop_due(now.at) {
            let Some(sess) = st.sessions.get_mut(&sid) else {
                continue;
            };
            // The popped key is gone from the map; forget it so cancelling later is a no-op.
            match kind {
                TimerKind::Token => {
                    sess.token_timer = None;
                    let how = Leave::Kicked {
                        code: ErrorCode::KICKED_TOKEN_EXPIRED,
                        reason: "token expired".into(),
                    };
                    st.remove_session(now, &sid, how);
                }
                TimerKind::Detach => {
                    sess.detach_timer = None;
                    if sess.conn.is_none() {
                        log::info!("detached session {} expired", Tag(&sid));
                        st.remove_session(now, &sid, Leave::TimedOut);
                    }
                }
            }
        }
    }

    // ---- admin commands ----

    /// Kicks the user's session in `room_id` with `code` (the admin API's is `KICKED_BY_SERVER`)
    /// and `reason`; it leaves and is remembered as kicked. False if no such user.
    pub fn kick(
        &mut self,
        now: Now,
        room_id: &str,
        user_id: &str,
        code: ErrorCode,
        reason: &str,
    ) -> bool {
        let Some(sid) = self
            .st
            .rooms
            .get(room_id)
            .and_then(|r| r.members.get(user_id).cloned())
        else {
            return false;
        };
        let how = Leave::Kicked {
            code,
            reason: reason.to_string(),
        };
        self.st.remove_session(now, &sid, how);
        true
    }

    /// Every session gets `Kicked{ROOM_CLOSED, reason}`; the room is removed. False if none.
    pub fn close_room(&mut self, now: Now, room_id: &str, reason: &str) -> bool {
        let Some(room) = self.st.rooms.remove(room_id) else {
            return false;
        };
        log::info!("room {room_id} closed: {reason}");
        for sid in room.members.values() {
            // The room is already gone, so peers get no leave events: everyone is kicked.
            let how = Leave::Kicked {
                code: ErrorCode::ROOM_CLOSED,
                reason: reason.to_string(),
            };
            self.st.remove_session(now, sid, how);
        }
        true
    }

    // ---- the login flows ----

    fn verify(
        &self,
        now: Now,
        token: &str,
        user_id: &str,
        room_id: &str,
    ) -> Result<Grant, AuthError> {
        self.auth.verify(token, user_id, room_id, now.unix_ms)
    }

    /// Moves the live session named by `login.resume` to `conn` and replays what it missed.
    fn resume(&mut self, now: Now, conn: ConnId, login: Login, grant: Grant) {
        let Some(resume) = login.resume.as_ref() else {
            return;
        };
        let st = &mut self.st;
        // The session's own ID allocation, shared rather than copied into the connection's set.
        let Some(sid) = st
            .sessions
            .get_key_value(resume.session_id.as_str())
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let Some(room) = st.rooms.get(login.room_id.as_str()) else {
            return;
        };
        let room_session_id = room.room_session_id.clone();
        let old_conn = st.sessions.get(&sid).and_then(|s| s.conn);
        if let Some(old) = old_conn {
            st.detach_from_conn(&sid, old);
            // Never a silent move: the connection that loses the session is told.
            if old != conn {
                st.out.push_back((
                    old,
                    ServerFrame::SessionMoved {
                        room_id: login.room_id.clone(),
                    },
                ));
            }
        }
        st.attach_to_conn(&sid, conn);
        let Some(sess) = st.sessions.get_mut(&sid) else {
            return;
        };
        sess.cancel_detach_timer(&mut st.timers);
        sess.conn = Some(conn);
        sess.home = conn;
        sess.fence = fence::after_admit(sess.fence.take(), login.fence.as_ref());
        sess.token_expires_at_ms = grant.expires_at_ms;
        arm_token_timer(&mut st.timers, sess, now);
        let replay = sess.replay_after(resume.last_seq);
        let seq = sess.seq;
        let user = sess.user.clone();
        // The snapshot is built only when the ring no longer covers the gap.
        let (events, snapshot) = match replay {
            Some(events) => (events, None),
            // As for a fresh login: not built for another node's connection.
            None if !st.counters.counts_conn(conn) => (Vec::new(), None),
            None => {
                let room = st.rooms.get(login.room_id.as_str());
                let snapshot = room.map(|r| snapshot_for(&st.sessions, r, &user.user_id));
                (Vec::new(), snapshot)
            }
        };
        log::info!(
            "session {} ({} in {}) resumed from seq {} to {seq} ({} events{})",
            Tag(&sid),
            user.user_id,
            login.room_id,
            resume.last_seq,
            events.len(),
            if snapshot.is_some() { ", snapshot" } else { "" }
        );
        st.out.push_back((
            conn,
            ServerFrame::Resumed {
                room_id: login.room_id.clone(),
                session_id: sid.to_string(),
                room_session_id,
                events,
                snapshot,
                seq,
                token_expires_in_ms: grant.expires_in_ms(now.unix_ms),
            },
        ));
        // The login's list is the session's streams from now on: the others are stopped (peers
        // get `stream_delete{stopped}`), the missing ones published.
        let streams: Vec<(String, String)> = login
            .streams
            .into_iter()
            .map(|s| (s.stream_id, s.extra_info))
            .collect();
        st.stop_streams_except(&login.room_id, &sid, &user, &streams);
        st.add_streams(&login.room_id, &sid, &user, streams);
    }

    fn fresh_login(&mut self, now: Now, conn: ConnId, login: Login) {
        let room_id = login.room_id.clone();
        let uid = login.user.user_id.clone();
        let grant = match self.verify(now, &login.token, &uid, &room_id) {
            Ok(g) => g,
            Err(e) => {
                let msg = match e {
                    AuthError::Expired => "token expired",
                    AuthError::Invalid => "bad token",
                };
                return self
                    .st
                    .login_failed(conn, &room_id, ErrorCode::AUTH_FAILED, msg);
            }
        };
        let capacity = self.rules.room_capacity;
        let st = &mut self.st;
        let existing = st
            .rooms
            .get(room_id.as_str())
            .and_then(|r| r.members.get(&uid).cloned());
        if let Some(room) = st.rooms.get(room_id.as_str()) {
            if existing.is_none() && room.members.len() >= capacity {
                return st.login_failed(conn, &room_id, ErrorCode::ROOM_FULL, "room is full");
            }
            if login.streams.iter().any(|s| {
                room.streams
                    .get(&s.stream_id)
                    .is_some_and(|i| i.user.user_id != uid)
            }) {
                return st.login_failed(
                    conn,
                    &room_id,
                    ErrorCode::INVALID_ARGUMENT,
                    "stream ID in use by another user",
                );
            }
            // Last of the refusals, so a refused login spends nothing. Only a login with a good
            // token spends: nobody can use up another user's budget.
            let rate = self.rules.member_events;
            let within = st
                .rooms
                .get_mut(room_id.as_str())
                .is_some_and(|r| r.spend(&uid, now.at, rate));
            if !within {
                log::debug!("conn {conn}: {uid} in {room_id} over its room-event budget");
                return st.login_failed(
                    conn,
                    &room_id,
                    ErrorCode::RATE_LIMITED,
                    RATE_LIMITED_MESSAGE,
                );
            }
        } else if capacity == 0 {
            return st.login_failed(conn, &room_id, ErrorCode::ROOM_FULL, "room is full");
        }
        let old_user = existing
            .as_ref()
            .and_then(|old| st.sessions.get(old))
            .map(|s| s.user.clone());
        if let Some(old) = &existing {
            let how = replacement(st, old, conn, &login);
            st.remove_session(now, old, how);
        }
        let sid: Arc<str> = self.ids.session_id().into();
        // The room's key is shared with its sessions' `room_id`.
        let room_key: Arc<str> = match st.rooms.get_key_value(room_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => room_id.as_str().into(),
        };
        let ids = &mut self.ids;
        let room = st.rooms.entry(room_key.clone()).or_insert_with(|| {
            let room_session_id = ids.room_session_id();
            log::info!("room {room_id} created ({room_session_id})");
            Room::new(room_session_id)
        });
        room.members.insert(uid.clone(), sid.clone());
        let room_session_id = room.room_session_id.clone();
        // Built only where the connection is served: a replica would build and drop the whole
        // member list for every other node's login.
        let local = st.counters.counts_conn(conn);
        let snapshot = local.then(|| snapshot_for(&st.sessions, room, &uid));

        let mut sess = Session::new(
            sid.clone(),
            room_key,
            login.user.clone(),
            login.user_update,
            self.rules.replay_buffer,
        );
        sess.conn = Some(conn);
        sess.home = conn;
        sess.fence = login.fence.clone();
        sess.token_expires_at_ms = grant.expires_at_ms;
        arm_token_timer(&mut st.timers, &mut sess, now);
        st.sessions.insert(sid.clone(), sess);
        st.attach_to_conn(&sid, conn);
        log::info!(
            "session {}: {uid} joined {room_id} on conn {conn}",
            Tag(&sid)
        );
        if let Some(snapshot) = snapshot {
            st.out.push_back((
                conn,
                ServerFrame::Joined {
                    room_id: room_id.clone(),
                    session_id: sid.to_string(),
                    room_session_id,
                    seq: 0,
                    snapshot,
                    token_expires_in_ms: grant.expires_in_ms(now.unix_ms),
                },
            ));
        }
        // A replacement keeps the user listed for peers, unless its name changed: then peers
        // drop the old entry and add the new one, so their lists converge on the new name.
        let user_events = match old_user {
            None => vec![RoomEvent::UserAdd {
                users: vec![login.user.clone()],
            }],
            Some(old) if old != login.user => vec![
                RoomEvent::UserDelete { users: vec![old] },
                RoomEvent::UserAdd {
                    users: vec![login.user.clone()],
                },
            ],
            Some(_) => Vec::new(),
        };
        if let Some(room) = st.rooms.get(room_id.as_str()) {
            for event in user_events {
                broadcast(
                    &mut st.sessions,
                    &mut st.out,
                    st.counters.owner,
                    room,
                    Some(&sid),
                    event,
                );
            }
        }
        let streams = login
            .streams
            .into_iter()
            .map(|s| (s.stream_id, s.extra_info));
        st.add_streams(&room_id, &sid, &login.user, streams);
    }
}

/// How session `old` (the same user's, in the login's room) leaves for a fresh `login` on
/// `conn`. On its own connection it is the client re-sending its login (it logged out and in
/// while a login was in flight, or a `Logout` was lost), not a second device: no kick, and the
/// streams it publishes again unchanged stay up for peers.
fn replacement(st: &State, old: &str, conn: ConnId, login: &Login) -> Leave {
    let Some(sess) = st.sessions.get(old) else {
        return Leave::Replaced;
    };
    if sess.conn != Some(conn) {
        return Leave::Replaced;
    }
    let keep = match st.rooms.get(login.room_id.as_str()) {
        // A renamed user's streams carry the old name: they all go and come back renamed.
        Some(room) if sess.user == login.user => login
            .streams
            .iter()
            .filter(|p| {
                room.streams.get(&p.stream_id).is_some_and(|s| {
                    s.user.user_id == sess.user.user_id && s.extra_info == p.extra_info
                })
            })
            .map(|p| p.stream_id.clone())
            .collect(),
        _ => HashSet::new(),
    };
    Leave::Relogin { keep }
}

/// Arms (or re-arms) `sess`'s token-expiry kick; none if its token never expires.
fn arm_token_timer(timers: &mut Timers, sess: &mut Session, now: Now) {
    sess.cancel_token_timer(timers);
    if sess.token_expires_at_ms == 0 {
        return;
    }
    let at = now.instant_of(sess.token_expires_at_ms);
    sess.token_timer = Some(timers.arm(at, TimerKind::Token, sess.session_id.clone()));
}
