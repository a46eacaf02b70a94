//! The server(s) a run talks to: one in-memory server, or (`--cluster N`) N nodes on a Redis the
//! run starts itself (roomlink-testredis). Stopping "the server" stops every node and the Redis,
//! starting it again brings the Redis back empty on its port and every node back on its own, so a
//! restart means on a cluster what it means on one server: everything is forgotten.

use std::net::SocketAddr;
use std::time::Duration;

use roomlink_server::{ServerConfig, ServerHandle, StoreUrl};
use roomlink_testredis::Redis;
use tokio::time::Instant;

use crate::scenario::scaled;

/// How long a restart keeps retrying a pinned port while the old sockets are released.
const REBIND_MS: u64 = 2_000;

/// `fut` with a deadline; a timeout is an error naming `what`.
pub async fn deadline<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what} did not finish within {limit:?}"))?
}

/// The cluster's Redis: its port stays the same across a restart (the nodes' URL names it).
struct Store {
    port: u16,
    redis: Option<Redis>,
}

/// A Redis on `port` (any free one if `None`). `Redis::start_on` blocks and panics on a broken
/// install; both stay off the runtime's threads and the panic becomes an error.
async fn start_redis(port: Option<u16>) -> Result<Redis, String> {
    tokio::task::spawn_blocking(move || match port {
        Some(p) => Redis::start_on(p),
        None => Redis::start(),
    })
    .await
    .map_err(|e| format!("cannot start redis-server (scripts/setup.sh installs it): {e}"))
}

pub struct Nodes {
    /// Every node's settings but `bind`.
    config: ServerConfig,
    /// Pinned at the first start, so a restart comes back where the proxies point.
    binds: Vec<SocketAddr>,
    /// Per node: its server while it runs (`None` once stopped or killed).
    running: Vec<Option<ServerHandle>>,
    store: Option<Store>,
    op_timeout: Duration,
    scale: f64,
}

impl Nodes {
    /// One server (`cluster` is `None`) or `cluster` nodes on a fresh Redis.
    pub async fn start(
        config: ServerConfig,
        cluster: Option<usize>,
        op_timeout: Duration,
        scale: f64,
    ) -> Result<Nodes, String> {
        let count = cluster.unwrap_or(1);
        let mut nodes = Nodes {
            binds: vec![config.bind; count],
            config,
            running: Vec::new(),
            store: None,
            op_timeout,
            scale,
        };
        if cluster.is_some() {
            let redis = start_redis(None).await?;
            nodes.config.redis = Some(StoreUrl(redis.url()));
            nodes.store = Some(Store {
                port: redis.port,
                redis: Some(redis),
            });
        }
        for i in 0..count {
            let server = nodes.start_node(i).await?;
            nodes.binds[i] = server.local_addr();
            nodes.running.push(Some(server));
        }
        log::info!(
            "serving on {:?} (redis: {})",
            nodes.binds,
            nodes.store.is_some()
        );
        Ok(nodes)
    }

    pub fn len(&self) -> usize {
        self.binds.len()
    }

    /// Node `i`'s address (also while stopped).
    pub fn addr(&self, i: usize) -> SocketAddr {
        self.binds[i % self.binds.len()]
    }

    fn is_running(&self, i: usize) -> bool {
        self.running
            .get(i % self.len())
            .is_some_and(Option::is_some)
    }

    /// The first running node from `i` on (wrapping), else node `i`: where an admin call goes
    /// when the node it would pick was killed.
    pub fn live_addr(&self, i: usize) -> SocketAddr {
        (i..i + self.len())
            .find(|&j| self.is_running(j))
            .map_or_else(|| self.addr(i), |j| self.addr(j))
    }

    fn all_stopped(&self) -> bool {
        self.running.iter().all(Option::is_none)
    }

    /// Node `i` of a cluster, checked to exist (and not to be the one server of a plain run).
    fn cluster_node(&self, i: usize, what: &str) -> Result<usize, String> {
        if self.store.is_none() {
            return Err(format!("node {what}: not a cluster run"));
        }
        if i >= self.len() {
            return Err(format!(
                "node {what}: no node {i} (the cluster has {})",
                self.len()
            ));
        }
        Ok(i)
    }

