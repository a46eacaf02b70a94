//! Pull mode's "events are ready" notification: a function the engine calls, with no argument and
//! no lock held, on a thread of its own ("roomlink-events"), each time its event queue goes from
//! empty to non-empty. It carries no data, so a host may act on it later (a Dart
//! `NativeCallable.listener`, a message to a UI thread) and take the events with `poll_event`.
//!
//! The rule a host relies on (the queue side is `EventQueue::wait_announce`): after every change
//! of the queue from empty to non-empty, a call *starts*. A host that, after each call, takes
//! events until `poll_event` returns `None` therefore never leaves one behind: an event pushed
//! while the queue was not empty is taken by the drain that empties it. Changes that happen before
//! the notifier thread gets to them are reported by one call, and a call may find nothing left.
//!
//! Destroy ends the notifications before it logs out ([`Ready::stop`]): the `Logout` events it
//! queues are not announced, and no call starts after destroy has begun.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::events::EventQueue;
use crate::codes::ErrorCode;

/// The notification: called with no argument, on the engine's notifier thread.
pub type ReadyNotifier = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct State {
    notify: Option<ReadyNotifier>,
    /// A call is running (on the notifier thread, with no lock held).
    calling: bool,
    /// Destroy has begun: no call starts any more and no notifier can be set.
    stopped: bool,
}

/// The current notifier, shared by the engine (which replaces it) and its notifier thread.
#[derive(Default)]
pub(crate) struct Ready {
    state: Mutex<State>,
    /// Signalled when a call ends.
    idle: Condvar,
}

impl Ready {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Only plain field updates happen under this lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no call runs, unless the caller is that call (the notifier thread).
    fn wait_idle<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if super::on_callback_thread() {
            // Inside a callback (this engine's, or another's that may be waiting on this one):
            // waiting could deadlock, so the running call, if any, may outlive this one.
            return state;
        }
        while state.calling {
            state = self.idle.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state
    }

    /// Replaces the notifier (`None` removes it). On return the previous one is not running and
    /// will not be called again, except when called from inside a roomlink callback.
    /// `ENGINE_DESTROYED` once [`stop`](Self::stop) was called.
    pub(crate) fn replace(&self, notify: Option<ReadyNotifier>) -> Result<(), ErrorCode> {
        let mut state = self.lock();
        if state.stopped {
            return Err(ErrorCode::ENGINE_DESTROYED);
        }
        state.notify = notify;
        drop(self.wait_idle(state));
        Ok(())
    }

    /// Destroy: removes the notifier for good; as [`replace`](Self::replace) for a running call.
    pub(crate) fn stop(&self) {
        let mut state = self.lock();
        state.stopped = true;
        state.notify = None;
        drop(self.wait_idle(state));
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    /// One call of the current notifier, if any, with no lock held.
    fn call(&self) {
        let notify = {
            let mut state = self.lock();
            let Some(notify) = state.notify.clone() else {
                return;
            };
            state.calling = true;
            notify
        };
        // A panicking notifier must not end the notifications (or poison anything).
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| notify())).is_err() {
            log::error!("event-ready notifier panicked; continuing");
        }
        drop(notify);
        self.lock().calling = false;
        self.idle.notify_all();
    }
}

/// The notifier thread's body: one call per announcement, until the queue is closed.
pub(crate) fn run(queue: Arc<EventQueue>, ready: Arc<Ready>) {
    super::mark_callback_thread();
    while queue.wait_announce() {
        ready.call();
    }
    log::debug!("event-ready notifier stopped");
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;

    use super::*;

    fn counter() -> (ReadyNotifier, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        (
            Arc::new(move || {
                c.fetch_add(1, Ordering::SeqCst);
            }),
            calls,
        )
    }

    #[test]
    fn replace_waits_for_the_running_call_and_stop_refuses_later_notifiers() {
        let ready = Arc::new(Ready::default());
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let blocking: ReadyNotifier = Arc::new(move || {
            entered_tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
        });
        ready.replace(Some(blocking)).unwrap();
        let caller = {
            let ready = ready.clone();
            thread::spawn(move || ready.call())
        };
        entered_rx.recv().unwrap();
        // The call is running: replacing must wait for it to return.
        let replaced = {
            let ready = ready.clone();
            thread::spawn(move || {
                ready.replace(None).unwrap();
                ready.lock().calling
            })
        };
        release_tx.send(()).unwrap();
        assert!(
            !replaced.join().unwrap(),
            "replace returned while the call ran"
        );
        caller.join().unwrap();

        let (notify, calls) = counter();
        ready.replace(Some(notify.clone())).unwrap();
        ready.call();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        ready.stop();
        ready.call(); // stopped: nothing is called
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(ready.is_stopped());
        assert_eq!(
            ready.replace(Some(notify)),
            Err(ErrorCode::ENGINE_DESTROYED)
        );
    }

    #[test]
    fn the_thread_calls_once_per_announcement_and_ends_when_the_queue_closes() {
        let queue = Arc::new(EventQueue::default());
        let ready = Arc::new(Ready::default());
        let (tx, rx) = mpsc::channel();
        let (replace_tx, replace_rx) = mpsc::channel();
        let inner = ready.clone();
        let notify: ReadyNotifier = Arc::new(move || {
            // Replacing from inside the call works (it does not wait for itself).
            replace_tx.send(inner.replace(None)).unwrap();
            tx.send(()).unwrap();
        });
        ready.replace(Some(notify)).unwrap();
        let thread = {
            let (queue, ready) = (queue.clone(), ready.clone());
            thread::spawn(move || run(queue, ready))
        };
        queue.push(crate::Event::RoomOnlineUserCountUpdate {
            room_id: "r1".into(),
            count: 1,
        });
        rx.recv().unwrap();
        assert_eq!(replace_rx.recv().unwrap(), Ok(()));
        queue.close();
        thread.join().unwrap();
        // Removed from inside its only call: called exactly once.
        assert!(rx.try_recv().is_err());
    }
}
