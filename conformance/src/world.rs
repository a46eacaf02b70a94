//! What the orchestrator runs around a driver: the server (stoppable and restartable on the same
//! port), one fault proxy per client, and the admin API.

use std::collections::BTreeMap;
use std::time::Duration;

use roomlink_faultproxy::{Fault, FaultProxy};
use roomlink_server::{ServerConfig, ServerHandle};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::scenario::{FaultKind, Scenario, scaled};

pub struct World {
    pub config: ServerConfig,
    server: Option<ServerHandle>,
    proxies: BTreeMap<String, FaultProxy>,
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
        let mut config = server_config(scenario, scale);
        let server = roomlink_server::start(config.clone())
            .await
            .map_err(|e| format!("cannot start the server: {e}"))?;
        // Pin the port so a restart comes back where the proxies point.
        config.bind = server.local_addr();
        let mut proxies = BTreeMap::new();
        for c in &scenario.clients {
            let proxy = FaultProxy::start(config.bind)
                .await
                .map_err(|e| format!("cannot start a fault proxy: {e}"))?;
            proxies.insert(c.name.clone(), proxy);
        }
        Ok(World {
            config,
            server: Some(server),
            proxies,
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

    pub fn fault(
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
        proxy.set(match kind {
            FaultKind::Pass => Fault::Pass,
            FaultKind::Blackhole => Fault::Blackhole,
            FaultKind::Reset => Fault::Reset,
            FaultKind::Delay => Fault::Delay(scaled(ms.ok_or("delay needs ms")?, scale)),
        });
        Ok(())
    }

    pub async fn stop_server(&mut self) -> Result<(), String> {
        let server = self
            .server
            .take()
            .ok_or("server stop: the server is not running")?;
        server.shutdown().await;
        Ok(())
    }

    pub async fn start_server(&mut self) -> Result<(), String> {
        if self.server.is_some() {
            return Err("server start: the server is already running".into());
        }
        let server = roomlink_server::start(self.config.clone())
            .await
            .map_err(|e| format!("cannot restart the server on {}: {e}", self.config.bind))?;
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
        roomlink_server::admin::request(
            self.config.bind,
            method,
            path,
            Some(&self.config.admin_secret),
            body.as_deref(),
        )
        .await
        .map_err(|e| format!("admin {method} {path}: {e}"))
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

    pub async fn shutdown(mut self) {
        self.proxies.clear();
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}
