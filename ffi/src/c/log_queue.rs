//! The log queue: log records the host owns, for a receiver that runs after the logging call has
//! returned (a Dart `NativeCallable.listener`, a UI thread), where `roomlink_set_log_callback`'s
//! borrowed strings would be gone. Records queue (bounded: the oldest go first, counted); a
//! data-free callback says when the queue becomes non-empty, as the pull API's event-ready
//! callback does for events; the host takes them with `roomlink_poll_log_record`.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::{CString, c_char, c_void};
use std::sync::{Mutex, MutexGuard};

use ::log::{Level, LevelFilter};
use roomlink::ErrorCode;

use super::boundary;
use super::callbacks;
use super::log::{self as c_log, Target, roomlink_log_level};
use super::strings;

/// `(user_data)`: the log queue went from empty to non-empty (`roomlink_set_log_queue`).
pub type roomlink_log_ready_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// One log record from the log queue, owned by the caller until `roomlink_log_record_free`
/// (its strings with it).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_log_record {
    /// `ROOMLINK_LOG_ERROR` … `ROOMLINK_LOG_TRACE`.
    pub level: roomlink_log_level,
    /// The Rust module path, e.g. "roomlink::engine".
    pub target: *const c_char,
    pub message: *const c_char,
    /// Records lost because the queue was full since the previous record was taken (0 normally;
    /// they were older than this one).
    pub dropped_before: u32,
}

/// A `roomlink_log_record` and the strings it points to (`repr(C)`, record first: one address).
#[repr(C)]
struct CLogRecord {
    raw: roomlink_log_record,
    _target: CString,
    _message: CString,
}

struct Queue {
    records: VecDeque<(Level, String, String)>,
    /// Set by `roomlink_set_log_queue`; 0 until then (nothing is queued).
    capacity: usize,
    /// Records dropped since the last one was taken.
    dropped: u32,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    records: VecDeque::new(),
    capacity: 0,
    dropped: 0,
});

/// Addresses of the records C owns now.
static OUTSTANDING: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn queue() -> MutexGuard<'static, Queue> {
    // Only plain pushes and pops happen under this lock; a poisoned one still holds a valid queue.
    QUEUE.lock().unwrap_or_else(|e| e.into_inner())
}

fn outstanding() -> MutexGuard<'static, BTreeSet<usize>> {
    OUTSTANDING.lock().unwrap_or_else(|e| e.into_inner())
}

