//! Full engines as an app uses them, with every event stamped on arrival (CLOCK_MONOTONIC).

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roomlink::{Engine, EngineConfig, Event, RoomConfig, RoomStateChangedReason, UpdateType, User};

/// How long any expected event may take before the run counts as broken.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// An engine whose events arrive on a channel, each with the time its callback ran.
pub struct Stamped {
    pub engine: Engine,
    events: mpsc::Receiver<(u64, Event)>,
}

impl Stamped {
    pub fn new(config: EngineConfig) -> Result<Stamped, String> {
        let (tx, events) = mpsc::channel();
        let handler = move |e: Event| {
            let _ = tx.send((crate::sys::mono_ns(), e));
        };
        let engine =
            Engine::new(config, Some(Arc::new(handler))).map_err(|e| format!("engine: {e}"))?;
        Ok(Stamped { engine, events })
    }

    pub fn login(&self, room_id: &str, user_id: &str) -> Result<(), String> {
        let token = crate::server::token(user_id, room_id);
        self.engine
            .login_room(
                room_id,
                User::new(user_id, user_id),
                &token,
                RoomConfig::default(),
            )
            .map_err(|e| format!("login_room({room_id}): {e}"))
    }

    /// Waits for the first event `want` accepts; returns when its callback ran.
    pub fn wait(&self, what: &str, want: impl Fn(&Event) -> bool) -> Result<u64, String> {
        self.wait_event(what, want).map(|(at, _)| at)
    }

    /// As [`Stamped::wait`], with the event itself.
    pub fn wait_event(
        &self,
        what: &str,
        want: impl Fn(&Event) -> bool,
    ) -> Result<(u64, Event), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((at, e)) if want(&e) => return Ok((at, e)),
                Ok(_) => continue,
                Err(_) => return Err(format!("no {what} within {PATIENCE:?}")),
            }
        }
    }

    pub fn wait_reason(
        &self,
        room_id: &str,
        reason: RoomStateChangedReason,
    ) -> Result<u64, String> {
        self.wait(&format!("{reason:?} in {room_id}"), |e| {
            matches!(e, Event::RoomStateChanged { room_id: r, reason: got, .. } if r == room_id && *got == reason)
        })
    }

    pub fn wait_user(&self, room_id: &str, kind: UpdateType, user_id: &str) -> Result<u64, String> {
        self.wait(&format!("user {kind:?} {user_id} in {room_id}"), |e| {
            matches!(e, Event::RoomUserUpdate { room_id: r, update_type, users }
                if r == room_id && *update_type == kind && users.iter().any(|u| u.user_id == user_id))
        })
    }
}

impl Stamped {
    /// Every event that has arrived and not been waited for yet (without blocking).
    pub fn drain(&self) -> Vec<(u64, Event)> {
        self.events.try_iter().collect()
    }
}
