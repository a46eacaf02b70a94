//! The wire protocol, version 1: JSON text frames over one WebSocket per engine.
//!
//! `docs/PROTOCOL.md` is the prose description of these types; keep the two in step.
//!
//! - The first logins ride in the upgrade request, so a fresh login costs two round trips (TCP,
//!   upgrade) and `Joined` is the server's first frame. The [`Hello`] goes in the
//!   [`HELLO_HEADER`] header (base64url of its JSON), never in the URL, so proxies do not log tokens.
//! - Further rooms on an open link send [`ClientFrame::Login`]: one round trip.
//! - Every frame is an object with a `"t"` tag. Unknown fields are ignored and unknown tags decode
//!   to `Unknown`, so either side can add to the protocol without breaking older peers.
//! - Room events carry a per-session sequence number; a resuming client names the last one it saw
//!   and the server replays the rest (or sends a snapshot when it no longer has them).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::model::{StreamDeleteReason, StreamInfo, User};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// Upgrade request header carrying the protocol version.
pub const VERSION_HEADER: &str = "roomlink-version";
/// Upgrade request header carrying the base64url (no padding) JSON [`Hello`].
pub const HELLO_HEADER: &str = "roomlink-hello";
/// The WebSocket path the reference server serves.
pub const WS_PATH: &str = "/v1/ws";

/// The logins a client brings with a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    #[serde(default)]
    pub logins: Vec<Login>,
}

/// A login to one room, fresh or resuming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub room_id: String,
    pub user: User,
    pub token: String,
    /// Receive user join/leave events for this room.
    #[serde(default = "yes")]
    pub user_update: bool,
    /// Set when resuming a session after a link loss.
    #[serde(default)]
    pub resume: Option<Resume>,
    /// Streams this user publishes in the room; re-sent on resume so a session that expired while
    /// away comes back with its streams.
    #[serde(default)]
    pub streams: Vec<PublishedStream>,
    /// Which engine and which of its connection attempts sent this login, so the server can
    /// refuse an attempt the engine already gave up on that arrives after a newer one (see
    /// `docs/PROTOCOL.md`, "Stale attempts"). Optional: older clients send none and are not fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fence: Option<Fence>,
}

/// An engine instance and one of its connection attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// Random per engine instance (not a secret: it only orders that engine's own attempts).
    pub instance: String,
    /// Increases with every connection attempt of the instance; every login on one connection
    /// carries the same number.
    pub attempt: u64,
}

fn yes() -> bool {
    true
}

/// Resume data: the session to continue and the last room event the client applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub session_id: String,
    pub last_seq: u64,
}

/// A stream the local user publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedStream {
    pub stream_id: String,
    #[serde(default)]
    pub extra_info: String,
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Log in to (or resume) one more room on this link.
    Login(Login),
    Logout {
        room_id: String,
        /// Log out this session of the room, wherever it is attached, instead of the room's
        /// session on this connection: for a session the client abandoned while it had no link.
        /// Older servers ignore it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// With `session_id`: the proof that the sender may end that session, a token of the
        /// session's user for the room (an expired one will do: a logout grants nothing, and it
        /// is sent after outages that may outlast the token). Ignored without `session_id`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Keeps the link and every session on it alive; the server answers `Pong`.
    Ping,
    RenewToken {
        room_id: String,
        token: String,
    },
    PublishStream {
        room_id: String,
        stream_id: String,
        #[serde(default)]
        extra_info: String,
    },
    UnpublishStream {
        room_id: String,
        stream_id: String,
    },
    /// A tag this build does not know.
    #[serde(other)]
    Unknown,
}

/// Everything in a room at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Other users in the room (the receiving user excluded), sorted by user ID.
    #[serde(default)]
    pub users: Vec<User>,
    /// All streams in the room except the receiving user's own, sorted by stream ID.
    #[serde(default)]
    pub streams: Vec<StreamInfo>,
}

/// A change in a room, as sent to one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum RoomEvent {
    UserAdd {
        users: Vec<User>,
    },
    UserDelete {
        users: Vec<User>,
    },
    StreamAdd {
        streams: Vec<StreamInfo>,
    },
    StreamDelete {
        streams: Vec<StreamInfo>,
        reason: StreamDeleteReason,
    },
    #[serde(other)]
    Unknown,
}

