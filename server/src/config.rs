//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

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
            token_secret: "dev-secret".into(),
            admin_secret: "dev-admin".into(),
            heartbeat_timeout: Duration::from_secs(90),
            room_capacity: 1000,
            max_frame_bytes: 64 * 1024,
            replay_buffer: 256,
        }
    }
}
