//! The pull API, for hosts that handle events on their own thread (a game loop, a UI thread):
//! an engine created without a handler queues its events; `roomlink_poll_event` takes the next
//! one without blocking, `roomlink_wait_event` blocks up to a timeout (for a worker thread).
//!
//! Events handed out are tracked, so `roomlink_event_free` of a pointer that is not an event
//! currently outstanding (made up, or freed and not handed out again) is refused instead of
//! corrupting memory. Tracking is by address, so it is a safety net, not a guarantee: once the
//! allocator reuses a freed event's address for a newer event, a second free of the stale pointer
//! frees the newer one.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use roomlink::{ErrorCode, Event};

use super::boundary;
use super::callbacks;
use super::engine::roomlink_engine;
use super::events::{CEvent, roomlink_event};
use super::registry::{self, Events};

/// Addresses of the events C owns now.
static OUTSTANDING: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn outstanding() -> MutexGuard<'static, BTreeSet<usize>> {
    OUTSTANDING.lock().unwrap_or_else(|e| e.into_inner())
}

fn hand_out(event: Event) -> *mut roomlink_event {
    let ptr = Box::into_raw(Box::new(CEvent::new(&event)));
    outstanding().insert(ptr as usize);
    // `CEvent` is repr(C) with the `roomlink_event` first: the same address.
    ptr.cast()
}

/// Shared by poll and wait: `next` reads the engine's queue.
fn next_event(
    engine: roomlink_engine,
    out: *mut *mut roomlink_event,
    next: impl FnOnce(&roomlink::Engine) -> Option<Event>,
) -> Result<(), ErrorCode> {
    let events = registry::events(engine)?;
    if out.is_null() {
        return Err(ErrorCode::NULL_POINTER);
    }
    let event = match events {
        // Events of an engine with a handler go to its callbacks; polling it is a host bug.
        Events::Callbacks => return Err(ErrorCode::INVALID_ARGUMENT),
        Events::Queue(core) => match next(&core) {
            Some(event) => Some(event),
            // Destroy has logged out and the engine's queue is empty, though destroy may still
            // be joining threads (up to a second): that is the end (say so now, or a reader loop
            // would spin on NULLs until destroy returns), unless destroy has just returned and
            // moved the last events out of the engine (`end_destroy`, under the registry lock,
            // which `pop_leftover` takes): then they are taken from there.
            None if core.is_drained() => Some(registry::pop_leftover(engine)?),
            None => None,
        },
        Events::Leftover => Some(registry::pop_leftover(engine)?),
    };
    let ptr = event.map_or(std::ptr::null_mut(), hand_out);
    // SAFETY: checked non-NULL; the caller passes writable memory for one pointer.
    unsafe { out.write(ptr) };
    Ok(())
}

/// Takes the next event of a pull-mode engine without blocking: writes an owned event to `*out`
/// (free it with `roomlink_event_free`), or NULL when none is queued.
///
/// After `roomlink_engine_destroy`, the engine's last events (its `Logout`s) are still returned;
/// once they are all taken, it returns `ROOMLINK_CODE_ENGINE_DESTROYED`, and from then on every
/// call does. This holds as soon as destroy (on another thread) has logged out, while it is still
/// closing connections and joining threads (up to about a second): no event can come after that
/// point, so a reader loop `while (roomlink_wait_event(...) == ROOMLINK_CODE_OK)` ends without
/// spinning on NULLs.
///
/// Returns 0; `ROOMLINK_CODE_NULL_POINTER` (`out`), `ROOMLINK_CODE_INVALID_ARGUMENT` (the engine
/// has a handler), `ROOMLINK_CODE_UNKNOWN_ENGINE`, `ROOMLINK_CODE_ENGINE_DESTROYED`,
/// `ROOMLINK_CODE_CALLED_FROM_CALLBACK` (from the log callback).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_poll_event(
    engine: roomlink_engine,
    out: *mut *mut roomlink_event,
) -> i32 {
    boundary::call("roomlink_poll_event", || {
        callbacks::refuse_in_log()?;
        next_event(engine, out, roomlink::Engine::poll_event)
    })
}

