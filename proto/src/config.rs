//! Engine and room configuration. Every duration has a default fit for production; tests and the
//! demo shorten them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::codes::ErrorCode;
use crate::proxy::HttpProxy;

/// ZEGO's room modes: one room at a time, or several at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum RoomMode {
    #[default]
    SingleRoom = 0,
    MultiRoom = 1,
}

/// Settings for one engine (one link to one server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EngineConfig {
    /// `ws://host:port/path` or `wss://...`: the first server to try.
    pub server_url: String,
    /// More servers (same form), tried in order after `server_url`: a failed attempt, or a
    /// server's drain `bye` (1900008), moves on to the next URL at once; after a full round of
    /// failures the normal backoff applies.
    pub more_server_urls: Vec<String>,
    pub room_mode: RoomMode,
    /// How often the client sends a ping while the link is idle.
    #[serde(with = "millis")]
    pub heartbeat_interval: Duration,
    /// No inbound frame for this long means the link is lost (→ Reconnecting). Also bounds one
    /// connect attempt.
    #[serde(with = "millis")]
    pub ping_timeout: Duration,
    /// A login that has not succeeded after this long fails with 1002053.
    #[serde(with = "millis")]
    pub login_timeout: Duration,
    /// After a link loss, keep retrying this long before ReconnectFailed 1002053 (ZEGO: 20 min).
    #[serde(with = "millis")]
    pub retry_window: Duration,
    /// Full-jitter exponential backoff: attempt n waits uniform(0, min(cap, base·2ⁿ)).
    #[serde(with = "millis")]
    pub backoff_base: Duration,
    #[serde(with = "millis")]
    pub backoff_cap: Duration,
    /// `RoomTokenWillExpire` fires this long before the token expires.
    #[serde(with = "millis")]
    pub token_warning: Duration,
    /// Frames larger than this are a protocol error.
    pub max_frame_bytes: usize,
    /// Tunnel through this HTTP proxy (`CONNECT`), for `ws://` and `wss://`; `None` connects
    /// directly. Applied by `roomlink::Engine::new`; a transport given to
    /// `Engine::with_transport` brings its own (`WebSocketTransport::with_proxy`).
    pub proxy: Option<ProxyUrl>,
    /// Trust only the CAs in this PEM bundle for `wss://` (pinning an app's own CA); `None`, the
    /// default, verifies with the platform's verifier and the OS trust store (`roomlink`'s
    /// `transport::tls`). Applied, and its certificates parsed, by `roomlink::Engine::new`.
    pub tls_ca_pem: Option<CaPem>,
}

/// A PEM bundle of CA certificates (`-----BEGIN CERTIFICATE-----` blocks). Scenario files and
/// JSON configs carry it as text; `Debug` shows only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem(pub Vec<u8>);

impl std::fmt::Debug for CaPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaPem({} bytes)", self.0.len())
    }
}

impl Serialize for CaPem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(&self.0))
    }
}

impl<'de> Deserialize<'de> for CaPem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(CaPem(String::deserialize(d)?.into_bytes()))
    }
}

/// An HTTP proxy URL, `http://[user:pass@]host:port` (user and password percent-encoded where
/// needed). The credentials are secrets: `Debug` shows only the host and port.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProxyUrl(pub String);

impl ProxyUrl {
    /// The parsed proxy, or what is wrong with the URL (never the URL itself).
    pub fn parse(&self) -> Result<HttpProxy, &'static str> {
        HttpProxy::parse(&self.0)
    }
}

impl From<&str> for ProxyUrl {
    fn from(url: &str) -> Self {
        ProxyUrl(url.to_owned())
    }
}

impl From<String> for ProxyUrl {
    fn from(url: String) -> Self {
        ProxyUrl(url)
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parse() {
            Ok(proxy) => write!(f, "ProxyUrl({proxy:?})"),
            Err(_) => f.write_str("ProxyUrl(<invalid>)"),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            server_url: String::new(),
            more_server_urls: Vec::new(),
            room_mode: RoomMode::SingleRoom,
            heartbeat_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(25),
            login_timeout: Duration::from_secs(30),
            retry_window: Duration::from_secs(20 * 60),
            backoff_base: Duration::from_millis(300),
            backoff_cap: Duration::from_secs(8),
            token_warning: Duration::from_secs(30),
            max_frame_bytes: 64 * 1024,
            proxy: None,
            tls_ca_pem: None,
        }
    }
}

impl EngineConfig {
    pub fn new(server_url: impl Into<String>) -> Self {
        EngineConfig {
            server_url: server_url.into(),
            ..Default::default()
        }
    }

    /// Several servers (e.g. the nodes of a cluster), tried in this order; the first is
    /// `server_url`. An empty list leaves `server_url` empty, which `validate` refuses.
    pub fn with_urls<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> Self {
        let mut urls = urls.into_iter().map(Into::into);
        EngineConfig {
            server_url: urls.next().unwrap_or_default(),
            more_server_urls: urls.collect(),
            ..Default::default()
        }
    }

    /// Every server URL, in the order attempts try them (`server_url` first).
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.server_url.as_str())
            .chain(self.more_server_urls.iter().map(String::as_str))
    }

    /// Rejects settings that cannot work (zero durations, a ping timeout not above the heartbeat
    /// interval, a URL that is not ws/wss, a malformed proxy URL, an empty CA PEM) with
    /// `INVALID_ARGUMENT`. Whether a CA PEM's certificates parse is the TLS stack's to say, so
    /// `roomlink::Engine::new` checks that too (same code); this crate has no TLS.
    pub fn validate(&self) -> Result<(), ErrorCode> {
        let zero = Duration::ZERO;
        let url_ok = self
            .urls()
            .all(|u| u.starts_with("ws://") || u.starts_with("wss://"));
        if !url_ok
            || self.heartbeat_interval == zero
            || self.ping_timeout <= self.heartbeat_interval
            || self.login_timeout == zero
            || self.retry_window == zero
            || self.backoff_base == zero
            || self.backoff_cap < self.backoff_base
            || self.max_frame_bytes < 1024
            || self.proxy.as_ref().is_some_and(|p| p.parse().is_err())
            || self.tls_ca_pem.as_ref().is_some_and(|pem| pem.0.is_empty())
        {
            return Err(ErrorCode::INVALID_ARGUMENT);
        }
        Ok(())
    }
}

/// Per-login options (ZEGO's `ZegoRoomConfig`, minus what roomlink does not do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomConfig {
    /// Receive `RoomUserUpdate` for other users. On by default (ZEGO defaults it off; roomlink's
    /// users asked for lists that stay true, so it is on).
    pub user_update: bool,
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig { user_update: true }
    }
}

/// Serde helper: durations as integer milliseconds (scenario files and FFI configs use ms).
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_ca_pem_is_an_invalid_argument() {
        let mut config = EngineConfig::new("wss://127.0.0.1:1/v1/ws");
        assert_eq!(config.validate(), Ok(()));
        config.tls_ca_pem = Some(CaPem(Vec::new()));
        assert_eq!(config.validate(), Err(ErrorCode::INVALID_ARGUMENT));
    }

    #[test]
    fn a_ca_pem_is_text_in_json_and_only_its_size_in_debug() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let config = EngineConfig {
            tls_ca_pem: Some(CaPem(pem.as_bytes().to_vec())),
            ..EngineConfig::new("wss://h/v1/ws")
        };
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["tls_ca_pem"], pem);
        let back: EngineConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
        assert!(format!("{config:?}").contains(&format!("CaPem({} bytes)", pem.len())));
    }
}
