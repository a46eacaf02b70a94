//! Which callback, if any, the current thread is inside of, and the calls refused there.
//!
//! - Inside the **log** callback (and the log queue's `ready`) every call that touches an engine
//!   or the log settings is refused
//!   (`CALLED_FROM_CALLBACK`): a record may be emitted while the engine holds its state lock on
//!   this very thread, so an engine call there would deadlock, and replacing the log callback
//!   waits for running log callbacks to return, the caller's own included.
//! - Inside an **event** callback (and the event-ready callback) every engine call works (core
//!   holds no lock while a callback runs: logout, switch, even destroy of the same engine),
//!   except the blocking `roomlink_wait_event`, which would stall the engine's event thread.

use std::cell::Cell;

use roomlink::ErrorCode;

thread_local! {
    static IN_LOG: Cell<u32> = const { Cell::new(0) };
    static IN_EVENT: Cell<u32> = const { Cell::new(0) };
}

/// Marks the current thread as inside a callback until dropped.
pub(crate) struct Inside(&'static std::thread::LocalKey<Cell<u32>>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0
            .with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

fn enter(key: &'static std::thread::LocalKey<Cell<u32>>) -> Inside {
    key.with(|depth| depth.set(depth.get() + 1));
    Inside(key)
}

pub(crate) fn enter_log() -> Inside {
    enter(&IN_LOG)
}

pub(crate) fn enter_event() -> Inside {
    enter(&IN_EVENT)
}

/// `CALLED_FROM_CALLBACK` inside the log callback.
pub(crate) fn refuse_in_log() -> Result<(), ErrorCode> {
    if IN_LOG.with(Cell::get) > 0 {
        return Err(ErrorCode::CALLED_FROM_CALLBACK);
    }
    Ok(())
}

/// `CALLED_FROM_CALLBACK` inside any callback (for blocking calls).
pub(crate) fn refuse_in_any() -> Result<(), ErrorCode> {
    refuse_in_log()?;
    if IN_EVENT.with(Cell::get) > 0 {
        return Err(ErrorCode::CALLED_FROM_CALLBACK);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_follow_the_callback_scopes() {
        assert_eq!(refuse_in_any(), Ok(()));
        {
            let _event = enter_event();
            assert_eq!(refuse_in_log(), Ok(()));
            assert_eq!(refuse_in_any(), Err(ErrorCode::CALLED_FROM_CALLBACK));
            let _log = enter_log();
            assert_eq!(refuse_in_log(), Err(ErrorCode::CALLED_FROM_CALLBACK));
        }
        assert_eq!(refuse_in_any(), Ok(()));
    }
}
