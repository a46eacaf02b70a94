//! UniFFI exports (Kotlin, Swift, Python): an `Engine` object, a foreign listener trait, records
//! (`EngineConfig`, `RoomEvent`), core's own model enums and records (their UniFFI derives are
//! roomlink-proto's, feature `uniffi`; re-exported here), one error enum, room-state observation and a log sink.
//! Generated bindings come from `scripts/uniffi-generate.sh` (see `bindings/README.md`).

mod engine;
mod error;
mod listener;
mod log;
mod observe;
mod types;

pub use engine::Engine;
pub use error::{RoomlinkError, error_name};
pub use listener::RoomEventListener;
pub use log::{LogLevel, LogSink, set_log_sink};
pub use observe::{ObservationHandle, RoomStateObserver};
pub use types::{
    ConnectionState, EngineConfig, RoomEvent, RoomMode, RoomStateChangedReason, StreamDeleteReason,
    StreamInfo, UpdateType, User, default_engine_config,
};
