//! Room-state observation: an observer gets a room's current state first, then every change,
//! with no gap and no duplicate (matrix-rust-sdk's subscription shape; the returned handle cancels
//! on `cancel()` or when dropped, like its `TaskHandle`).
//!
//! "Current" means *as of the events the listener has been given*, not the engine's internal
//! state, which runs ahead of delivery: so the observer never reports a state whose event the
//! listener has not seen yet, and each change is reported right after the listener's
//! `RoomStateChanged`. `LogoutFailed` changes no state and is not reported.
//!
//! Each observation has a small queue that one thread at a time empties ("whoever finds it idle
//! delivers"): no lock is held while foreign code runs, so an observer may cancel itself, observe
//! again or destroy the engine from inside `on_state` without deadlock. Changes normally run on
//! the engine's event thread; the first (current) state runs on the thread that called
//! `observe_room_state`, and so does a change that arrives while that first call is still running.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use roomlink::ConnectionState as CoreState;

use super::types::ConnectionState;

/// Receives a room's connection state (see `Engine::observe_room_state`).
#[uniffi::export(foreign)]
pub trait RoomStateObserver: Send + Sync {
    fn on_state(&self, state: ConnectionState);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only plain data is changed under these locks (never foreign code), so a poisoned one still
    // holds consistent data.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Queue {
    pending: VecDeque<CoreState>,
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
    fn push(&self, state: CoreState) {
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
            let call = || observer.on_state(state.into());
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
    /// Per room, the state after the last event given to the listener. Rooms back in the default
    /// state (`Disconnected`) are removed, so this holds only rooms the app is in.
    delivered: HashMap<String, CoreState>,
    next_id: u64,
    observations: HashMap<u64, Arc<Observation>>,
}

/// The delivered state of every room, and the observers of it. One per engine, shared by the
/// listener forwarder (which reports events) and the engine object (which adds observers).
#[derive(Default)]
pub(crate) struct RoomStates {
    inner: Mutex<Inner>,
}

/// What the forwarder does for one state change, in two halves around the listener's call.
pub(crate) struct Change {
    state: CoreState,
    observations: Vec<Arc<Observation>>,
}

impl RoomStates {
    /// Before the listener sees the event: records the room's new state (`None` when `reason`
    /// changes no state, or the state is the one already delivered).
    pub(crate) fn record(
        &self,
        room_id: &str,
        reason: roomlink::RoomStateChangedReason,
    ) -> Option<Change> {
        let state = reason.connection_state()?;
        let mut inner = lock(&self.inner);
        let before = inner
            .delivered
            .get(room_id)
            .copied()
            .unwrap_or(CoreState::Disconnected);
        if before == state {
            return None;
        }
        if state == CoreState::Disconnected {
            inner.delivered.remove(room_id);
        } else {
            inner.delivered.insert(room_id.to_owned(), state);
        }
        // Taken under the same lock as the state: an observer added from now on reads the new
        // state as its first, and is not in this list, so it gets no duplicate.
        let observations = (inner.observations.values())
            .filter(|o| o.room_id == room_id)
            .cloned()
            .collect();
        Some(Change {
            state,
            observations,
        })
    }

    /// After the listener has seen the event: tells the observers.
    pub(crate) fn notify(change: Change) {
        for observation in change.observations {
            observation.push(change.state);
            observation.drain();
        }
    }

    /// Adds an observer: it gets the current state now (on this thread), then every change.
    pub(crate) fn observe(
        self: &Arc<Self>,
        room_id: String,
        observer: Arc<dyn RoomStateObserver>,
    ) -> Arc<ObservationHandle> {
        let observation = {
            let mut inner = lock(&self.inner);
            let current =
                (inner.delivered.get(&room_id).copied()).unwrap_or(CoreState::Disconnected);
            let observation = Arc::new(Observation {
                room_id,
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
        let (id, observation) = observation;
        observation.drain();
        Arc::new(ObservationHandle {
            states: Arc::downgrade(self),
            id,
            observation,
        })
    }

    fn remove(&self, id: u64) {
        lock(&self.inner).observations.remove(&id);
    }

    #[cfg(test)]
    pub(crate) fn observer_count(&self) -> usize {
        lock(&self.inner).observations.len()
    }
}

/// Keeps an observation alive: `cancel()` or dropping it stops delivery (a call already running
/// on another thread finishes; none starts after).
#[derive(uniffi::Object)]
pub struct ObservationHandle {
    states: Weak<RoomStates>,
    id: u64,
    observation: Arc<Observation>,
}

#[uniffi::export]
impl ObservationHandle {
    /// Stops delivery. Idempotent.
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
