//! The in-memory [`RoomRegistry`]: a thin driver of the rules' core
//! ([`roomlink_server_core::Rooms`]) behind one `std::sync::Mutex`.
//!
//! One lock rather than an actor task: every operation is a short, non-blocking update of the core
//! plus non-blocking sends into connection queues, so the lock is never held across an `.await`
//! and a caller never waits on a mailbox round trip. Each call reads the clock once, hands the
//! core that [`Now`], and drains the core's output into the connections' queues while it still
//! holds the lock, which keeps every session's frames in order. One task per registry sleeps
//! until the core's next deadline (see [`run_timers`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{Login, ServerFrame};
use roomlink_server_core::{Counts, Gauges, Now, Output, Rooms, Rules};
use tokio::sync::Notify;

use crate::config::ServerConfig;
use crate::id::RandomIds;
use crate::registry::{AdminFuture, ConnEnd, ConnHandle, ConnId, RoomInfo, RoomRegistry};
use crate::token::{self, TokenVerifier};

/// What the core needs of the server's settings.
pub(crate) fn rules(config: &ServerConfig) -> Rules {
    Rules {
        heartbeat_timeout: config.heartbeat_timeout,
        room_capacity: config.room_capacity,
        replay_buffer: config.replay_buffer,
        member_events: config.rates.member_events,
    }
}

struct Locked {
    core: Rooms,
    /// Rooms one connection may hold sessions in (checked here: a connection spans rooms).
    max_rooms_per_conn: usize,
    /// Connections that logged in: frames for them can come from another connection's input or
    /// from a timer. Removed when the connection ends.
    conns: HashMap<ConnId, ConnHandle>,
    /// The deadline the timer task will wake at (or before); `None` if it sleeps without one.
    armed: Option<Instant>,
}

