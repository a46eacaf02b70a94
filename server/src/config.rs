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
/// Shortest accepted `request_timeout` and `login_timeout`.
pub const MIN_EDGE_TIMEOUT: Duration = Duration::from_millis(10);
/// Longest accepted `request_timeout`: beyond this it no longer bounds a slow-request attack.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// The whole HTTP request (up to the WebSocket upgrade, or the response for `/healthz` and
    /// `/admin`) must be in within this long of the TCP accept, or the connection is closed.
    pub request_timeout: Duration,
    /// A WebSocket connection that has not been answered `joined`/`resumed` this long after the
    /// upgrade is closed (a connection holding no session costs a socket and protects nothing).
    /// A login still in flight then (not yet answered by a busy server or a cluster node waiting
    /// on Redis) is waited for, at most a heartbeat timeout: the client did its part.
    pub login_timeout: Duration,
    /// How long a drain started by `POST /admin/drain` gives connections to close (the CLI's
    /// `--drain-timeout-ms`, also for SIGTERM). At most one day.
    pub drain_timeout: Duration,
    /// Connection caps; `None` fields are derived from the process's open-file limit at start
    /// (see [`ConnectionLimits::resolve`]).
    pub limits: ConnectionLimits,
    /// Frames per connection, room events per member, rooms per connection.
    pub rates: crate::rate_limits::RateLimits,
    /// The Redis that makes this server one node of a cluster (`docs/PROTOCOL.md`, "Cluster");
    /// `None`: rooms live in this process only.
    pub redis: Option<StoreUrl>,
    /// Cluster only: the CA certificates (PEM) a `rediss://` Redis is verified with, instead of
    /// the system trust store (a managed Redis's or your own CA).
    pub redis_ca_pem: Option<Vec<u8>>,
    /// Cluster only: a room's state is stored in Redis every this many log entries, and its log
    /// trimmed below the previous one (`docs/PROTOCOL.md`, "Cluster").
    pub snapshot_every: u64,
}

/// A Redis URL (`redis://[[user]:password@]host:port[/db]`, or `rediss://` for TLS). It may hold
/// a password, so its `Debug` shows only the scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(pub String);

impl StoreUrl {
    /// `rediss://`: the connection to Redis is TLS.
    pub fn is_tls(&self) -> bool {
        self.0
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("?", &self.0));
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        write!(f, "StoreUrl({scheme}://{host})")
    }
}

/// Caps on connections, enforced at accept (before a byte is read). A connection over a cap is
/// answered `503` and closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// TCP connections held at once, in any phase (HTTP request, WebSocket).
    pub max_connections: Option<usize>,
    /// Connections whose HTTP request is not yet complete (not yet upgraded or answered).
    pub max_pending: Option<usize>,
    /// Connections from one source address (IPv6: one /64), in any phase. Left unset, the
    /// derived cap does not apply to loopback peers (a reverse proxy or load generator on the
    /// same host shows every client as loopback); set, it applies to every source.
    pub max_per_ip: Option<usize>,
}

/// [`ConnectionLimits`] with every cap decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedLimits {
    pub max_connections: usize,
    pub max_pending: usize,
    pub max_per_ip: usize,
    /// Whether `max_per_ip` also counts loopback peers (only when it was set explicitly).
    pub per_ip_on_loopback: bool,
}

impl ConnectionLimits {
    /// Fills the unset caps from `open_files` (the soft `RLIMIT_NOFILE`). The connection cap
    /// leaves a tenth of the descriptors (at least 64) for everything else the process opens, so
    /// `accept` never fails for lack of descriptors; pending requests may take an eighth of the
    /// connections (a slow-request attack holds at most that many, each only `request_timeout`
    /// long) and one address half of those, so one source can never take every pending slot from
    /// `/healthz`, the admin API and real logins. Behind a proxy that hides client addresses,
    /// raise `max_per_ip` to `max_connections`.
    pub fn resolve(&self, open_files: u64) -> ResolvedLimits {
        let files = usize::try_from(open_files).unwrap_or(usize::MAX);
        let reserve = (files / 10).max(64);
        let derived = if files > 2 * reserve {
            files - reserve
        } else {
            (files / 2).max(1)
        };
        let max_connections = self.max_connections.unwrap_or(derived);
        let max_pending = self.max_pending.unwrap_or((max_connections / 8).max(1));
        let max_per_ip = self
            .max_per_ip
            .unwrap_or((max_connections / 16).max(1).min(max_pending.div_ceil(2)));
        ResolvedLimits {
            max_connections,
            max_pending,
            max_per_ip,
            per_ip_on_loopback: self.max_per_ip.is_some(),
        }
    }
}

