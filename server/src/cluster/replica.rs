//! One node's copy of one room: the rules' core, fed the room's log in order.
//!
//! Determinism is what makes the copies agree: every input comes from the log, the time of an
//! entry is its stream ID's (Redis's) milliseconds, mapped onto a fixed instant so deadlines
//! compare the same everywhere, and what the appending node settled (token verdicts, minted IDs)
//! is handed to the core through [`Slot`] instead of being computed again.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use roomlink::ErrorCode;
use roomlink::protocol::ServerFrame;
use roomlink_server_core::{
    AuthError, Authenticator, ConnEnd, Grant, IdSource, Now, Output, RoomInfo, Rooms, Rules,
};

use super::command::{ClusterConn, Command, node_of};

/// What the appending node settled for the entry being applied.
#[derive(Debug, Default)]
struct Settled {
    verdict: Option<Result<Grant, AuthError>>,
    session_id: Option<String>,
    room_session_id: Option<String>,
}

/// Shared between the replica and the core's injected [`Authenticator`] and [`IdSource`].
#[derive(Debug, Default, Clone)]
struct Slot(Arc<Mutex<Settled>>);

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Settled> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Authenticator for Slot {
    fn verify(&self, _: &str, _: &str, _: &str, _: u64) -> Result<Grant, AuthError> {
        // The core asks at most once per login or renewal, and only those carry a verdict.
        self.lock()
            .verdict
            .take()
            .unwrap_or(Err(AuthError::Invalid))
    }
}

impl IdSource for Slot {
    fn session_id(&mut self) -> String {
        self.lock().session_id.take().unwrap_or_default()
    }

    fn room_session_id(&mut self) -> String {
        self.lock().room_session_id.take().unwrap_or_default()
    }
}

/// The instant every replica maps unix ms 0 onto: deadlines are compared as offsets from it.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_at(unix_ms: u64) -> Now {
    Now {
        at: epoch() + Duration::from_millis(unix_ms),
        unix_ms,
    }
}

/// A frame for one connection, decided by applying an entry.
pub type Send = (ClusterConn, ServerFrame);

pub struct Replica {
    room_id: String,
    core: Rooms,
    slot: Slot,
}

impl Replica {
    pub fn new(room_id: &str, rules: Rules) -> Self {
        let slot = Slot::default();
        Replica {
            room_id: room_id.to_string(),
            core: Rooms::new(rules, Box::new(slot.clone()), Box::new(slot.clone())),
            slot,
        }
    }

    /// Applies one entry at `unix_ms` (its stream ID's time). Frames go to `out`; the result is
    /// an admin command's (kicked or closed anything).
    pub fn apply(&mut self, unix_ms: u64, cmd: Command, out: &mut Vec<Send>) -> Option<bool> {
        let now = now_at(unix_ms);
        // Whatever was due by this entry's time happens before it, on every replica alike.
        self.core.handle_timeout(now);
        self.drain(out);
        let room = self.room_id.as_str();
        let mut result = None;
        match cmd {
            Command::Login {
                conn,
                login,
                auth,
                session_id,
                room_session_id,
            } => {
                if login.room_id != room {
                    log::warn!("room {room}: log entry for another room ignored");
                } else {
                    *self.slot.lock() = Settled {
                        verdict: Some(auth.result()),
                        session_id: Some(session_id),
                        room_session_id: Some(room_session_id),
                    };
                    self.core.handle_login(now, conn, *login);
                    *self.slot.lock() = Settled::default();
                }
            }
            Command::Logout { conn, session_id } => {
                self.core
                    .handle_logout(now, conn, room, session_id.as_deref())
            }
            Command::Renew { conn, auth } => {
                self.slot.lock().verdict = Some(auth.result());
                self.core.handle_renew_token(now, conn, room, "");
                *self.slot.lock() = Settled::default();
            }
            Command::Publish {
                conn,
                stream_id,
                extra_info,
            } => self
                .core
                .handle_publish_stream(now, conn, room, &stream_id, &extra_info),
            Command::Unpublish { conn, stream_id } => self
                .core
                .handle_unpublish_stream(now, conn, room, &stream_id),
            Command::ConnEnded {
                conn,
                silent_for_ms,
            } => {
                let end = match silent_for_ms {
                    Some(ms) => ConnEnd::Closed {
                        last_heard: now
                            .at
                            .checked_sub(Duration::from_millis(ms))
                            .unwrap_or(now.at),
                    },
                    None => ConnEnd::Silent,
                };
                self.core.handle_connection_ended(now, conn, end);
            }
            Command::Tick => {}
            Command::Kick { user_id, reason } => {
                result =
                    Some(
                        self.core
                            .kick(now, room, &user_id, ErrorCode::KICKED_BY_SERVER, &reason),
                    )
            }
            Command::Close { reason } => result = Some(self.core.close_room(now, room, &reason)),
            Command::NodeLost {
                node,
                last_heard_ms,
            } => {
                let last_heard = now_at(last_heard_ms.min(unix_ms)).at;
                for conn in self.core.connections() {
                    if node_of(conn) == node {
                        self.core.handle_connection_ended(
                            now,
                            conn,
                            ConnEnd::Closed { last_heard },
                        );
                    }
                }
            }
        }
        // And whatever the entry itself armed in the past (a lost node's sessions, reaped after
        // their deadline): after an entry, nothing due by its time is left armed, which is what
        // lets the tick script skip a tick when an entry at or after the deadline exists.
        self.core.handle_timeout(now);
        self.drain(out);
        result
    }

    fn drain(&mut self, out: &mut Vec<Send>) {
        while let Output::Send { conn, frame } = self.core.poll_output() {
            out.push((conn, frame));
        }
    }

    /// When the room's next timer is due (unix ms), if one is armed.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.core
            .poll_timeout()
            .map(|at| at.saturating_duration_since(epoch()).as_millis() as u64)
    }

    pub fn info(&self) -> Option<RoomInfo> {
        self.core.room(&self.room_id)
    }

    /// Nothing left in the room: the node may stop serving it.
    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }
}
