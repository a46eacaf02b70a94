//! Where session state lives, behind a trait so a later backend (e.g. Redis for several nodes) can
//! replace the in-memory one without touching the connection or admin code. The rules themselves
//! live in `roomlink-server-core`; a backend drives that core.
//!
//! Every frame meant for a session is sent by the registry itself through the session's current
//! [`ConnHandle`], while it holds whatever makes its state consistent. That keeps a session's
//! frames in order (a login's reply before any event for it, a kick after the events before it).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use roomlink_proto::protocol::{Login, ServerFrame};
use roomlink_server_core::{Counts, Gauges};
use tokio::sync::Notify;

use crate::coalesce::{self, Queued};

/// Why a connection ended, which decides what happens to its sessions.
pub use roomlink_server_core::ConnEnd;
/// Identifies one WebSocket connection for the lifetime of the process.
pub use roomlink_server_core::ConnId;
/// A room as the admin API shows it.
pub use roomlink_server_core::RoomInfo;

/// Events coalesce only once this many frames wait: below it the peer is keeping up, and each
/// event goes out as its own frame, as it happened. Otherwise two events a few microseconds
/// apart would be one callback or two depending on when the connection task ran (conformance's
/// `streams` scenario saw both under load); merging is the answer to a peer that fell behind.
const COALESCE_FROM: usize = 4;
/// Frames queued for one connection before it counts as not keeping up (see [`ConnHandle::send`]).
const OUTBOUND_QUEUE: usize = 1024;
/// One connection's outbound queue. A plain locked deque plus a [`Notify`] rather than a tokio
/// mpsc channel: the channel allocates a 32-slot block and its own bookkeeping up front for
/// every connection, while this allocates nothing until a frame is queued.
#[derive(Debug, Default)]
pub struct Outbox {
    state: Mutex<OutboxState>,
    /// Wakes the connection task: a frame was queued or the connection must close.
    wake: Notify,
}

#[derive(Debug, Default)]
struct OutboxState {
    /// Boxed so an idle queue's slots are small. Room events coalesce here (see `coalesce`).
    frames: VecDeque<Queued>,
    /// The queue overflowed: the connection must close.
    killed: bool,
    /// The connection task is gone: frames are dropped.
    closed: bool,
    /// `killed` because the queue overflowed (counted in `/metrics`).
    overflowed: bool,
    /// Logins sent to the registry and not yet answered: (room, when), for the login latency.
    logins: Vec<(Box<str>, std::time::Instant)>,
}

/// What the connection task finds in its [`Outbox`].
#[derive(Debug)]
pub enum Outbound {
    Frame(Box<ServerFrame>),
    /// The queue overflowed; close the connection.
    Kill,
    Empty,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // No code panics while holding this lock, but a poisoned deque is still a valid deque.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next thing for the connection task to do, oldest frame first.
    pub fn take(&self) -> Outbound {
        let mut st = self.lock();
        if st.killed {
            return Outbound::Kill;
        }
        match st.frames.pop_front() {
            Some(q) => {
                // An idle connection keeps no queue memory (a small queue is cheap to regrow).
                if st.frames.is_empty() {
                    st.frames = VecDeque::new();
                }
                Outbound::Frame(q.frame)
            }
            None => Outbound::Empty,
        }
    }

    /// Resolves once something may have been queued since the last [`Outbox::take`] that found
    /// the queue empty (a wake-up sent while nobody waits is kept for the next wait).
    pub async fn changed(&self) {
        self.wake.notified().await
    }

    /// Resolves once the connection is told to close (overflow or kick). The connection task
    /// races its socket writes against this: a write blocked on a peer that does not read would
    /// otherwise hold the connection (and hide the overflow) until the write timeout.
    pub async fn killed(&self) {
        while !self.lock().killed {
            self.wake.notified().await;
        }
    }

