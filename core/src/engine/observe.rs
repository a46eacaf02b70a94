//! Room-state observation ([`Engine::observe_room_state`](super::Engine::observe_room_state)):
//! an observer gets a room's current state first, then every change, with no gap and no
//! duplicate (matrix-rust-sdk's subscription shape; the returned [`ObservationHandle`] cancels on
//! [`cancel`](ObservationHandle::cancel) or when dropped, like its `TaskHandle`).
//!
//! "Current" means *as of the events the handler has been given*, not the machine's state
//! ([`Engine::room_state`](super::Engine::room_state)), which runs ahead of delivery: so an
//! observer never reports a state whose event the handler has not seen yet, and each change is
//! reported right after the handler's `RoomStateChanged` for it (the dispatcher records the
//! change, calls the handler, then notifies — even when the handler panicked). `LogoutFailed`
//! changes no state and is not reported, nor is a reason that leaves the state as it was.
//!
//! Each observation has a small queue that one thread at a time empties ("whoever finds it idle
//! delivers"): no lock is held while an observer runs, so it may cancel itself, observe again or
//! destroy the engine from inside `on_state` without deadlock. Changes normally run on the
//! engine's event thread; the first (current) state runs on the thread that called
//! `observe_room_state`, and so does a change that arrives while that first call still runs (the
//! event thread hands it over and goes on).
//!
//! Pull-mode engines (no handler) have no handler call to follow: there observation fails with
//! `INVALID_ARGUMENT`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::event::Event;
use crate::reason::ConnectionState;

/// Receives a room's connection state (see
/// [`Engine::observe_room_state`](super::Engine::observe_room_state)). Closures
/// `Fn(ConnectionState)` implement it.
pub trait RoomStateObserver: Send + Sync + 'static {
    fn on_state(&self, state: ConnectionState);
}

impl<F: Fn(ConnectionState) + Send + Sync + 'static> RoomStateObserver for F {
    fn on_state(&self, state: ConnectionState) {
        self(state)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only plain data is changed under these locks (never an observer's code), so a poisoned one
    // still holds consistent data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<ConnectionState>,
    /// A thread is delivering; it will also deliver what is pushed meanwhile.
    busy: bool,
    cancelled: bool,
}

/// One observer of one room.
struct Observation {
    room_id: String,
    observer: Arc<dyn RoomStateObserver>,
    queue: Mutex<Queue>,
}

impl Observation {
    fn push(&self, state: ConnectionState) {
        let mut queue = lock(&self.queue);
        if !queue.cancelled {
            queue.pending.push_back(state);
        }
    }

    /// Delivers everything pending, in order, unless another thread already is.
    fn drain(&self) {
        {
            let mut queue = lock(&self.queue);
            if queue.busy {
                return;
            }
            queue.busy = true;
        }
        loop {
            let state = {
                let mut queue = lock(&self.queue);
                match queue.pending.pop_front() {
                    Some(state) if !queue.cancelled => state,
                    _ => {
                        queue.pending.clear();
                        queue.busy = false;
                        return;
                    }
                }
            };
            let observer = &self.observer;
            let call = || observer.on_state(state);
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).is_err() {
                log::error!("a room state observer panicked; it keeps receiving changes");
            }
        }
    }

    fn cancel(&self) {
        let mut queue = lock(&self.queue);
        queue.cancelled = true;
        queue.pending.clear();
    }
}

#[derive(Default)]
struct Inner {
    /// Per room, the state after the last event given to the handler. Rooms back in the default
    /// state (`Disconnected`) are removed, so this holds only rooms the app is in.
    delivered: HashMap<String, ConnectionState>,
    next_id: u64,
    observations: HashMap<u64, Arc<Observation>>,
}

/// The delivered state of every room, and the observers of it. One per engine with a handler,
/// shared by the dispatcher (which reports events) and the engine (which adds observers).
#[derive(Default)]
pub(crate) struct RoomStates {
    inner: Mutex<Inner>,
}

/// What the dispatcher does for one state change, in two halves around the handler's call.
pub(crate) struct Change {
    state: ConnectionState,
    observations: Vec<Arc<Observation>>,
}

impl Change {
    /// After the handler has seen the event: tells the room's observers.
    pub(crate) fn notify(self) {
        for observation in self.observations {
            observation.push(self.state);
            observation.drain();
        }
    }
}

impl RoomStates {
    /// Before the handler sees `event`: records the room's new state. `None` when the event is
    /// not a state change, its reason changes no state, or the state is the one already delivered.
    pub(crate) fn record(&self, event: &Event) -> Option<Change> {
        let Event::RoomStateChanged {
            room_id, reason, ..
        } = event
        else {
            return None;
        };
        let state = reason.connection_state()?;
        let mut inner = lock(&self.inner);
        let before =
            (inner.delivered.get(room_id).copied()).unwrap_or(ConnectionState::Disconnected);
        if before == state {
            return None;
        }
        if state == ConnectionState::Disconnected {
            inner.delivered.remove(room_id);
        } else {
            inner.delivered.insert(room_id.clone(), state);
        }
        // Taken under the same lock as the state: an observer added from now on reads the new
        // state as its first, and is not in this list, so it gets no duplicate.
        let observations = (inner.observations.values())
            .filter(|o| o.room_id == *room_id)
            .cloned()
            .collect();
        Some(Change {
            state,
            observations,
        })
    }

