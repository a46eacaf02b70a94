//! Where session state lives, behind a trait so a later backend (e.g. Redis for several nodes) can
//! replace the in-memory one without touching the connection or admin code.
//!
//! Every frame meant for a session is sent by the registry itself through the session's current
//! [`ConnHandle`], while it holds whatever makes its state consistent. That keeps a session's
//! frames in order (a login's reply before any event for it, a kick after the events before it).

use std::sync::Arc;
use std::time::Instant;

use roomlink::protocol::{Login, ServerFrame};
use roomlink::{StreamInfo, User};
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

/// Identifies one WebSocket connection for the lifetime of the process.
pub type ConnId = u64;

/// How the registry reaches one connection: its outbound queue and a way to close it when it
/// cannot keep up.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    /// Boxed so the queue's slots are a pointer each: tokio allocates them 32 at a time per
    /// connection, and 32 inline frames would be 5 KiB resident for every idle connection.
    tx: mpsc::Sender<Box<ServerFrame>>,
    kill: Arc<Notify>,
}

impl ConnHandle {
    pub fn new(id: ConnId, tx: mpsc::Sender<Box<ServerFrame>>, kill: Arc<Notify>) -> Self {
        ConnHandle { id, tx, kill }
    }

    /// Queues `frame`. A connection whose queue is full is not keeping up (or is half-dead): it is
    /// told to close, which detaches its sessions so the client can resume and be replayed what
    /// it missed, instead of the server buffering without bound.
    pub fn send(&self, frame: ServerFrame) {
        match self.tx.try_send(Box::new(frame)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                log::warn!("conn {}: outbound queue full, closing", self.id);
                self.kill.notify_one();
            }
            // The connection task is gone; its close is being processed.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// Why a connection ended, which decides what happens to its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEnd {
    /// Closed, reset or broke the protocol: sessions are detached and expire at
    /// `last_heard + heartbeat_timeout` unless resumed.
    Closed { last_heard: Instant },
    /// Silent for the heartbeat timeout: sessions expire at once.
    Silent,
}

/// A room as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    pub room_id: String,
    pub room_session_id: String,
    /// Sorted by user ID.
    pub users: Vec<User>,
    /// Sorted by stream ID.
    pub streams: Vec<StreamInfo>,
}

/// Session and room state. Implementations must be cheap to call from async code: no blocking
/// I/O and no lock held across an `.await` (they are called from connection tasks).
pub trait RoomRegistry: Send + Sync + 'static {
    /// A `Login` (from the hello or a `login` frame) on `conn`: a fresh login or a resume. Sends
    /// `Joined`, `Resumed` or `LoginFailed` to `conn`, and any events to the room's peers.
    fn login(&self, conn: &ConnHandle, login: Login);
    /// A `Logout`. Without `session_id`: the session of `conn` in `room_id` logs out; answers
    /// `Error{ROOM_NOT_LOGGED_IN}` if none. With it: that session logs out if it exists and is in
    /// `room_id`, whichever connection holds it (or none); no answer either way.
    fn logout(&self, conn: &ConnHandle, room_id: &str, session_id: Option<&str>);
    /// Answers `TokenRenewed`, or `Error{AUTH_FAILED}` leaving the old token in force.
    fn renew_token(&self, conn: &ConnHandle, room_id: &str, token: &str);
    /// Peers get `StreamAdd`; a bad stream answers `Error{INVALID_ARGUMENT}`.
    fn publish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str, extra_info: &str);
    /// Peers get `StreamDelete{Stopped}`; an unknown stream answers `Error{INVALID_ARGUMENT}`.
    fn unpublish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str);
    /// `conn` is gone; see [`ConnEnd`].
    fn connection_ended(&self, conn: ConnId, end: ConnEnd);
    /// Admin kick: the user's session gets `Kicked{code, reason}` and leaves. False if no such user.
    fn kick(&self, room_id: &str, user_id: &str, reason: &str) -> bool;
    /// Admin close: every session gets `Kicked{ROOM_CLOSED, reason}`; the room is removed.
    fn close_room(&self, room_id: &str, reason: &str) -> bool;
    fn rooms(&self) -> Vec<RoomInfo>;
    fn room(&self, room_id: &str) -> Option<RoomInfo>;
    /// Forget everything (shutdown): no more events, timers or kicks.
    fn clear(&self);
}
