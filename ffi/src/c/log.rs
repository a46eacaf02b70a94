//! Log forwarding: roomlink's `log` records to one C callback (borrowed strings), or into the
//! log queue a host drains (owned records, `log_queue`), through the library's single logger
//! (`crate::log_bridge`). One of the two at a time: the last set wins.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, RwLock};

use log::{Level, LevelFilter};
use roomlink::ErrorCode;

use super::boundary;
use super::callbacks;
use super::log_queue;
use super::strings;
use crate::log_bridge;

/// A record's level, and the most verbose level wanted (`roomlink_set_log_callback`).
pub type roomlink_log_level = u32;
/// No records (as `max_level` only).
pub const ROOMLINK_LOG_OFF: roomlink_log_level = 0;
pub const ROOMLINK_LOG_ERROR: roomlink_log_level = 1;
pub const ROOMLINK_LOG_WARN: roomlink_log_level = 2;
pub const ROOMLINK_LOG_INFO: roomlink_log_level = 3;
pub const ROOMLINK_LOG_DEBUG: roomlink_log_level = 4;
pub const ROOMLINK_LOG_TRACE: roomlink_log_level = 5;

/// `(user_data, level, target, message)`: one record. `target` is the Rust module path (e.g.
/// "roomlink::engine"); both strings are borrowed for the call.
pub type roomlink_log_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: roomlink_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// Where records go.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// `roomlink_set_log_callback`: each record to the callback, strings borrowed for the call.
    Callback {
        callback:
            unsafe extern "C" fn(*mut c_void, roomlink_log_level, *const c_char, *const c_char),
        user_data: *mut c_void,
    },
    /// `roomlink_set_log_queue`: records into the log queue; `ready` (if any) is called when the
    /// queue goes from empty to non-empty.
    Queue {
        ready: Option<unsafe extern "C" fn(*mut c_void)>,
        user_data: *mut c_void,
    },
}

// SAFETY: the header's contract: the log callbacks and their user_data may be used from any
// thread.
unsafe impl Send for Target {}
// SAFETY: as above; the value is never mutated in place.
unsafe impl Sync for Target {}

/// The target. Callers hold the read lock while a host callback runs, so replacing it (the write
/// lock) waits for running callbacks: once a `roomlink_set_log_*` returns, the old one is done.
static TARGET: RwLock<Option<Target>> = RwLock::new(None);

pub(crate) fn level_of(level: Level) -> roomlink_log_level {
    match level {
        Level::Error => ROOMLINK_LOG_ERROR,
        Level::Warn => ROOMLINK_LOG_WARN,
        Level::Info => ROOMLINK_LOG_INFO,
        Level::Debug => ROOMLINK_LOG_DEBUG,
        Level::Trace => ROOMLINK_LOG_TRACE,
    }
}

pub(crate) fn filter_of(level: roomlink_log_level) -> Option<LevelFilter> {
    Some(match level {
        ROOMLINK_LOG_OFF => LevelFilter::Off,
        ROOMLINK_LOG_ERROR => LevelFilter::Error,
        ROOMLINK_LOG_WARN => LevelFilter::Warn,
        ROOMLINK_LOG_INFO => LevelFilter::Info,
        ROOMLINK_LOG_DEBUG => LevelFilter::Debug,
        ROOMLINK_LOG_TRACE => LevelFilter::Trace,
        _ => return None,
    })
}

fn forward(level: Level, target: &str, message: &str) {
    let slot = TARGET.read().unwrap_or_else(|e| e.into_inner());
    match *slot {
        None => {}
        Some(Target::Callback {
            callback,
            user_data,
        }) => {
            let (target, message) = (strings::to_c(target), strings::to_c(message));
            let _inside = callbacks::enter_log();
            // SAFETY: the host's function pointer with the header's signature; both strings
            // live until it returns.
            unsafe {
                callback(
                    user_data,
                    level_of(level),
                    target.as_ptr(),
                    message.as_ptr(),
                )
            };
        }
        Some(Target::Queue { ready, user_data }) => {
            // Called after the push, outside the queue's lock (polling works inside it).
            let was_empty = log_queue::push(level, target, message);
            if let (true, Some(ready)) = (was_empty, ready) {
                let _inside = callbacks::enter_log();
                // SAFETY: the host's function pointer with the header's signature.
                unsafe { ready(user_data) };
            }
        }
    }
}

/// Makes `target` the one destination of records at `level` and above (`None`: no more
/// records). When this returns, the previous target's callbacks are not running and will not be
/// called again.
pub(crate) fn install(target: Option<Target>, level: LevelFilter) {
    *TARGET.write().unwrap_or_else(|e| e.into_inner()) = target;
    let sink: Option<log_bridge::Sink> = target.map(|_| Arc::new(forward) as log_bridge::Sink);
    log_bridge::set_sink(sink, level);
}

/// Sends roomlink's log records at `max_level` and above (`ROOMLINK_LOG_*`) to `callback`,
/// replacing any previous callback; NULL stops forwarding. The callback may run on any thread
/// (the engine's included), concurrently; it must not block for long. Inside it, every
/// roomlink call except the error-name/message, version, config-default, event-free and
/// log-record poll/free functions returns `ROOMLINK_CODE_CALLED_FROM_CALLBACK`. When this
/// returns, the previous callback (or log queue `ready`) is not running and will not be called
/// again (so its user_data may be freed). Its strings are borrowed for the call: a receiver that
/// runs later (a Dart `NativeCallable.listener`) uses `roomlink_set_log_queue` instead.
///
/// One logger per process: the library's Kotlin/Swift/Python API and `roomlink_set_log_queue`
/// share it; the last set wins.
///
/// Returns 0; `ROOMLINK_CODE_INVALID_ARGUMENT` (`max_level` not a `ROOMLINK_LOG_*`),
/// `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from inside the log callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_set_log_callback(
    callback: roomlink_log_callback,
    user_data: *mut c_void,
    max_level: roomlink_log_level,
) -> i32 {
    boundary::call("roomlink_set_log_callback", || {
        callbacks::refuse_in_log()?;
        let level = filter_of(max_level).ok_or(ErrorCode::INVALID_ARGUMENT)?;
        let target = callback.map(|callback| Target::Callback {
            callback,
            user_data,
        });
        install(target, level);
        Ok(())
    })
}