    /// Adds an observer: it gets the current state now (on this thread), then every change.
    pub(crate) fn observe(
        self: &Arc<Self>,
        room_id: &str,
        observer: Arc<dyn RoomStateObserver>,
    ) -> ObservationHandle {
        let (id, observation) = {
            let mut inner = lock(&self.inner);
            let current =
                (inner.delivered.get(room_id).copied()).unwrap_or(ConnectionState::Disconnected);
            let observation = Arc::new(Observation {
                room_id: room_id.to_owned(),
                observer,
                queue: Mutex::new(Queue {
                    pending: VecDeque::from([current]),
                    ..Queue::default()
                }),
            });
            inner.next_id += 1;
            let id = inner.next_id;
            inner.observations.insert(id, observation.clone());
            (id, observation)
        };
        observation.drain();
        ObservationHandle {
            states: Arc::downgrade(self),
            id,
            observation,
        }
    }

    fn remove(&self, id: u64) {
        lock(&self.inner).observations.remove(&id);
    }

    #[cfg(test)]
    fn observer_count(&self) -> usize {
        lock(&self.inner).observations.len()
    }
}

/// Keeps an observation alive: [`cancel`](Self::cancel) or dropping it stops delivery (a call
/// already running on another thread finishes; none starts after).
#[must_use = "dropping the handle cancels the observation"]
pub struct ObservationHandle {
    states: Weak<RoomStates>,
    id: u64,
    observation: Arc<Observation>,
}

impl std::fmt::Debug for ObservationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservationHandle")
            .field("room_id", &self.observation.room_id)
            .finish_non_exhaustive()
    }
}

impl ObservationHandle {
    /// Stops delivery. Idempotent; safe from inside the observer itself.
    pub fn cancel(&self) {
        self.observation.cancel();
        if let Some(states) = self.states.upgrade() {
            states.remove(self.id);
        }
    }
}