impl Queue {
    /// Drops the oldest records until `room` more fit.
    fn make_room(&mut self, room: usize) {
        while !self.records.is_empty() && self.records.len() + room > self.capacity {
            self.records.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

/// Queues one record; true if the queue was empty before (the host is to be told).
pub(crate) fn push(level: Level, target: &str, message: &str) -> bool {
    let mut q = queue();
    if q.capacity == 0 {
        return false;
    }
    let was_empty = q.records.is_empty();
    q.make_room(1);
    q.records
        .push_back((level, target.to_owned(), message.to_owned()));
    was_empty
}

/// Sends roomlink's log records at `max_level` and above into the library's log queue, where the
/// host takes them with `roomlink_poll_log_record` and owns them until `roomlink_log_record_free`:
/// for a receiver that runs after the logging call returned (a Dart `NativeCallable.listener`),
/// which `roomlink_set_log_callback`'s borrowed strings would not survive.
///
/// `ready(user_data)` (may be NULL: then poll when you like) is called each time the queue goes
/// from empty to non-empty, on the thread that logged (any thread, the engine's included, possibly
/// while it holds an engine's lock), after the record is queued; it must return quickly. The
/// rule is the event-ready callback's: a host that, after each call, takes records until
/// `roomlink_poll_log_record` returns NULL never leaves one behind. Inside `ready` the calls
/// allowed in the log callback work, and so do `roomlink_poll_log_record` and
/// `roomlink_log_record_free`.
///
/// The queue holds at most `capacity` records: when full, the oldest is dropped, and the next
/// record taken says how many were (`dropped_before`).
///
/// Replaces the log callback or a previous queue setting (one logger per process: the last set
/// wins); `max_level` `ROOMLINK_LOG_OFF` stops logging. When this returns, the previous `ready`
/// (or log callback) is not running and will not be called again. Records already queued stay
/// there for `roomlink_poll_log_record`, also after logging stopped (take them, then release
/// `ready`).
///
/// Returns 0; `ROOMLINK_CODE_INVALID_ARGUMENT` (`max_level` not a `ROOMLINK_LOG_*`, `capacity`
/// 0), `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from inside the log callback or `ready`).
#[unsafe(no_mangle)]
pub extern "C" fn roomlink_set_log_queue(
    ready: roomlink_log_ready_callback,
    user_data: *mut c_void,
    max_level: roomlink_log_level,
    capacity: u32,
) -> i32 {
    boundary::call("roomlink_set_log_queue", || {
        callbacks::refuse_in_log()?;
        let level = c_log::filter_of(max_level).ok_or(ErrorCode::INVALID_ARGUMENT)?;
        let capacity = usize::try_from(capacity).map_err(|_| ErrorCode::INVALID_ARGUMENT)?;
        if capacity == 0 {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        {
            let mut q = queue();
            q.capacity = capacity;
            q.make_room(0);
        }
        if level == LevelFilter::Off {
            c_log::install(None, level);
        } else {
            c_log::install(Some(Target::Queue { ready, user_data }), level);
        }
        Ok(())
    })
}

/// Takes the oldest queued log record: writes an owned record to `*out` (free it with
/// `roomlink_log_record_free`), or NULL when none is queued. Never blocks. Allowed from any
/// thread, also inside the log callback and the log queue's `ready` callback.
///
/// Returns 0; `ROOMLINK_CODE_NULL_POINTER` (`out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_poll_log_record(out: *mut *mut roomlink_log_record) -> i32 {
    boundary::call("roomlink_poll_log_record", || {
        if out.is_null() {
            return Err(ErrorCode::NULL_POINTER);
        }
        let taken = {
            let mut q = queue();
            let record = q.records.pop_front();
            record.map(|r| (r, std::mem::take(&mut q.dropped)))
        };
        let ptr = taken.map_or(
            std::ptr::null_mut(),
            |((level, target, message), dropped)| {
                let (target, message) = (strings::to_c(&target), strings::to_c(&message));
                let record = Box::new(CLogRecord {
                    raw: roomlink_log_record {
                        level: c_log::level_of(level),
                        target: target.as_ptr(),
                        message: message.as_ptr(),
                        dropped_before: dropped,
                    },
                    _target: target,
                    _message: message,
                });
                let ptr = Box::into_raw(record);
                outstanding().insert(ptr as usize);
                ptr.cast::<roomlink_log_record>()
            },
        );
        // SAFETY: checked non-NULL; the caller passes writable memory for one pointer.
        unsafe { out.write(ptr) };
        Ok(())
    })
}

/// Frees a record from `roomlink_poll_log_record`. NULL is a no-op (returns 0). A pointer that is
/// not an outstanding record (never issued, an event, or already freed) is refused with
/// `ROOMLINK_CODE_INVALID_ARGUMENT` and nothing is freed — detected by address, as for
/// `roomlink_event_free`: free each record exactly once. Allowed from any thread and inside every
/// callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_log_record_free(record: *mut roomlink_log_record) -> i32 {
    boundary::call("roomlink_log_record_free", || {
        if record.is_null() {
            return Ok(());
        }
        if !outstanding().remove(&(record as usize)) {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        // SAFETY: the address came from `Box::into_raw` in `roomlink_poll_log_record` and was
        // still outstanding (now removed, so it cannot be freed twice).
        drop(unsafe { Box::from_raw(record.cast::<CLogRecord>()) });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_them() {
        let mut q = Queue {
            records: VecDeque::new(),
            capacity: 2,
            dropped: 0,
        };
        for i in 0..5 {
            q.make_room(1);
            q.records
                .push_back((Level::Info, "t".into(), format!("m{i}")));
        }
        let kept: Vec<_> = q.records.iter().map(|r| r.2.as_str()).collect();
        assert_eq!(kept, ["m3", "m4"]);
        assert_eq!(q.dropped, 3);
        q.capacity = 1;
        q.make_room(0);
        assert_eq!(q.records.len(), 1);
        assert_eq!(q.dropped, 4);
    }
}