    /// Whether the connection was told to close because its queue overflowed.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// A login for `room_id` was handed to the registry at `at`.
    pub fn login_started(&self, room_id: &str, at: std::time::Instant) {
        self.lock().logins.push((room_id.into(), at));
    }

    /// Whether a login handed to the registry has not been answered yet.
    pub fn login_in_flight(&self) -> bool {
        !self.lock().logins.is_empty()
    }

    /// The answer to the oldest login for `room_id` is being sent: when that login started.
    pub fn login_answered(&self, room_id: &str) -> Option<std::time::Instant> {
        let mut st = self.lock();
        let i = st.logins.iter().position(|(r, _)| &**r == room_id)?;
        let (_, at) = st.logins.remove(i);
        if st.logins.is_empty() {
            st.logins = Vec::new();
        }
        Some(at)
    }

    /// The connection task is ending: later frames are dropped and queued ones freed.
    pub fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.frames = VecDeque::new();
    }
}

/// How the registry reaches one connection: its outbound queue, which also tells it to close
/// when it cannot keep up.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub id: ConnId,
    out: Arc<Outbox>,
}

impl ConnHandle {
    pub fn new(id: ConnId, out: Arc<Outbox>) -> Self {
        ConnHandle { id, out }
    }

    /// Tells the connection task to close the connection (its sessions detach, so the client
    /// resumes); queued frames are dropped.
    pub fn kill(&self) {
        let mut st = self.out.lock();
        st.killed = true;
        st.frames = VecDeque::new();
        drop(st);
        self.out.wake.notify_one();
    }

    /// The queue the connection task drains.
    pub fn outbox(&self) -> &Outbox {
        &self.out
    }

    /// Queues `frame`, merged into a waiting room event where `coalesce` allows (then it takes no
    /// slot). A connection whose queue is full is not keeping up (or is half-dead): it is told to
    /// close, which detaches its sessions so the client can resume and be replayed what it
    /// missed, instead of the server buffering without bound.
    pub fn send(&self, frame: ServerFrame) {
        let mut st = self.out.lock();
        // The connection task is gone (its close is being processed) or already told to close.
        if st.closed || st.killed {
            return;
        }
        if st.frames.len() >= COALESCE_FROM {
            coalesce::push(&mut st.frames, frame);
        } else {
            st.frames.push_back(Queued::new(frame));
        }
        if st.frames.len() > OUTBOUND_QUEUE {
            log::warn!("conn {}: outbound queue full, closing", self.id);
            st.killed = true;
            st.overflowed = true;
            st.frames = VecDeque::new();
        }
        drop(st);
        self.out.wake.notify_one();
    }
}

/// What an admin operation resolves to. A future because a cluster backend answers from shared
/// storage (every node's rooms); the in-memory backend's is ready at once and never fails.
pub type AdminFuture<T> = Pin<Box<dyn Future<Output = Result<T, Unavailable>> + Send + 'static>>;

