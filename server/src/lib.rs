//! The reference room server for roomlink: token checks, heartbeats, session resume with replay,
//! and an admin API. State lives behind [`registry::RoomRegistry`]: in this process
//! ([`memory::MemoryRegistry`], the default) or shared by a cluster of nodes through Redis
//! ([`cluster::ClusterRegistry`], `ServerConfig::redis`). The room and session rules live in
//! `roomlink-server-core` (sans-IO); both backends drive them.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let server = roomlink_server::start(roomlink_server::ServerConfig::default()).await?;
//! println!("{}", server.ws_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod cluster;
mod coalesce;
mod config;
mod drain;
mod edge;
mod flood;
mod id;
pub mod memory;
mod metrics;
mod rate_limits;
mod ratelog;
pub mod registry;
pub mod token;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use tokio::task::JoinHandle;

pub use config::{ConnectionLimits, ResolvedLimits, ServerConfig, StoreUrl, open_file_limit};
pub use edge::EdgeStats;
pub use rate_limits::{MAX_RATE_PER_SEC, Rate, RateLimits};
pub use registry::{RoomInfo, RoomRegistry};

/// What handlers share.
pub(crate) struct AppState {
    pub config: ServerConfig,
    pub registry: Arc<dyn RoomRegistry>,
    /// Serving, draining or stopped; every connection task watches it.
    pub lifecycle: tokio::sync::watch::Receiver<drain::Lifecycle>,
    /// Starts a drain (`POST /admin/drain`).
    pub control: Arc<drain::Control>,
    /// Connection caps and the counters of what the edge refused or closed.
    pub edge: Arc<edge::Edge>,
    /// Admin requests refused for a missing or wrong bearer, reported once per interval.
    pub admin_refusals: ratelog::RateLog,
    /// What the connection tasks count for `/metrics`.
    pub stats: metrics::DriverStats,
}

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    registry: Arc<dyn RoomRegistry>,
    edge: Arc<edge::Edge>,
    limits: ResolvedLimits,
    control: Arc<drain::Control>,
    serve: JoinHandle<()>,
}

/// How long shutdown waits for the accept loop to end before cutting it off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // So a restart (shutdown + start on the same port) is not refused while old sockets linger.
    socket.set_reuseaddr(true)?;
    #[cfg(target_os = "linux")]
    defer_accept(&socket);
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Linux: hand a connection to `accept` only once its first bytes (the HTTP request) are in, so
/// a login wakes the server once, not twice (handshake, then request 10-50 µs later). Every
/// client of this server speaks first. Best effort: without it the server just wakes twice.
#[cfg(target_os = "linux")]
fn defer_accept(socket: &tokio::net::TcpSocket) {
    use std::os::fd::AsRawFd;
    // How long the kernel holds a connection that has sent nothing before handing it over
    // anyway (rounded up to its SYN-ACK retransmission schedule).
    let secs: libc::c_int = 5;
    // SAFETY: a valid socket descriptor and a c_int option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            (&raw const secs).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::debug!("TCP_DEFER_ACCEPT: {}", std::io::Error::last_os_error());
    }
}

/// Binds `config.bind` and serves on the current tokio runtime until [`ServerHandle::shutdown`].
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] if [`ServerConfig::validate`] does, and logs
/// [`ServerConfig::warnings`].
pub async fn start(config: ServerConfig) -> std::io::Result<ServerHandle> {
    let registry: Arc<dyn RoomRegistry> = match &config.redis {
        None => Arc::new(memory::MemoryRegistry::new(config.clone())),
        Some(url) => {
            config
                .validate()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let node = cluster::ClusterRegistry::connect(&url.0, &config)
                .await
                .map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::ConnectionRefused,
                        format!("cluster store {url:?}: {e}"),
                    )
                })?;
            Arc::new(node)
        }
    };
    start_with_registry(config, registry).await
}

