//! The records and enums of the UniFFI API that are not core's own types, and their conversions.
//!
//! Core's model types (`RoomMode`, `User`, `StreamInfo`, `UpdateType`, `StreamDeleteReason`,
//! `RoomStateChangedReason`, `ConnectionState`) carry UniFFI's derives themselves (roomlink-proto's
//! feature `uniffi`), with their explicit discriminants (ZEGO's ordinals, NERTC/Agora's state
//! numbers), and are used here as they are. Two stay records of this crate: `RoomEvent`, because
//! core's `Event` carries an `ErrorCode` (a newtype, a plain number here) and a `BTreeMap` (a map
//! here), and `EngineConfig`, because core's holds `Duration`s (milliseconds here, with UniFFI
//! defaults) and the `ProxyUrl`/`CaPem` secret wrappers.

use std::collections::HashMap;
use std::time::Duration;

use roomlink::codes::ErrorCode;
pub use roomlink::{
    ConnectionState, RoomMode, RoomStateChangedReason, StreamDeleteReason, StreamInfo, UpdateType,
    User,
};

/// Settings for one engine. Every field but `server_url` and `room_mode` (UniFFI has no enum
/// defaults in proc-macro records) defaults to core's production value; `default_engine_config`
/// returns them all.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EngineConfig {
    /// `ws://host:port/path` or `wss://...`.
    pub server_url: String,
    pub room_mode: RoomMode,
    /// How often the client pings while the link is idle.
    #[uniffi(default = 10000)]
    pub heartbeat_interval_ms: u64,
    /// No inbound frame for this long means the link is lost; must exceed the heartbeat interval.
    #[uniffi(default = 25000)]
    pub ping_timeout_ms: u64,
    /// A login not done after this long fails with 1002053.
    #[uniffi(default = 30000)]
    pub login_timeout_ms: u64,
    /// How long to keep retrying after a link loss before ReconnectFailed 1002053.
    #[uniffi(default = 1200000)]
    pub retry_window_ms: u64,
    #[uniffi(default = 300)]
    pub backoff_base_ms: u64,
    #[uniffi(default = 8000)]
    pub backoff_cap_ms: u64,
    /// `TokenWillExpire` fires this long before the token expires.
    #[uniffi(default = 30000)]
    pub token_warning_ms: u64,
    /// Larger frames are a protocol error (at least 1024).
    #[uniffi(default = 65536)]
    pub max_frame_bytes: u32,
    /// More servers, tried in order after `server_url`: a failed attempt moves on to the next at
    /// once; after a full round of failures the backoff applies.
    #[uniffi(default)]
    pub more_server_urls: Vec<String>,
    /// Tunnel through this HTTP proxy, `http://[user:pass@]host:port` (a secret when it has
    /// credentials: roomlink never logs it); `None` connects directly.
    #[uniffi(default = None)]
    pub proxy_url: Option<String>,
    /// Trust only the CAs in this PEM bundle for `wss://` (an app's own CA); `None` verifies
    /// with the platform's verifier and the OS trust store (on Android call
    /// `RoomlinkAndroid.init(context)` first).
    #[uniffi(default = None)]
    pub tls_ca_pem: Option<Vec<u8>>,
}

/// One event of core's `Event`, field for field. `error_code` is the number of the README's code
/// table; `extended_data` is a map (keys: `room_session_id`, `custom_kickout_message`): look keys
/// up, do not rely on its iteration order (C, C# and Dart get the keys sorted; a Kotlin/Python map
/// built from it has no defined order and Swift dictionaries have none).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RoomEvent {
    RoomStateChanged {
        room_id: String,
        reason: RoomStateChangedReason,
        error_code: i32,
        extended_data: HashMap<String, String>,
    },
    /// Other users joined or left (never the local user); sorted by user ID.
    RoomUserUpdate {
        room_id: String,
        update_type: UpdateType,
        users: Vec<User>,
    },
    /// The number of users in the room, the local user included.
    RoomOnlineUserCountUpdate { room_id: String, count: u32 },
    /// Other users' streams were added or removed; `reason` is set for `Delete` only.
    RoomStreamUpdate {
        room_id: String,
        update_type: UpdateType,
        streams: Vec<StreamInfo>,
        reason: Option<StreamDeleteReason>,
    },
    /// The room's token expires in `remaining_seconds`: call `renew_token` or be kicked (1002056).
    RoomTokenWillExpire {
        room_id: String,
        remaining_seconds: u32,
    },
}

