//! roomlink: the room connection layer for real-time audio/video apps.
//!
//! - [`engine`]: the tokio driver apps use.
//! - [`transport`]: the link trait, the WebSocket transport and an in-memory one for tests.
//! - Re-exported from `roomlink-proto` (the sans-IO half, no async and no TLS; embed it alone to
//!   drive the machine from another event loop): [`machine`], the state machine; [`protocol`], the
//!   wire protocol; [`codes`], [`reason`], [`transitions`], [`model`], [`event`], [`config`],
//!   [`validate`].

pub mod engine;
pub mod transport;

pub use roomlink_proto::{
    codes, config, event, machine, model, protocol, proxy, reason, transitions, validate,
};

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
