//! Room-state observation for foreign code: the foreign observer trait and the handle object.
//! The semantics (current state first, each change right after the listener's
//! `RoomStateChanged`, no gap, no duplicate, no lock held while the observer runs) are core's:
//! see `roomlink::engine::observe`.

use std::sync::Arc;

use super::types::ConnectionState;

/// Receives a room's connection state (see `Engine::observe_room_state`).
#[uniffi::export(foreign)]
pub trait RoomStateObserver: Send + Sync {
    fn on_state(&self, state: ConnectionState);
}

/// Core's observer for a foreign one: converts each state.
pub(crate) fn to_core(
    observer: Arc<dyn RoomStateObserver>,
) -> Arc<dyn roomlink::RoomStateObserver> {
    Arc::new(move |state: roomlink::ConnectionState| observer.on_state(state))
}

/// Keeps an observation alive: `cancel()` or dropping it stops delivery (a call already running
/// on another thread finishes; none starts after).
#[derive(uniffi::Object)]
pub struct ObservationHandle {
    /// `None` only if core refused the observation, which it does for pull-mode engines alone;
    /// UniFFI engines always have a listener, so this is a guard, not a case.
    inner: Option<roomlink::ObservationHandle>,
}

impl ObservationHandle {
    pub(crate) fn new(inner: Option<roomlink::ObservationHandle>) -> Arc<Self> {
        Arc::new(ObservationHandle { inner })
    }
}

#[uniffi::export]
impl ObservationHandle {
    /// Stops delivery. Idempotent.
    pub fn cancel(&self) {
        if let Some(inner) = &self.inner {
            inner.cancel();
        }
    }
}
