//! The things a room holds: users and streams (stream metadata only; roomlink carries no media).

use serde::{Deserialize, Serialize};

/// A user as other members see them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct User {
    pub user_id: String,
    pub user_name: String,
}

impl User {
    pub fn new(user_id: impl Into<String>, user_name: impl Into<String>) -> Self {
        User {
            user_id: user_id.into(),
            user_name: user_name.into(),
        }
    }
}

/// A published stream's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StreamInfo {
    pub stream_id: String,
    /// The publisher.
    pub user: User,
    /// Free-form app data set by the publisher (≤ 1024 bytes).
    #[serde(default)]
    pub extra_info: String,
}

listed_enum! {
/// Whether an update adds or removes members. Numbered as ZEGO's `ZegoUpdateType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum UpdateType {
    /// Members were added.
    Add = 0,
    /// Members were removed.
    Delete = 1,
}
}

listed_enum! {
/// Why a stream went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum StreamDeleteReason {
    /// The publisher stopped publishing it.
    Stopped = 0,
    /// The publisher logged out of the room.
    UserLeft = 1,
    /// The publisher's session timed out (no heartbeat for the server's heartbeat timeout).
    UserTimedOut = 2,
    /// The publisher was kicked out.
    UserKicked = 3,
    /// The client's list was brought up to date after a reconnect; the stream ended while away.
    Resync = 4,
}
}
