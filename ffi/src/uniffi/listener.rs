//! The app's listener (a foreign trait) and the core handler that feeds it.

use std::sync::Arc;

use super::types::RoomEvent;

/// Receives every event of an engine, in order, on the engine's event thread
/// ("roomlink-events"). It may call any `Engine` method, `destroy` included.
#[uniffi::export(foreign)]
pub trait RoomEventListener: Send + Sync {
    fn on_event(&self, event: RoomEvent);
}

/// Core's handler for a foreign listener: converts each event. (Core's dispatcher catches a
/// throwing listener and tells the room-state observers after it.)
pub(crate) fn to_core(listener: Arc<dyn RoomEventListener>) -> Arc<dyn roomlink::EventHandler> {
    Arc::new(move |event: roomlink::Event| listener.on_event(event.into()))
}
