//! The app's listener (a foreign trait) and the core handler that feeds it.

use std::sync::Arc;

use super::observe::RoomStates;
use super::types::RoomEvent;

/// Receives every event of an engine, in order, on the engine's event thread
/// ("roomlink-events"). It may call any `Engine` method, `destroy` included.
#[uniffi::export(foreign)]
pub trait RoomEventListener: Send + Sync {
    fn on_event(&self, event: RoomEvent);
}

/// Core's handler for an engine created through UniFFI: converts each event, hands it to the
/// listener, then tells the room's state observers.
pub(crate) struct Forwarder {
    pub(crate) listener: Arc<dyn RoomEventListener>,
    pub(crate) states: Arc<RoomStates>,
}

impl roomlink::EventHandler for Forwarder {
    fn on_event(&self, event: roomlink::Event) {
        let change = match &event {
            roomlink::Event::RoomStateChanged {
                room_id, reason, ..
            } => self.states.record(room_id, *reason),
            _ => None,
        };
        let listener = &self.listener;
        let call = || listener.on_event(event.into());
        // Caught here rather than by core's dispatcher so the observers still hear of the change.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).is_err() {
            log::error!("the room event listener panicked; continuing with the next event");
        }
        if let Some(change) = change {
            RoomStates::notify(change);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use roomlink::{ErrorCode, Event, EventHandler, RoomStateChangedReason};

    use super::*;
    use crate::uniffi::observe::RoomStateObserver;
    use crate::uniffi::types::ConnectionState;

    /// Throws (a foreign exception reaches Rust as a panic) on every event.
    struct Throwing;

    impl RoomEventListener for Throwing {
        fn on_event(&self, _event: RoomEvent) {
            panic!("the app's listener threw");
        }
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<ConnectionState>>);

    impl RoomStateObserver for Recorder {
        fn on_state(&self, state: ConnectionState) {
            self.0.lock().unwrap().push(state);
        }
    }

    #[test]
    fn observers_hear_of_a_change_even_when_the_listener_throws() {
        let states = Arc::new(RoomStates::default());
        let forwarder = Forwarder {
            listener: Arc::new(Throwing),
            states: states.clone(),
        };
        let recorder = Arc::new(Recorder::default());
        let _handle = states.observe("r1".into(), recorder.clone());
        forwarder.on_event(Event::RoomStateChanged {
            room_id: "r1".into(),
            reason: RoomStateChangedReason::Logining,
            error_code: ErrorCode::OK,
            extended_data: Default::default(),
        });
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [ConnectionState::Disconnected, ConnectionState::Connecting]
        );
    }
}
