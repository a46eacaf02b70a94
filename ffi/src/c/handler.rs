//! The callback API: `roomlink_event_handler`, a table of C function pointers and `user_data`,
//! behind core's `EventHandler`.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

use roomlink::{Event, EventHandler};

use super::callbacks;
use super::events::{
    CEvent, ROOMLINK_EVENT_ROOM_ONLINE_USER_COUNT_UPDATE, ROOMLINK_EVENT_ROOM_STATE_CHANGED,
    ROOMLINK_EVENT_ROOM_STREAM_UPDATE, ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE,
    ROOMLINK_EVENT_ROOM_USER_UPDATE, roomlink_kv, roomlink_room_state_reason, roomlink_stream,
    roomlink_stream_delete_reason, roomlink_update_type, roomlink_user,
};

/// `(user_data, room_id, reason, error_code, extended_data, extended_data_len)`.
pub type roomlink_on_room_state_changed = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        room_id: *const c_char,
        reason: roomlink_room_state_reason,
        error_code: i32,
        extended_data: *const roomlink_kv,
        extended_data_len: u32,
    ),
>;
/// `(user_data, room_id, update_type, users, user_count)`.
pub type roomlink_on_room_user_update = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        room_id: *const c_char,
        update_type: roomlink_update_type,
        users: *const roomlink_user,
        user_count: u32,
    ),
>;
/// `(user_data, room_id, count)`.
pub type roomlink_on_room_online_user_count_update =
    Option<unsafe extern "C" fn(user_data: *mut c_void, room_id: *const c_char, count: u32)>;
/// `(user_data, room_id, update_type, streams, stream_count, stream_delete_reason)`.
pub type roomlink_on_room_stream_update = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        room_id: *const c_char,
        update_type: roomlink_update_type,
        streams: *const roomlink_stream,
        stream_count: u32,
        stream_delete_reason: roomlink_stream_delete_reason,
    ),
>;
/// `(user_data, room_id, remaining_seconds)`.
pub type roomlink_on_room_token_will_expire = Option<
    unsafe extern "C" fn(user_data: *mut c_void, room_id: *const c_char, remaining_seconds: u32),
>;
/// `(user_data)`: the engine will never call this handler again.
pub type roomlink_on_released = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// The callback API. Copied by `roomlink_engine_create` (the struct may be freed after the call);
/// a NULL function pointer means "not interested". Every callback gets `user_data` first.
///
/// Callbacks run one at a time, in order, on the engine's event thread ("roomlink-events"), never
/// on the caller's thread and never with a roomlink lock held. Every pointer argument is borrowed
/// for the duration of the callback only: copy what you keep.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_event_handler {
    /// Passed back to every callback; roomlink never dereferences it.
    pub user_data: *mut c_void,
    pub on_room_state_changed: roomlink_on_room_state_changed,
    pub on_room_user_update: roomlink_on_room_user_update,
    pub on_room_online_user_count_update: roomlink_on_room_online_user_count_update,
    pub on_room_stream_update: roomlink_on_room_stream_update,
    pub on_room_token_will_expire: roomlink_on_room_token_will_expire,
    /// Called exactly once, after the engine's last callback has returned (after destroy), on the
    /// event thread: the place to free `user_data`. Not called if `roomlink_engine_create` failed.
    pub on_released: roomlink_on_released,
}

/// Core's handler over the C table.
pub(crate) struct CHandler {
    table: roomlink_event_handler,
    /// Set once the engine exists: a failed create must not release the caller's `user_data`.
    armed: AtomicBool,
}

// SAFETY: the header's contract: the callbacks and `user_data` may be used from the engine's event
// thread (the function pointers are plain code; what `user_data` points to is the host's to guard).
unsafe impl Send for CHandler {}
// SAFETY: as above; the table is never mutated, and callbacks are called from one thread at a time.
unsafe impl Sync for CHandler {}

impl CHandler {
    pub(crate) fn new(table: roomlink_event_handler) -> CHandler {
        CHandler {
            table,
            armed: AtomicBool::new(false),
        }
    }

    pub(crate) fn arm_release(&self) {
        self.armed.store(true, Ordering::Release);
    }

    fn deliver(&self, e: &CEvent) {
        let (t, r) = (&self.table, &e.raw);
        let ud = t.user_data;
        // SAFETY (every call): a function pointer the host gave us with the header's signature;
        // every pointer argument points into `e`, alive until this returns.
        match r.kind {
            ROOMLINK_EVENT_ROOM_STATE_CHANGED => {
                if let Some(f) = t.on_room_state_changed {
                    let (kvs, n) = (r.extended_data, r.extended_data_len);
                    unsafe { f(ud, r.room_id, r.reason, r.error_code, kvs, n) }
                }
            }
            ROOMLINK_EVENT_ROOM_USER_UPDATE => {
                if let Some(f) = t.on_room_user_update {
                    unsafe { f(ud, r.room_id, r.update_type, r.users, r.user_count) }
                }
            }
            ROOMLINK_EVENT_ROOM_ONLINE_USER_COUNT_UPDATE => {
                if let Some(f) = t.on_room_online_user_count_update {
                    unsafe { f(ud, r.room_id, r.count) }
                }
            }
            ROOMLINK_EVENT_ROOM_STREAM_UPDATE => {
                if let Some(f) = t.on_room_stream_update {
                    let (s, n, why) = (r.streams, r.stream_count, r.stream_delete_reason);
                    unsafe { f(ud, r.room_id, r.update_type, s, n, why) }
                }
            }
            ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE => {
                if let Some(f) = t.on_room_token_will_expire {
                    unsafe { f(ud, r.room_id, r.remaining_seconds) }
                }
            }
            other => log::error!("no callback for event kind {other}"),
        }
    }
}

impl EventHandler for CHandler {
    fn on_event(&self, event: Event) {
        let c = CEvent::new(&event);
        let _inside = callbacks::enter_event();
        self.deliver(&c);
    }
}

impl Drop for CHandler {
    /// The dispatcher thread drops the handler after delivering the last event.
    fn drop(&mut self) {
        if !self.armed.load(Ordering::Acquire) {
            return;
        }
        if let Some(release) = self.table.on_released {
            let _inside = callbacks::enter_event();
            // SAFETY: the host's function pointer, called once, with its own user_data.
            unsafe { release(self.table.user_data) }
        }
    }
}
