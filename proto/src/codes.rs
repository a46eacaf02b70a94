//! Every error code roomlink reports, in one table.
//!
//! Where ZEGO Express defines a case we use ZEGO's number, so an app ported from ZEGO keeps its
//! `if (errorCode == 1002050)` branches. Cases ZEGO has no code for live in roomlink's own range
//! `1900001..=1900099`, far from anything ZEGO uses (ZEGO's room codes are `1002xxx`); misuse of the
//! foreign-function layer (`ffi/`: NULL pointers, bad UTF-8, unknown handles) has `1900101..=1900199`.
//!
//! The README's error-code table and `docs/` are generated from [`ErrorCode::ALL`]; a test fails
//! when they drift.

use serde::{Deserialize, Serialize};

/// Who defined a code's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Same number and meaning as ZEGO Express.
    Zego,
    /// roomlink's own range (1900001..), for cases ZEGO has no code for.
    Roomlink,
}

/// One row of the error-code table.
#[derive(Debug, Clone, Copy)]
pub struct CodeInfo {
    pub code: ErrorCode,
    /// The constant's name, e.g. `"KICKED_DUPLICATE_LOGIN"`.
    pub name: &'static str,
    pub origin: Origin,
    pub meaning: &'static str,
}

/// An error code: `0` is success, anything else names a failure from [`ErrorCode::ALL`].
///
/// A newtype rather than an enum because codes cross every FFI boundary as plain integers and a
/// server may send a code this client version does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub i32);

macro_rules! error_codes {
    ($( $name:ident = $value:literal, $origin:ident, $meaning:literal; )*) => {
        impl ErrorCode {
            $(
                #[doc = $meaning]
                pub const $name: ErrorCode = ErrorCode($value);
            )*

            /// The whole table, in numeric order.
            pub const ALL: &'static [CodeInfo] = &[
                $( CodeInfo { code: ErrorCode($value), name: stringify!($name), origin: Origin::$origin, meaning: $meaning }, )*
            ];
        }
    };
}

error_codes! {
    OK = 0, Zego, "Success.";
    ALREADY_LOGGED_IN = 1002001, Zego, "Already logged in to (or logging in to) this room, or to another room in single-room mode.";
    ROOM_NOT_LOGGED_IN = 1002002, Zego, "The room is not logged in: logout, switch, renew or publish named a room this engine is not in.";
    USER_ID_EMPTY = 1002005, Zego, "The user ID is empty.";
    USER_ID_INVALID = 1002006, Zego, "The user ID has characters outside the allowed set (letters, digits and ~!@#$%^&*()_+=-`;',.<>/\\).";
    USER_ID_TOO_LONG = 1002007, Zego, "The user ID is 64 bytes or longer.";
    USER_NAME_EMPTY = 1002008, Zego, "The user name is empty.";
    USER_NAME_INVALID = 1002009, Zego, "The user name has control characters or bidi embedding/override/isolate characters (U+202A..U+202E, U+2066..U+2069), or renders as nothing (only whitespace and invisible format characters).";
    USER_NAME_TOO_LONG = 1002010, Zego, "The user name is 256 bytes or longer.";
    ROOM_ID_EMPTY = 1002011, Zego, "The room ID is empty.";
    ROOM_ID_INVALID = 1002012, Zego, "The room ID has characters outside the allowed set (same set as user IDs).";
    ROOM_ID_TOO_LONG = 1002013, Zego, "The room ID is 128 bytes or longer.";
    CONNECT_FAILED = 1002030, Zego, "Could not connect and retrying cannot help: bad server URL, TLS failure, or the peer is not a roomlink server (at first login; during an outage these are retried).";
    AUTH_FAILED = 1002033, Zego, "Authentication failed: the token is malformed, signed with the wrong secret, for another user/room, or expired at login.";
    ROOM_FULL = 1002034, Zego, "The room has reached its member limit.";
    KICKED_DUPLICATE_LOGIN = 1002050, Zego, "Kicked out: the same user ID logged in to this room elsewhere.";
    RECONNECTING = 1002051, Zego, "The link to the server was lost; reconnecting.";
    NETWORK_TIMEOUT = 1002053, Zego, "Network timeout: login could not complete within the login timeout, or the reconnect window ended.";
    KICKED_BY_SERVER = 1002055, Zego, "Kicked out by the server's admin API (extended data carries the admin's reason).";
    KICKED_TOKEN_EXPIRED = 1002056, Zego, "Kicked out because the token expired and was not renewed.";
    ROOM_CLOSED = 1900001, Roomlink, "The room was closed by the server's admin API.";
    PROTOCOL_ERROR = 1900002, Roomlink, "The peer sent a frame that breaks the protocol (malformed, oversized, wrong version).";
    INTERNAL_ERROR = 1900003, Roomlink, "An internal error (a bug); the operation did not happen.";
    INVALID_ARGUMENT = 1900004, Roomlink, "An argument is out of range (e.g. an engine config value, a stream ID).";
    ENGINE_DESTROYED = 1900005, Roomlink, "The engine was destroyed; nothing more can be done with it.";
    STALE_ATTEMPT = 1900006, Roomlink, "Server: a login or resume from a connection attempt older than one the server already accepted from the same engine; refused without touching any session (the engine gave up on that attempt).";
    PROXY_AUTH_FAILED = 1900007, Roomlink, "The HTTP proxy refused the tunnel for want of credentials (407), or refused the ones in the proxy URL.";
    SERVER_DRAINING = 1900008, Roomlink, "The server node is draining (rolling restart, scale-in) and closed the connection with a bye of this code; sessions are kept, and the engine moves to its next server URL at once (no backoff) to resume them.";
    SERVER_UNAVAILABLE = 1900009, Roomlink, "The server could not reach its shared store (a cluster's Redis is away) and refused a login for now; retryable: the engine sends the login again after its backoff, until the login timeout or the retry window ends (then 1002053), never failing with this code.";
    RATE_LIMITED = 1900010, Roomlink, "Server: over a rate limit (frames per second on one connection, or room events one member may cause: logins, publishes, unpublishes, renewals); the request was dropped and nothing changed. The engine retries on its own: a refused login after its backoff (never failing the room with this code), a dropped publish/unpublish/renewal by sending the room's state again after backoff_cap/2..backoff_cap, and a connection closed with bye 1900010 is redialled no sooner than backoff_cap/2.";
    TOO_MANY_ROOMS = 1900011, Roomlink, "Server: this connection already holds sessions in as many rooms as the server allows (`max_rooms_per_conn`); log out of one first.";
    KICKED_LOGGED_OUT_ELSEWHERE = 1900012, Roomlink, "Server: this connection's session was ended by a logout naming its session ID from another connection (which proved it with the user's token for the room), typically the same app after an outage; the room is left, as for any kick.";
    LOGOUT_UNPROVEN = 1900013, Roomlink, "Server: a logout by session ID carried no token of that session's user for that room (an expired one is accepted); nothing changed.";
    NULL_POINTER = 1900101, Roomlink, "FFI: a required pointer argument was NULL; nothing happened.";
    INVALID_UTF8 = 1900102, Roomlink, "FFI: a string argument is not valid UTF-8; nothing happened.";
    UNKNOWN_ENGINE = 1900103, Roomlink, "FFI: the engine handle was never issued by this library (0 or a made-up value); nothing happened.";
    PANICKED = 1900104, Roomlink, "FFI: a bug inside the library panicked; the call did not complete (the panic is logged).";
    CALLED_FROM_CALLBACK = 1900105, Roomlink, "FFI: this call is not allowed from inside a roomlink callback on the same thread (it would deadlock); nothing happened.";
}

