//! What the core tells its driver, and what the driver tells it about connections.

use std::time::Instant;

use roomlink_proto::protocol::ServerFrame;

/// Identifies one client connection, chosen by the driver and unique for its lifetime.
pub type ConnId = u64;

/// Drained from [`crate::Rooms::poll_output`] after every input until it returns `Timeout`.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Queue `frame` on connection `conn`, after every frame polled before it for `conn`.
    Send { conn: ConnId, frame: ServerFrame },
    /// Nothing more to send. Call [`crate::Rooms::handle_timeout`] at this instant (`None`: no
    /// timer armed); an earlier deadline than before may have been armed by the last input.
    Timeout(Option<Instant>),
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
