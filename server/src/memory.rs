//! The in-memory [`RoomRegistry`]: all state behind one `std::sync::Mutex`.
//!
//! One lock rather than an actor task: every operation is a short, non-blocking update plus
//! `try_send`s into connection queues, so the lock is never held across an `.await` and a caller
//! never waits on a mailbox round trip. Timers (detached-session expiry, token expiry) live in one
//! [`Timers`] map inside the state, served by one task per registry (see [`run_timers`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use roomlink::protocol::{Login, RoomEvent, ServerFrame, Snapshot};
use roomlink::{ErrorCode, StreamDeleteReason, StreamInfo, User, validate};

use crate::config::{ServerConfig, deadline};
use crate::fence;
use crate::id::random_id;
use crate::kicks::{KickRecord, RecentKicks};
use crate::registry::{ConnEnd, ConnHandle, ConnId, RoomInfo, RoomRegistry};
use crate::session::Session;
use crate::timers::{TimerKind, Timers};
use crate::token;
use tokio::sync::Notify;

#[derive(Debug)]
struct Room {
    room_session_id: String,
    /// user_id → session_id; sorted so snapshots come out sorted.
    members: BTreeMap<String, Arc<str>>,
    /// stream_id → stream; sorted likewise.
    streams: BTreeMap<String, StreamInfo>,
}

#[derive(Debug, Default)]
struct State {
    /// Keys are shared with the sessions' `room_id`.
    rooms: HashMap<Arc<str>, Room>,
    /// Session IDs are one shared allocation each: this key, the session's own field, its room
    /// membership, its connection's set and its timers all hold the same `Arc<str>`.
    sessions: HashMap<Arc<str>, Session>,
    by_conn: HashMap<ConnId, HashSet<Arc<str>>>,
    kicked: RecentKicks,
    timers: Timers,
}

/// How a session leaves, which decides what it and its peers are told.
#[derive(Debug, Clone)]
enum Leave {
    /// Logout: peers get StreamDelete{UserLeft} and UserDelete.
    LoggedOut,
    /// Expiry: peers get StreamDelete{UserTimedOut} and UserDelete.
    TimedOut,
    /// The session gets `Kicked`; peers get StreamDelete{UserKicked} and UserDelete.
    Kicked { code: ErrorCode, reason: String },
    /// Replaced by a newer login of the same user on another connection: kicked with 1002050,
    /// streams deleted, but the user stays listed for peers (the new session takes the membership).
    Replaced,
    /// Replaced by a newer login of the same user on the same connection (the client re-sent its
    /// login): no kick, the user stays listed, and only the streams not in `keep` (stream IDs the
    /// new login publishes again unchanged) are deleted for peers, as `Stopped`.
    Relogin { keep: HashSet<String> },
}

struct Shared {
    config: ServerConfig,
    state: Mutex<State>,
    /// Wakes the timer task: an earlier deadline was armed, or the registry is gone.
    wake: Arc<Notify>,
    /// Whether the timer task was spawned (on the first armed timer, so `new` needs no runtime).
    timer_task: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The timer task holds only a `Weak`; waking it lets it see that and end.
        self.wake.notify_one();
    }
}

/// Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MemoryRegistry {
    shared: Arc<Shared>,
}

/// Gives `event` to every member of `room` except `except`.
fn broadcast(
    sessions: &mut HashMap<Arc<str>, Session>,
    room: &Room,
    except: Option<&str>,
    event: RoomEvent,
) {
    let event = Arc::new(event);
    for sid in room.members.values() {
        if Some(&**sid) == except {
            continue;
        }
        if let Some(s) = sessions.get_mut(sid) {
            s.deliver(&event);
        }
    }
}

fn snapshot_for(sessions: &HashMap<Arc<str>, Session>, room: &Room, user_id: &str) -> Snapshot {
    Snapshot {
        users: room
            .members
            .iter()
            .filter(|(uid, _)| uid.as_str() != user_id)
            .filter_map(|(_, sid)| sessions.get(sid).map(|s| s.user.clone()))
            .collect(),
        streams: room
            .streams
            .values()
            .filter(|s| s.user.user_id != user_id)
            .cloned()
            .collect(),
    }
}