/// Like [`start`] with another state backend. `registry` should be empty and is cleared at
/// shutdown.
pub async fn start_with_registry(
    config: ServerConfig,
    registry: Arc<dyn RoomRegistry>,
) -> std::io::Result<ServerHandle> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    for w in config.warnings() {
        log::warn!("{w}");
    }
    let listener = bind(config.bind)?;
    let addr = listener.local_addr()?;
    let files = open_file_limit();
    let limits = config.limits.resolve(files);
    log::info!(
        "connection caps: {} connections, {} pending requests, {} per address (open-file limit {files})",
        limits.max_connections,
        limits.max_pending,
        limits.max_per_ip
    );
    let edge = Arc::new(edge::Edge::new(limits));
    let request_timeout = config.request_timeout;
    let (control, shutdown) = drain::Control::new();
    let app = Arc::new(AppState {
        config,
        registry: registry.clone(),
        lifecycle: shutdown.clone(),
        control: control.clone(),
        edge: edge.clone(),
        admin_refusals: ratelog::RateLog::new(ratelog::LOG_INTERVAL),
        stats: metrics::DriverStats::default(),
    });
    let router = Router::new()
        .route(roomlink_proto::protocol::WS_PATH, get(ws::upgrade))
        .route("/healthz", get(drain::healthz))
        .nest("/admin", admin::router(app.clone()))
        .merge(admin::metrics_router(app.clone()))
        .with_state(app);
    let serve = tokio::spawn(edge::accept_loop(
        listener,
        router,
        edge.clone(),
        request_timeout,
        shutdown,
    ));
    log::info!("roomlink server listening on {addr}");
    Ok(ServerHandle {
        addr,
        registry,
        edge,
        limits,
        control,
        serve,
    })
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://ADDR/v1/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, roomlink_proto::protocol::WS_PATH)
    }

    /// The connection caps in force (the config's, with unset ones derived at start).
    pub fn limits(&self) -> ResolvedLimits {
        self.limits
    }

    /// Connections held now and everything the edge has refused or closed since start.
    pub fn edge_stats(&self) -> EdgeStats {
        self.edge.stats()
    }

    /// `http://ADDR/admin`.
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin", self.addr)
    }

    /// Drains the server: stops accepting (the port is closed once this returns), tells every
    /// WebSocket connection `bye{1900008 SERVER_DRAINING}` and closes it with 1012 ("service
    /// restart"), its sessions detached as for a closed connection so they can be resumed on
    /// another node, and returns once every connection is gone or at `deadline`, whichever is
    /// first. `/healthz` answers 503 meanwhile. If a drain is already under way (`POST
    /// /admin/drain`), its deadline stays for the connections; this waits until `deadline`.
    /// Call [`ServerHandle::shutdown`] afterwards to drop what is left and free the state.
    pub async fn drain(&mut self, deadline: Instant) {
        let at = self.control.begin(deadline);
        log::info!(
            "draining: {} connection(s), deadline in {:?}",
            self.edge.stats().connections,
            at.map(drain::remaining)
        );
        let wait = async {
            if !self.serve.is_finished() {
                // The accept loop ends at once and drops the listener.
                let _ = (&mut self.serve).await;
            }
            self.edge.until_empty().await;
        };
        if tokio::time::timeout_at(deadline.into(), wait)
            .await
            .is_err()
        {
            log::warn!(
                "drain deadline passed with {} connection(s) left",
                self.edge.stats().connections
            );
        } else {
            log::info!("drained: no connection left");
        }
    }

    /// Resolves once a drain has begun (by [`ServerHandle::drain`] or `POST /admin/drain`),
    /// with its deadline; `None` if the server was stopped instead. `roomlink serve` waits on it
    /// to exit after an admin drain.
    pub async fn drain_started(&self) -> Option<Instant> {
        self.control.began().await
    }

    /// Stops accepting, drops every connection (no goodbye, as a crash would) and forgets all
    /// state. The port is free again when this returns.
    pub async fn shutdown(self) {
        self.control.stop();
        self.registry.clear();
        let mut serve = self.serve;
        // A drain may have awaited the accept loop to its end already (polling it again would
        // panic).
        if !serve.is_finished()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut serve)
                .await
                .is_err()
        {
            serve.abort();
            let _ = serve.await;
        }
        log::info!("roomlink server on {} stopped", self.addr);
    }
}