/// The soft open-file limit of this process (`RLIMIT_NOFILE`); 1024 where it cannot be read.
pub fn open_file_limit() -> u64 {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit struct through a valid pointer.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } == 0 {
            // RLIM_INFINITY is the type's max: treat it as a large but countable number.
            // `rlim_t` is u32 on some 32-bit targets, hence the conversion.
            #[allow(clippy::useless_conversion)]
            return u64::from(lim.rlim_cur).min(1 << 24);
        }
    }
    1024
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
            request_timeout: Duration::from_secs(5),
            login_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(10),
            limits: ConnectionLimits::default(),
            redis: None,
            snapshot_every: 1000,
            redis_ca_pem: None,
            rates: Default::default(),
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
        if self.redis_ca_pem.is_some() && !self.redis.as_ref().is_some_and(StoreUrl::is_tls) {
            return Err("redis_ca_pem needs a rediss:// Redis URL".into());
        }
        if self.snapshot_every == 0 {
            return Err("snapshot_every must be at least 1".into());
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
        if !(MIN_EDGE_TIMEOUT..=MAX_REQUEST_TIMEOUT).contains(&self.request_timeout) {
            return Err(format!(
                "request_timeout must be between {MIN_EDGE_TIMEOUT:?} and {MAX_REQUEST_TIMEOUT:?} (got {:?})",
                self.request_timeout
            ));
        }
        if !(MIN_EDGE_TIMEOUT..=MAX_HEARTBEAT_TIMEOUT).contains(&self.login_timeout) {
            return Err(format!(
                "login_timeout must be between {MIN_EDGE_TIMEOUT:?} and {MAX_HEARTBEAT_TIMEOUT:?} (got {:?})",
                self.login_timeout
            ));
        }
        self.rates.validate()?;
        if self.drain_timeout > MAX_HEARTBEAT_TIMEOUT {
            return Err(format!(
                "drain_timeout must be at most {MAX_HEARTBEAT_TIMEOUT:?} (got {:?})",
                self.drain_timeout
            ));
        }
        let l = &self.limits;
        for (name, cap) in [
            ("max_connections", l.max_connections),
            ("max_pending", l.max_pending),
            ("max_per_ip", l.max_per_ip),
        ] {
            if cap == Some(0) {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if let (Some(total), Some(part)) = (l.max_connections, l.max_pending) {
            if part > total {
                return Err(format!(
                    "max_pending must be at most max_connections ({total}) (got {part})"
                ));
            }
        }
        if let (Some(total), Some(part)) = (l.max_connections, l.max_per_ip) {
            if part > total {
                return Err(format!(
                    "max_per_ip must be at most max_connections ({total}) (got {part})"
                ));
            }
        }
        Ok(())
    }

    /// Settings that work but are probably a mistake: a connection cap the open-file limit cannot
    /// honour, or the development secrets on an address other machines can reach. `start` logs
    /// each; the CLI also prints them.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let files = open_file_limit();
        if let Some(cap) = self.limits.max_connections {
            if cap as u64 >= files {
                out.push(format!(
                    "max_connections {cap} is not below the open-file limit {files}: accept can fail for lack of descriptors before the cap is reached, and /healthz and the admin API with it; raise the limit (ulimit -n) or lower the cap"
                ));
            }
        }
        if self.bind.ip().is_loopback() {
            return out;
        }
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

    #[test]
    fn a_store_urls_password_never_shows() {
        let u = StoreUrl("redis://user:hunter2@10.0.0.5:6379/0".into());
        let shown = format!(
            "{:?}",
            ServerConfig {
                redis: Some(u),
                ..ServerConfig::default()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redis://10.0.0.5:6379/0"), "{shown}");
    }

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
            (
                ServerConfig {
                    request_timeout: Duration::from_millis(9),
                    ..ok()
                },
                "request_timeout",
            ),
            (
                ServerConfig {
                    request_timeout: Duration::from_secs(61),
                    ..ok()
                },
                "request_timeout",
            ),
            (
                ServerConfig {
                    login_timeout: Duration::from_millis(9),
                    ..ok()
                },
                "login_timeout",
            ),
            (
                ServerConfig {
                    limits: ConnectionLimits {
                        max_connections: Some(0),
                        ..Default::default()
                    },
                    ..ok()
                },
                "max_connections",
            ),
            (
                ServerConfig {
                    limits: ConnectionLimits {
                        max_connections: Some(10),
                        max_pending: Some(11),
                        max_per_ip: None,
                    },
                    ..ok()
                },
                "max_pending",
            ),
            (
                ServerConfig {
                    limits: ConnectionLimits {
                        max_connections: Some(10),
                        max_pending: None,
                        max_per_ip: Some(11),
                    },
                    ..ok()
                },
                "max_per_ip",
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
    fn derived_caps_leave_descriptors_over_and_keep_one_source_below_the_pending_cap() {
        let derived = |files| ConnectionLimits::default().resolve(files);
        let l = derived(20_000);
        assert_eq!(
            (l.max_connections, l.max_pending, l.max_per_ip),
            (18_000, 2250, 1125)
        );
        assert!(!l.per_ip_on_loopback);
        let l = derived(1024);
        assert_eq!(
            (l.max_connections, l.max_pending, l.max_per_ip),
            (922, 115, 57)
        );
        // A tiny limit still leaves half the descriptors over and every cap at least 1.
        let l = derived(8);
        assert_eq!((l.max_connections, l.max_pending, l.max_per_ip), (4, 1, 1));
        for files in [1, 2, 100, 129, 1 << 20] {
            let l = derived(files);
            assert!((l.max_connections as u64) < files.max(2), "{files}: {l:?}");
            assert!(l.max_pending >= 1 && l.max_per_ip >= 1, "{files}: {l:?}");
            assert!(
                l.max_per_ip < l.max_pending || l.max_pending == 1,
                "{files}: {l:?}"
            );
        }
        // Set caps are kept, and a set per-IP cap counts loopback peers too.
        let set = ConnectionLimits {
            max_connections: Some(5),
            max_pending: Some(2),
            max_per_ip: Some(3),
        }
        .resolve(20_000);
        assert_eq!(
            set,
            ResolvedLimits {
                max_connections: 5,
                max_pending: 2,
                max_per_ip: 3,
                per_ip_on_loopback: true
            }
        );
    }

    #[test]
    fn a_connection_cap_at_the_open_file_limit_warns() {
        let cfg = ServerConfig {
            limits: ConnectionLimits {
                max_connections: Some(usize::MAX),
                ..Default::default()
            },
            ..ok()
        };
        let w = cfg.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("open-file limit"), "{w:?}");
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
