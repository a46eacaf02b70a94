//! The settings the rules depend on.

use std::time::Duration;

/// What the core needs of the server's configuration. `Default` is the reference server's default
/// (`ServerConfig::default()`; a server test keeps the two equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// A detached session expires this long after its connection was last heard from.
    pub heartbeat_timeout: Duration,
    /// Most members (users) one room may hold.
    pub room_capacity: usize,
    /// Room events kept per session so a resuming client can be replayed what it missed.
    pub replay_buffer: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            heartbeat_timeout: Duration::from_secs(90),
            room_capacity: 1000,
            replay_buffer: 256,
        }
    }
}