struct Shared {
    state: Mutex<Locked>,
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

/// The clock, read once per call.
fn now() -> Now {
    Now {
        at: Instant::now(),
        unix_ms: token::now_unix_ms(),
    }
}

/// Hands every frame the core decided on to its connection, in order; returns the next deadline.
/// Frames for `caller` go straight to it (it may not have logged in, e.g. an error reply).
fn drain(st: &mut Locked, caller: Option<&ConnHandle>) -> Option<Instant> {
    loop {
        match st.core.poll_output() {
            Output::Send { conn, frame } => match caller.filter(|c| c.id == conn) {
                Some(c) => c.send(frame),
                None => {
                    if let Some(c) = st.conns.get(&conn) {
                        c.send(frame);
                    }
                }
            },
            Output::Timeout(next) => return next,
        }
    }
}

impl MemoryRegistry {
    pub fn new(config: ServerConfig) -> Self {
        let verifier = TokenVerifier::new(&config.token_secret, &config.app_id);
        let core = Rooms::new(rules(&config), Box::new(verifier), Box::new(RandomIds));
        MemoryRegistry {
            shared: Arc::new(Shared {
                state: Mutex::new(Locked {
                    core,
                    max_rooms_per_conn: config.rates.max_rooms_per_conn,
                    conns: HashMap::new(),
                    armed: None,
                }),
                wake: Arc::new(Notify::new()),
                timer_task: AtomicBool::new(false),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        // A panic while holding the lock would be a bug; the state is still the best we have.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one input or command on the core at the current time, then delivers its output.
    fn with<R>(&self, caller: Option<&ConnHandle>, f: impl FnOnce(&mut Rooms, Now) -> R) -> R {
        let now = now();
        let mut st = self.lock();
        let r = f(&mut st.core, now);
        let next = drain(&mut st, caller);
        self.timer_needed(&mut st, next);
        r
    }

    /// Starts the timer task on first use, and wakes it when it would sleep past `next`.
    fn timer_needed(&self, st: &mut Locked, next: Option<Instant>) {
        let Some(at) = next else { return };
        if st.armed.is_some_and(|armed| armed <= at) {
            return;
        }
        st.armed = Some(at);
        if !self.shared.timer_task.swap(true, Ordering::AcqRel) {
            tokio::spawn(run_timers(
                Arc::downgrade(&self.shared),
                self.shared.wake.clone(),
            ));
        } else {
            self.shared.wake.notify_one();
        }
    }

    /// Fires every timer due now; returns the next deadline, which the caller sleeps until.
    fn fire_due(&self) -> Option<Instant> {
        let now = now();
        let mut st = self.lock();
        st.core.handle_timeout(now);
        let next = drain(&mut st, None);
        st.armed = next;
        next
    }
}

/// The registry's one timer task: fires what is due, then sleeps until the next deadline or until
/// woken (an earlier deadline was armed). Ends when the registry is dropped.
async fn run_timers(weak: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        // The strong reference is dropped before sleeping, so the task never keeps the registry.
        let next = match weak.upgrade() {
            Some(shared) => MemoryRegistry { shared }.fire_due(),
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
        let now = now();
        let mut st = self.lock();
        let (held, here) = st.core.conn_rooms(conn.id, &login.room_id);
        if !here && held >= st.max_rooms_per_conn {
            log::debug!("conn {}: login refused, {held} rooms held", conn.id);
            conn.send(ServerFrame::LoginFailed {
                room_id: login.room_id,
                code: ErrorCode::TOO_MANY_ROOMS,
                message: format!(
                    "this connection holds sessions in {held} rooms, the most allowed"
                ),
            });
            return;
        }
        st.conns.entry(conn.id).or_insert_with(|| conn.clone());
        st.core.handle_login(now, conn.id, login);
        let next = drain(&mut st, Some(conn));
        self.timer_needed(&mut st, next);
    }

    fn logout(
        &self,
        conn: &ConnHandle,
        room_id: &str,
        session_id: Option<&str>,
        token: Option<&str>,
    ) {
        self.with(Some(conn), |core, now| {
            core.handle_logout(now, conn.id, room_id, session_id, token)
        });
    }

    fn renew_token(&self, conn: &ConnHandle, room_id: &str, tok: &str) {
        self.with(Some(conn), |core, now| {
            core.handle_renew_token(now, conn.id, room_id, tok)
        });
    }

    fn publish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str, extra_info: &str) {
        self.with(Some(conn), |core, now| {
            core.handle_publish_stream(now, conn.id, room_id, stream_id, extra_info)
        });
    }

    fn unpublish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str) {
        self.with(Some(conn), |core, now| {
            core.handle_unpublish_stream(now, conn.id, room_id, stream_id)
        });
    }

    fn connection_ended(&self, conn: ConnId, end: ConnEnd) {
        let now = now();
        let mut st = self.lock();
        st.core.handle_connection_ended(now, conn, end);
        st.conns.remove(&conn);
        let next = drain(&mut st, None);
        self.timer_needed(&mut st, next);
    }

    fn kick(&self, room_id: &str, user_id: &str, reason: &str) -> AdminFuture<bool> {
        let done = self.with(None, |core, now| {
            core.kick(now, room_id, user_id, ErrorCode::KICKED_BY_SERVER, reason)
        });
        Box::pin(std::future::ready(Ok(done)))
    }

    fn close_room(&self, room_id: &str, reason: &str) -> AdminFuture<bool> {
        let done = self.with(None, |core, now| core.close_room(now, room_id, reason));
        Box::pin(std::future::ready(Ok(done)))
    }

    fn rooms(&self) -> AdminFuture<Vec<RoomInfo>> {
        Box::pin(std::future::ready(Ok(self.lock().core.rooms())))
    }

    fn room(&self, room_id: &str) -> AdminFuture<Option<RoomInfo>> {
        Box::pin(std::future::ready(Ok(self.lock().core.room(room_id))))
    }

    fn counts(&self) -> (Counts, Gauges) {
        let st = self.lock();
        (st.core.counts().clone(), st.core.gauges())
    }

    fn clear(&self) {
        let mut st = self.lock();
        // The timer task wakes at its old deadline and finds nothing due.
        st.core.clear();
        st.conns.clear();
        st.armed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core's defaults are documented as the reference server's; keep them so.
    #[test]
    fn the_cores_default_rules_are_the_servers_defaults() {
        assert_eq!(rules(&ServerConfig::default()), Rules::default());
    }
}
