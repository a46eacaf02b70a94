//! A pure, in-test server with the reference server's semantics: sessions that survive a link
//! loss for the heartbeat timeout, replay of missed events by seq, a snapshot (Joined) for expired
//! sessions, kicks, token-expiry kicks, room capacity and duplicate-user kicks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use roomlink::ErrorCode;
use roomlink::machine::ConnId;
use roomlink::model::{StreamDeleteReason, StreamInfo, User};
use roomlink::protocol::{ClientFrame, Hello, Login, RoomEvent, SeqEvent, ServerFrame, Snapshot};

/// One connection: which client, and the client's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub client: usize,
    pub conn: ConnId,
}

/// Tokens in the sim: `"bad"` is refused (1002033); `"ttl=N"` expires N ms after it is presented;
/// anything else never expires.
pub fn parse_token(token: &str) -> Result<Option<u64>, ErrorCode> {
    if token == "bad" || token.is_empty() {
        return Err(ErrorCode::AUTH_FAILED);
    }
    Ok(token.strip_prefix("ttl=").and_then(|n| n.parse().ok()))
}

#[derive(Debug)]
struct Session {
    room: String,
    user: User,
    conn: Option<ConnKey>,
    last_seen: Instant,
    seq: u64,
    log: Vec<SeqEvent>,
    token_expiry: Option<Instant>,
    streams: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Room {
    room_session_id: String,
    /// user_id → session_id
    members: BTreeMap<String, String>,
}

pub struct SimServer {
    pub heartbeat_timeout: Duration,
    pub capacity: usize,
    rooms: BTreeMap<String, Room>,
    sessions: BTreeMap<String, Session>,
    closed_rooms: BTreeSet<String>,
    conns: BTreeSet<ConnKey>,
    next_id: u64,
    /// Frames to deliver.
    pub outbox: Vec<(ConnKey, ServerFrame)>,
    /// Connections the server closed (heartbeat timeout of everything on them).
    pub closes: Vec<ConnKey>,
    /// Every frame the server received, for assertions.
    pub received: Vec<(ConnKey, ClientFrame)>,
}

impl SimServer {
    pub fn new() -> Self {
        SimServer {
            heartbeat_timeout: Duration::from_secs(90),
            capacity: 100,
            rooms: BTreeMap::new(),
            sessions: BTreeMap::new(),
            closed_rooms: BTreeSet::new(),
            conns: BTreeSet::new(),
            next_id: 1,
            outbox: Vec::new(),
            closes: Vec::new(),
            received: Vec::new(),
        }
    }

    fn mint(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{}", self.next_id)
    }

    /// User IDs in the room, sorted.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.rooms
            .get(room)
            .map(|r| r.members.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn accept(&mut self, now: Instant, key: ConnKey, hello: Hello) {
        self.conns.insert(key);
        for login in hello.logins {
            self.login(now, key, login);
        }
    }

    pub fn on_close(&mut self, key: ConnKey) {
        self.conns.remove(&key);
        for s in self.sessions.values_mut().filter(|s| s.conn == Some(key)) {
            s.conn = None;
        }
    }

    fn touch(&mut self, now: Instant, key: ConnKey) {
        for s in self.sessions.values_mut().filter(|s| s.conn == Some(key)) {
            s.last_seen = now;
        }
    }

    fn session_for(&self, key: ConnKey, room: &str) -> Option<String> {
        self.sessions
            .iter()
            .find(|(_, s)| s.conn == Some(key) && s.room == room)
            .map(|(id, _)| id.clone())
    }

    pub fn on_frame(&mut self, now: Instant, key: ConnKey, frame: ClientFrame) {
        if !self.conns.contains(&key) {
            return;
        }
        self.received.push((key, frame.clone()));
        self.touch(now, key);
        match frame {
            ClientFrame::Login(login) => self.login(now, key, login),
            ClientFrame::Logout { room_id, .. } => {
                if let Some(sid) = self.session_for(key, &room_id) {
                    self.remove_session(&sid, StreamDeleteReason::UserLeft);
                }
            }
            ClientFrame::Ping => self.outbox.push((key, ServerFrame::Pong)),
            ClientFrame::RenewToken { room_id, token } => {
                let Some(sid) = self.session_for(key, &room_id) else {
                    return;
                };
                match parse_token(&token) {
                    Ok(ttl) => {
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            s.token_expiry = ttl.map(|ms| now + Duration::from_millis(ms));
                        }
                        self.outbox.push((
                            key,
                            ServerFrame::TokenRenewed {
                                room_id,
                                token_expires_in_ms: ttl,
                            },
                        ));
                    }
                    Err(code) => self.outbox.push((
                        key,
                        ServerFrame::Error {
                            room_id: Some(room_id),
                            code,
                            message: "bad token".into(),
                        },
                    )),
                }
            }
            ClientFrame::PublishStream {
                room_id,
                stream_id,
                extra_info,
            } => {
                if let Some(sid) = self.session_for(key, &room_id) {
                    self.publish(&sid, stream_id, extra_info);
                }
            }
            ClientFrame::UnpublishStream { room_id, stream_id } => {
                let Some(sid) = self.session_for(key, &room_id) else {
                    return;
                };
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return;
                };
                if let Some(extra) = s.streams.remove(&stream_id) {
                    let info = StreamInfo {
                        stream_id,
                        user: s.user.clone(),
                        extra_info: extra,
                    };
                    self.broadcast(
                        &room_id,
                        Some(&sid),
                        RoomEvent::StreamDelete {
                            streams: vec![info],
                            reason: StreamDeleteReason::Stopped,
                        },
                    );
                }
            }
            ClientFrame::Unknown => {}
        }
    }

