//! What the orchestrator runs around a driver: the server or the cluster's nodes (stoppable and
//! restartable on the same ports, [`Nodes`]), one fault proxy per client, and the admin API.
//!
//! On a cluster each client's proxy fronts a node of its own (client i → node i mod N), and an
//! admin call goes to another node than the members' it acts on: nothing may tell the two apart.
//! In a cluster-only scenario each client has a proxy per node instead, its own node's first,
//! and its engine gets them all as its URL list: a node's death or drain then moves it on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use roomlink_faultproxy::tls::{TestCa, TlsFront};
use roomlink_faultproxy::{Fault, FaultProxy};
use roomlink_server::ServerConfig;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::nodes::{Nodes, deadline};
use crate::run::REPLY_MS;
use crate::scenario::{FaultKind, NodeAction, RedisAction, Scenario, scaled};

pub struct World {
    /// The settings every node shares (tokens are minted with its secret).
    pub config: ServerConfig,
    nodes: Nodes,
    /// Per client: its proxies, the one to its own node first (one proxy, except in
    /// cluster-only scenarios, which have one per node).
    proxies: BTreeMap<String, Vec<FaultProxy>>,
    /// `"tls": true`: the run's CA (clients pin it) and a TLS front before each node.
    ca: Option<TestCa>,
    fronts: Vec<TlsFront>,
    /// Per user ID: the node of the first client with that ID (admin calls avoid it).
    user_nodes: BTreeMap<String, usize>,
    /// The deadline of every admin request and server start/stop (the scaled reply deadline).
    op_timeout: Duration,
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
    /// A fresh server (or `cluster` nodes on a fresh Redis) and a proxy in front of it for each
    /// client.
    pub async fn start(
        scenario: &Scenario,
        scale: f64,
        cluster: Option<usize>,
    ) -> Result<World, String> {
        let op_timeout = scaled(REPLY_MS, scale);
        let config = server_config(scenario, scale);
        let nodes = Nodes::start(config.clone(), cluster, op_timeout, scale).await?;
        let (ca, mut fronts) = (
            scenario
                .tls
                .then(|| TestCa::new("roomlink conformance CA"))
                .transpose()?,
            Vec::new(),
        );
        if let Some(ca) = &ca {
            for i in 0..nodes.len() {
                fronts.push(TlsFront::start_signed_by(nodes.addr(i), ca)?);
            }
        }
        // Where a proxy to node j sends its bytes: the node, or the TLS front before it.
        let target = |j: usize| match fronts.get(j % nodes.len()) {
            Some(front) => front.addr(),
            None => nodes.addr(j),
        };
        let mut proxies = BTreeMap::new();
        let mut user_nodes = BTreeMap::new();
        let per_client = if scenario.cluster_nodes.is_some() {
            nodes.len()
        } else {
            1
        };
        for (i, c) in scenario.clients.iter().enumerate() {
            let mut own = Vec::new();
            for j in i..i + per_client {
                let proxy = deadline("starting a fault proxy", op_timeout, async {
                    FaultProxy::start(target(j))
                        .await
                        .map_err(|e| format!("cannot start a fault proxy: {e}"))
                })
                .await?;
                log::info!(
                    "client {} → {} → node {}",
                    c.name,
                    proxy.local_addr(),
                    nodes.addr(j)
                );
                own.push(proxy);
            }
            proxies.insert(c.name.clone(), own);
            user_nodes
                .entry(c.user_id.clone())
                .or_insert(i % nodes.len());
        }
        Ok(World {
            config,
            nodes,
            ca,
            fronts,
            proxies,
            user_nodes,
            op_timeout,
        })
    }

    /// Where an admin call about `user_id` goes: the node after that user's (on one server, it),
    /// or the next one that runs when that one was killed.
    fn admin_node(&self, user_id: Option<&str>) -> SocketAddr {
        let home = user_id
            .and_then(|u| self.user_nodes.get(u).copied())
            .unwrap_or(0);
        self.nodes.live_addr(home + 1)
    }