impl ErrorCode {
    /// The integer that crosses FFI boundaries and the wire.
    pub const fn value(self) -> i32 {
        self.0
    }

    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The table row for this code, if it is one roomlink knows.
    pub fn info(self) -> Option<&'static CodeInfo> {
        Self::ALL.iter().find(|c| c.code == self)
    }

    /// The constant's name, or `"UNKNOWN"` for a code from a newer peer.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN", |c| c.name)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

impl std::error::Error for ErrorCode {}

/// Renders the error-code table as Markdown (used by the README and docs generators).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | name | origin | meaning |\n|---:|---|---|---|\n");
    for c in ErrorCode::ALL {
        let origin = match c.origin {
            Origin::Zego => "ZEGO",
            Origin::Roomlink => "roomlink",
        };
        let meaning = c.meaning.replace('|', "\\|");
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            c.code.0, c.name, origin, meaning
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_sorted() {
        for pair in ErrorCode::ALL.windows(2) {
            assert!(
                pair[0].code.0 < pair[1].code.0,
                "{} !< {}",
                pair[0].name,
                pair[1].name
            );
        }
    }

    #[test]
    fn roomlink_codes_stay_in_their_own_range() {
        for c in ErrorCode::ALL
            .iter()
            .filter(|c| c.origin == Origin::Roomlink)
        {
            let core = (1_900_001..=1_900_099).contains(&c.code.0);
            let ffi = (1_900_101..=1_900_199).contains(&c.code.0);
            assert!(core || ffi, "{}", c.name);
        }
    }

    #[test]
    fn zego_numbers_match_zego() {
        assert_eq!(ErrorCode::KICKED_DUPLICATE_LOGIN.value(), 1002050);
        assert_eq!(ErrorCode::NETWORK_TIMEOUT.value(), 1002053);
        assert_eq!(ErrorCode::ROOM_NOT_LOGGED_IN.value(), 1002002);
        assert_eq!(ErrorCode(1002051).name(), "RECONNECTING");
        assert_eq!(ErrorCode(42).name(), "UNKNOWN");
    }
}
