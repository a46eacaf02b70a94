//! What the orchestrator runs around a driver: the server (stoppable and restartable on the same
//! port), one fault proxy per client, and the admin API.

use std::collections::BTreeMap;
use std::time::Duration;

use roomlink_faultproxy::{Fault, FaultProxy};
use roomlink_server::{ServerConfig, ServerHandle};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::run::REPLY_MS;
use crate::scenario::{FaultKind, Scenario, scaled};

/// How long a restart keeps retrying the pinned port while the old sockets are released.
const REBIND_MS: u64 = 2_000;

pub struct World {
    pub config: ServerConfig,
    server: Option<ServerHandle>,
    proxies: BTreeMap<String, FaultProxy>,
    /// The deadline of every admin request and server start/stop (the scaled reply deadline).
    op_timeout: Duration,
    scale: f64,
}

/// `fut` with a deadline; a timeout is an error naming `what`.
async fn deadline<T>(
    what: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| format!("{what} did not finish within {limit:?}"))?
}

/// The server settings of a scenario, durations scaled, on a free loopback port.
pub fn server_config(scenario: &Scenario, scale: f64) -> ServerConfig {
    let spec = &scenario.server;
    let defaults = ServerConfig::default();
    ServerConfig {
        bind: ([127, 0, 0, 1], 0).into(),
        heartbeat_timeout: scaled(spec.heartbeat_timeout_ms, scale),
        // The scenario's 0 means unlimited; the server needs a number.
        room_capacity: if spec.room_capacity == 0 {
            usize::MAX
        } else {
            spec.room_capacity
        },
        replay_buffer: spec.replay_buffer.unwrap_or(defaults.replay_buffer),
        max_frame_bytes: spec.max_frame_bytes.unwrap_or(defaults.max_frame_bytes),
        ..defaults
    }
}

impl World {
    /// A fresh server and a proxy in front of it for each client.
    pub async fn start(scenario: &Scenario, scale: f64) -> Result<World, String> {
        let op_timeout = scaled(REPLY_MS, scale);
        let mut config = server_config(scenario, scale);
        let server = deadline("starting the server", op_timeout, async {
            roomlink_server::start(config.clone())
                .await
                .map_err(|e| format!("cannot start the server: {e}"))
        })
        .await?;
        // Pin the port so a restart comes back where the proxies point.
        config.bind = server.local_addr();
        let mut proxies = BTreeMap::new();
        for c in &scenario.clients {
            let proxy = deadline("starting a fault proxy", op_timeout, async {
                FaultProxy::start(config.bind)
                    .await
                    .map_err(|e| format!("cannot start a fault proxy: {e}"))
            })
            .await?;
            proxies.insert(c.name.clone(), proxy);
        }
        Ok(World {
            config,
            server: Some(server),
            proxies,
            op_timeout,
            scale,
        })
    }

    /// The URL a client's engine connects to: its own proxy.
    pub fn url_for(&self, client: &str) -> Result<String, String> {
        let proxy = self
            .proxies
            .get(client)
            .ok_or_else(|| format!("no proxy for {client:?}"))?;
        Ok(format!(
            "ws://{}{}",
            proxy.local_addr(),
            roomlink::protocol::WS_PATH
        ))
    }

    pub async fn fault(
        &self,
        client: &str,
        kind: FaultKind,
        ms: Option<u64>,
        scale: f64,
    ) -> Result<(), String> {
        let proxy = self
            .proxies
            .get(client)
            .ok_or_else(|| format!("no proxy for {client:?}"))?;
        let fault = match kind {
            FaultKind::Pass => Fault::Pass,
            FaultKind::Blackhole => Fault::Blackhole,
            FaultKind::Reset => Fault::Reset,
            FaultKind::Delay => Fault::Delay(scaled(ms.ok_or("delay needs ms")?, scale)),
            FaultKind::HoldNext => {
                proxy.hold_next();
                return Ok(());
            }
            // Returns once the server has handled the held connections (or the op timeout).
            FaultKind::Release => {
                return deadline("releasing held connections", self.op_timeout, async {
                    proxy.release_held().await;
                    Ok(())
                })
                .await;
            }
        };
        proxy.set(fault);
        Ok(())
    }

    pub async fn stop_server(&mut self) -> Result<(), String> {
        let server = self
            .server
            .take()
            .ok_or("server stop: the server is not running")?;
        deadline("stopping the server", self.op_timeout, async {
            server.shutdown().await;
            Ok(())
        })
        .await
    }

