//! `roomlink serve`: the reference server, every setting a flag with an environment variable.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roomlink_server::{ConnectionLimits, Rate, RateLimits, ServerConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "ROOMLINK_BIND", default_value = "127.0.0.1:7700")]
    bind: SocketAddr,
    #[command(flatten)]
    key: crate::key::TokenKey,
    /// Bearer secret for the admin API.
    #[arg(
        long,
        env = "ROOMLINK_ADMIN_SECRET",
        default_value = "dev-admin",
        hide_env_values = true
    )]
    admin_secret: String,
    /// A user silent this long is dropped from its rooms (ms).
    #[arg(long, env = "ROOMLINK_HEARTBEAT_TIMEOUT_MS", default_value_t = 90_000)]
    heartbeat_timeout_ms: u64,
    /// Most members one room may hold.
    #[arg(long, env = "ROOMLINK_ROOM_CAPACITY", default_value_t = 1000)]
    room_capacity: usize,
    /// Largest client frame accepted (bytes).
    #[arg(long, env = "ROOMLINK_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    max_frame_bytes: usize,
    /// Room events kept per session for replay on resume.
    #[arg(long, env = "ROOMLINK_REPLAY_BUFFER", default_value_t = 256)]
    replay_buffer: usize,
    /// The whole HTTP request (up to the WebSocket upgrade) must arrive within this long of the
    /// accept, or the connection is closed (ms).
    #[arg(long, env = "ROOMLINK_REQUEST_TIMEOUT_MS", default_value_t = 5_000)]
    request_timeout_ms: u64,
    /// A WebSocket connection holding no session this long after its upgrade is closed (ms); a
    /// login still unanswered then is waited for first (at most the heartbeat timeout).
    #[arg(long, env = "ROOMLINK_LOGIN_TIMEOUT_MS", default_value_t = 10_000)]
    login_timeout_ms: u64,
    /// On SIGTERM, the first Ctrl-C or `POST /admin/drain`: how long connections are given to
    /// close after being told to go elsewhere, before the process exits anyway (ms).
    #[arg(long, env = "ROOMLINK_DRAIN_TIMEOUT_MS", default_value_t = 10_000)]
    drain_timeout_ms: u64,
    /// Most connections held at once [default: derived from the open-file limit].
    #[arg(long, env = "ROOMLINK_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections whose HTTP request is still in progress [default: max-connections / 8].
    #[arg(long, env = "ROOMLINK_MAX_PENDING")]
    max_pending: Option<usize>,
    /// Most connections from one address (IPv6: one /64) [default: derived, below max-pending,
    /// and not applied to loopback peers; set, it applies to every address].
    #[arg(long, env = "ROOMLINK_MAX_PER_IP")]
    max_per_ip: Option<usize>,
    /// Join a cluster whose rooms live in this Redis (`redis://[:password@]host:port[/db]`);
    /// every node of it must have the same settings [default: rooms live in this process only].
    #[arg(long, env = "ROOMLINK_REDIS", hide_env_values = true)]
    redis: Option<String>,
    /// With a `rediss://` Redis: trust only the CA certificates in this PEM file [default: the
    /// system trust store].
    #[arg(long, env = "ROOMLINK_REDIS_CA")]
    redis_ca: Option<std::path::PathBuf>,
    /// Cluster only: store a room's state every this many log entries and trim its log.
    #[arg(long, env = "ROOMLINK_SNAPSHOT_EVERY", default_value_t = 1000)]
    snapshot_every: u64,
    #[command(flatten)]
    rates: Rates,
}

/// Rate limits and the room cap per connection (see docs/PROTOCOL.md, "Limits").
#[derive(clap::Args)]
struct Rates {
    /// Frames per second one connection may send, sustained.
    #[arg(long, env = "ROOMLINK_FRAMES_PER_SEC", default_value_t = 50)]
    frames_per_sec: u32,
    /// Frames one connection may send at once on top of the sustained rate.
    #[arg(long, env = "ROOMLINK_FRAME_BURST", default_value_t = 200)]
    frame_burst: u32,
    /// Room events (fresh logins, publishes, unpublishes, renewals) per second per member.
    #[arg(long, env = "ROOMLINK_MEMBER_EVENTS_PER_SEC", default_value_t = 10)]
    member_events_per_sec: u32,
    /// Room events one member may cause at once.
    #[arg(long, env = "ROOMLINK_MEMBER_EVENT_BURST", default_value_t = 80)]
    member_event_burst: u32,
    /// Rooms one connection may hold sessions in.
    #[arg(long, env = "ROOMLINK_MAX_ROOMS_PER_CONN", default_value_t = 16)]
    max_rooms_per_conn: usize,
}

