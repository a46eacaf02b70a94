//! The simulated server: the REAL server rules (`roomlink-server-core`'s `Rooms`) driven on
//! virtual time, plus what the reference server's connection layer does around them (answering
//! pings, closing a connection silent for the heartbeat timeout). Only the tokens are toys (see
//! [`parse_token`]) and IDs come from a counter, so runs are deterministic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use roomlink::ErrorCode;
use roomlink::machine::ConnId;
use roomlink::protocol::{ClientFrame, Hello, ServerFrame};
use roomlink_server_core::{
    AuthError, Authenticator, ConnEnd, Grant, IdSource, Now, Output, Rooms, Rules,
};

/// One connection: which client, and the client's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey {
    pub client: usize,
    pub conn: ConnId,
}

/// Tokens in the sim: `"bad"` (and the empty token) is refused (1002033); `"ttl=N"` expires N ms
/// after it is presented; anything else never expires.
pub fn parse_token(token: &str) -> Result<Option<u64>, ErrorCode> {
    if token == "bad" || token.is_empty() {
        return Err(ErrorCode::AUTH_FAILED);
    }
    Ok(token.strip_prefix("ttl=").and_then(|n| n.parse().ok()))
}

struct SimTokens;

impl Authenticator for SimTokens {
    fn verify(&self, token: &str, _: &str, _: &str, now_unix_ms: u64) -> Result<Grant, AuthError> {
        match parse_token(token) {
            Ok(ttl) => Ok(Grant {
                // 0 is "never"; a ttl of 0 would otherwise mean that too.
                expires_at_ms: ttl.map_or(0, |ms| now_unix_ms + ms.max(1)),
            }),
            Err(_) => Err(AuthError::Invalid),
        }
    }
}

/// Deterministic IDs from one counter: `s1`, `rs2`, `s3`, …
#[derive(Default)]
struct Counter(u64);

impl Counter {
    fn mint(&mut self, prefix: &str) -> String {
        self.0 += 1;
        format!("{prefix}{}", self.0)
    }
}

impl IdSource for Counter {
    fn session_id(&mut self) -> String {
        self.mint("s")
    }

    fn room_session_id(&mut self) -> String {
        self.mint("rs")
    }
}

/// The virtual wall clock at the sim's start (any fixed value works: only differences matter).
const UNIX_START_MS: u64 = 1_800_000_000_000;

/// One open connection as the server's connection layer sees it.
struct Conn {
    id: u64,
    last_heard: Instant,
}

pub struct SimServer {
    core: Rooms,
    start: Instant,
    conns: BTreeMap<ConnKey, Conn>,
    keys: BTreeMap<u64, ConnKey>,
    next_conn: u64,
    /// The core's next deadline, as its last drain reported.
    core_deadline: Option<Instant>,
    /// Frames to deliver.
    pub outbox: Vec<(ConnKey, ServerFrame)>,
    /// Connections the server closed (silent for the heartbeat timeout).
    pub closes: Vec<ConnKey>,
    /// Every frame the server received, for assertions.
    pub received: Vec<(ConnKey, ClientFrame)>,
}

impl SimServer {
    /// A server with the reference server's default rules; `start` is the sim's time zero.
    pub fn new(start: Instant) -> Self {
        Self::with_rules(start, Rules::default())
    }

    /// A server with other rules (e.g. a small replay ring).
    pub fn with_rules(start: Instant, rules: Rules) -> Self {
        SimServer {
            core: Rooms::new(rules, Box::new(SimTokens), Box::<Counter>::default()),
            start,
            conns: BTreeMap::new(),
            keys: BTreeMap::new(),
            next_conn: 1,
            core_deadline: None,
            outbox: Vec::new(),
            closes: Vec::new(),
            received: Vec::new(),
        }
    }

    fn now(&self, at: Instant) -> Now {
        Now {
            at,
            unix_ms: UNIX_START_MS + (at - self.start).as_millis() as u64,
        }
    }

    fn heartbeat_timeout(&self) -> Duration {
        self.core.rules().heartbeat_timeout
    }

