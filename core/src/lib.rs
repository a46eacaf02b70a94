//! roomlink: the room connection layer for real-time audio/video apps.
//!
//! - [`machine`]: the sans-IO state machine (pure; inputs and a clock in, events and commands out).
//! - [`engine`]: the tokio driver apps use.
//! - [`transport`]: the link trait, the WebSocket transport and an in-memory one for tests.
//! - [`protocol`]: the wire protocol.
//! - [`codes`], [`reason`]: the error-code table and the state/reason enums.

#[macro_use]
mod listed;

pub mod codes;
pub mod config;
pub mod engine;
pub mod event;
pub mod machine;
pub mod model;
pub mod protocol;
pub mod reason;
pub mod transitions;
pub mod transport;
pub mod validate;

pub use codes::ErrorCode;
pub use config::{CaPem, EngineConfig, ProxyUrl, RoomConfig, RoomMode};
pub use engine::{Engine, EventHandler, ObservationHandle, RoomStateObserver};
pub use event::Event;
pub use model::{StreamDeleteReason, StreamInfo, UpdateType, User};
pub use reason::{ConnectionState, RoomStateChangedReason};
pub use transport::{MemoryTransport, Transport, WebSocketTransport};

/// Compiles the README's Rust examples as doctests, so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
