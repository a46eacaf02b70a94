//! The room connection state as apps see it: ZEGO's reasons, and the coarse state NERTC/Agora report.

use serde::{Deserialize, Serialize};

listed_enum! {
/// Why a room's connection state changed. The ordinals are ZEGO Express's, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum RoomStateChangedReason {
    /// `login_room` / `switch_room` was called; connecting to the server.
    Logining = 0,
    /// Logged in; user and stream updates flow from now on.
    Logined = 1,
    /// Login failed (bad token 1002033, timeout 1002053, room full 1002034, ...). Terminal.
    LoginFailed = 2,
    /// The link was lost; retrying on its own (1002051). Reported once per outage.
    Reconnecting = 3,
    /// Back after an outage; lists were brought up to date.
    Reconnected = 4,
    /// The retry window ended without a link (1002053), or the server refused the resume. Terminal.
    ReconnectFailed = 5,
    /// The server removed this user (1002050, 1002055, 1002056, room closed 1900001). Terminal.
    KickOut = 6,
    /// Logged out (`logout_room`, or the first half of `switch_room`). The default state.
    Logout = 7,
    /// `logout_room` failed, e.g. the room is not logged in (1002002). The room's state is unchanged.
    LogoutFailed = 8,
}
}

listed_enum! {
/// The coarse connection state, numbered as NERTC and Agora number theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[repr(u32)]
pub enum ConnectionState {
    /// Not in the room (never joined, logged out, or kicked out).
    Disconnected = 1,
    /// Logging in.
    Connecting = 2,
    /// In the room.
    Connected = 3,
    /// In the room, but the link is down and being retried.
    Reconnecting = 4,
    /// Gave up: login failed or the reconnect window ended. `login_room` may be called again.
    Failed = 5,
}
}

impl RoomStateChangedReason {
    /// The coarse state a room is in after this reason was reported.
    ///
    /// `LogoutFailed` does not change a room's state; for it this returns `None`.
    pub const fn connection_state(self) -> Option<ConnectionState> {
        Some(match self {
            Self::Logining => ConnectionState::Connecting,
            Self::Logined | Self::Reconnected => ConnectionState::Connected,
            Self::Reconnecting => ConnectionState::Reconnecting,
            Self::LoginFailed | Self::ReconnectFailed => ConnectionState::Failed,
            Self::KickOut | Self::Logout => ConnectionState::Disconnected,
            Self::LogoutFailed => return None,
        })
    }

    /// True for reasons after which the engine does nothing more for the room on its own.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::LoginFailed | Self::ReconnectFailed | Self::KickOut | Self::Logout
        )
    }

    /// One line for docs: when the reason is reported and with which codes.
    pub const fn description(self) -> &'static str {
        match self {
            Self::Logining => "`login_room` or `switch_room` was called; connecting. Code 0.",
            Self::Logined => {
                "Logged in; user and stream updates flow. Code 0; extended data has `room_session_id`."
            }
            Self::LoginFailed => {
                "Login failed: 1002033 bad/expired token, 1002034 room full, 1002053 no server within the login timeout, 1002030 connect failed."
            }
            Self::Reconnecting => {
                "The link was lost (closed, or silent for the ping timeout); retrying with backoff. Code 1002051, once per outage."
            }
            Self::Reconnected => {
                "Back after an outage (session resumed, or re-joined after the server's heartbeat timeout); lists brought up to date. Code 0; extended data has `room_session_id`, `reconnect_kind` (`resumed`, `resynced` or `rejoined`) and `reconnect_attempts`."
            }
            Self::ReconnectFailed => {
                "The retry window (default 20 min) ended, 1002053; or the server refused the resume (e.g. 1002034). No more retries."
            }
            Self::KickOut => {
                "Removed by the server: 1002050 same user logged in elsewhere, 1002055 admin kick (reason in extended data), 1002056 token expired, 1900001 room closed."
            }
            Self::Logout => {
                "`logout_room`, or the first half of `switch_room`. Code 0. The default state."
            }
            Self::LogoutFailed => {
                "`logout_room` of a room that is not logged in: 1002002. The room's state does not change."
            }
        }
    }
}

impl std::fmt::Display for RoomStateChangedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Renders the reason table as Markdown (for the README).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| reason | value | connection state | when |\n|---|---:|---|---|\n");
    for r in RoomStateChangedReason::ALL {
        let state = r
            .connection_state()
            .map_or("(unchanged)", ConnectionState::as_str);
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.as_str(),
            r as u32,
            state,
            r.description()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_are_zegos() {
        let ords: Vec<u32> = RoomStateChangedReason::ALL
            .iter()
            .map(|r| *r as u32)
            .collect();
        assert_eq!(ords, (0..=8).collect::<Vec<_>>());
        assert_eq!(RoomStateChangedReason::KickOut as u32, 6);
        assert_eq!(ConnectionState::Failed as u32, 5);
        assert_eq!(ConnectionState::Disconnected as u32, 1);
    }

    #[test]
    fn coarse_state_follows_reason() {
        use RoomStateChangedReason as R;
        assert_eq!(
            R::Reconnected.connection_state(),
            Some(ConnectionState::Connected)
        );
        assert_eq!(
            R::ReconnectFailed.connection_state(),
            Some(ConnectionState::Failed)
        );
        assert_eq!(
            R::KickOut.connection_state(),
            Some(ConnectionState::Disconnected)
        );
        assert_eq!(R::LogoutFailed.connection_state(), None);
    }
}
