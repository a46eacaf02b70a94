//! What the engine tells the app. Every binding maps these one to one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::model::{StreamDeleteReason, StreamInfo, UpdateType, User};
use crate::reason::RoomStateChangedReason;

/// Keys used in [`Event::RoomStateChanged::extended_data`]; stable across versions.
pub mod extended_keys {
    /// On `Logined`/`Reconnected`: the server's ID for this room session (changes if the room is
    /// closed and re-created).
    pub const ROOM_SESSION_ID: &str = "room_session_id";
    /// On `KickOut`: the admin's custom reason (may be empty).
    pub const CUSTOM_KICKOUT_MESSAGE: &str = "custom_kickout_message";
    /// On `Reconnected`: how the room's lists were brought up to date, one of
    /// [`reconnect_kind`]'s values.
    pub const RECONNECT_KIND: &str = "reconnect_kind";
    /// On `Reconnected`: how many connections the engine opened for this room since the outage
    /// began, the one that brought it back included (`"1"`: the first try worked; `"0"`: it came
    /// back on the link it already had, after the server moved its session away), in decimal.
    pub const RECONNECT_ATTEMPTS: &str = "reconnect_attempts";
}

/// The values of [`extended_keys::RECONNECT_KIND`]; stable across versions.
pub mod reconnect_kind {
    /// The session was resumed and the events missed were replayed: nothing was missed, and the
    /// others saw nothing.
    pub const RESUMED: &str = "resumed";
    /// The session was resumed, but the server no longer held every missed event: the lists were
    /// reconciled with a snapshot (the others saw nothing).
    pub const RESYNCED: &str = "resynced";
    /// The session had expired (the server's heartbeat timeout): a fresh login, and the others saw
    /// the user leave and come back. The lists were reconciled with a snapshot.
    pub const REJOINED: &str = "rejoined";
}

/// An event for the app. Delivered in order, per engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// ZEGO's `onRoomStateChanged`.
    RoomStateChanged {
        room_id: String,
        reason: RoomStateChangedReason,
        error_code: ErrorCode,
        /// Sorted string keys: see [`extended_keys`].
        extended_data: BTreeMap<String, String>,
    },
    /// Other users joined or left. Never includes the local user. `users` is sorted by user ID.
    RoomUserUpdate {
        room_id: String,
        update_type: UpdateType,
        users: Vec<User>,
    },
    /// The number of users in the room, the local user included.
    RoomOnlineUserCountUpdate { room_id: String, count: u32 },
    /// Other users' streams were added or removed. `reason` is set for `Delete` only.
    RoomStreamUpdate {
        room_id: String,
        update_type: UpdateType,
        streams: Vec<StreamInfo>,
        reason: Option<StreamDeleteReason>,
    },
    /// The room's token expires in `remaining_seconds`; call `renew_token` or be kicked (1002056).
    RoomTokenWillExpire {
        room_id: String,
        remaining_seconds: u32,
    },
}

impl Event {
    pub fn room_id(&self) -> &str {
        match self {
            Event::RoomStateChanged { room_id, .. }
            | Event::RoomUserUpdate { room_id, .. }
            | Event::RoomOnlineUserCountUpdate { room_id, .. }
            | Event::RoomStreamUpdate { room_id, .. }
            | Event::RoomTokenWillExpire { room_id, .. } => room_id,
        }
    }
}