fn room_info(sessions: &HashMap<Arc<str>, Session>, room_id: &str, room: &Room) -> RoomInfo {
    RoomInfo {
        room_id: room_id.to_string(),
        room_session_id: room.room_session_id.clone(),
        users: room
            .members
            .values()
            .filter_map(|sid| sessions.get(sid).map(|s| s.user.clone()))
            .collect(),
        streams: room.streams.values().cloned().collect(),
    }
}

fn login_failed(conn: &ConnHandle, room_id: &str, code: ErrorCode, message: impl Into<String>) {
    conn.send(ServerFrame::LoginFailed {
        room_id: room_id.to_string(),
        code,
        message: message.into(),
    });
}

fn error(conn: &ConnHandle, room_id: &str, code: ErrorCode, message: impl Into<String>) {
    conn.send(ServerFrame::Error {
        room_id: Some(room_id.to_string()),
        code,
        message: message.into(),
    });
}

/// `(stream_id, extra_info)` pairs of a login's streams.
fn stream_pairs(login: &Login) -> Vec<(String, String)> {
    login
        .streams
        .iter()
        .map(|s| (s.stream_id.clone(), s.extra_info.clone()))
        .collect()
}

impl State {
    /// The session `conn` holds in `room_id`.
    fn session_on(&self, conn: ConnId, room_id: &str) -> Option<Arc<str>> {
        self.by_conn
            .get(&conn)?
            .iter()
            .find(|sid| {
                self.sessions
                    .get(*sid)
                    .is_some_and(|s| &*s.room_id == room_id)
            })
            .cloned()
    }

    /// Like [`State::session_on`], answering `Error{ROOM_NOT_LOGGED_IN}` on `conn` if there is none.
    fn session_or_error(&self, conn: &ConnHandle, room_id: &str) -> Option<Arc<str>> {
        let sid = self.session_on(conn.id, room_id);
        if sid.is_none() {
            error(
                conn,
                room_id,
                ErrorCode::ROOM_NOT_LOGGED_IN,
                "not logged in to this room",
            );
        }
        sid
    }

    fn detach_from_conn(&mut self, sid: &str, conn: ConnId) {
        if let Some(set) = self.by_conn.get_mut(&conn) {
            set.remove(sid);
            if set.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    /// Removes session `sid` and tells it and its peers according to `how`.
    fn remove_session(&mut self, sid: &str, how: Leave) {
        let Some(mut sess) = self.sessions.remove(sid) else {
            return;
        };
        sess.cancel_timers(&mut self.timers);
        if let Some(conn) = &sess.conn {
            self.detach_from_conn(sid, conn.id);
        }
        let kick = match &how {
            Leave::Kicked { code, reason } => Some((*code, reason.clone())),
            Leave::Replaced => Some((
                ErrorCode::KICKED_DUPLICATE_LOGIN,
                "logged in elsewhere".to_string(),
            )),
            _ => None,
        };
        if let Some((code, reason)) = kick {
            log::info!(
                "session {sid} ({} in {}) kicked: {code} {reason}",
                sess.user.user_id,
                sess.room_id
            );
            if let Some(conn) = &sess.conn {
                conn.send(ServerFrame::Kicked {
                    room_id: sess.room_id.to_string(),
                    code,
                    reason: reason.clone(),
                });
            }
            let record = KickRecord {
                room_id: sess.room_id.to_string(),
                code,
                reason,
            };
            self.kicked
                .remember(sid.to_string(), record, Instant::now());
        }
        let Some(room) = self.rooms.get_mut(&sess.room_id) else {
            return;
        };
        let replaced = matches!(how, Leave::Replaced | Leave::Relogin { .. });
        let (stream_reason, keep) = match how {
            Leave::LoggedOut => (StreamDeleteReason::UserLeft, HashSet::new()),
            Leave::TimedOut => (StreamDeleteReason::UserTimedOut, HashSet::new()),
            Leave::Kicked { .. } | Leave::Replaced => {
                (StreamDeleteReason::UserKicked, HashSet::new())
            }
            Leave::Relogin { keep } => (StreamDeleteReason::Stopped, keep),
        };
        let uid = sess.user.user_id.clone();
        let leaving = |s: &StreamInfo| s.user.user_id == uid && !keep.contains(&s.stream_id);
        let gone: Vec<StreamInfo> = room
            .streams
            .values()
            .filter(|s| leaving(s))
            .cloned()
            .collect();
        room.streams.retain(|_, s| !leaving(s));
        if !replaced && room.members.get(&uid).map(|s| &**s) == Some(sid) {
            room.members.remove(&uid);
        }
        let room = &*room;
        if !gone.is_empty() {
            broadcast(
                &mut self.sessions,
                room,
                Some(sid),
                RoomEvent::StreamDelete {
                    streams: gone,
                    reason: stream_reason,
                },
            );
        }
        if !replaced {
            broadcast(
                &mut self.sessions,
                room,
                Some(sid),
                RoomEvent::UserDelete {
                    users: vec![sess.user.clone()],
                },
            );
            if room.members.is_empty() {
                log::info!("room {} is empty, removed", sess.room_id);
                self.rooms.remove(&sess.room_id);
            }
        }
    }
}

impl MemoryRegistry {
    pub fn new(config: ServerConfig) -> Self {
        MemoryRegistry {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(State::default()),
                wake: Arc::new(Notify::new()),
                timer_task: AtomicBool::new(false),
            }),
        }
    }

    fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Checks `tok` against this server's secret and app ID (see [`token::verify`]).
    fn verify(
        &self,
        tok: &str,
        user_id: &str,
        room_id: &str,
        now_ms: u64,
    ) -> Result<token::Claims, ErrorCode> {
        let cfg = self.config();
        token::verify(
            &cfg.token_secret,
            &cfg.app_id,
            tok,
            user_id,
            room_id,
            now_ms,
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; the state is still the best we have.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms (or re-arms) `sess`'s token-expiry kick; none if its token never expires.
    fn arm_token_timer(&self, timers: &mut Timers, sess: &mut Session, now_ms: u64) {
        sess.cancel_token_timer(timers);
        if sess.token_expires_at_ms == 0 {
            return;
        }
        let delay = Duration::from_millis(sess.token_expires_at_ms.saturating_sub(now_ms));
        let at = Instant::now() + delay;
        let (key, earliest) = timers.arm(at, TimerKind::Token, sess.session_id.clone());
        sess.token_timer = Some(key);
        self.timer_armed(earliest);
    }

    fn arm_detach_timer(&self, timers: &mut Timers, sess: &mut Session, deadline: Instant) {
        sess.cancel_detach_timer(timers);
        let (key, earliest) = timers.arm(deadline, TimerKind::Detach, sess.session_id.clone());
        sess.detach_timer = Some(key);
        self.timer_armed(earliest);
    }

    /// Starts the timer task on first use, and wakes it when its sleep is now too long.
    fn timer_armed(&self, earliest: bool) {
        if !self.shared.timer_task.swap(true, Ordering::AcqRel) {
            tokio::spawn(run_timers(
                Arc::downgrade(&self.shared),
                self.shared.wake.clone(),
            ));
        } else if earliest {
            self.shared.wake.notify_one();
        }
    }

    /// Fires every timer due at `now`; returns the next deadline.
    fn fire_due(&self, now: Instant) -> Option<Instant> {
        let mut st = self.lock();
        while let Some((kind, sid)) = st.timers.pop_due(now) {
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
                    st.remove_session(&sid, how);
                }
                TimerKind::Detach => {
                    sess.detach_timer = None;
                    if sess.conn.is_none() {
                        log::info!("detached session {sid} expired");
                        st.remove_session(&sid, Leave::TimedOut);
                    }
                }
            }
        }
        st.timers.next_deadline()
    }

