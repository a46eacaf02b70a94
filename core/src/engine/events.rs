//! The event queue between the machine and the app, and the dispatcher thread that empties it
//! into the app's handler.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::event::Event;

/// Receives the engine's events, in order, on the engine's dispatcher thread ("roomlink-events").
/// It may call any `Engine` method, including `destroy`.
pub trait EventHandler: Send + Sync + 'static {
    fn on_event(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync + 'static> EventHandler for F {
    fn on_event(&self, event: Event) {
        self(event)
    }
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Event>,
    /// Set by destroy: no more events will be pushed; waiters stop waiting once the queue is empty.
    closed: bool,
}

/// A FIFO of events with a condition variable for blocking readers.
#[derive(Default)]
pub(crate) struct EventQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
}

impl EventQueue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Only plain pushes and pops happen under this lock; a poisoned one still holds a valid queue.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, event: Event) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.queue.push_back(event);
        drop(inner);
        self.ready.notify_one();
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    pub(crate) fn try_pop(&self) -> Option<Event> {
        self.lock().queue.pop_front()
    }

    /// Waits up to `timeout` for an event; returns `None` at once when the queue is closed and empty.
    pub(crate) fn pop_timeout(&self, timeout: Duration) -> Option<Event> {
        // A timeout too large to add to now is as good as none.
        self.pop_until(Instant::now().checked_add(timeout))
    }

    /// Waits until `deadline` (or without limit) for an event; `None` once closed and empty.
    fn pop_until(&self, deadline: Option<Instant>) -> Option<Event> {
        let mut inner = self.lock();
        loop {
            if let Some(event) = inner.queue.pop_front() {
                return Some(event);
            }
            if inner.closed {
                return None;
            }
            inner = match deadline {
                Some(deadline) => {
                    let left = deadline.checked_duration_since(Instant::now())?;
                    self.ready
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.ready.wait(inner).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// The dispatcher thread's body: deliver every event, in order, with no lock held, until the queue
/// is closed and drained. Events queued before `destroy` (including its Logout events) are delivered.
pub(crate) fn dispatch(queue: Arc<EventQueue>, handler: Arc<dyn EventHandler>) {
    while let Some(event) = queue.pop_until(None) {
        // A panicking handler must not kill delivery of later events (or poison anything).
        let handler = &handler;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.on_event(event)))
            .is_err()
        {
            log::error!("event handler panicked; continuing with the next event");
        }
    }
    log::debug!("event dispatcher stopped");
}
