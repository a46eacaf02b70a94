//! Rooms as the admin API shows them.

use roomlink_proto::{StreamInfo, User};
use serde::Serialize;

/// A room as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    pub room_id: String,
    pub room_session_id: String,
    /// Sorted by user ID.
    pub users: Vec<User>,
    /// Sorted by stream ID.
    pub streams: Vec<StreamInfo>,
}
