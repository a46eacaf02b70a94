//! The room server's rules, once, without I/O: rooms, sessions, sequence numbers and replay,
//! resume, duplicate-login and admin kicks, token expiry, detached-session expiry and room
//! capacity (what `docs/PROTOCOL.md` specifies for the server).
//!
//! [`Rooms`] never reads a clock, spawns, locks or draws random numbers: every input takes a
//! [`Now`], token checks and ID minting are injected ([`Authenticator`], [`IdSource`]), and what
//! to send comes out of [`Rooms::poll_output`], ending with the next deadline. Two drivers use it:
//! `roomlink-server`'s `MemoryRegistry` (a mutex, the system clock, a timer task, one outbound
//! queue per connection) and the client-side simulator of `core/tests/sim` (virtual time).
//!
//! Connection liveness is the driver's: it answers pings, notices silence and reports the end of
//! a connection with [`ConnEnd`]. Session IDs appear in log lines only as a [`Tag`].

mod bucket;
mod counters;
mod fence;
mod info;
mod inject;
mod kicks;
mod output;
mod rooms;
mod rules;
mod session;
mod snapshot;
mod state;
mod tag;
mod time;
mod timers;

pub use bucket::{Rate, TokenBucket};
pub use counters::{Counts, Gauges, Owner, ResumeOutcome};
pub use info::RoomInfo;
pub use inject::{AuthError, Authenticator, Grant, IdSource};
pub use output::{ConnEnd, ConnId, Output};
pub use rooms::Rooms;
pub use rules::{MEMBER_EVENTS, Rules};
pub use snapshot::CoreSnapshot;
pub use tag::Tag;
pub use time::Now;