/// A room event with its per-session sequence number (1, 2, 3, ... within one session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqEvent {
    pub seq: u64,
    #[serde(flatten)]
    pub event: RoomEvent,
}

/// Frames the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ServerFrame {
    /// A new session: a fresh login, or a resume of a session that had already expired.
    Joined {
        room_id: String,
        /// Secret handle for resuming this session.
        session_id: String,
        /// The room's server-side incarnation (reported to the app as `room_session_id`).
        room_session_id: String,
        /// The sequence number of the last event included in `snapshot` (events after it follow).
        seq: u64,
        snapshot: Snapshot,
        /// Milliseconds until the token expires, if it expires.
        #[serde(default)]
        token_expires_in_ms: Option<u64>,
    },
    /// The session continued: `events` are those after the client's `last_seq`. When the server no
    /// longer holds them it sends `snapshot` instead and `events` is empty.
    Resumed {
        room_id: String,
        session_id: String,
        room_session_id: String,
        #[serde(default)]
        events: Vec<SeqEvent>,
        #[serde(default)]
        snapshot: Option<Snapshot>,
        /// The sequence number the client is at after applying this frame.
        seq: u64,
        #[serde(default)]
        token_expires_in_ms: Option<u64>,
    },
    /// A login or resume was refused (1002033 bad token, 1002034 room full, 1900001 room closed...).
    LoginFailed {
        room_id: String,
        code: ErrorCode,
        #[serde(default)]
        message: String,
    },
    /// A room event for a joined session; or several consecutive ones of the same kind merged
    /// into one list while they waited in the server's outbound queue: then the frame stands for
    /// the session's events `first_seq..=seq` (see `docs/PROTOCOL.md`, "Coalesced events").
    Event {
        room_id: String,
        /// The first sequence number the frame covers; absent for a single event (= `seq`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_seq: Option<u64>,
        #[serde(flatten)]
        event: SeqEvent,
    },
    /// The server removed this session: 1002050, 1002055, 1002056, 1900001 room closed.
    Kicked {
        room_id: String,
        code: ErrorCode,
        #[serde(default)]
        reason: String,
    },
    TokenRenewed {
        room_id: String,
        token_expires_in_ms: Option<u64>,
    },
    /// A request failed without ending the session (e.g. renew with a bad token).
    Error {
        #[serde(default)]
        room_id: Option<String>,
        code: ErrorCode,
        #[serde(default)]
        message: String,
    },
    /// The session left this connection: a resume on another connection took it. The client
    /// resumes again if this is its current connection; on a connection it gave up on, it is stale.
    SessionMoved {
        room_id: String,
    },
    Pong,
    /// The server is closing the link (protocol error, shutdown). Sessions stay resumable.
    Bye {
        code: ErrorCode,
        #[serde(default)]
        message: String,
    },
    #[serde(other)]
    Unknown,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge { len: usize, max: usize },
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooLarge { len, max } => write!(f, "frame of {len} bytes exceeds {max}"),
            DecodeError::Malformed(e) => write!(f, "malformed frame: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

fn decode<T: for<'de> Deserialize<'de>>(text: &str, max: usize) -> Result<T, DecodeError> {
    if text.len() > max {
        return Err(DecodeError::TooLarge {
            len: text.len(),
            max,
        });
    }
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> String {
    // Serializing these plain data types cannot fail: no maps with non-string keys, no floats.
    serde_json::to_string(value).unwrap_or_default()
}

impl ClientFrame {
    pub fn decode(text: &str, max_bytes: usize) -> Result<Self, DecodeError> {
        decode(text, max_bytes)
    }
    pub fn encode(&self) -> String {
        encode(self)
    }
}

impl ServerFrame {
    pub fn decode(text: &str, max_bytes: usize) -> Result<Self, DecodeError> {
        decode(text, max_bytes)
    }
    pub fn encode(&self) -> String {
        encode(self)
    }
    /// The room a frame is about, if any.
    pub fn room_id(&self) -> Option<&str> {
        match self {
            ServerFrame::Joined { room_id, .. }
            | ServerFrame::Resumed { room_id, .. }
            | ServerFrame::LoginFailed { room_id, .. }
            | ServerFrame::Event { room_id, .. }
            | ServerFrame::Kicked { room_id, .. }
            | ServerFrame::SessionMoved { room_id }
            | ServerFrame::TokenRenewed { room_id, .. } => Some(room_id),
            ServerFrame::Error { room_id, .. } => room_id.as_deref(),
            ServerFrame::Pong | ServerFrame::Bye { .. } | ServerFrame::Unknown => None,
        }
    }
}

impl Hello {
    /// The value of the [`HELLO_HEADER`] header.
    pub fn to_header(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(encode(self))
    }

    pub fn from_header(value: &str, max_bytes: usize) -> Result<Self, DecodeError> {
        if value.len() > max_bytes {
            return Err(DecodeError::TooLarge {
                len: value.len(),
                max: max_bytes,
            });
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(value.trim())
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let text =
            std::str::from_utf8(&bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        decode(text, max_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_tags_are_tolerated() {
        let f = ServerFrame::decode(r#"{"t":"pong","future":1}"#, 1024).unwrap();
        assert_eq!(f, ServerFrame::Pong);
        let f = ServerFrame::decode(r#"{"t":"hologram","x":[1]}"#, 1024).unwrap();
        assert_eq!(f, ServerFrame::Unknown);
        let f = ClientFrame::decode(r#"{"t":"logout","room_id":"r","extra":true}"#, 1024).unwrap();
        assert_eq!(
            f,
            ClientFrame::Logout {
                room_id: "r".into(),
                session_id: None,
                token: None,
            }
        );
    }

    #[test]
    fn a_login_without_a_fence_still_decodes_and_none_is_not_sent() {
        let text =
            r#"{"t":"login","room_id":"r","user":{"user_id":"u","user_name":"U"},"token":"t"}"#;
        let ClientFrame::Login(login) = ClientFrame::decode(text, 1024).unwrap() else {
            panic!("not a login");
        };
        assert_eq!(login.fence, None);
        assert!(!ClientFrame::Login(login).encode().contains("fence"));
        let moved = ServerFrame::decode(r#"{"t":"session_moved","room_id":"r"}"#, 1024).unwrap();
        assert_eq!(moved.room_id(), Some("r"));
    }

    #[test]
    fn malformed_and_oversized_frames_are_errors() {
        assert!(matches!(
            ServerFrame::decode("{", 1024),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ServerFrame::decode(r#"{"t":"kicked"}"#, 1024),
            Err(DecodeError::Malformed(_))
        ));
        let big = format!(r#"{{"t":"pong","pad":"{}"}}"#, "x".repeat(2000));
        assert!(matches!(
            ServerFrame::decode(&big, 1024),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn event_frames_round_trip_flat() {
        let f = ServerFrame::Event {
            room_id: "r".into(),
            first_seq: None,
            event: SeqEvent {
                seq: 7,
                event: RoomEvent::UserAdd {
                    users: vec![User::new("a", "A")],
                },
            },
        };
        let text = f.encode();
        assert_eq!(
            text,
            r#"{"t":"event","room_id":"r","seq":7,"e":"user_add","users":[{"user_id":"a","user_name":"A"}]}"#
        );
        assert_eq!(ServerFrame::decode(&text, 1024).unwrap(), f);
    }

    #[test]
    fn a_coalesced_event_frame_carries_first_seq_and_round_trips() {
        let f = ServerFrame::Event {
            room_id: "r".into(),
            first_seq: Some(5),
            event: SeqEvent {
                seq: 9,
                event: RoomEvent::UserDelete {
                    users: vec![User::new("a", "A"), User::new("b", "B")],
                },
            },
        };
        let text = f.encode();
        assert_eq!(
            text,
            r#"{"t":"event","room_id":"r","first_seq":5,"seq":9,"e":"user_delete","users":[{"user_id":"a","user_name":"A"},{"user_id":"b","user_name":"B"}]}"#
        );
        assert_eq!(ServerFrame::decode(&text, 1024).unwrap(), f);
    }

    #[test]
    fn hello_header_round_trips_non_ascii_names() {
        let hello = Hello {
            logins: vec![Login {
                room_id: "r1".into(),
                user: User::new("u1", "Zoë"),
                token: "tok".into(),
                user_update: true,
                resume: Some(Resume {
                    session_id: "s".into(),
                    last_seq: 3,
                }),
                streams: vec![],
                fence: Some(Fence {
                    instance: "e1".into(),
                    attempt: 2,
                }),
            }],
        };
        let header = hello.to_header();
        assert!(header.is_ascii());
        assert_eq!(Hello::from_header(&header, 8192).unwrap(), hello);
        assert!(Hello::from_header("!!!", 8192).is_err());
    }
}