/// As `roomlink_poll_event`, but waits up to `timeout_ms` for an event (NULL in `*out` only when
/// the timeout passed). For a host's worker thread; refused (`ROOMLINK_CODE_CALLED_FROM_CALLBACK`)
/// inside any roomlink callback, where blocking would stall event delivery. When another thread
/// destroys the engine, a blocked wait returns at once with destroy's first `Logout` (or
/// `ROOMLINK_CODE_ENGINE_DESTROYED` if no room was logged in); once the last event is taken,
/// every call returns `ROOMLINK_CODE_ENGINE_DESTROYED` at once, also while destroy still runs.
/// So each call returns an event, a timeout's NULL, or the end: a worker loop never spins.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_wait_event(
    engine: roomlink_engine,
    timeout_ms: u32,
    out: *mut *mut roomlink_event,
) -> i32 {
    boundary::call("roomlink_wait_event", || {
        callbacks::refuse_in_any()?;
        let timeout = Duration::from_millis(timeout_ms.into());
        next_event(engine, out, |core| core.wait_event(timeout))
    })
}

/// Frees an event from `roomlink_poll_event` / `roomlink_wait_event`. NULL is a no-op (returns
/// 0). A pointer that is not an outstanding event (never issued, or already freed) is refused
/// with `ROOMLINK_CODE_INVALID_ARGUMENT` and nothing is freed — detected by address, so a double
/// free is caught only until the allocator hands that address out again for a newer event (then
/// the newer event is freed): free each event exactly once. Allowed from any thread and inside
/// callbacks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn roomlink_event_free(event: *mut roomlink_event) -> i32 {
    boundary::call("roomlink_event_free", || {
        if event.is_null() {
            return Ok(());
        }
        if !outstanding().remove(&(event as usize)) {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        // SAFETY: the address came from `hand_out`'s `Box::into_raw` and was still outstanding
        // (now removed, so it cannot be freed twice).
        drop(unsafe { Box::from_raw(event.cast::<CEvent>()) });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use roomlink::{Engine, EngineConfig, RoomConfig, User};

    use super::*;

    /// Takes one event the way the exports do, with `next` reading the engine; its reason, or
    /// the code.
    fn take(
        engine: roomlink_engine,
        next: impl FnOnce(&roomlink::Engine) -> Option<Event>,
    ) -> Result<Option<u32>, ErrorCode> {
        let mut out = std::ptr::null_mut();
        next_event(engine, &mut out, next)?;
        if out.is_null() {
            return Ok(None);
        }
        // SAFETY: just handed out, freed right after.
        let reason = unsafe { (*out).reason };
        assert_eq!(unsafe { roomlink_event_free(out) }, 0);
        Ok(Some(reason))
    }

    #[test]
    fn events_moved_out_of_the_engine_while_a_reader_looked_are_still_returned() {
        let engine = Engine::new(EngineConfig::new("ws://127.0.0.1:1/v1/ws"), None).unwrap();
        let user = User::new("alice", "Alice");
        engine
            .login_room("r1", user, "t", RoomConfig::default())
            .unwrap();
        let id = registry::insert(engine, true).unwrap();
        assert_eq!(take(id, roomlink::Engine::poll_event), Ok(Some(0))); // Logining
        let core = registry::begin_destroy(id).unwrap();
        core.destroy();
        drop(core);
        // A reader got the engine while destroy was running; destroy returns (moving the Logout
        // out of the engine) before the reader looks at the engine's queue, which is empty then.
        let racing = |core: &roomlink::Engine| {
            registry::end_destroy(id);
            core.poll_event()
        };
        let logout = roomlink::RoomStateChangedReason::Logout as u32;
        assert_eq!(take(id, racing), Ok(Some(logout)));
        assert_eq!(
            take(id, roomlink::Engine::poll_event),
            Err(ErrorCode::ENGINE_DESTROYED)
        );
    }
}