    fn proxies_of(&self, client: &str) -> Result<&[FaultProxy], String> {
        self.proxies
            .get(client)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("no proxy for {client:?}"))
    }

    /// The URLs a client's engine connects to: its own proxies, its own node's first.
    pub fn urls_for(&self, client: &str) -> Result<Vec<String>, String> {
        let scheme = if self.ca.is_some() { "wss" } else { "ws" };
        Ok(self
            .proxies_of(client)?
            .iter()
            .map(|p| {
                format!(
                    "{scheme}://{}{}",
                    p.local_addr(),
                    roomlink::protocol::WS_PATH
                )
            })
            .collect())
    }

    /// The CA every client pins in a `"tls": true` scenario.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca.as_ref().map(TestCa::pem)
    }

    pub fn present_trusted(&self, trusted: bool) {
        for front in &self.fronts {
            front.present_untrusted(!trusted);
        }
    }

    pub async fn fault(
        &self,
        client: &str,
        kind: FaultKind,
        ms: Option<u64>,
        scale: f64,
    ) -> Result<(), String> {
        let proxies = self.proxies_of(client)?;
        // Hold and release concern one proxy: scenarios with several per client refuse them.
        let proxy = &proxies[0];
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
        // A client's network fails (or heals) for every node it could reach.
        for proxy in proxies {
            proxy.set(fault);
        }
        Ok(())
    }

    pub async fn stop_server(&mut self) -> Result<(), String> {
        self.nodes.stop().await
    }

    /// Drains the server (each client is told `bye` 1900008 and closed; returns once every
    /// connection is gone), then stops it: it forgets every session, as `stop_server` does. On a
    /// cluster every node is drained, then the Redis is stopped.
    pub async fn drain_server(&mut self) -> Result<(), String> {
        self.nodes.drain().await
    }

    pub async fn start_server(&mut self) -> Result<(), String> {
        self.nodes.start_again().await
    }

    pub async fn node(&mut self, action: NodeAction, node: usize) -> Result<(), String> {
        match action {
            NodeAction::Kill => self.nodes.kill_node(node).await,
            NodeAction::Drain => self.nodes.drain_node(node).await,
            NodeAction::Start => self.nodes.start_node_again(node).await,
        }
    }

    pub async fn redis(&mut self, action: RedisAction) -> Result<(), String> {
        match action {
            RedisAction::Stop => self.nodes.stop_redis().await,
            RedisAction::Start => self.nodes.start_redis_again().await,
        }
    }

    async fn admin(
        &self,
        node: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), String> {
        let body = body.map(Value::to_string);
        let what = format!("admin {method} {path}");
        deadline(&what, self.op_timeout, async {
            roomlink_server::admin::request(
                node,
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

    async fn admin_ok(&self, node: SocketAddr, path: &str, body: &Value) -> Result<(), String> {
        match self.admin(node, "POST", path, Some(body)).await? {
            (200, _) => Ok(()),
            (status, reply) => Err(format!("admin POST {path}: HTTP {status}: {reply}")),
        }
    }

    pub async fn kick(&self, room: &str, user_id: &str, reason: &str) -> Result<(), String> {
        let body = json!({ "user_id": user_id, "reason": reason });
        let node = self.admin_node(Some(user_id));
        self.admin_ok(node, &format!("/admin/rooms/{room}/kick"), &body)
            .await
    }

    pub async fn close_room(&self, room: &str, reason: &str) -> Result<(), String> {
        // Node 1: on a cluster, not the first client's.
        self.admin_ok(
            self.admin_node(None),
            &format!("/admin/rooms/{room}/close"),
            &json!({ "reason": reason }),
        )
        .await
    }

    /// The server's member list of `room`, sorted (empty if the room does not exist).
    pub async fn members(&self, room: &str) -> Result<Vec<String>, String> {
        let path = format!("/admin/rooms/{room}");
        match self
            .admin(self.admin_node(None), "GET", &path, None)
            .await?
        {
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

    /// Stops the proxies and the server(s); an error if one does not stop in time.
    pub async fn shutdown(mut self) -> Result<(), String> {
        self.proxies.clear();
        self.fronts.clear();
        self.nodes.shutdown().await
    }
}