    /// Drains the server (each client is told `bye` 1900008 and closed; returns once every
    /// connection is gone), then stops it: it forgets every session, as `stop_server` does.
    pub async fn drain_server(&mut self) -> Result<(), String> {
        let mut server = self
            .server
            .take()
            .ok_or("server drain: the server is not running")?;
        let timeout = self.op_timeout;
        deadline("draining the server", timeout, async {
            // The drain's own deadline is inside the step's, so a client that never closes
            // fails the step only if the drain itself hangs.
            server.drain(std::time::Instant::now() + timeout / 2).await;
            server.shutdown().await;
            Ok(())
        })
        .await
    }

    pub async fn start_server(&mut self) -> Result<(), String> {
        if self.server.is_some() {
            return Err("server start: the server is already running".into());
        }
        let bind = self.config.bind;
        // The old listener's port can still be held for a moment after a stop: retry EADDRINUSE
        // with a short backoff before calling it a failure.
        let give_up = Instant::now() + scaled(REBIND_MS, self.scale);
        let mut backoff = Duration::from_millis(10);
        let server = loop {
            let started = deadline("starting the server", self.op_timeout, async {
                Ok(roomlink_server::start(self.config.clone()).await)
            })
            .await?;
            match started {
                Ok(server) => break server,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < give_up => {
                    log::info!("restarting the server on {bind}: {e}; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Err(e) => return Err(format!("cannot restart the server on {bind}: {e}")),
            }
        };
        self.server = Some(server);
        Ok(())
    }

    async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let body = body.map(Value::to_string);
        let what = format!("admin {method} {path}");
        deadline(&what, self.op_timeout, async {
            roomlink_server::admin::request(
                self.config.bind,
                method,
                path,
                Some(&self.config.admin_secret),
                body.as_deref(),
            )
            .await
            .map_err(|e| format!("{what}: {e}"))
        })
        .await
    }

    async fn admin_ok(&self, path: &str, body: &Value) -> Result<(), String> {
        match self.admin("POST", path, Some(body)).await? {
            (200, _) => Ok(()),
            (status, reply) => Err(format!("admin POST {path}: HTTP {status}: {reply}")),
        }
    }

    pub async fn kick(&self, room: &str, user_id: &str, reason: &str) -> Result<(), String> {
        let body = json!({ "user_id": user_id, "reason": reason });
        self.admin_ok(&format!("/admin/rooms/{room}/kick"), &body)
            .await
    }

    pub async fn close_room(&self, room: &str, reason: &str) -> Result<(), String> {
        self.admin_ok(
            &format!("/admin/rooms/{room}/close"),
            &json!({ "reason": reason }),
        )
        .await
    }

    /// The server's member list of `room`, sorted (empty if the room does not exist).
    pub async fn members(&self, room: &str) -> Result<Vec<String>, String> {
        let path = format!("/admin/rooms/{room}");
        match self.admin("GET", &path, None).await? {
            (404, _) => Ok(Vec::new()),
            (200, body) => {
                let v: Value =
                    serde_json::from_str(&body).map_err(|e| format!("GET {path}: {e}"))?;
                let mut users: Vec<String> = v["users"]
                    .as_array()
                    .ok_or_else(|| format!("GET {path}: no users in {body}"))?
                    .iter()
                    .filter_map(|u| u["user_id"].as_str().map(str::to_string))
                    .collect();
                users.sort();
                Ok(users)
            }
            (status, body) => Err(format!("GET {path}: HTTP {status}: {body}")),
        }
    }

    /// Polls the admin API until `room` holds exactly `users` (sorted), or fails at `deadline`.
    pub async fn wait_members(
        &self,
        room: &str,
        users: &[String],
        deadline: Instant,
    ) -> Result<(), String> {
        const POLL: Duration = Duration::from_millis(20);
        let mut want = users.to_vec();
        want.sort();
        loop {
            let now = self.members(room).await?;
            if now == want {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "wait_members {room}: the server lists {now:?}, expected {want:?}"
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Stops the proxies and the server; an error if the server does not stop in time.
    pub async fn shutdown(mut self) -> Result<(), String> {
        self.proxies.clear();
        match self.server.take() {
            Some(server) => {
                deadline("stopping the server", self.op_timeout, async {
                    server.shutdown().await;
                    Ok(())
                })
                .await
            }
            None => Ok(()),
        }
    }
}
