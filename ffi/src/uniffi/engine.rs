//! The `Engine` object: one-line delegations to core's engine.

use std::sync::Arc;

use super::error::RoomlinkError;
use super::listener::{self, RoomEventListener};
use super::observe::{self, ObservationHandle, RoomStateObserver};
use super::types::{ConnectionState, EngineConfig, User};

/// A roomlink engine: one link to one server, any number of rooms (per its room mode). Safe to
/// use from any thread. Dropping it (Kotlin `close()`, Swift/Python releasing the last reference)
/// destroys it.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: roomlink::Engine,
}

type Result<T = ()> = std::result::Result<T, RoomlinkError>;

#[uniffi::export]
impl Engine {
    /// Starts an engine whose events go to `listener`. Fails with `InvalidArgument` (1900004) if
    /// `config` does not validate.
    #[uniffi::constructor]
    pub fn new(config: EngineConfig, listener: Arc<dyn RoomEventListener>) -> Result<Arc<Self>> {
        let config = roomlink::EngineConfig::try_from(config)?;
        let inner = roomlink::Engine::new(config, Some(listener::to_core(listener)))?;
        Ok(Arc::new(Engine { inner }))
    }

    /// Starts logging in: `Logining`, then `Logined` or `LoginFailed`. `user_update` receives
    /// other users' joins and leaves.
    pub fn login_room(
        &self,
        room_id: String,
        user: User,
        token: String,
        user_update: bool,
    ) -> Result {
        not_in_log_sink()?;
        let config = roomlink::RoomConfig { user_update };
        Ok(self.inner.login_room(&room_id, user, &token, config)?)
    }

    /// Logs out: `Logout` (or `LogoutFailed` 1002002, also returned, for a room not logged in).
    pub fn logout_room(&self, room_id: String) -> Result {
        not_in_log_sink()?;
        Ok(self.inner.logout_room(&room_id)?)
    }

    /// Logs out of `from_room_id` and in to `to_room_id` with the same user.
    pub fn switch_room(&self, from_room_id: String, to_room_id: String, token: String) -> Result {
        not_in_log_sink()?;
        Ok(self.inner.switch_room(&from_room_id, &to_room_id, &token)?)
    }

    pub fn renew_token(&self, room_id: String, token: String) -> Result {
        not_in_log_sink()?;
        Ok(self.inner.renew_token(&room_id, &token)?)
    }

    pub fn publish_stream(&self, room_id: String, stream_id: String, extra_info: String) -> Result {
        not_in_log_sink()?;
        Ok(self
            .inner
            .publish_stream(&room_id, &stream_id, &extra_info)?)
    }

    pub fn unpublish_stream(&self, room_id: String, stream_id: String) -> Result {
        not_in_log_sink()?;
        Ok(self.inner.unpublish_stream(&room_id, &stream_id)?)
    }

    /// The host's network availability hint: `true` retries at once, `false` reports the outage
    /// at once. Ignored after destroy.
    pub fn on_network_changed(&self, available: bool) {
        if crate::log_bridge::in_sink() {
            return; // see `LogSink`
        }
        self.inner.on_network_changed(available)
    }

    /// App-lifecycle hint: going to the background. An open link pings at once, so the server's
    /// heartbeat timeout counts from now; the link is kept. Ignored after destroy.
    pub fn on_app_background(&self) {
        if crate::log_bridge::in_sink() {
            return; // see `LogSink`
        }
        self.inner.on_app_background()
    }

    /// App-lifecycle hint: back in the foreground. Rooms past their retry window fail now, an
    /// open link is probed, a link waiting to reconnect retries at once. Ignored after destroy.
    pub fn on_app_foreground(&self) {
        if crate::log_bridge::in_sink() {
            return; // see `LogSink`
        }
        self.inner.on_app_foreground()
    }

    /// The engine's current state of a room (`Disconnected` for unknown rooms and after destroy).
    pub fn room_state(&self, room_id: String) -> ConnectionState {
        if crate::log_bridge::in_sink() {
            return ConnectionState::Disconnected; // see `LogSink`
        }
        self.inner.room_state(&room_id)
    }

    /// Calls `observer` with the room's current state, then with every change, right after the
    /// listener's `RoomStateChanged` for it. Keep the handle: `cancel()` or dropping it stops it.
    pub fn observe_room_state(
        &self,
        room_id: String,
        observer: Arc<dyn RoomStateObserver>,
    ) -> Arc<ObservationHandle> {
        let observed = self
            .inner
            .observe_room_state(&room_id, observe::to_core(observer));
        // Core refuses only pull-mode engines, and this engine has a listener.
        let observed = observed.inspect_err(|code| log::error!("cannot observe {room_id}: {code}"));
        ObservationHandle::new(observed.ok())
    }

    /// Logs out of every room (`Logout` events are delivered), stops the engine's threads.
    /// Idempotent; every later call fails with `InvalidState` 1900005. Safe inside a callback.
    /// (Kotlin: `destroyEngine()`, as Kotlin objects already have a `destroy()` that frees them.)
    pub fn destroy(&self) {
        if crate::log_bridge::in_sink() {
            return; // see `LogSink`
        }
        self.inner.destroy()
    }
}

/// Engine calls from inside a `LogSink` are refused: the record may come from code that holds the
/// engine's state lock on this very thread, so the call would deadlock.
fn not_in_log_sink() -> Result {
    if crate::log_bridge::in_sink() {
        return Err(roomlink::ErrorCode::CALLED_FROM_CALLBACK.into());
    }
    Ok(())
}