/// The shared store a cluster keeps its rooms in could not be reached; nothing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// Session and room state. Implementations must be cheap to call from async code: no blocking
/// I/O and no lock held across an `.await` (they are called from connection tasks).
pub trait RoomRegistry: Send + Sync + 'static {
    /// A `Login` (from the hello or a `login` frame) on `conn`: a fresh login or a resume. Sends
    /// `Joined`, `Resumed` or `LoginFailed` to `conn`, and any events to the room's peers.
    fn login(&self, conn: &ConnHandle, login: Login);
    /// A `Logout`. Without `session_id`: the session of `conn` in `room_id` logs out; answers
    /// `Error{ROOM_NOT_LOGGED_IN}` if none. With it: that session logs out if it exists and is in
    /// `room_id`, whichever connection holds it (or none), if `token` proves the right to (see
    /// `Rooms::handle_logout`: the rules are the core's); its holder is kicked.
    fn logout(
        &self,
        conn: &ConnHandle,
        room_id: &str,
        session_id: Option<&str>,
        token: Option<&str>,
    );
    /// Answers `TokenRenewed`, or `Error{AUTH_FAILED}` leaving the old token in force.
    fn renew_token(&self, conn: &ConnHandle, room_id: &str, token: &str);
    /// Peers get `StreamAdd`; a bad stream answers `Error{INVALID_ARGUMENT}`.
    fn publish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str, extra_info: &str);
    /// Peers get `StreamDelete{Stopped}`; an unknown stream answers `Error{INVALID_ARGUMENT}`.
    fn unpublish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str);
    /// `conn` is gone; see [`ConnEnd`].
    fn connection_ended(&self, conn: ConnId, end: ConnEnd);
    /// Admin kick: the user's session gets `Kicked{code, reason}` and leaves. False if no such user.
    fn kick(&self, room_id: &str, user_id: &str, reason: &str) -> AdminFuture<bool>;
    /// Admin close: every session gets `Kicked{ROOM_CLOSED, reason}`; the room is removed.
    fn close_room(&self, room_id: &str, reason: &str) -> AdminFuture<bool>;
    fn rooms(&self) -> AdminFuture<Vec<RoomInfo>>;
    fn room(&self, room_id: &str) -> AdminFuture<Option<RoomInfo>>;
    /// Forget everything (shutdown): no more events, timers or kicks.
    /// What the rules counted for this node's connections, and the sessions and rooms counted
    /// under them now (see `roomlink_server_core::Rooms::gauges`): `GET /metrics`.
    fn counts(&self) -> (Counts, Gauges);
    fn clear(&self);
}

#[cfg(test)]
mod tests {
    use roomlink_proto::ErrorCode;

    use super::*;

    fn pong_count(out: &Outbox) -> usize {
        let mut n = 0;
        while let Outbound::Frame(f) = out.take() {
            assert_eq!(*f, ServerFrame::Pong);
            n += 1;
        }
        n
    }

    #[test]
    fn outbox_keeps_order_and_kills_a_connection_that_falls_behind() {
        let out = Arc::new(Outbox::default());
        let conn = ConnHandle::new(1, out.clone());
        conn.send(ServerFrame::Pong);
        conn.send(ServerFrame::Error {
            room_id: None,
            code: ErrorCode::INVALID_ARGUMENT,
            message: "x".into(),
        });
        assert!(matches!(out.take(), Outbound::Frame(f) if *f == ServerFrame::Pong));
        assert!(
            matches!(out.take(), Outbound::Frame(f) if matches!(*f, ServerFrame::Error { .. }))
        );
        assert!(matches!(out.take(), Outbound::Empty));

        for _ in 0..OUTBOUND_QUEUE {
            conn.send(ServerFrame::Pong);
        }
        assert_eq!(
            pong_count(&out),
            OUTBOUND_QUEUE,
            "a full queue is not yet overflowing"
        );
        for _ in 0..=OUTBOUND_QUEUE {
            conn.send(ServerFrame::Pong);
        }
        // The frame past the limit kills the connection; nothing queued is sent after that.
        assert!(matches!(out.take(), Outbound::Kill));
        conn.send(ServerFrame::Pong);
        assert!(matches!(out.take(), Outbound::Kill));
    }

    #[test]
    fn a_closed_outbox_drops_frames() {
        let out = Arc::new(Outbox::default());
        let conn = ConnHandle::new(1, out.clone());
        conn.send(ServerFrame::Pong);
        out.close();
        conn.send(ServerFrame::Pong);
        assert!(matches!(out.take(), Outbound::Empty));
    }

    #[tokio::test]
    async fn a_send_wakes_a_later_wait() {
        let out = Arc::new(Outbox::default());
        let conn = ConnHandle::new(1, out.clone());
        // Queued before anyone waits: the wake-up is kept, so the wait returns at once.
        conn.send(ServerFrame::Pong);
        tokio::time::timeout(std::time::Duration::from_secs(5), out.changed())
            .await
            .expect("the wake-up was lost");
        assert_eq!(pong_count(&out), 1);
    }
}
