//! roomlink-proto: the sans-IO half of roomlink (as quinn-proto is of quinn).
//!
//! - [`machine`]: the client's room state machine (inputs and a clock in, events and commands out).
//! - [`protocol`]: the wire protocol's frames and their JSON; [`validate`]: the shared input rules.
//! - [`codes`], [`reason`], [`transitions`]: the error-code table, the state/reason enums and the
//!   table every `RoomStateChanged` is looked up in; [`model`], [`event`]: what the app is told.
//! - [`config`]: the engine's settings (plain data; [`proxy`] parses a proxy URL).
//!
//! No async runtime, no sockets, no TLS, no clock: `roomlink` drives the machine with tokio and
//! WebSockets and re-exports every module here; the server (`roomlink-server-core`) and the
//! workspace's `build.rs` (which generates the C constants from these types) use this crate alone.
//!
//! # Embedding the machine without tokio
//!
//! A host with its own event loop feeds the machine and drains it after every input. Here a
//! "server" that accepts the login is played by hand:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use roomlink_proto::config::{EngineConfig, RoomConfig};
//! use roomlink_proto::machine::{Machine, Output, Transmit};
//! use roomlink_proto::model::User;
//! use roomlink_proto::protocol::ServerFrame;
//! use roomlink_proto::{ConnectionState, Event};
//!
//! let mut machine = Machine::new(EngineConfig::new("ws://127.0.0.1:1/v1/ws"), 7);
//! let mut now = Instant::now(); // the host's clock: the machine never reads one
//! machine
//!     .login_room(now, "room-1", User::new("alice", "Alice"), "token", RoomConfig::default())
//!     .unwrap();
//!
//! // The drain loop: after every input, take outputs until `Timeout`, which names the next
//! // deadline (call `handle_timeout` then).
//! fn drain(machine: &mut Machine, events: &mut Vec<Event>) -> (Vec<Transmit>, Option<Instant>) {
//!     let mut transmits = Vec::new();
//!     loop {
//!         match machine.poll_output() {
//!             Output::Event(event) => events.push(event),
//!             Output::Transmit(t) => transmits.push(t),
//!             Output::Timeout(next) => return (transmits, next),
//!         }
//!     }
//! }
//!
//! let mut events = Vec::new();
//! let (transmits, deadline) = drain(&mut machine, &mut events);
//! let Some(Transmit::Connect { conn, .. }) = transmits.first().cloned() else {
//!     panic!("the first thing a login wants is a connection: {transmits:?}");
//! };
//! assert!(deadline.is_some(), "the connect attempt and the login are bounded by timers");
//!
//! // The host's socket connected and the server's answer arrived.
//! now += Duration::from_millis(20);
//! machine.handle_connected(now, conn);
//! let joined = r#"{"t":"joined","room_id":"room-1","session_id":"s1","room_session_id":"r1",
//!     "seq":0,"snapshot":{"users":[],"streams":[]}}"#;
//! machine.handle_frame(now, conn, ServerFrame::decode(joined, 64 * 1024).unwrap());
//! drain(&mut machine, &mut events);
//!
//! assert_eq!(machine.room_state("room-1"), ConnectionState::Connected);
//! assert!(events.iter().any(|e| matches!(e, Event::RoomStateChanged { .. })));
//! ```

#[macro_use]
mod listed;

pub mod codes;
pub mod config;
pub mod event;
pub mod machine;
pub mod model;
pub mod protocol;
pub mod proxy;
pub mod reason;
pub mod transitions;
pub mod validate;

// With feature `uniffi` (roomlink-ffi's): the enums and records apps see carry UniFFI's derives
// here, so this crate is a UniFFI component of its own; its generated bindings are compiled or
// re-exported under the same app-facing names as roomlink-ffi's (bindings/README.md).
#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!("roomlink_proto");

pub use codes::ErrorCode;
pub use config::{CaPem, EngineConfig, ProxyUrl, RoomConfig, RoomMode};
pub use event::Event;
pub use model::{StreamDeleteReason, StreamInfo, UpdateType, User};
pub use reason::{ConnectionState, RoomStateChangedReason};
