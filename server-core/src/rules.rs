//! The settings the rules depend on.

use std::time::Duration;

use crate::bucket::Rate;

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
    /// Room events one member (a user in a room) may cause: fresh logins, publishes, unpublishes
    /// and token renewals share one bucket per member. Over it → `RATE_LIMITED`.
    pub member_events: Rate,
}

/// The default of [`Rules::member_events`]: the burst covers a client publishing the most streams
/// the reference client allows in one room (64) at once, plus a login and a renewal; a flood
/// reaches each peer at that burst, then 10 frames per second.
pub const MEMBER_EVENTS: Rate = Rate {
    per_sec: 10,
    burst: 80,
};

impl Default for Rules {
    fn default() -> Self {
        Rules {
            heartbeat_timeout: Duration::from_secs(90),
            room_capacity: 1000,
            replay_buffer: 256,
            member_events: MEMBER_EVENTS,
        }
    }
}
