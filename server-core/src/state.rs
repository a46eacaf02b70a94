//! The data the rules act on, and the operations several inputs share: telling a room, removing
//! a session, adding streams.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use roomlink_proto::protocol::{RoomEvent, ServerFrame, Snapshot};
use roomlink_proto::{ErrorCode, StreamDeleteReason, StreamInfo, User};

use crate::bucket::{Rate, TokenBucket};
use crate::counters::{Counters, Owner, serves};
use crate::info::RoomInfo;
use crate::kicks::{KickRecord, RecentKicks};
use crate::output::ConnId;
use crate::session::{Sends, Session};
use crate::tag::Tag;
use crate::time::Now;
use crate::timers::Timers;

#[derive(Debug)]
pub(crate) struct Room {
    pub room_session_id: String,
    /// user_id → session_id; sorted so snapshots come out sorted.
    pub members: BTreeMap<String, Arc<str>>,
    /// stream_id → stream; sorted likewise.
    pub streams: BTreeMap<String, StreamInfo>,
    /// user_id → what is left of the member's room-event budget. Outlives the member's session
    /// (logging out and in again must not refill it) but not the room; a full bucket is dropped,
    /// since a new one is the same.
    pub budgets: HashMap<String, TokenBucket>,
}

impl Room {
    pub fn new(room_session_id: String) -> Self {
        Room {
            room_session_id,
            members: BTreeMap::new(),
            streams: BTreeMap::new(),
            budgets: HashMap::new(),
        }
    }

    /// Takes one room event from `user_id`'s budget at `now`; false (and nothing changed) when
    /// it is spent. Depends only on this room's inputs, so every replica of the room agrees.
    pub fn spend(&mut self, user_id: &str, now: Instant, rate: Rate) -> bool {
        if let Some(b) = self.budgets.get_mut(user_id) {
            return b.take(now, rate);
        }
        // Users who left with a budget still spent stay until it refills; bound them.
        if self.budgets.len() > 2 * self.members.len() + 64 {
            self.budgets.retain(|_, b| !b.is_full(now));
        }
        let mut b = TokenBucket::new();
        let ok = b.take(now, rate);
        self.budgets.insert(user_id.to_string(), b);
        ok
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Keys are shared with the sessions' `room_id`.
    pub rooms: HashMap<Arc<str>, Room>,
    /// Session IDs are one shared allocation each: this key, the session's own field, its room
    /// membership, its connection's set and its timers all hold the same `Arc<str>`.
    pub sessions: HashMap<Arc<str>, Session>,
    /// The sessions each connection holds. A `Vec`, not a set: almost every connection holds one
    /// or two, and a one-element set's table costs ~64 B more per connection than a `Vec`'s slot
    /// (the capacity benchmark's RSS per session); lookups scan it either way (`session_on`).
    pub by_conn: HashMap<ConnId, Vec<Arc<str>>>,
    pub kicked: RecentKicks,
    pub timers: Timers,
    /// Frames decided on but not yet polled.
    pub out: Sends,
    /// What the rules counted (counted on polling, so a frame dropped by `clear` is not).
    pub counters: Counters,
}

pub(crate) const RATE_LIMITED_MESSAGE: &str =
    "too many room events from this member; nothing changed, retry later";

/// How a session leaves, which decides what it and its peers are told.
#[derive(Debug, Clone)]
pub(crate) enum Leave {
    /// Logout: peers get StreamDelete{UserLeft} and UserDelete.
    LoggedOut,
    /// Expiry: peers get StreamDelete{UserTimedOut} and UserDelete.
    TimedOut,
    /// The session gets `Kicked`; peers get StreamDelete{UserKicked} and UserDelete.
    Kicked { code: ErrorCode, reason: String },
    /// Logged out by its session ID from another connection: the holder (if attached) gets
    /// `Kicked{KICKED_LOGGED_OUT_ELSEWHERE}` (remembered, so a resume of it is answered so too),
    /// peers see a logout (StreamDelete{UserLeft}, UserDelete).
    EndedElsewhere,
    /// Replaced by a newer login of the same user on another connection: kicked with 1002050,
    /// streams deleted, but the user stays listed for peers (the new session takes the membership).
    Replaced,
    /// Replaced by a newer login of the same user on the same connection (the client re-sent its
    /// login): no kick, the user stays listed, and only the streams not in `keep` (stream IDs the
    /// new login publishes again unchanged) are deleted for peers, as `Stopped`.
    Relogin { keep: HashSet<String> },
}

/// Gives `event` to every member of `room` except `except`. One allocation of the event, shared
/// by every member's replay ring.
///
/// Frames are built only for connections `local` serves (a cluster replica's own; every one
/// when `None`): the other nodes send theirs, and building them here would cost each replica the
/// whole room's fan-out. Numbering and replay rings are kept for every member either way.
pub(crate) fn broadcast(
    sessions: &mut HashMap<Arc<str>, Session>,
    out: &mut Sends,
    local: Option<Owner>,
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
            let send = s.conn.is_some_and(|c| serves(local, c));
            s.deliver(&event, out, send);
        }
    }
}

