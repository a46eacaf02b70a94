//! Server settings and their checks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Shortest accepted `heartbeat_timeout`: below this a client's pings cannot keep up.
pub const MIN_HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest accepted `heartbeat_timeout`: one day (deadlines are computed from it).
pub const MAX_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Smallest accepted `max_frame_bytes` (a login with a token must fit).
pub const MIN_FRAME_BYTES: usize = 1024;
/// Largest accepted `max_frame_bytes`.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Largest accepted `replay_buffer` (events kept per session).
pub const MAX_REPLAY_BUFFER: usize = 1_000_000;

/// The development secrets of `Default`; fine on loopback, a hole anywhere else.
const DEV_TOKEN_SECRET: &str = "dev-secret";
const DEV_ADMIN_SECRET: &str = "dev-admin";

/// Everything the server can be told at start. `Default` is a loopback development setup.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen; port 0 picks a free port (see `ServerHandle::local_addr`).
    pub bind: SocketAddr,
    /// The application ID tokens must name.
    pub app_id: String,
    /// HMAC-SHA256 key tokens are signed with.
    pub token_secret: String,
    /// Bearer secret for `/admin`.
    pub admin_secret: String,
    /// A connection silent this long is closed and its sessions expire; a detached session expires
    /// this long after its connection was last heard from.
    pub heartbeat_timeout: Duration,
    /// Most members (users) one room may hold.
    pub room_capacity: usize,
    /// Largest client frame (and `roomlink-hello` header) accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Room events kept per session so a resuming client can be replayed what it missed.
    pub replay_buffer: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7700)),
            app_id: "roomlink-dev".into(),
            token_secret: DEV_TOKEN_SECRET.into(),
            admin_secret: DEV_ADMIN_SECRET.into(),
            heartbeat_timeout: Duration::from_secs(90),
            room_capacity: 1000,
            max_frame_bytes: 64 * 1024,
            replay_buffer: 256,
        }
    }
}

impl ServerConfig {
    /// Checks every setting; the error names the first bad one. `start` refuses a config that
    /// fails this (an empty admin secret would otherwise match a request without credentials).
    pub fn validate(&self) -> Result<(), String> {
        if self.app_id.is_empty() {
            return Err("app_id must not be empty".into());
        }
        if self.token_secret.is_empty() {
            return Err("token_secret must not be empty".into());
        }
        if self.admin_secret.is_empty() {
            return Err("admin_secret must not be empty".into());
        }
        if !(MIN_HEARTBEAT_TIMEOUT..=MAX_HEARTBEAT_TIMEOUT).contains(&self.heartbeat_timeout) {
            return Err(format!(
                "heartbeat_timeout must be between {MIN_HEARTBEAT_TIMEOUT:?} and {MAX_HEARTBEAT_TIMEOUT:?} (got {:?})",
                self.heartbeat_timeout
            ));
        }
        if self.room_capacity == 0 {
            return Err("room_capacity must be at least 1".into());
        }
        if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return Err(format!(
                "max_frame_bytes must be between {MIN_FRAME_BYTES} and {MAX_FRAME_BYTES} (got {})",
                self.max_frame_bytes
            ));
        }
        if self.replay_buffer > MAX_REPLAY_BUFFER {
            return Err(format!(
                "replay_buffer must be at most {MAX_REPLAY_BUFFER} (got {})",
                self.replay_buffer
            ));
        }
        Ok(())
    }

    /// Settings that work but are probably a mistake: the development secrets on an address
    /// other machines can reach. `start` logs each; the CLI also prints them.
    pub fn warnings(&self) -> Vec<String> {
        if self.bind.ip().is_loopback() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.admin_secret == DEV_ADMIN_SECRET {
            out.push(format!(
                "listening on {} with the default admin secret {DEV_ADMIN_SECRET:?}: anyone who can reach it can kick users and close rooms; set a real admin secret",
                self.bind
            ));
        }
        if self.token_secret == DEV_TOKEN_SECRET {
            out.push(format!(
                "listening on {} with the default token secret {DEV_TOKEN_SECRET:?}: anyone can mint tokens; set a real token secret",
                self.bind
            ));
        }
        out
    }
}

/// `from + after`, or as late as can be represented (a validated config never needs the fallback,
/// but a deadline must not panic on overflow).
pub(crate) fn deadline(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .or_else(|| from.checked_add(MAX_HEARTBEAT_TIMEOUT))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> ServerConfig {
        ServerConfig::default()
    }

    #[test]
    fn default_is_valid_and_quiet_on_loopback() {
        assert_eq!(ok().validate(), Ok(()));
        assert!(ok().warnings().is_empty());
    }

    #[test]
    fn each_bad_setting_is_named() {
        let cases: Vec<(ServerConfig, &str)> = vec![
            (
                ServerConfig {
                    app_id: String::new(),
                    ..ok()
                },
                "app_id",
            ),
            (
                ServerConfig {
                    token_secret: String::new(),
                    ..ok()
                },
                "token_secret",
            ),
            (
                ServerConfig {
                    admin_secret: String::new(),
                    ..ok()
                },
                "admin_secret",
            ),
            (
                ServerConfig {
                    heartbeat_timeout: Duration::from_millis(99),
                    ..ok()
                },
                "heartbeat_timeout",
            ),
            (
                ServerConfig {
                    heartbeat_timeout: Duration::MAX,
                    ..ok()
                },
                "heartbeat_timeout",
            ),
            (
                ServerConfig {
                    room_capacity: 0,
                    ..ok()
                },
                "room_capacity",
            ),
            (
                ServerConfig {
                    max_frame_bytes: 1023,
                    ..ok()
                },
                "max_frame_bytes",
            ),
            (
                ServerConfig {
                    max_frame_bytes: usize::MAX,
                    ..ok()
                },
                "max_frame_bytes",
            ),
            (
                ServerConfig {
                    replay_buffer: 1_000_001,
                    ..ok()
                },
                "replay_buffer",
            ),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().expect_err(field);
            assert!(err.starts_with(field), "{field}: {err}");
        }
    }

    #[test]
    fn limits_themselves_are_accepted() {
        for cfg in [
            ServerConfig {
                heartbeat_timeout: MIN_HEARTBEAT_TIMEOUT,
                max_frame_bytes: MIN_FRAME_BYTES,
                replay_buffer: 0,
                room_capacity: 1,
                ..ok()
            },
            ServerConfig {
                heartbeat_timeout: MAX_HEARTBEAT_TIMEOUT,
                max_frame_bytes: MAX_FRAME_BYTES,
                replay_buffer: MAX_REPLAY_BUFFER,
                ..ok()
            },
        ] {
            assert_eq!(cfg.validate(), Ok(()));
        }
    }

    #[test]
    fn dev_secrets_on_a_public_address_warn() {
        let public = ServerConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 7700)),
            ..ok()
        };
        let w = public.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("admin secret"), "{w:?}");
        let real = ServerConfig {
            admin_secret: "s3cret-admin".into(),
            token_secret: "s3cret-token".into(),
            ..public
        };
        assert!(real.warnings().is_empty());
    }

    #[test]
    fn deadline_never_overflows() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(deadline(now, Duration::MAX) >= now);
    }
}