    /// Adds `streams` for `user` to `room_id` (those not already there) and tells the peers.
    fn add_streams(
        st: &mut State,
        room_id: &str,
        sid: &str,
        user: &User,
        streams: Vec<(String, String)>,
    ) {
        let Some(room) = st.rooms.get_mut(room_id) else {
            return;
        };
        let mut added = Vec::new();
        for (stream_id, extra_info) in streams {
            if room.streams.contains_key(&stream_id) {
                continue;
            }
            let info = StreamInfo {
                stream_id: stream_id.clone(),
                user: user.clone(),
                extra_info,
            };
            room.streams.insert(stream_id, info.clone());
            added.push(info);
        }
        if !added.is_empty() {
            added.sort();
            broadcast(
                &mut st.sessions,
                room,
                Some(sid),
                RoomEvent::StreamAdd { streams: added },
            );
        }
    }

    fn resume(
        &self,
        st: &mut State,
        conn: &ConnHandle,
        login: Login,
        last_seq: u64,
        claims: token::Claims,
        now_ms: u64,
    ) {
        let Some(resume) = login.resume.as_ref() else {
            return;
        };
        // The session's own ID allocation, shared rather than copied into the connection's set.
        let sid: Arc<str> = match st.sessions.get_key_value(resume.session_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => resume.session_id.as_str().into(),
        };
        let Some(room_session_id) = st
            .rooms
            .get(login.room_id.as_str())
            .map(|r| r.room_session_id.clone())
        else {
            return;
        };
        let old_conn = st.sessions.get(&sid).and_then(|s| s.conn.clone());
        if let Some(old) = old_conn {
            st.detach_from_conn(&sid, old.id);
            // [fence] Never a silent move: the connection that loses the session is told.
            if old.id != conn.id {
                old.send(ServerFrame::SessionMoved {
                    room_id: login.room_id.clone(),
                });
            }
        }
        st.by_conn.entry(conn.id).or_default().insert(sid.clone());
        let snapshot = st
            .rooms
            .get(login.room_id.as_str())
            .map(|r| snapshot_for(&st.sessions, r, &login.user.user_id));
        let Some(sess) = st.sessions.get_mut(&sid) else {
            return;
        };
        sess.cancel_detach_timer(&mut st.timers);
        sess.conn = Some(conn.clone());
        sess.fence = fence::after_admit(sess.fence.take(), login.fence.as_ref()); // [fence]
        sess.token_expires_at_ms = claims.expires_at_ms;
        self.arm_token_timer(&mut st.timers, sess, now_ms);
        let (events, snapshot) = match sess.replay_after(last_seq) {
            Some(events) => (events, None),
            None => (Vec::new(), snapshot),
        };
        log::info!(
            "session {sid} ({} in {}) resumed from seq {last_seq} to {} ({} events{})",
            sess.user.user_id,
            sess.room_id,
            sess.seq,
            events.len(),
            if snapshot.is_some() { ", snapshot" } else { "" }
        );
        conn.send(ServerFrame::Resumed {
            room_id: login.room_id.clone(),
            session_id: sid.to_string(),
            room_session_id,
            events,
            snapshot,
            seq: sess.seq,
            token_expires_in_ms: claims.expires_in_ms(now_ms),
        });
        let user = sess.user.clone();
        Self::add_streams(st, &login.room_id, &sid, &user, stream_pairs(&login));
    }