    /// Moves what the core decided to send into `outbox`.
    fn drain(&mut self) {
        loop {
            match self.core.poll_output() {
                Output::Send { conn, frame } => {
                    if let Some(key) = self.keys.get(&conn) {
                        self.outbox.push((*key, frame));
                    }
                }
                Output::Timeout(t) => {
                    self.core_deadline = t;
                    return;
                }
            }
        }
    }

    /// User IDs in the room, sorted.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.core
            .room(room)
            .map(|r| r.users.into_iter().map(|u| u.user_id).collect())
            .unwrap_or_default()
    }

    pub fn accept(&mut self, now: Instant, key: ConnKey, hello: Hello) {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            key,
            Conn {
                id,
                last_heard: now,
            },
        );
        self.keys.insert(id, key);
        let at = self.now(now);
        for login in hello.logins {
            self.core.handle_login(at, id, login);
        }
        self.drain();
    }

    /// The client closed `key` (or the link broke and the server noticed).
    pub fn on_close(&mut self, now: Instant, key: ConnKey) {
        let Some(conn) = self.conns.remove(&key) else {
            return;
        };
        self.keys.remove(&conn.id);
        let end = ConnEnd::Closed {
            last_heard: conn.last_heard,
        };
        let at = self.now(now);
        self.core.handle_connection_ended(at, conn.id, end);
        self.drain();
    }

    pub fn on_frame(&mut self, now: Instant, key: ConnKey, frame: ClientFrame) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        conn.last_heard = now;
        let id = conn.id;
        self.received.push((key, frame.clone()));
        let at = self.now(now);
        match frame {
            ClientFrame::Login(login) => self.core.handle_login(at, id, login),
            ClientFrame::Logout {
                room_id,
                session_id,
                token,
            } => self
                .core
                .handle_logout(at, id, &room_id, session_id.as_deref(), token.as_deref()),
            ClientFrame::Ping => self.outbox.push((key, ServerFrame::Pong)),
            ClientFrame::RenewToken { room_id, token } => {
                self.core.handle_renew_token(at, id, &room_id, &token)
            }
            ClientFrame::PublishStream {
                room_id,
                stream_id,
                extra_info,
            } => self
                .core
                .handle_publish_stream(at, id, &room_id, &stream_id, &extra_info),
            ClientFrame::UnpublishStream { room_id, stream_id } => self
                .core
                .handle_unpublish_stream(at, id, &room_id, &stream_id),
            ClientFrame::Unknown => {}
        }
        self.drain();
    }

    /// Admin kick with `code` (the admin API's is 1002055).
    pub fn kick(&mut self, now: Instant, room: &str, user_id: &str, code: ErrorCode, reason: &str) {
        let at = self.now(now);
        self.core.kick(at, room, user_id, code, reason);
        self.drain();
    }

    /// Admin close: everyone is kicked with ROOM_CLOSED.
    pub fn close_room(&mut self, now: Instant, room: &str) {
        let at = self.now(now);
        self.core.close_room(at, room, "closed");
        self.drain();
    }

    /// Heartbeat timeouts of connections, then the core's timers (token expiry, detached-session
    /// expiry).
    pub fn tick(&mut self, now: Instant) {
        let hb = self.heartbeat_timeout();
        let silent: Vec<ConnKey> = self
            .conns
            .iter()
            .filter(|(_, c)| c.last_heard + hb <= now)
            .map(|(k, _)| *k)
            .collect();
        let at = self.now(now);
        for key in silent {
            if let Some(conn) = self.conns.remove(&key) {
                self.keys.remove(&conn.id);
                self.closes.push(key);
                self.core
                    .handle_connection_ended(at, conn.id, ConnEnd::Silent);
            }
        }
        self.core.handle_timeout(at);
        self.drain();
    }

    pub fn deadline(&self) -> Option<Instant> {
        let hb = self.heartbeat_timeout();
        self.conns
            .values()
            .map(|c| c.last_heard + hb)
            .chain(self.core_deadline)
            .min()
    }
}