impl Default for EngineConfig {
    /// Core's defaults with an empty server URL (which does not validate).
    fn default() -> Self {
        roomlink::EngineConfig::default().into()
    }
}

fn ms(duration: Duration) -> u64 {
    // Saturates: core's durations are all far below u64::MAX milliseconds.
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<roomlink::EngineConfig> for EngineConfig {
    fn from(c: roomlink::EngineConfig) -> Self {
        EngineConfig {
            server_url: c.server_url,
            room_mode: c.room_mode,
            heartbeat_interval_ms: ms(c.heartbeat_interval),
            ping_timeout_ms: ms(c.ping_timeout),
            login_timeout_ms: ms(c.login_timeout),
            retry_window_ms: ms(c.retry_window),
            backoff_base_ms: ms(c.backoff_base),
            backoff_cap_ms: ms(c.backoff_cap),
            token_warning_ms: ms(c.token_warning),
            max_frame_bytes: u32::try_from(c.max_frame_bytes).unwrap_or(u32::MAX),
            more_server_urls: c.more_server_urls,
            proxy_url: c.proxy.map(|p| p.0),
            tls_ca_pem: c.tls_ca_pem.map(|p| p.0),
        }
    }
}

impl TryFrom<EngineConfig> for roomlink::EngineConfig {
    type Error = ErrorCode;

    /// Fails with `INVALID_ARGUMENT` where a value does not fit or core's validation rejects it.
    fn try_from(c: EngineConfig) -> Result<Self, ErrorCode> {
        let config = roomlink::EngineConfig {
            server_url: c.server_url,
            room_mode: c.room_mode,
            heartbeat_interval: Duration::from_millis(c.heartbeat_interval_ms),
            ping_timeout: Duration::from_millis(c.ping_timeout_ms),
            login_timeout: Duration::from_millis(c.login_timeout_ms),
            retry_window: Duration::from_millis(c.retry_window_ms),
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_cap: Duration::from_millis(c.backoff_cap_ms),
            token_warning: Duration::from_millis(c.token_warning_ms),
            max_frame_bytes: usize::try_from(c.max_frame_bytes)
                .map_err(|_| ErrorCode::INVALID_ARGUMENT)?,
            more_server_urls: c.more_server_urls,
            proxy: c.proxy_url.map(roomlink::ProxyUrl),
            tls_ca_pem: c.tls_ca_pem.map(roomlink::CaPem),
        };
        config.validate()?;
        Ok(config)
    }
}

impl From<roomlink::Event> for RoomEvent {
    fn from(event: roomlink::Event) -> Self {
        use roomlink::Event as E;
        match event {
            E::RoomStateChanged {
                room_id,
                reason,
                error_code,
                extended_data,
            } => RoomEvent::RoomStateChanged {
                room_id,
                reason,
                error_code: error_code.value(),
                extended_data: extended_data.into_iter().collect(),
            },
            E::RoomUserUpdate {
                room_id,
                update_type,
                users,
            } => RoomEvent::RoomUserUpdate {
                room_id,
                update_type,
                users,
            },
            E::RoomOnlineUserCountUpdate { room_id, count } => {
                RoomEvent::RoomOnlineUserCountUpdate { room_id, count }
            }
            E::RoomStreamUpdate {
                room_id,
                update_type,
                streams,
                reason,
            } => RoomEvent::RoomStreamUpdate {
                room_id,
                update_type,
                streams,
                reason,
            },
            E::RoomTokenWillExpire {
                room_id,
                remaining_seconds,
            } => RoomEvent::RoomTokenWillExpire {
                room_id,
                remaining_seconds,
            },
        }
    }
}

/// Core's settings with `server_url`: what a record built with only a URL gets (exported).
#[uniffi::export]
pub fn default_engine_config(server_url: String) -> EngineConfig {
    roomlink::EngineConfig::new(server_url).into()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use roomlink::Event;

    use super::*;

    fn user(id: &str) -> User {
        User::new(id, id.to_uppercase())
    }

    #[test]
    fn every_event_kind_converts_field_for_field() {
        let cases = [
            (
                Event::RoomStateChanged {
                    room_id: "r1".into(),
                    reason: RoomStateChangedReason::KickOut,
                    error_code: ErrorCode::KICKED_BY_SERVER,
                    extended_data: BTreeMap::from([
                        ("custom_kickout_message".into(), "bye".into()),
                        ("room_session_id".into(), "s-1".into()),
                    ]),
                },
                RoomEvent::RoomStateChanged {
                    room_id: "r1".into(),
                    reason: RoomStateChangedReason::KickOut,
                    error_code: 1002055,
                    extended_data: HashMap::from([
                        ("custom_kickout_message".into(), "bye".into()),
                        ("room_session_id".into(), "s-1".into()),
                    ]),
                },
            ),
            (
                Event::RoomUserUpdate {
                    room_id: "r2".into(),
                    update_type: UpdateType::Delete,
                    users: vec![user("bob"), user("carol")],
                },
                RoomEvent::RoomUserUpdate {
                    room_id: "r2".into(),
                    update_type: UpdateType::Delete,
                    users: vec![user("bob"), user("carol")],
                },
            ),
            (
                Event::RoomOnlineUserCountUpdate {
                    room_id: "r3".into(),
                    count: 7,
                },
                RoomEvent::RoomOnlineUserCountUpdate {
                    room_id: "r3".into(),
                    count: 7,
                },
            ),
            (
                Event::RoomStreamUpdate {
                    room_id: "r4".into(),
                    update_type: UpdateType::Delete,
                    streams: vec![StreamInfo {
                        stream_id: "s1".into(),
                        user: user("bob"),
                        extra_info: "{\"hd\":1}".into(),
                    }],
                    reason: Some(StreamDeleteReason::UserTimedOut),
                },
                RoomEvent::RoomStreamUpdate {
                    room_id: "r4".into(),
                    update_type: UpdateType::Delete,
                    streams: vec![StreamInfo {
                        stream_id: "s1".into(),
                        user: user("bob"),
                        extra_info: "{\"hd\":1}".into(),
                    }],
                    reason: Some(StreamDeleteReason::UserTimedOut),
                },
            ),
            (
                Event::RoomStreamUpdate {
                    room_id: "r4".into(),
                    update_type: UpdateType::Add,
                    streams: vec![],
                    reason: None,
                },
                RoomEvent::RoomStreamUpdate {
                    room_id: "r4".into(),
                    update_type: UpdateType::Add,
                    streams: vec![],
                    reason: None,
                },
            ),
            (
                Event::RoomTokenWillExpire {
                    room_id: "r5".into(),
                    remaining_seconds: 29,
                },
                RoomEvent::RoomTokenWillExpire {
                    room_id: "r5".into(),
                    remaining_seconds: 29,
                },
            ),
        ];
        for (core, ours) in cases {
            assert_eq!(RoomEvent::from(core), ours);
        }
    }

    #[test]
    fn config_round_trips_and_defaults_are_cores() {
        let core = roomlink::EngineConfig {
            room_mode: roomlink::RoomMode::MultiRoom,
            heartbeat_interval: Duration::from_millis(100),
            ping_timeout: Duration::from_millis(350),
            max_frame_bytes: 4096,
            ..roomlink::EngineConfig::new("wss://example.test/v1/ws")
        };
        let ours = EngineConfig::from(core.clone());
        assert_eq!(ours.heartbeat_interval_ms, 100);
        assert_eq!(ours.room_mode, RoomMode::MultiRoom);
        assert_eq!(roomlink::EngineConfig::try_from(ours), Ok(core));

        let defaults = default_engine_config("ws://h/v1/ws".into());
        assert_eq!(
            roomlink::EngineConfig::try_from(defaults),
            Ok(roomlink::EngineConfig::new("ws://h/v1/ws"))
        );
    }

    /// The record's `#[uniffi(default = N)]` literals (what a Kotlin/Swift/Python caller gets
    /// when leaving a field out) are written by hand: they must equal core's defaults.
    #[test]
    fn record_default_literals_equal_cores_defaults() {
        let source = include_str!("types.rs");
        let record = &source[source.find("pub struct EngineConfig {").unwrap()..];
        let record = &record[..record.find("\n}").unwrap()];
        let mut literals = HashMap::new();
        let mut pending = None;
        for line in record.lines().map(str::trim) {
            if let Some(value) = line
                .strip_prefix("#[uniffi(default = ")
                .and_then(|rest| rest.strip_suffix(")]"))
            {
                // `None` (the proxy) is core's default by construction (`Option`, checked below).
                pending = value.parse::<u64>().ok();
                assert!(pending.is_some() || value == "None", "{line}");
            } else if let Some(field) = line.strip_prefix("pub ") {
                let name = field.split(':').next().unwrap().to_owned();
                if let Some(value) = pending.take() {
                    literals.insert(name, value);
                }
            }
        }
        let d = EngineConfig::default();
        let expected = HashMap::from([
            ("heartbeat_interval_ms".to_owned(), d.heartbeat_interval_ms),
            ("ping_timeout_ms".to_owned(), d.ping_timeout_ms),
            ("login_timeout_ms".to_owned(), d.login_timeout_ms),
            ("retry_window_ms".to_owned(), d.retry_window_ms),
            ("backoff_base_ms".to_owned(), d.backoff_base_ms),
            ("backoff_cap_ms".to_owned(), d.backoff_cap_ms),
            ("token_warning_ms".to_owned(), d.token_warning_ms),
            ("max_frame_bytes".to_owned(), u64::from(d.max_frame_bytes)),
        ]);
        assert_eq!(literals, expected);
        assert_eq!(d.proxy_url, None);
        assert_eq!(d.tls_ca_pem, None);
    }

    #[test]
    fn configs_core_rejects_are_rejected_and_too_large_values_do_not_wrap() {
        let good = default_engine_config("ws://127.0.0.1:1/v1/ws".into());
        let bad = [
            EngineConfig {
                server_url: "http://127.0.0.1:1/".into(),
                ..good.clone()
            },
            EngineConfig {
                heartbeat_interval_ms: 0,
                ..good.clone()
            },
            EngineConfig {
                ping_timeout_ms: good.heartbeat_interval_ms,
                ..good.clone()
            },
            EngineConfig {
                max_frame_bytes: 1023,
                ..good.clone()
            },
        ];
        for config in bad {
            assert_eq!(
                roomlink::EngineConfig::try_from(config.clone()),
                Err(ErrorCode::INVALID_ARGUMENT),
                "{config:?}"
            );
        }
        let huge = EngineConfig {
            retry_window_ms: u64::MAX,
            ..good
        };
        let core = roomlink::EngineConfig::try_from(huge).unwrap();
        assert_eq!(core.retry_window, Duration::from_millis(u64::MAX));
        assert_eq!(EngineConfig::from(core).retry_window_ms, u64::MAX);
    }
}