pub(crate) fn snapshot_for(
    sessions: &HashMap<Arc<str>, Session>,
    room: &Room,
    user_id: &str,
) -> Snapshot {
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

pub(crate) fn room_info(
    sessions: &HashMap<Arc<str>, Session>,
    room_id: &str,
    room: &Room,
) -> RoomInfo {
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

impl State {
    pub fn login_failed(
        &mut self,
        conn: ConnId,
        room_id: &str,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        let frame = ServerFrame::LoginFailed {
            room_id: room_id.to_string(),
            code,
            message: message.into(),
        };
        self.out.push_back((conn, frame));
    }

    pub fn error(&mut self, conn: ConnId, room_id: &str, code: ErrorCode, message: &str) {
        let frame = ServerFrame::Error {
            room_id: Some(room_id.to_string()),
            code,
            message: message.to_string(),
        };
        self.out.push_back((conn, frame));
    }

    /// [`Room::spend`] for `user_id` in `room_id`, answering `Error{RATE_LIMITED}` on `conn` when
    /// the budget is spent. True when the room does not exist (yet).
    pub fn spend_or_error(
        &mut self,
        conn: ConnId,
        room_id: &str,
        user_id: &str,
        now: Now,
        rate: Rate,
    ) -> bool {
        let ok = self
            .rooms
            .get_mut(room_id)
            .is_none_or(|r| r.spend(user_id, now.at, rate));
        if !ok {
            log::debug!("conn {conn}: {user_id} in {room_id} over its room-event budget");
            self.error(conn, room_id, ErrorCode::RATE_LIMITED, RATE_LIMITED_MESSAGE);
        }
        ok
    }

    /// The session `conn` holds in `room_id`.
    pub fn session_on(&self, conn: ConnId, room_id: &str) -> Option<Arc<str>> {
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
    pub fn session_or_error(&mut self, conn: ConnId, room_id: &str) -> Option<Arc<str>> {
        let sid = self.session_on(conn, room_id);
        if sid.is_none() {
            self.error(
                conn,
                room_id,
                ErrorCode::ROOM_NOT_LOGGED_IN,
                "not logged in to this room",
            );
        }
        sid
    }

    pub fn attach_to_conn(&mut self, sid: &Arc<str>, conn: ConnId) {
        self.by_conn
            // Room for exactly one: most connections never hold a second session.
            .entry(conn)
            .or_insert_with(|| Vec::with_capacity(1))
            .push(sid.clone());
    }

    pub fn detach_from_conn(&mut self, sid: &str, conn: ConnId) {
        if let Some(set) = self.by_conn.get_mut(&conn) {
            if let Some(i) = set.iter().position(|s| &**s == sid) {
                set.swap_remove(i);
            }
            if set.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    /// Removes session `sid` and tells it and its peers according to `how`.
    pub fn remove_session(&mut self, now: Now, sid: &str, how: Leave) {
        let Some(mut sess) = self.sessions.remove(sid) else {
            return;
        };
        sess.cancel_timers(&mut self.timers);
        if let Some(conn) = sess.conn {
            self.detach_from_conn(sid, conn);
        }
        let kick = match &how {
            Leave::Kicked { code, reason } => Some((*code, reason.clone())),
            Leave::Replaced => Some((
                ErrorCode::KICKED_DUPLICATE_LOGIN,
                "logged in elsewhere".to_string(),
            )),
            Leave::EndedElsewhere => Some((
                ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE,
                "logged out by session ID from another connection".to_string(),
            )),
            _ => None,
        };
        match &kick {
            Some((code, _)) => self.counters.kick(sess.home, *code),
            None if matches!(how, Leave::TimedOut) => self.counters.expiry(sess.home),
            None => {}
        }
        if let Some((code, reason)) = kick {
            log::info!(
                "session {} ({} in {}) kicked: {code} {reason}",
                Tag(sid),
                sess.user.user_id,
                sess.room_id
            );
            if let Some(conn) = sess.conn {
                self.out.push_back((
                    conn,
                    ServerFrame::Kicked {
                        room_id: sess.room_id.to_string(),
                        code,
                        reason: reason.clone(),
                    },
                ));
            }
            let record = KickRecord {
                room_id: sess.room_id.to_string(),
                code,
                reason,
            };
            self.kicked.remember(sid.to_string(), record, now.at);
        }
        let Some(room) = self.rooms.get_mut(&sess.room_id) else {
            return;
        };
        let replaced = matches!(how, Leave::Replaced | Leave::Relogin { .. });
        let (stream_reason, keep) = match how {
            Leave::LoggedOut | Leave::EndedElsewhere => {
                (StreamDeleteReason::UserLeft, HashSet::new())
            }
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
            if room.budgets.get(&uid).is_some_and(|b| b.is_full(now.at)) {
                room.budgets.remove(&uid);
            }
        }
        let room = &*room;
        if !gone.is_empty() {
            broadcast(
                &mut self.sessions,
                &mut self.out,
                self.counters.owner,
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
                &mut self.out,
                self.counters.owner,
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

    /// Deletes `user`'s streams in `room_id` that `listed` does not carry unchanged (same ID and
    /// `extra_info`), telling the peers `StreamDelete{Stopped}`. A resume's list is what the
    /// client publishes: an unpublish sent just before its link dropped may never have been read
    /// (lost with the link, or read on the old connection after the session had moved), and a
    /// stream kept then would stay listed for peers although its publisher has stopped it.
    pub fn stop_streams_except(
        &mut self,
        room_id: &str,
        sid: &str,
        user: &User,
        listed: &[(String, String)],
    ) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        let stopped = |s: &StreamInfo| {
            s.user.user_id == user.user_id
                && !listed
                    .iter()
                    .any(|(id, extra)| *id == s.stream_id && *extra == s.extra_info)
        };
        let gone: Vec<StreamInfo> = room
            .streams
            .values()
            .filter(|s| stopped(s))
            .cloned()
            .collect();
        if gone.is_empty() {
            return;
        }
        room.streams.retain(|_, s| !stopped(s));
        broadcast(
            &mut self.sessions,
            &mut self.out,
            self.counters.owner,
            room,
            Some(sid),
            RoomEvent::StreamDelete {
                streams: gone,
                reason: StreamDeleteReason::Stopped,
            },
        );
    }

    /// Adds `streams` for `user` to `room_id` (those not already there) and tells the peers.
    pub fn add_streams(
        &mut self,
        room_id: &str,
        sid: &str,
        user: &User,
        streams: impl IntoIterator<Item = (String, String)>,
    ) {
        let Some(room) = self.rooms.get_mut(room_id) else {
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
                &mut self.sessions,
                &mut self.out,
                self.counters.owner,
                room,
                Some(sid),
                RoomEvent::StreamAdd { streams: added },
            );
        }
    }
}
