//! The event queue between the machine and the app, and the dispatcher thread that empties it
//! into the app's handler.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::observe::RoomStates;
use crate::event::Event;
use crate::reason::RoomStateChangedReason;

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
    /// The queue went from empty to non-empty and [`EventQueue::wait_announce`] has not reported
    /// it yet (pull mode's "events are ready" notification, `super::ready`).
    announce: bool,
}

/// A FIFO of events with a condition variable for blocking readers.
#[derive(Default)]
pub(crate) struct EventQueue {
    inner: Mutex<Inner>,
    ready: Condvar,
    /// Wakes the notifier thread (pull mode) when `announce` is set or the queue closes.
    edge: Condvar,
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
        // Measured before the Logout pruning below: a queue that held anything had its
        // announcement made (or pending) already, and the reader it woke drains until empty.
        let was_empty = inner.queue.is_empty();
        if let Event::RoomStateChanged {
            room_id,
            reason: RoomStateChangedReason::Logout,
            ..
        } = &event
        {
            // The app has left the room (logout, switch, destroy; possibly from inside a callback
            // while updates of that room were still queued). Updates it has not been given yet
            // describe a room it is no longer in: drop them, so `Logout` is the last word on the
            // room. State changes are never dropped: every call's `Logining` is still reported.
            inner
                .queue
                .retain(|queued| is_state_change(queued) || queued.room_id() != room_id);
        }
        inner.queue.push_back(event);
        inner.announce |= was_empty;
        drop(inner);
        self.ready.notify_one();
        if was_empty {
            self.edge.notify_all();
        }
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
        self.edge.notify_all();
    }

    pub(crate) fn try_pop(&self) -> Option<Event> {
        self.lock().queue.pop_front()
    }

    /// Closed (no event will be pushed again) and empty: every reader has seen the last event.
    pub(crate) fn is_finished(&self) -> bool {
        let inner = self.lock();
        inner.closed && inner.queue.is_empty()
    }

    /// Resets the announcement to the queue's current content: pending if events wait (as though
    /// they had just arrived), not pending if it is empty (an announcement made while nobody
    /// listened, then drained, is stale). For a notifier that starts or is replaced.
    pub(crate) fn reannounce(&self) {
        let mut inner = self.lock();
        inner.announce = !inner.queue.is_empty();
        let pending = inner.announce;
        drop(inner);
        if pending {
            self.edge.notify_all();
        }
    }

    /// Blocks until the queue has gone from empty to non-empty since the last call (true; the
    /// changes in between are reported once), or until it is closed with nothing left to
    /// announce (false).
    pub(crate) fn wait_announce(&self) -> bool {
        let mut inner = self.lock();
        loop {
            if inner.announce {
                inner.announce = false;
                return true;
            }
            if inner.closed {
                return false;
            }
            inner = self.edge.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
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

fn is_state_change(event: &Event) -> bool {
    matches!(event, Event::RoomStateChanged { .. })
}

/// The dispatcher thread's body: deliver every event, in order, with no lock held, until the queue
/// is closed and drained. Events queued before `destroy` (including its Logout events) are delivered.
/// A state change is recorded before the handler's call and told to the room's observers after it.
pub(crate) fn dispatch(
    queue: Arc<EventQueue>,
    handler: Arc<dyn EventHandler>,
    room_states: Arc<RoomStates>,
) {
    super::mark_callback_thread();
    while let Some(event) = queue.pop_until(None) {
        let change = room_states.record(&event);
        // A panicking handler must not kill delivery of later events (or poison anything), and
        // the observers still hear of the change.
        let handler = &handler;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.on_event(event)))
            .is_err()
        {
            log::error!("event handler panicked; continuing with the next event");
        }
        if let Some(change) = change {
            change.notify();
        }
    }
    log::debug!("event dispatcher stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{UpdateType, User};
    use crate::reason::RoomStateChangedReason as R;

    fn state(room: &str, reason: R) -> Event {
        Event::RoomStateChanged {
            room_id: room.into(),
            reason,
            error_code: crate::ErrorCode::OK,
            extended_data: Default::default(),
        }
    }

    fn add(room: &str, user: &str) -> Event {
        Event::RoomUserUpdate {
            room_id: room.into(),
            update_type: UpdateType::Add,
            users: vec![User::new(user, user)],
        }
    }

    fn count(room: &str, count: u32) -> Event {
        Event::RoomOnlineUserCountUpdate {
            room_id: room.into(),
            count,
        }
    }

    fn drain(queue: &EventQueue) -> Vec<Event> {
        std::iter::from_fn(|| queue.try_pop()).collect()
    }

    #[test]
    fn logout_drops_undelivered_updates_of_that_room_only() {
        let queue = EventQueue::default();
        for event in [
            state("r1", R::Logining),
            state("r1", R::Logined),
            add("r1", "bob"),
            count("r1", 2),
            add("r2", "carol"),
            state("r1", R::Logout),
        ] {
            queue.push(event);
        }
        assert_eq!(
            drain(&queue),
            vec![
                state("r1", R::Logining),
                state("r1", R::Logined),
                add("r2", "carol"),
                state("r1", R::Logout),
            ]
        );
    }

    #[test]
    fn an_announcement_marks_each_change_from_empty_to_not_empty_once() {
        let queue = EventQueue::default();
        queue.push(add("r1", "bob"));
        queue.push(add("r1", "carol")); // not empty before: no second announcement
        assert!(queue.wait_announce());
        queue.push(count("r1", 3)); // still not empty: nothing new to announce
        assert_eq!(drain(&queue).len(), 3);
        queue.push(count("r1", 4)); // empty before: announced
        queue.push(state("r1", R::Logout)); // prunes the count, was not empty: not announced
        assert!(queue.wait_announce());
        queue.reannounce(); // the Logout waits: announced again
        assert!(queue.wait_announce());
        assert!(!queue.is_finished());
        queue.close();
        assert!(
            !queue.is_finished(),
            "closed, but the Logout is still to be taken"
        );
        assert!(!queue.wait_announce(), "closed with nothing to announce");
        assert_eq!(queue.try_pop(), Some(state("r1", R::Logout)));
        assert!(queue.is_finished());
        queue.push(count("r1", 5)); // after close: dropped, not announced
        assert!(queue.is_finished());
        assert!(!queue.wait_announce());
    }

    #[test]
    fn reannouncing_an_empty_queue_withdraws_a_stale_announcement() {
        let queue = EventQueue::default();
        queue.push(count("r1", 1)); // announced, but nobody waits for announcements yet
        assert_eq!(drain(&queue).len(), 1);
        queue.reannounce();
        queue.close();
        assert!(
            !queue.wait_announce(),
            "nothing is waiting: no announcement"
        );
    }

    #[test]
    fn a_blocked_announcement_wait_wakes_for_a_push_and_for_close() {
        let queue = Arc::new(EventQueue::default());
        let waiter = {
            let queue = queue.clone();
            std::thread::spawn(move || (queue.wait_announce(), queue.wait_announce()))
        };
        queue.push(count("r1", 1));
        queue.close();
        // The first wait reports the push (however the two calls interleave with the waiter),
        // the second returns false once closed.
        assert_eq!(waiter.join().unwrap(), (true, false));
    }

    #[test]
    fn updates_after_the_logout_and_delivered_ones_are_kept() {
        let queue = EventQueue::default();
        queue.push(add("r1", "bob"));
        assert_eq!(queue.try_pop(), Some(add("r1", "bob")));
        queue.push(state("r1", R::Logout));
        queue.push(state("r1", R::Logining));
        queue.push(count("r1", 1));
        queue.push(state("r1", R::KickOut));
        assert_eq!(
            drain(&queue),
            vec![
                state("r1", R::Logout),
                state("r1", R::Logining),
                count("r1", 1),
                state("r1", R::KickOut),
            ]
        );
    }
}