impl Rates {
    fn config(&self) -> RateLimits {
        RateLimits {
            frames: Rate {
                per_sec: self.frames_per_sec,
                burst: self.frame_burst,
            },
            member_events: Rate {
                per_sec: self.member_events_per_sec,
                burst: self.member_event_burst,
            },
            max_rooms_per_conn: self.max_rooms_per_conn,
        }
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let redis_ca_pem = match &args.redis_ca {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| format!("--redis-ca {}: {e}", path.display()))?)
        }
        None => None,
    };
    let config = ServerConfig {
        bind: args.bind,
        app_id: args.key.app_id,
        token_secret: args.key.token_secret,
        admin_secret: args.admin_secret,
        heartbeat_timeout: Duration::from_millis(args.heartbeat_timeout_ms),
        room_capacity: args.room_capacity,
        max_frame_bytes: args.max_frame_bytes,
        replay_buffer: args.replay_buffer,
        request_timeout: Duration::from_millis(args.request_timeout_ms),
        login_timeout: Duration::from_millis(args.login_timeout_ms),
        drain_timeout: Duration::from_millis(args.drain_timeout_ms),
        limits: ConnectionLimits {
            max_connections: args.max_connections,
            max_pending: args.max_pending,
            max_per_ip: args.max_per_ip,
        },
        redis: args.redis.map(roomlink_server::StoreUrl),
        snapshot_every: args.snapshot_every,
        redis_ca_pem,
        rates: args.rates.config(),
    };
    // Checked here too (start would refuse it as well) so the message names the setting rather
    // than reading like a bind failure.
    config
        .validate()
        .map_err(|e| format!("invalid server settings: {e}"))?;
    for w in config.warnings() {
        eprintln!("warning: {w}");
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    let drain_timeout = config.drain_timeout;
    rt.block_on(async {
        let mut signals = Signals::new().map_err(|e| format!("signal: {e}"))?;
        let mut server = roomlink_server::start(config)
            .await
            .map_err(|e| format!("start on {}: {e}", args.bind))?;
        println!(
            "roomlink server: websocket {}  admin {}",
            server.ws_url(),
            server.admin_url()
        );
        // SIGTERM or the first Ctrl-C drains with the configured timeout; an admin drain
        // brings its own deadline. Either way the process exits 0 once drained.
        let deadline = tokio::select! {
            _ = signals.next() => Instant::now() + drain_timeout,
            started = server.drain_started() => started.unwrap_or_else(Instant::now),
        };
        eprintln!("roomlink server: draining (a second signal exits at once)");
        tokio::select! {
            _ = server.drain(deadline) => {}
            _ = signals.next() => return Err("second signal: exiting without finishing the drain".into()),
        }
        server.shutdown().await;
        Ok(())
    })
}

/// SIGTERM and Ctrl-C (SIGINT), as one stream of "a signal came".
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: super::Args,
    }

    fn run(args: &[&str]) -> Result<(), String> {
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        super::run(cli.serve)
    }

    #[test]
    fn the_rate_flags_default_to_the_servers_defaults() {
        let cli = Cli::try_parse_from(["serve"]).unwrap();
        assert_eq!(
            cli.serve.rates.config(),
            roomlink_server::RateLimits::default()
        );
    }

    #[test]
    fn bad_settings_are_refused_before_binding_with_the_setting_named() {
        for (args, field) in [
            (&["--heartbeat-timeout-ms", "0"][..], "heartbeat_timeout"),
            (&["--room-capacity", "0"][..], "room_capacity"),
            (&["--max-frame-bytes", "10"][..], "max_frame_bytes"),
            (&["--replay-buffer", "2000000"][..], "replay_buffer"),
            (&["--request-timeout-ms", "0"][..], "request_timeout"),
            (&["--login-timeout-ms", "0"][..], "login_timeout"),
            (&["--drain-timeout-ms", "100000000000"][..], "drain_timeout"),
            (&["--max-connections", "0"][..], "max_connections"),
            (&["--max-pending", "0"][..], "max_pending"),
            (&["--max-per-ip", "0"][..], "max_per_ip"),
            (&["--frames-per-sec", "0"][..], "rates.frames"),
            (&["--member-event-burst", "0"][..], "rates.member_events"),
            (&["--max-rooms-per-conn", "0"][..], "max_rooms_per_conn"),
            (&["--admin-secret", ""][..], "admin_secret"),
            (&["--token-secret", ""][..], "token_secret"),
            (&["--app-id", ""][..], "app_id"),
        ] {
            let err = run(args).expect_err(field);
            assert!(err.starts_with("invalid server settings"), "{err}");
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
