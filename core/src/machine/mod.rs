//! The sans-IO room state machine.
//!
//! A pure type: the driver feeds it app commands, link events and timer expiries, each with an
//! explicit `now`, and drains what it wants done with [`Machine::poll_output`]. It never reads a
//! clock, never does I/O and never panics on app or network input.
//!
//! Methods come in four kinds (after quinn-proto):
//! - getters (`&self`): [`Machine::room_state`], [`Machine::room_reason`];
//! - app commands: `login_room`, `logout_room`, `switch_room`, `renew_token`, `publish_stream`,
//!   `unpublish_stream`, `on_network_changed` — validation errors are returned synchronously and
//!   change nothing;
//! - `handle_*`: input from the link and the clock;
//! - `poll_output`: after every call above, drain it until it returns [`Output::Timeout`].
//!   `Timeout(Some(t))` means "call `handle_timeout` at `t`"; `Timeout(None)` means no timer.

use std::time::Instant;

use crate::codes::ErrorCode;
use crate::config::{EngineConfig, RoomConfig};
use crate::event::Event;
use crate::model::User;
use crate::protocol::{ClientFrame, Hello, ServerFrame};
use crate::reason::{ConnectionState, RoomStateChangedReason};

/// Identifies one connection attempt. The machine mints a new one for every `Connect`, so late
/// events from a connection it already gave up on are recognised and ignored.
pub type ConnId = u64;

/// What the machine wants the driver to do on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a new connection to the configured server, carrying `hello` in the upgrade request.
    /// Report the outcome with `handle_connected` or `handle_link_down`.
    Connect { conn: ConnId, hello: Hello },
    /// Send one frame on an open connection.
    Send { conn: ConnId, frame: ClientFrame },
    /// Close the connection (or abandon the attempt). No `handle_link_down` is expected for it,
    /// and any that arrives is ignored.
    Close { conn: ConnId },
}

/// One item of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver to the app, in order.
    Event(Event),
    Transmit(Transmit),
    /// Nothing more to do now; the next timer deadline, if any. Always the last item.
    Timeout(Option<Instant>),
}

/// Why a connection (or a connection attempt) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Refused, unreachable, reset, timed out, closed by the peer: retrying may help.
    Transient(String),
    /// Retrying cannot help (bad URL, TLS failure, not a roomlink server). Carries the code the
    /// rooms fail with, normally `CONNECT_FAILED`.
    Fatal { code: ErrorCode, detail: String },
    /// The peer broke the protocol (malformed or oversized frame). Treated as transient: the
    /// next connection starts clean.
    Protocol(String),
}

/// The state machine for all rooms of one engine.
pub struct Machine {
    _private: (),
}

impl Machine {
    /// `config` must have passed [`EngineConfig::validate`]. `seed` feeds the backoff jitter; the
    /// engine passes a random one, tests a fixed one.
    pub fn new(config: EngineConfig, seed: u64) -> Self {
        let _ = (config, seed);
        todo!("machine")
    }

    /// The coarse state of a room; `Disconnected` for rooms this machine does not know.
    pub fn room_state(&self, room_id: &str) -> ConnectionState {
        let _ = room_id;
        todo!()
    }

    /// The last reason reported for a room, if any.
    pub fn room_reason(&self, room_id: &str) -> Option<RoomStateChangedReason> {
        let _ = room_id;
        todo!()
    }

    pub fn login_room(
        &mut self,
        now: Instant,
        room_id: &str,
        user: User,
        token: &str,
        config: RoomConfig,
    ) -> Result<(), ErrorCode> {
        let _ = (now, room_id, user, token, config);
        todo!()
    }

    pub fn logout_room(&mut self, now: Instant, room_id: &str) -> Result<(), ErrorCode> {
        let _ = (now, room_id);
        todo!()
    }

    /// Logs out of every room (used when the engine is destroyed).
    pub fn logout_all(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    pub fn switch_room(
        &mut self,
        now: Instant,
        from_room_id: &str,
        to_room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        let _ = (now, from_room_id, to_room_id, token);
        todo!()
    }

    pub fn renew_token(
        &mut self,
        now: Instant,
        room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        let _ = (now, room_id, token);
        todo!()
    }

    pub fn publish_stream(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
        extra_info: &str,
    ) -> Result<(), ErrorCode> {
        let _ = (now, room_id, stream_id, extra_info);
        todo!()
    }

    pub fn unpublish_stream(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
    ) -> Result<(), ErrorCode> {
        let _ = (now, room_id, stream_id);
        todo!()
    }

    /// A hint from the host OS: `true` retries at once instead of waiting out the backoff;
    /// `false` declares an open link lost without waiting for the ping timeout.
    pub fn on_network_changed(&mut self, now: Instant, available: bool) {
        let _ = (now, available);
        todo!()
    }

    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        let _ = (now, conn);
        todo!()
    }

    pub fn handle_frame(&mut self, now: Instant, conn: ConnId, frame: ServerFrame) {
        let _ = (now, conn, frame);
        todo!()
    }

    pub fn handle_link_down(&mut self, now: Instant, conn: ConnId, error: LinkError) {
        let _ = (now, conn, error);
        todo!()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    pub fn poll_output(&mut self) -> Output {
        todo!()
    }
}