impl Drop for ObservationHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::ConnectionState as S;
    use super::*;
    use crate::reason::RoomStateChangedReason as R;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<S>>);

    impl RoomStateObserver for Recorder {
        fn on_state(&self, state: S) {
            lock(&self.0).push(state);
        }
    }

    impl Recorder {
        fn seen(&self) -> Vec<S> {
            lock(&self.0).clone()
        }
    }

    fn event(room: &str, reason: R) -> Event {
        Event::RoomStateChanged {
            room_id: room.into(),
            reason,
            error_code: crate::ErrorCode::OK,
            extended_data: Default::default(),
        }
    }

    /// What the dispatcher does around the handler for one event.
    fn deliver(states: &RoomStates, room: &str, reason: R) {
        if let Some(change) = states.record(&event(room, reason)) {
            change.notify();
        }
    }

    fn observe(states: &Arc<RoomStates>, room: &str) -> (Arc<Recorder>, ObservationHandle) {
        let recorder = Arc::new(Recorder::default());
        let handle = states.observe(room, recorder.clone());
        (recorder, handle)
    }

    #[test]
    fn the_current_state_comes_first_then_every_change_of_that_room() {
        let states = Arc::new(RoomStates::default());
        deliver(&states, "r1", R::Logining);
        let (r1, _h1) = observe(&states, "r1");
        let (r2, _h2) = observe(&states, "r2");
        assert_eq!(r1.seen(), [S::Connecting]);
        for reason in [
            R::Logined,
            R::Reconnecting,
            R::Reconnected,
            R::LogoutFailed, // changes no state
            R::Logout,
        ] {
            deliver(&states, "r1", reason);
        }
        assert_eq!(
            r1.seen(),
            [
                S::Connecting,
                S::Connected,
                S::Reconnecting,
                S::Connected,
                S::Disconnected
            ]
        );
        assert_eq!(r2.seen(), [S::Disconnected]);
    }

    #[test]
    fn a_reason_that_leaves_the_state_as_it_was_is_not_reported() {
        let states = Arc::new(RoomStates::default());
        let (seen, _handle) = observe(&states, "r1");
        assert!(states.record(&event("r1", R::Logout)).is_none());
        deliver(&states, "r1", R::Logining);
        deliver(&states, "r1", R::KickOut);
        assert!(states.record(&event("r1", R::Logout)).is_none());
        assert_eq!(
            seen.seen(),
            [S::Disconnected, S::Connecting, S::Disconnected]
        );
    }

    #[test]
    fn events_other_than_state_changes_are_not_recorded() {
        let states = Arc::new(RoomStates::default());
        let (seen, _handle) = observe(&states, "r1");
        let count = Event::RoomOnlineUserCountUpdate {
            room_id: "r1".into(),
            count: 3,
        };
        assert!(states.record(&count).is_none());
        assert_eq!(seen.seen(), [S::Disconnected]);
    }

    #[test]
    fn an_observer_added_while_a_change_is_in_flight_gets_it_once() {
        let states = Arc::new(RoomStates::default());
        let (early, _h1) = observe(&states, "r1");
        // The dispatcher recorded the change and is calling the handler when `late` arrives.
        let change = states.record(&event("r1", R::Logining)).unwrap();
        let (late, _h2) = observe(&states, "r1");
        change.notify();
        assert_eq!(early.seen(), [S::Disconnected, S::Connecting]);
        assert_eq!(late.seen(), [S::Connecting]);
    }

    #[test]
    fn cancel_and_drop_stop_delivery_and_forget_the_observer() {
        let states = Arc::new(RoomStates::default());
        let (cancelled, handle) = observe(&states, "r1");
        let (dropped, dropped_handle) = observe(&states, "r1");
        let (kept, _kept_handle) = observe(&states, "r1");
        handle.cancel();
        handle.cancel(); // idempotent
        drop(dropped_handle);
        assert_eq!(states.observer_count(), 1);
        deliver(&states, "r1", R::Logining);
        assert_eq!(cancelled.seen(), [S::Disconnected]);
        assert_eq!(dropped.seen(), [S::Disconnected]);
        assert_eq!(kept.seen(), [S::Disconnected, S::Connecting]);
    }

    #[test]
    fn a_panicking_observer_keeps_receiving_changes() {
        let states = Arc::new(RoomStates::default());
        let seen = Arc::new(Recorder::default());
        let observer = {
            let seen = seen.clone();
            move |state: S| {
                seen.on_state(state);
                panic!("the observer throws");
            }
        };
        let _handle = states.observe("r1", Arc::new(observer));
        deliver(&states, "r1", R::Logining);
        assert_eq!(seen.seen(), [S::Disconnected, S::Connecting]);
    }

    /// Cancels its own handle on `Connected` and observes another room from inside `on_state`:
    /// no lock is held while it runs, so neither deadlocks.
    struct Reentrant {
        states: Arc<RoomStates>,
        own: OnceLock<ObservationHandle>,
        other: Mutex<Vec<ObservationHandle>>,
        seen: Recorder,
    }

    impl RoomStateObserver for Reentrant {
        fn on_state(&self, state: S) {
            self.seen.on_state(state);
            if state == S::Connected {
                self.own.get().expect("handle stored").cancel();
                let other = self.states.observe("r2", Arc::new(Recorder::default()));
                lock(&self.other).push(other);
            }
        }
    }

    #[test]
    fn an_observer_may_cancel_itself_and_observe_again_from_inside_on_state() {
        let states = Arc::new(RoomStates::default());
        let observer = Arc::new(Reentrant {
            states: states.clone(),
            own: OnceLock::new(),
            other: Mutex::default(),
            seen: Recorder::default(),
        });
        let handle = states.observe("r1", observer.clone());
        assert!(observer.own.set(handle).is_ok());
        for reason in [R::Logining, R::Logined, R::Logout] {
            deliver(&states, "r1", reason);
        }
        assert_eq!(
            observer.seen.seen(),
            [S::Disconnected, S::Connecting, S::Connected]
        );
        assert_eq!(lock(&observer.other).len(), 1);
        assert_eq!(states.observer_count(), 1); // the r2 observer only
    }

    /// Its first call blocks until the test lets it go.
    struct SlowFirst {
        entered: Mutex<mpsc::Sender<()>>,
        go: Mutex<mpsc::Receiver<()>>,
        seen: Recorder,
    }

    impl RoomStateObserver for SlowFirst {
        fn on_state(&self, state: S) {
            if self.seen.seen().is_empty() {
                lock(&self.entered).send(()).unwrap();
                lock(&self.go)
                    .recv_timeout(Duration::from_secs(10))
                    .unwrap();
            }
            self.seen.on_state(state);
        }
    }

    #[test]
    fn a_change_during_the_first_call_waits_for_it_without_blocking_the_event_thread() {
        let states = Arc::new(RoomStates::default());
        let (entered_tx, entered) = mpsc::channel();
        let (go, go_rx) = mpsc::channel();
        let observer = Arc::new(SlowFirst {
            entered: Mutex::new(entered_tx),
            go: Mutex::new(go_rx),
            seen: Recorder::default(),
        });
        let observing = std::thread::spawn({
            let (states, observer) = (states.clone(), observer.clone());
            move || states.observe("r1", observer)
        });
        entered.recv_timeout(Duration::from_secs(10)).unwrap();
        // The "event thread" hands the change over and returns while the first call still runs.
        deliver(&states, "r1", R::Logining);
        assert!(observer.seen.seen().is_empty());
        go.send(()).unwrap();
        let _handle = observing.join().unwrap();
        assert_eq!(observer.seen.seen(), [S::Disconnected, S::Connecting]);
    }
}
