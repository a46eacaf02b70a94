//! Logging for UniFFI hosts: records go to a foreign `LogSink` (bindings forward it to the host's
//! logger, e.g. Python's `logging`) through the library's one log bridge.

use std::sync::Arc;

use log::LevelFilter;

/// A record's severity; `max_level` of `set_log_sink` keeps this level and the ones above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Receives roomlink's log records, on whichever thread logs (often the engine's, possibly while
/// it holds the engine's state). So: hand the record to the host logger and return. Engine calls
/// from inside `log` are refused (`InvalidState` 1900105 from fallible ones; `on_network_changed` and
/// `destroy` do nothing, `room_state` reports `Disconnected`), and a sink that throws loses that
/// one record, nothing else.
#[uniffi::export(foreign)]
pub trait LogSink: Send + Sync {
    fn log(&self, level: LogLevel, target: String, message: String);
}

impl From<log::Level> for LogLevel {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Self::Error,
            log::Level::Warn => Self::Warn,
            log::Level::Info => Self::Info,
            log::Level::Debug => Self::Debug,
            log::Level::Trace => Self::Trace,
        }
    }
}

impl From<LogLevel> for LevelFilter {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => Self::Error,
            LogLevel::Warn => Self::Warn,
            LogLevel::Info => Self::Info,
            LogLevel::Debug => Self::Debug,
            LogLevel::Trace => Self::Trace,
        }
    }
}

/// Sends records at `max_level` and above to `sink` (replacing any sink, the C API's included);
/// `None` turns logging off. Returns once no call of the previous sink is running (so a host may
/// tear down what it used); called from inside a sink, it does nothing.
#[uniffi::export]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, max_level: LogLevel) {
    let sink = sink.map(|sink| -> crate::log_bridge::Sink {
        Arc::new(move |level, target: &str, message: &str| {
            sink.log(level.into(), target.to_owned(), message.to_owned())
        })
    });
    crate::log_bridge::set_sink(sink, max_level.into());
}
