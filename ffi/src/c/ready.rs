//! The event-ready notification of the pull API: a callback without borrowed data (only the
//! host's `user_data`), so a host may act on it after it returned, e.g. through a Dart
//! `NativeCallable.listener`, and take the owned events with `roomlink_poll_event`. The rule and
//! the thread live in core (`Engine::set_ready_notifier`); this is the C face of it.

use std::ffi::c_void;
use std::sync::Arc;

use roomlink::engine::ReadyNotifier;

use super::boundary;
use super::callbacks;
use super::engine::roomlink_engine;
use super::registry;

/// `(user_data)`: events wait in the pull queue (see `roomlink_set_event_ready_callback`).
pub type roomlink_event_ready_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

#[derive(Clone, Copy)]
struct Target {
    callback: unsafe extern "C" fn(*mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the header's contract: the callback and its user_data may be used from the engine's
// thread.
unsafe impl Send for Target {}
// SAFETY: as above; the pair is never mutated.
unsafe impl Sync for Target {}

impl Target {
    fn call(&self) {
        // Inside it the event-callback rules apply: every engine call works except the blocking
        // roomlink_wait_event.
        let _inside = callbacks::enter_event();
        // SAFETY: the host's function pointer with the header's signature, its own user_data.
        unsafe { (self.callback)(self.user_data) }
    }
}

/// Asks a pull-mode engine (created without a handler) to call `callback(user_data)` when events
/// are ready to be taken. The call carries no data, so the host may act on it later (a Dart
/// `NativeCallable.listener`, a message to a UI thread) and take the events, which it owns, with
/// `roomlink_poll_event`.
///
/// When: on the engine's own thread ("roomlink-events"), with no roomlink lock held, each time
/// the engine's event queue goes from empty to non-empty, and once soon after this call if
/// events are already waiting.
///
/// The rule (edge-triggered): after every change of the queue from empty to non-empty, a call
/// starts. A host that, after each call, takes events with `roomlink_poll_event` until it
/// returns NULL (or `ROOMLINK_CODE_ENGINE_DESTROYED`) therefore never misses one, also when
/// events arrive while it drains: an event that arrives while the queue is not empty is taken by
/// the drain that empties it. Events a host leaves in the queue (it stopped before NULL) are not
/// announced again. One call may stand for several changes, and a call may find the queue empty.
///
/// Inside the callback every engine call works (`roomlink_poll_event` included, on any engine),
/// except the blocking `roomlink_wait_event`.
///
/// `callback` NULL removes it. When this returns, the previous callback is not running and will
/// not be called again (its `user_data` may be freed), unless this is called from inside a
/// roomlink callback, where waiting could deadlock.
///
/// `roomlink_engine_destroy` ends the notifications before it logs out: no call starts after
/// destroy has begun, and destroy's own `Logout` events are not announced: take them with
/// `roomlink_poll_event` after destroy returns, until it returns `ROOMLINK_CODE_ENGINE_DESTROYED`.
/// Once destroy returns (called outside any roomlink callback), the callback is not running and
/// will never run again: the moment to free `user_data` (or close a `NativeCallable`).
///
/// Returns 0; `ROOMLINK_CODE_INVALID_ARGUMENT` (the engine has a handler),
/// `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_ENGINE_DESTROYED` (also once destroy has
/// begun), `ROOMLINK_CODE_INTERNAL_ERROR` (the thread could not be started; nothing was set),
/// `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log callback).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_set_event_ready_callback(
    engine: roomlink_engine,
    callback: roomlink_event_ready_callback,
    user_data: *mut c_void,
) -> i32 {
    boundary::call("roomlink_set_event_ready_callback", || {
        callbacks::refuse_in_log()?;
        let core = registry::live(engine)?;
        let notify = callback.map(|callback| {
            let target = Target {
                callback,
                user_data,
            };
            Arc::new(move || target.call()) as ReadyNotifier
        });
        core.set_ready_notifier(notify)
    })
}