    /// Kills node `i` as SIGKILL would: its connections are dropped without a goodbye, it tells
    /// the cluster nothing; the others find it gone when its liveness key expires.
    pub async fn kill_node(&mut self, i: usize) -> Result<(), String> {
        let i = self.cluster_node(i, "kill")?;
        let server = self.running[i]
            .take()
            .ok_or_else(|| format!("node kill: node {i} is not running"))?;
        deadline("killing a node", self.op_timeout, async {
            server.shutdown().await;
            Ok(())
        })
        .await
    }

    /// Drains node `i` (each of its connections gets `bye` 1900008 and moves on), then stops it.
    pub async fn drain_node(&mut self, i: usize) -> Result<(), String> {
        let i = self.cluster_node(i, "drain")?;
        let mut server = self.running[i]
            .take()
            .ok_or_else(|| format!("node drain: node {i} is not running"))?;
        let timeout = self.op_timeout;
        deadline("draining a node", timeout, async {
            server.drain(std::time::Instant::now() + timeout / 2).await;
            server.shutdown().await;
            Ok(())
        })
        .await
    }

    /// Stops the cluster's Redis (killed by PID; it held everything in memory only) while the
    /// nodes go on: what they do without it, and with an empty one once it is back, is the test.
    pub async fn stop_redis(&mut self) -> Result<(), String> {
        let store = self.store.as_mut().ok_or("redis stop: not a cluster run")?;
        let redis = store
            .redis
            .take()
            .ok_or("redis stop: the Redis is not running")?;
        tokio::task::spawn_blocking(move || drop(redis))
            .await
            .map_err(|e| format!("redis stop: {e}"))
    }

    /// Starts an empty Redis on the cluster's port again.
    pub async fn start_redis_again(&mut self) -> Result<(), String> {
        let store = self
            .store
            .as_mut()
            .ok_or("redis start: not a cluster run")?;
        if store.redis.is_some() {
            return Err("redis start: the Redis is already running".into());
        }
        store.redis = Some(start_redis(Some(store.port)).await?);
        Ok(())
    }

    /// Starts node `i` again on its port, on the cluster's Redis as it is (nothing forgotten).
    pub async fn start_node_again(&mut self, i: usize) -> Result<(), String> {
        let i = self.cluster_node(i, "start")?;
        if self.running[i].is_some() {
            return Err(format!("node start: node {i} is already running"));
        }
        self.running[i] = Some(self.restart_node(i).await?);
        Ok(())
    }

    async fn start_node(&self, i: usize) -> Result<ServerHandle, String> {
        let mut config = self.config.clone();
        config.bind = self.binds[i];
        deadline("starting the server", self.op_timeout, async {
            roomlink_server::start(config)
                .await
                .map_err(|e| format!("cannot start the server on {}: {e}", self.binds[i]))
        })
        .await
    }

    /// Stops every node (as a crash would), then the Redis with all it held.
    pub async fn stop(&mut self) -> Result<(), String> {
        if self.all_stopped() {
            return Err("server stop: the server is not running".into());
        }
        for server in self.running.iter_mut().filter_map(Option::take) {
            deadline("stopping the server", self.op_timeout, async {
                server.shutdown().await;
                Ok(())
            })
            .await?;
        }
        if let Some(store) = &mut self.store {
            // Dropping it kills redis-server by PID and removes its directory.
            store.redis = None;
        }
        Ok(())
    }

    /// Drains every node in turn (each connection is told `bye` 1900008 and closed; a node is
    /// done once its connections are gone), stops it, then stops the Redis as [`Nodes::stop`]
    /// does. A client only knows its own node (its proxy), so a drained client cannot move to a
    /// node not drained yet: it waits for the restart, as on one server.
    pub async fn drain(&mut self) -> Result<(), String> {
        if self.all_stopped() {
            return Err("server drain: the server is not running".into());
        }
        let timeout = self.op_timeout;
        for mut server in self.running.iter_mut().filter_map(Option::take) {
            deadline("draining the server", timeout, async {
                // The drain's own deadline is inside the step's, so a client that never closes
                // fails the step only if the drain itself hangs.
                server.drain(std::time::Instant::now() + timeout / 2).await;
                server.shutdown().await;
                Ok(())
            })
            .await?;
        }
        if let Some(store) = &mut self.store {
            store.redis = None;
        }
        Ok(())
    }