    fn publish(&mut self, sid: &str, stream_id: String, extra: String) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        if s.streams.contains_key(&stream_id) {
            return;
        }
        s.streams.insert(stream_id.clone(), extra.clone());
        let info = StreamInfo {
            stream_id,
            user: s.user.clone(),
            extra_info: extra,
        };
        let room = s.room.clone();
        self.broadcast(
            &room,
            Some(sid),
            RoomEvent::StreamAdd {
                streams: vec![info],
            },
        );
    }

    fn login(&mut self, now: Instant, key: ConnKey, login: Login) {
        let room_id = login.room_id.clone();
        let fail = |code| ServerFrame::LoginFailed {
            room_id: room_id.clone(),
            code,
            message: String::new(),
        };
        if self.closed_rooms.contains(&room_id) {
            self.outbox.push((key, fail(ErrorCode::ROOM_CLOSED)));
            return;
        }
        let ttl = match parse_token(&login.token) {
            Ok(ttl) => ttl,
            Err(code) => {
                self.outbox.push((key, fail(code)));
                return;
            }
        };
        let expiry = ttl.map(|ms| now + Duration::from_millis(ms));
        if let Some(resume) = &login.resume {
            let ok = self
                .sessions
                .get(&resume.session_id)
                .is_some_and(|s| s.room == room_id && s.user.user_id == login.user.user_id);
            if ok {
                let sid = resume.session_id.clone();
                let room_session_id = self
                    .rooms
                    .get(&room_id)
                    .map(|r| r.room_session_id.clone())
                    .unwrap_or_default();
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return;
                };
                s.conn = Some(key);
                s.last_seen = now;
                s.token_expiry = expiry;
                let events: Vec<SeqEvent> = s
                    .log
                    .iter()
                    .filter(|e| e.seq > resume.last_seq)
                    .cloned()
                    .collect();
                let seq = s.seq;
                self.outbox.push((
                    key,
                    ServerFrame::Resumed {
                        room_id: room_id.clone(),
                        session_id: sid.clone(),
                        room_session_id,
                        events,
                        snapshot: None,
                        seq,
                        token_expires_in_ms: ttl,
                    },
                ));
                for p in login.streams {
                    self.publish(&sid, p.stream_id, p.extra_info);
                }
                return;
            }
        }
        // A fresh session (also for a resume whose session expired).
        let existing = self
            .rooms
            .get(&room_id)
            .and_then(|r| r.members.get(&login.user.user_id))
            .cloned();
        let members = self.rooms.get(&room_id).map_or(0, |r| r.members.len());
        if existing.is_none() && members >= self.capacity {
            self.outbox.push((key, fail(ErrorCode::ROOM_FULL)));
            return;
        }
        if let Some(old) = &existing {
            // Duplicate login: the old session goes; the user stays a member, so nobody is told.
            if let Some(s) = self.sessions.remove(old) {
                if let Some(c) = s.conn.filter(|c| *c != key) {
                    self.outbox.push((
                        c,
                        ServerFrame::Kicked {
                            room_id: room_id.clone(),
                            code: ErrorCode::KICKED_DUPLICATE_LOGIN,
                            reason: String::new(),
                        },
                    ));
                }
                if !s.streams.is_empty() {
                    let streams = s
                        .streams
                        .iter()
                        .map(|(id, e)| StreamInfo {
                            stream_id: id.clone(),
                            user: s.user.clone(),
                            extra_info: e.clone(),
                        })
                        .collect();
                    self.broadcast(
                        &room_id,
                        Some(old),
                        RoomEvent::StreamDelete {
                            streams,
                            reason: StreamDeleteReason::UserKicked,
                        },
                    );
                }
            }
        }
        let sid = self.mint("s");
        if !self.rooms.contains_key(&room_id) {
            let rsid = self.mint("rs");
            self.rooms.insert(
                room_id.clone(),
                Room {
                    room_session_id: rsid,
                    members: BTreeMap::new(),
                },
            );
        }
        let room = self.rooms.get_mut(&room_id).expect("just inserted");
        room.members.insert(login.user.user_id.clone(), sid.clone());
        let room_session_id = room.room_session_id.clone();
        let mut users: Vec<User> = Vec::new();
        let mut streams: Vec<StreamInfo> = Vec::new();
        for (uid, osid) in &room.members {
            if *uid == login.user.user_id {
                continue;
            }
            if let Some(o) = self.sessions.get(osid) {
                users.push(o.user.clone());
                streams.extend(o.streams.iter().map(|(id, e)| StreamInfo {
                    stream_id: id.clone(),
                    user: o.user.clone(),
                    extra_info: e.clone(),
                }));
            }
        }
        users.sort();
        streams.sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        self.sessions.insert(
            sid.clone(),
            Session {
                room: room_id.clone(),
                user: login.user.clone(),
                conn: Some(key),
                last_seen: now,
                seq: 0,
                log: Vec::new(),
                token_expiry: expiry,
                streams: BTreeMap::new(),
            },
        );
        self.outbox.push((
            key,
            ServerFrame::Joined {
                room_id: room_id.clone(),
                session_id: sid.clone(),
                room_session_id,
                seq: 0,
                snapshot: Snapshot { users, streams },
                token_expires_in_ms: ttl,
            },
        ));
        if existing.is_none() {
            self.broadcast(
                &room_id,
                Some(&sid),
                RoomEvent::UserAdd {
                    users: vec![login.user.clone()],
                },
            );
        }
        for p in login.streams {
            self.publish(&sid, p.stream_id, p.extra_info);
        }
    }

    /// Appends an event to every other session's log in the room and sends it where attached.
    fn broadcast(&mut self, room: &str, except: Option<&str>, event: RoomEvent) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let targets: Vec<String> = r
            .members
            .values()
            .filter(|s| Some(s.as_str()) != except)
            .cloned()
            .collect();
        for sid in targets {
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            s.seq += 1;
            let ev = SeqEvent {
                seq: s.seq,
                event: event.clone(),
            };
            s.log.push(ev.clone());
            if let Some(c) = s.conn.filter(|c| self.conns.contains(c)) {
                self.outbox.push((
                    c,
                    ServerFrame::Event {
                        room_id: room.to_string(),
                        event: ev,
                    },
                ));
            }
        }
    }

    fn remove_session(&mut self, sid: &str, stream_reason: StreamDeleteReason) {
        let Some(s) = self.sessions.remove(sid) else {
            return;
        };
        let Some(room) = self.rooms.get_mut(&s.room) else {
            return;
        };
        if room.members.get(&s.user.user_id).map(String::as_str) != Some(sid) {
            return;
        }
        room.members.remove(&s.user.user_id);
        if !s.streams.is_empty() {
            let streams = s
                .streams
                .iter()
                .map(|(id, e)| StreamInfo {
                    stream_id: id.clone(),
                    user: s.user.clone(),
                    extra_info: e.clone(),
                })
                .collect();
            self.broadcast(
                &s.room,
                None,
                RoomEvent::StreamDelete {
                    streams,
                    reason: stream_reason,
                },
            );
        }
        self.broadcast(
            &s.room,
            None,
            RoomEvent::UserDelete {
                users: vec![s.user.clone()],
            },
        );
    }

    /// Admin kick.
    pub fn kick(&mut self, room: &str, user_id: &str, code: ErrorCode, reason: &str) {
        let Some(sid) = self
            .rooms
            .get(room)
            .and_then(|r| r.members.get(user_id))
            .cloned()
        else {
            return;
        };
        if let Some(c) = self.sessions.get(&sid).and_then(|s| s.conn) {
            self.outbox.push((
                c,
                ServerFrame::Kicked {
                    room_id: room.to_string(),
                    code,
                    reason: reason.to_string(),
                },
            ));
        }
        self.remove_session(&sid, StreamDeleteReason::UserKicked);
    }

    /// Admin close: everyone is kicked with ROOM_CLOSED and logins are refused from now on.
    pub fn close_room(&mut self, room: &str) {
        let users: Vec<String> = self.members(room);
        for u in users {
            self.kick(room, &u, ErrorCode::ROOM_CLOSED, "closed");
        }
        self.rooms.remove(room);
        self.closed_rooms.insert(room.to_string());
    }

    /// Heartbeat timeouts and token expiry.
    pub fn tick(&mut self, now: Instant) {
        let hb = self.heartbeat_timeout;
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.last_seen + hb <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for sid in expired {
            if let Some(c) = self.sessions.get(&sid).and_then(|s| s.conn) {
                if self.conns.remove(&c) {
                    self.closes.push(c);
                }
            }
            self.remove_session(&sid, StreamDeleteReason::UserTimedOut);
        }
        let token_dead: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.token_expiry.is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for sid in token_dead {
            let Some(s) = self.sessions.get(&sid) else {
                continue;
            };
            if let Some(c) = s.conn {
                self.outbox.push((
                    c,
                    ServerFrame::Kicked {
                        room_id: s.room.clone(),
                        code: ErrorCode::KICKED_TOKEN_EXPIRED,
                        reason: String::new(),
                    },
                ));
            }
            self.remove_session(&sid, StreamDeleteReason::UserKicked);
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .flat_map(|s| [Some(s.last_seen + self.heartbeat_timeout), s.token_expiry])
            .flatten()
            .min()
    }
}
