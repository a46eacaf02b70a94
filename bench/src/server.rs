//! The roomlink server under test: a separate release-mode process (`roomlink-bench serve`), so
//! its RSS and CPU can be read from /proc and the clients do not share its runtime.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use roomlink_server::token::{Claims, mint};
use roomlink_server::{Rate, RateLimits, ServerConfig};

use crate::child::{ChildProc, this_binary};

/// Room capacity for the bench server: the fan-out room holds 10 000 + 1.
pub const ROOM_CAPACITY: usize = 100_000;

/// The settings the bench server runs with (development secrets, loopback).
pub fn config(bind: SocketAddr) -> ServerConfig {
    ServerConfig {
        bind,
        room_capacity: ROOM_CAPACITY,
        rates: UNLIMITED,
        ..ServerConfig::default()
    }
}

/// The benchmarks are floods on purpose (one engine publishing thousands of streams, a login loop
/// of hundreds of samples): the rate limits would measure themselves, so they are lifted.
const UNLIMITED: RateLimits = RateLimits {
    frames: NO_RATE,
    member_events: NO_RATE,
    max_rooms_per_conn: usize::MAX,
};
const NO_RATE: Rate = Rate {
    per_sec: roomlink_server::MAX_RATE_PER_SEC,
    burst: u32::MAX,
};

/// A one-hour token the bench server accepts.
pub fn token(user_id: &str, room_id: &str) -> String {
    let cfg = config(SocketAddr::from(([127, 0, 0, 1], 0)));
    let claims = Claims {
        app_id: cfg.app_id,
        user_id: user_id.into(),
        room_id: room_id.into(),
        expires_at_ms: roomlink_server::token::now_unix_ms() + 3_600_000,
    };
    mint(&cfg.token_secret, &claims)
}

/// What a bench server differs in from the bench's [`config`]; `None`: the server's default.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// A node of the cluster on this Redis (`redis://…`) instead of the in-memory server.
    pub redis: Option<String>,
    /// The heartbeat timeout (a node refreshes its liveness every sixth of it).
    pub heartbeat_timeout: Option<Duration>,
    /// Events kept per session for a resume (the soak's A/B: 0 keeps none).
    pub replay_buffer: Option<usize>,
}

/// `roomlink-bench serve`: runs the server until stdin closes, after printing `{"addr": ...}`.
pub fn serve(opts: ServeOptions) -> Result<(), String> {
    crate::sys::raise_nofile()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let mut config = config(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.redis = opts.redis.map(roomlink_server::StoreUrl);
        if let Some(t) = opts.heartbeat_timeout {
            config.heartbeat_timeout = t;
        }
        if let Some(n) = opts.replay_buffer {
            config.replay_buffer = n;
        }
        let handle = roomlink_server::start(config)
            .await
            .map_err(|e| format!("server start: {e}"))?;
        println!("{}", serde_json::json!({ "addr": handle.local_addr() }));
        // The parent closes our stdin to stop us (or dies, which closes it too).
        let mut stdin = tokio::io::stdin();
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut stdin, &mut sink).await;
        handle.shutdown().await;
        Ok(())
    })
}

/// A running bench server process.
pub struct ServerProc {
    pub proc: ChildProc,
    pub addr: SocketAddr,
}

impl ServerProc {
    pub fn start() -> Result<ServerProc, String> {
        ServerProc::start_with(&ServeOptions::default())
    }

    /// A node of the cluster on the Redis at `redis`, with its own heartbeat timeout if one is
    /// given.
    pub fn start_on(
        redis: Option<&str>,
        heartbeat_timeout: Option<Duration>,
    ) -> Result<ServerProc, String> {
        ServerProc::start_with(&ServeOptions {
            redis: redis.map(str::to_string),
            heartbeat_timeout,
            replay_buffer: None,
        })
    }

    /// A server (`roomlink-bench serve` in a child process) set up as `opts` says.
    pub fn start_with(opts: &ServeOptions) -> Result<ServerProc, String> {
        let mut cmd = Command::new(this_binary()?);
        cmd.arg("serve");
        if let Some(url) = &opts.redis {
            cmd.args(["--redis", url]);
        }
        if let Some(t) = opts.heartbeat_timeout {
            cmd.args(["--heartbeat-timeout-ms", &t.as_millis().to_string()]);
        }
        if let Some(n) = opts.replay_buffer {
            cmd.args(["--replay-buffer", &n.to_string()]);
        }
        let proc = ChildProc::spawn("roomlink server", cmd)?;
        let line = proc.next_json(Duration::from_secs(10))?;
        let addr = line["addr"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| format!("roomlink server: bad address line {line}"))?;
        Ok(ServerProc { proc, addr })
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, roomlink::protocol::WS_PATH)
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn stop(self) -> Result<(), String> {
        self.proc.finish(Duration::from_secs(10))
    }
}