    /// Starts an empty Redis again (cluster) and every node on its old port.
    pub async fn start_again(&mut self) -> Result<(), String> {
        if !self.all_stopped() {
            return Err("server start: the server is already running".into());
        }
        if let Some(store) = &mut self.store {
            store.redis = Some(start_redis(Some(store.port)).await?);
        }
        for i in 0..self.len() {
            self.running[i] = Some(self.restart_node(i).await?);
        }
        Ok(())
    }

    /// Node `i` on its pinned port. The old listener's port can still be held for a moment after
    /// a stop: EADDRINUSE is retried with a short backoff before it counts as a failure.
    async fn restart_node(&self, i: usize) -> Result<ServerHandle, String> {
        let bind = self.binds[i];
        let give_up = Instant::now() + scaled(REBIND_MS, self.scale);
        let mut backoff = Duration::from_millis(10);
        let mut config = self.config.clone();
        config.bind = bind;
        loop {
            let started = deadline("starting the server", self.op_timeout, async {
                Ok(roomlink_server::start(config.clone()).await)
            })
            .await?;
            match started {
                Ok(server) => return Ok(server),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < give_up => {
                    log::info!("restarting the server on {bind}: {e}; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(format!("cannot restart the server on {bind}: {e}")),
            }
        }
    }

    /// Stops every node that runs (and the Redis); an error if one does not stop in time.
    pub async fn shutdown(mut self) -> Result<(), String> {
        if self.all_stopped() {
            // What a stop would still do: the Redis goes (dropped: killed by PID).
            return Ok(());
        }
        self.stop().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    /// One inline command to the Redis on `port`; its reply line.
    async fn redis(port: u16, command: &str) -> std::io::Result<String> {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).await?;
        conn.write_all(format!("{command}\r\n").as_bytes()).await?;
        let mut line = String::new();
        BufReader::new(conn).read_line(&mut line).await?;
        Ok(line.trim_end().to_string())
    }

    fn config() -> ServerConfig {
        ServerConfig {
            bind: ([127, 0, 0, 1], 0).into(),
            ..ServerConfig::default()
        }
    }

    #[tokio::test]
    async fn one_server_is_every_node() {
        let nodes = Nodes::start(config(), None, Duration::from_secs(10), 1.0)
            .await
            .expect("starts");
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes.addr(1), nodes.addr(0));
        nodes.shutdown().await.expect("stops");
    }

    #[tokio::test]
    async fn a_cluster_restart_comes_back_on_the_same_ports_with_an_empty_redis() {
        let mut nodes = Nodes::start(config(), Some(2), Duration::from_secs(10), 1.0)
            .await
            .expect("starts");
        let (a, b) = (nodes.addr(0), nodes.addr(1));
        assert_ne!(a, b, "two nodes");
        assert_eq!(nodes.addr(2), a, "client 2 goes to node 0");
        let port = nodes.store.as_ref().expect("a Redis").port;
        assert_eq!(redis(port, "SET marker 1").await.expect("redis"), "+OK");

        nodes.stop().await.expect("stops");
        assert!(TcpStream::connect(a).await.is_err(), "node 0 is down");
        assert!(TcpStream::connect(b).await.is_err(), "node 1 is down");
        assert!(redis(port, "PING").await.is_err(), "the Redis is down");

        nodes.start_again().await.expect("starts again");
        assert_eq!((nodes.addr(0), nodes.addr(1)), (a, b), "same ports");
        assert!(TcpStream::connect(a).await.is_ok());
        assert!(TcpStream::connect(b).await.is_ok());
        assert_eq!(
            redis(port, "EXISTS marker").await.expect("redis is back"),
            ":0",
            "what the old Redis held is gone"
        );
        nodes.shutdown().await.expect("stops");
        assert!(redis(port, "PING").await.is_err(), "stopped by the run");
    }
}