    fn fresh_login(&self, st: &mut State, conn: &ConnHandle, login: Login, now_ms: u64) {
        let cfg = self.config();
        let room_id = login.room_id.clone();
        let uid = login.user.user_id.clone();
        let claims = match self.verify(&login.token, &uid, &room_id, now_ms) {
            Ok(c) => c,
            Err(code) => {
                let msg = if code == ErrorCode::KICKED_TOKEN_EXPIRED {
                    "token expired"
                } else {
                    "bad token"
                };
                return login_failed(conn, &room_id, ErrorCode::AUTH_FAILED, msg);
            }
        };
        let existing = st
            .rooms
            .get(room_id.as_str())
            .and_then(|r| r.members.get(&uid).cloned());
        if let Some(room) = st.rooms.get(room_id.as_str()) {
            if existing.is_none() && room.members.len() >= cfg.room_capacity {
                return login_failed(conn, &room_id, ErrorCode::ROOM_FULL, "room is full");
            }
            if login.streams.iter().any(|s| {
                room.streams
                    .get(&s.stream_id)
                    .is_some_and(|i| i.user.user_id != uid)
            }) {
                return login_failed(
                    conn,
                    &room_id,
                    ErrorCode::INVALID_ARGUMENT,
                    "stream ID in use by another user",
                );
            }
        } else if cfg.room_capacity == 0 {
            return login_failed(conn, &room_id, ErrorCode::ROOM_FULL, "room is full");
        }
        let old_user = existing
            .as_ref()
            .and_then(|old| st.sessions.get(old))
            .map(|s| s.user.clone());
        if let Some(old) = &existing {
            let how = Self::replacement(st, old, conn, &login);
            st.remove_session(old, how);
        }
        let sid: Arc<str> = random_id().into();
        // The room's key is shared with its sessions' `room_id`.
        let room_key: Arc<str> = match st.rooms.get_key_value(room_id.as_str()) {
            Some((k, _)) => k.clone(),
            None => room_id.as_str().into(),
        };
        let room = st.rooms.entry(room_key.clone()).or_insert_with(|| {
            let room_session_id = random_id();
            log::info!("room {room_id} created ({room_session_id})");
            Room {
                room_session_id,
                members: BTreeMap::new(),
                streams: BTreeMap::new(),
            }
        });
        room.members.insert(uid.clone(), sid.clone());
        let room_session_id = room.room_session_id.clone();
        let snapshot = snapshot_for(&st.sessions, room, &uid);

        let mut sess = Session::new(
            sid.clone(),
            room_key,
            login.user.clone(),
            login.user_update,
            cfg.replay_buffer,
        );
        sess.conn = Some(conn.clone());
        sess.fence = login.fence.clone(); // [fence]
        sess.token_expires_at_ms = claims.expires_at_ms;
        self.arm_token_timer(&mut st.timers, &mut sess, now_ms);
        st.sessions.insert(sid.clone(), sess);
        st.by_conn.entry(conn.id).or_default().insert(sid.clone());
        log::info!("session {sid}: {uid} joined {room_id} on conn {}", conn.id);
        conn.send(ServerFrame::Joined {
            room_id: room_id.clone(),
            session_id: sid.to_string(),
            room_session_id,
            seq: 0,
            snapshot,
            token_expires_in_ms: claims.expires_in_ms(now_ms),
        });
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
                broadcast(&mut st.sessions, room, Some(&sid), event);
            }
        }
        Self::add_streams(st, &room_id, &sid, &login.user, stream_pairs(&login));
    }

    /// How session `old` (the same user's, in the login's room) leaves for a fresh `login` on
    /// `conn`. On its own connection it is the client re-sending its login (it logged out and in
    /// while a login was in flight, or a `Logout` was lost), not a second device: no kick, and
    /// the streams it publishes again unchanged stay up for peers.
    fn replacement(st: &State, old: &str, conn: &ConnHandle, login: &Login) -> Leave {
        let Some(sess) = st.sessions.get(old) else {
            return Leave::Replaced;
        };
        if sess.conn.as_ref().is_none_or(|c| c.id != conn.id) {
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
}

/// The registry's one timer task: fires what is due, then sleeps until the next deadline or until
/// woken (an earlier deadline was armed). Ends when the registry is dropped.
async fn run_timers(weak: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        // The strong reference is dropped before sleeping, so the task never keeps the registry.
        let next = match weak.upgrade() {
            Some(shared) => MemoryRegistry { shared }.fire_due(Instant::now()),
            None => return,
        };
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at.into()) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

impl RoomRegistry for MemoryRegistry {
    fn login(&self, conn: &ConnHandle, login: Login) {
        let room_id = login.room_id.clone();
        if let Err(code) = validate::room_id(&room_id).and_then(|_| validate::user(&login.user)) {
            return login_failed(conn, &room_id, code, "invalid room ID or user");
        }
        if login
            .streams
            .iter()
            .any(|s| validate::stream(&s.stream_id, &s.extra_info).is_err())
        {
            return login_failed(
                conn,
                &room_id,
                ErrorCode::INVALID_ARGUMENT,
                "invalid stream",
            );
        }
        let now_ms = token::now_unix_ms();
        let mut st = self.lock();
        // One connection speaks for one user per room: frames name only the room, so a second
        // user there would make `logout`/`publish_stream` ambiguous.
        let other_user = st
            .session_on(conn.id, &room_id)
            .and_then(|sid| st.sessions.get(&sid))
            .is_some_and(|s| s.user.user_id != login.user.user_id);
        if other_user {
            return login_failed(
                conn,
                &room_id,
                ErrorCode::ALREADY_LOGGED_IN,
                "this connection already has another user in this room",
            );
        }
        // [fence] A late attempt the engine already gave up on changes nothing (crate::fence).
        let live = st
            .rooms
            .get(room_id.as_str())
            .and_then(|r| r.members.get(&login.user.user_id))
            .and_then(|sid| st.sessions.get(sid));
        if fence::check(live.and_then(|s| s.fence.as_ref()), login.fence.as_ref())
            == fence::Verdict::Stale
        {
            log::info!(
                "conn {}: stale attempt of {} in {room_id} refused",
                conn.id,
                login.user.user_id
            );
            return login_failed(conn, &room_id, ErrorCode::STALE_ATTEMPT, "stale attempt");
        }
        // [/fence]
        if let Some(resume) = login.resume.clone() {
            if let Some(k) = st
                .kicked
                .get(&resume.session_id)
                .filter(|k| k.room_id == room_id)
            {
                let (code, reason) = (k.code, k.reason.clone());
                return login_failed(conn, &room_id, code, reason);
            }
            let alive = st
                .sessions
                .get(resume.session_id.as_str())
                .is_some_and(|s| *s.room_id == *room_id && s.user.user_id == login.user.user_id);
            if alive {
                return match self.verify(&login.token, &login.user.user_id, &room_id, now_ms) {
                    Ok(claims) => {
                        self.resume(&mut st, conn, login, resume.last_seq, claims, now_ms)
                    }
                    Err(ErrorCode::KICKED_TOKEN_EXPIRED) => login_failed(
                        conn,
                        &room_id,
                        ErrorCode::KICKED_TOKEN_EXPIRED,
                        "token expired",
                    ),
                    Err(_) => login_failed(conn, &room_id, ErrorCode::AUTH_FAILED, "bad token"),
                };
            }
            log::info!(
                "resume of unknown/expired session for {} in {room_id}: fresh login",
                login.user.user_id
            );
        }
        self.fresh_login(&mut st, conn, login, now_ms);
    }

    fn logout(&self, conn: &ConnHandle, room_id: &str, session_id: Option<&str>) {
        let mut st = self.lock();
        let Some(sid) = session_id else {
            if let Some(sid) = st.session_or_error(conn, room_id) {
                log::info!("session {sid} logged out of {room_id}");
                st.remove_session(&sid, Leave::LoggedOut);
            }
            return;
        };
        // The session ID is the secret resume handle, so naming it proves ownership. No answer
        // when it is gone: it may have expired already, and an error naming the room could be
        // mistaken for one about the client's newer session there.
        if st.sessions.get(sid).is_some_and(|s| &*s.room_id == room_id) {
            log::info!(
                "session {sid} logged out of {room_id} by ID (from conn {})",
                conn.id
            );
            st.remove_session(sid, Leave::LoggedOut);
        } else {
            log::debug!(
                "conn {}: logout of unknown session in {room_id} ignored",
                conn.id
            );
        }
    }

    fn renew_token(&self, conn: &ConnHandle, room_id: &str, tok: &str) {
        let now_ms = token::now_unix_ms();
        let mut st = self.lock();
        let st = &mut *st;
        let Some(sid) = st.session_or_error(conn, room_id) else {
            return;
        };
        let Some(sess) = st.sessions.get_mut(&sid) else {
            return;
        };
        match self.verify(tok, &sess.user.user_id, room_id, now_ms) {
            Ok(claims) => {
                sess.token_expires_at_ms = claims.expires_at_ms;
                self.arm_token_timer(&mut st.timers, sess, now_ms);
                let frame = ServerFrame::TokenRenewed {
                    room_id: room_id.to_string(),
                    token_expires_in_ms: claims.expires_in_ms(now_ms),
                };
                conn.send(frame);
            }
            Err(_) => error(
                conn,
                room_id,
                ErrorCode::AUTH_FAILED,
                "bad or expired token; the old one stays in force",
            ),
        }
    }

    fn publish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str, extra_info: &str) {
        if validate::stream(stream_id, extra_info).is_err() {
            return error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "invalid stream ID or extra info",
            );
        }
        let mut st = self.lock();
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
            Some(_) => error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "stream ID in use by another user",
            ),
            None => Self::add_streams(
                &mut st,
                room_id,
                &sid,
                &user,
                vec![(stream_id.to_string(), extra_info.to_string())],
            ),
        }
    }

    fn unpublish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str) {
        let mut st = self.lock();
        let Some(sid) = st.session_or_error(conn, room_id) else {
            return;
        };
        let Some(uid) = st.sessions.get(&sid).map(|s| s.user.user_id.clone()) else {
            return;
        };
        let st = &mut *st;
        let Some(room) = st.rooms.get_mut(room_id) else {
            return;
        };
        match room.streams.get(stream_id) {
            Some(s) if s.user.user_id == uid => {
                let Some(info) = room.streams.remove(stream_id) else {
                    return;
                };
                let event = RoomEvent::StreamDelete {
                    streams: vec![info],
                    reason: StreamDeleteReason::Stopped,
                };
                broadcast(&mut st.sessions, room, Some(&sid), event);
            }
            _ => error(
                conn,
                room_id,
                ErrorCode::INVALID_ARGUMENT,
                "no such stream published by this user",
            ),
        }
    }

    fn connection_ended(&self, conn: ConnId, end: ConnEnd) {
        let mut st = self.lock();
        let st = &mut *st;
        let sids = st.by_conn.remove(&conn).unwrap_or_default();
        for sid in sids {
            match end {
                ConnEnd::Silent => {
                    log::info!("session {sid} expired with its silent conn {conn}");
                    st.remove_session(&sid, Leave::TimedOut);
                }
                ConnEnd::Closed { last_heard } => {
                    let Some(sess) = st.sessions.get_mut(&sid) else {
                        continue;
                    };
                    sess.conn = None;
                    let at = deadline(last_heard, self.config().heartbeat_timeout);
                    self.arm_detach_timer(&mut st.timers, sess, at);
                    log::info!("session {sid} detached (conn {conn} closed)");
                }
            }
        }
    }

    fn kick(&self, room_id: &str, user_id: &str, reason: &str) -> bool {
        let mut st = self.lock();
        let Some(sid) = st
            .rooms
            .get(room_id)
            .and_then(|r| r.members.get(user_id).cloned())
        else {
            return false;
        };
        st.remove_session(
            &sid,
            Leave::Kicked {
                code: ErrorCode::KICKED_BY_SERVER,
                reason: reason.to_string(),
            },
        );
        true
    }

    fn close_room(&self, room_id: &str, reason: &str) -> bool {
        let mut st = self.lock();
        let Some(room) = st.rooms.remove(room_id) else {
            return false;
        };
        log::info!("room {room_id} closed: {reason}");
        for sid in room.members.values() {
            // The room is already gone, so peers get no leave events: everyone is kicked.
            st.remove_session(
                sid,
                Leave::Kicked {
                    code: ErrorCode::ROOM_CLOSED,
                    reason: reason.to_string(),
                },
            );
        }
        true
    }

    fn rooms(&self) -> Vec<RoomInfo> {
        let st = self.lock();
        let mut out: Vec<RoomInfo> = st
            .rooms
            .iter()
            .map(|(id, r)| room_info(&st.sessions, id, r))
            .collect();
        out.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        out
    }

    fn room(&self, room_id: &str) -> Option<RoomInfo> {
        let st = self.lock();
        st.rooms
            .get(room_id)
            .map(|r| room_info(&st.sessions, room_id, r))
    }

    fn clear(&self) {
        // Dropping the timers with the state disarms them; the timer task finds nothing due.
        *self.lock() = State::default();
    }
}
