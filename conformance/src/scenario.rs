//! The scenario file format of `conformance/README.md`: parsing (unknown keys are errors),
//! defaults, time scaling and validation. Errors name the file and the step index.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::pattern::Pattern;

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub server: ServerSpec,
    pub clients: Vec<Client>,
    pub settle_ms: u64,
    /// Record `Reconnected`'s `reconnect_attempts` verbatim (the scenario makes it deterministic).
    pub exact_attempts: bool,
    pub steps: Vec<Step>,
    /// A cluster-only scenario: the number of nodes it needs (`"cluster": {"nodes": N}`). It runs
    /// only with `--cluster` of at least that many nodes, and each client gets a URL list with a
    /// proxy per node (its own node first), so the engine's failover is what is tested.
    pub cluster_nodes: Option<usize>,
    /// `"tls": true`: clients connect with `wss://` through a TLS front before each node and pin
    /// the run's CA (`tls_ca_pem`); `certificate` steps switch what the fronts present.
    pub tls: bool,
}

/// `"cluster"` in a scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSpec {
    nodes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    #[serde(default = "default_heartbeat_timeout")]
    pub heartbeat_timeout_ms: u64,
    /// 0 = unlimited.
    #[serde(default)]
    pub room_capacity: usize,
    pub replay_buffer: Option<usize>,
    pub max_frame_bytes: Option<usize>,
}

fn default_heartbeat_timeout() -> u64 {
    1000
}

impl Default for ServerSpec {
    fn default() -> Self {
        ServerSpec {
            heartbeat_timeout_ms: default_heartbeat_timeout(),
            room_capacity: 0,
            replay_buffer: None,
            max_frame_bytes: None,
        }
    }
}

/// A client entry or `client_defaults`: every field optional here; `resolve` fills defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    name: Option<String>,
    user_id: Option<String>,
    user_name: Option<String>,
    room_mode: Option<RoomMode>,
    heartbeat_interval_ms: Option<u64>,
    ping_timeout_ms: Option<u64>,
    login_timeout_ms: Option<u64>,
    retry_window_ms: Option<u64>,
    backoff_base_ms: Option<u64>,
    backoff_cap_ms: Option<u64>,
    token_warning_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomMode {
    SingleRoom,
    MultiRoom,
}

impl RoomMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomMode::SingleRoom => "single_room",
            RoomMode::MultiRoom => "multi_room",
        }
    }
}

/// A client with every setting resolved (own value, else `client_defaults`, else the default).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub name: String,
    pub user_id: String,
    pub user_name: String,
    pub room_mode: RoomMode,
    /// The engine settings in milliseconds, unscaled, keyed as the driver protocol's `config`.
    pub durations_ms: Vec<(&'static str, u64)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// For readers of the file only.
    #[serde(default, rename = "description")]
    _description: String,
    #[serde(default)]
    server: ServerSpec,
    #[serde(default)]
    client_defaults: ClientSpec,
    clients: Vec<ClientSpec>,
    #[serde(default = "default_settle")]
    settle_ms: u64,
    #[serde(default)]
    exact_attempts: bool,
    cluster: Option<ClusterSpec>,
    #[serde(default)]
    tls: bool,
    steps: Vec<Value>,
}

fn default_settle() -> u64 {
    300
}

/// `token` in a step: a named kind, or a lifetime.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum TokenSpec {
    Named(TokenKind),
    Expiring {
        #[serde(rename = "expires_in_ms")]
        expires_in_ms: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Valid,
    AnyRoom,
    Bad,
    WrongSecret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Pass,
    Blackhole,
    Reset,
    Delay,
    /// Not a fault setting: the next new connection is held (see `FaultProxy::hold_next`).
    HoldNext,
    /// Not a fault setting: held connections reach the server now (`FaultProxy::release_held`).
    Release,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerAction {
    Stop,
    Start,
    Restart,
    /// A graceful drain (every connection gets `bye` 1900008 and a close), then a stop.
    Drain,
}

/// What a `node` step does to one node of a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeAction {
    /// As SIGKILL: connections dropped, nothing said to the cluster.
    Kill,
    /// Drained (`bye` 1900008 to each connection), then stopped.
    Drain,
    /// Started again on its port, on the cluster's Redis as it is.
    Start,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisAction {
    /// Killed; it kept nothing (no persistence), so it comes back empty.
    Stop,
    Start,
}

/// Where the app is, for an `app` step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppState {
    Background,
    Foreground,
}

impl AppState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Background => "background",
            AppState::Foreground => "foreground",
        }
    }
}

/// A step performed on one client (the `client` key is held by [`Step::Client`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientOp {
    // Empty struct variants (not unit ones), so that unknown keys are rejected here too.
    Create {},
    Login {
        room: String,
        token: Option<TokenSpec>,
        user_update: Option<bool>,
    },
    Logout {
        room: String,
        /// The reply must come within this long (scaled): a call that returns at once offline.
        within_ms: Option<u64>,
    },
    SwitchRoom {
        from: String,
        to: String,
        token: Option<TokenSpec>,
    },
    RenewToken {
        room: String,
        token: Option<TokenSpec>,
    },
    Network {
        available: bool,
    },
    /// An app-lifecycle hint: `on_app_background` / `on_app_foreground`.
    App {
        state: AppState,
    },
    RoomState {
        room: String,
    },
    PublishStream {
        room: String,
        stream_id: String,
        extra_info: Option<String>,
    },
    UnpublishStream {
        room: String,
        stream_id: String,
    },
    Destroy {
        /// As for `logout`.
        within_ms: Option<u64>,
    },
    InCallback {
        when: Pattern,
        then: Box<ClientOp>,
    },
    Fault {
        fault: FaultKind,
        ms: Option<u64>,
    },
    Wait {
        #[serde(rename = "for")]
        pattern: Pattern,
        timeout_ms: Option<u64>,
    },
}

impl ClientOp {
    /// True for the engine calls an `in_callback` hook may run.
    fn is_engine_call(&self) -> bool {
        !matches!(
            self,
            ClientOp::Create {}
                | ClientOp::InCallback { .. }
                | ClientOp::Fault { .. }
                | ClientOp::Wait { .. }
        )
    }
}

/// A step that names no client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorldOp {
    Kick {
        room: String,
        user_id: String,
        reason: Option<String>,
    },
    CloseRoom {
        room: String,
        reason: Option<String>,
    },
    Server {
        action: ServerAction,
        down_ms: Option<u64>,
    },
    /// Cluster-only scenarios: one node (0-based; client i's own node is i mod N).
    Node {
        action: NodeAction,
        node: usize,
    },
    /// Cluster-only scenarios: the cluster's Redis.
    Redis {
        action: RedisAction,
    },
    /// `"tls": true` scenarios: from now on new connections get the certificate of the run's CA
    /// (`trusted`) or one no client trusts (a captive portal's, a TLS-intercepting network's).
    Certificate {
        trusted: bool,
    },
    WaitMembers {
        room: String,
        users: Vec<String>,
        timeout_ms: Option<u64>,
    },
    Sleep {
        ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Client { client: String, op: ClientOp },
    World(WorldOp),
}

const WORLD_OPS: [&str; 8] = [
    "kick",
    "close_room",
    "server",
    "node",
    "redis",
    "certificate",
    "wait_members",
    "sleep",
];

/// Default `timeout_ms` of `wait` and `wait_members`.
pub const DEFAULT_WAIT_MS: u64 = 10_000;

/// Multiplies a scenario duration by the run's time scale.
pub fn scaled(ms: u64, scale: f64) -> Duration {
    Duration::from_secs_f64(ms as f64 * scale / 1000.0)
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or_else(|| format!("{}: no file name", path.display()))?;
        Scenario::parse(name, &text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(name: &str, text: &str) -> Result<Scenario, String> {
        let file: File = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.clients.is_empty() {
            return Err("no clients".into());
        }
        let mut clients = Vec::new();
        for (i, spec) in file.clients.iter().enumerate() {
            let client =
                resolve(spec, &file.client_defaults).map_err(|e| format!("clients[{i}]: {e}"))?;
            if clients.iter().any(|c: &Client| c.name == client.name) {
                return Err(format!("clients[{i}]: duplicate name {:?}", client.name));
            }
            clients.push(client);
        }
        let names: BTreeSet<&str> = clients.iter().map(|c| c.name.as_str()).collect();
        let cluster_nodes = file.cluster.map(|c| c.nodes);
        if cluster_nodes.is_some_and(|n| n < 2) {
            return Err("cluster: a cluster-only scenario needs at least 2 nodes".into());
        }
        let mut steps = Vec::new();
        for (i, raw) in file.steps.into_iter().enumerate() {
            let step = parse_step(raw, &names).map_err(|e| format!("step {i}: {e}"))?;
            match (&step, cluster_nodes) {
                (Step::World(WorldOp::Node { .. } | WorldOp::Redis { .. }), None) => {
                    return Err(format!(
                        "step {i}: node and redis steps need \"cluster\": {{\"nodes\": N}}"
                    ));
                }
                (Step::World(WorldOp::Certificate { .. }), _) if !file.tls => {
                    return Err(format!("step {i}: certificate steps need \"tls\": true"));
                }
                (Step::World(WorldOp::Node { node, .. }), Some(n)) if *node >= n => {
                    return Err(format!("step {i}: no node {node} in a {n}-node cluster"));
                }
                (
                    Step::Client {
                        op:
                            ClientOp::Fault {
                                fault: FaultKind::HoldNext | FaultKind::Release,
                                ..
                            },
                        ..
                    },
                    Some(_),
                ) => {
                    // Which of a client's proxies its next attempt uses depends on its failover.
                    return Err(format!(
                        "step {i}: hold_next/release are not for cluster-only scenarios"
                    ));
                }
                _ => {}
            }
            steps.push(step);
        }
        Ok(Scenario {
            name: name.to_string(),
            server: file.server,
            clients,
            settle_ms: file.settle_ms,
            exact_attempts: file.exact_attempts,
            steps,
            cluster_nodes,
            tls: file.tls,
        })
    }

    pub fn client(&self, name: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.name == name)
    }
}

fn resolve(own: &ClientSpec, defaults: &ClientSpec) -> Result<Client, String> {
    let name = own.name.clone().ok_or("missing \"name\"")?;
    let user_id = own.user_id.clone().ok_or("missing \"user_id\"")?;
    if defaults.name.is_some() || defaults.user_id.is_some() {
        return Err("client_defaults cannot set \"name\" or \"user_id\"".into());
    }
    let pick = |o: Option<u64>, d: Option<u64>, fallback: u64| o.or(d).unwrap_or(fallback);
    let durations_ms = vec![
        (
            "heartbeat_interval_ms",
            pick(
                own.heartbeat_interval_ms,
                defaults.heartbeat_interval_ms,
                100,
            ),
        ),
        (
            "ping_timeout_ms",
            pick(own.ping_timeout_ms, defaults.ping_timeout_ms, 350),
        ),
        (
            "login_timeout_ms",
            pick(own.login_timeout_ms, defaults.login_timeout_ms, 3000),
        ),
        (
            "retry_window_ms",
            pick(own.retry_window_ms, defaults.retry_window_ms, 30_000),
        ),
        (
            "backoff_base_ms",
            pick(own.backoff_base_ms, defaults.backoff_base_ms, 20),
        ),
        (
            "backoff_cap_ms",
            pick(own.backoff_cap_ms, defaults.backoff_cap_ms, 200),
        ),
        (
            "token_warning_ms",
            pick(own.token_warning_ms, defaults.token_warning_ms, 1000),
        ),
    ];
    Ok(Client {
        user_name: own
            .user_name
            .clone()
            .or(defaults.user_name.clone())
            .unwrap_or_else(|| user_id.clone()),
        room_mode: own
            .room_mode
            .or(defaults.room_mode)
            .unwrap_or(RoomMode::SingleRoom),
        name,
        user_id,
        durations_ms,
    })
}

fn parse_step(raw: Value, clients: &BTreeSet<&str>) -> Result<Step, String> {
    let mut map: Map<String, Value> = match raw {
        Value::Object(m) => m,
        _ => return Err("not an object".into()),
    };
    let op = map
        .get("op")
        .and_then(Value::as_str)
        .ok_or("missing \"op\"")?
        .to_string();
    if WORLD_OPS.contains(&op.as_str()) {
        let op: WorldOp =
            serde_json::from_value(Value::Object(map)).map_err(|e| format!("{op}: {e}"))?;
        return Ok(Step::World(op));
    }
    let client = match map.remove("client") {
        Some(Value::String(c)) => c,
        Some(_) => return Err(format!("{op}: \"client\" must be a string")),
        None => return Err(format!("{op}: missing \"client\"")),
    };
    if !clients.contains(client.as_str()) {
        return Err(format!("{op}: unknown client {client:?}"));
    }
    let parsed: ClientOp =
        serde_json::from_value(Value::Object(map)).map_err(|e| format!("{op}: {e}"))?;
    match &parsed {
        ClientOp::InCallback { then, .. } if !then.is_engine_call() => {
            return Err("in_callback: `then` must be an engine call (not create, in_callback, fault or wait)".into());
        }
        ClientOp::Fault {
            fault: FaultKind::Delay,
            ms: None,
        } => return Err("fault: delay needs \"ms\"".into()),
        _ => {}
    }
    Ok(Step::Client { client, op: parsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str =
        r#"{"clients":[{"name":"a","user_id":"alice"}],"steps":[{"op":"create","client":"a"}]}"#;

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let s = Scenario::parse("x", MINIMAL).unwrap();
        assert_eq!(s.server.heartbeat_timeout_ms, 1000);
        assert_eq!(s.server.room_capacity, 0);
        assert_eq!(s.settle_ms, 300);
        let a = &s.clients[0];
        assert_eq!(a.user_name, "alice");
        assert_eq!(a.room_mode, RoomMode::SingleRoom);
        assert!(a.durations_ms.contains(&("ping_timeout_ms", 350)));
        assert!(a.durations_ms.contains(&("login_timeout_ms", 3000)));
    }

    #[test]
    fn a_client_overrides_client_defaults_which_override_defaults() {
        let text = r#"{"client_defaults":{"ping_timeout_ms":500,"room_mode":"multi_room"},
            "clients":[{"name":"a","user_id":"alice"},{"name":"b","user_id":"bob","ping_timeout_ms":700}],
            "steps":[]}"#;
        let s = Scenario::parse("x", text).unwrap();
        assert!(
            s.clients[0]
                .durations_ms
                .contains(&("ping_timeout_ms", 500))
        );
        assert!(
            s.clients[1]
                .durations_ms
                .contains(&("ping_timeout_ms", 700))
        );
        assert_eq!(s.clients[1].room_mode, RoomMode::MultiRoom);
    }

    #[test]
    fn unknown_keys_are_rejected_with_the_step_index() {
        let top = MINIMAL.replace("\"steps\"", "\"setle_ms\":1,\"steps\"");
        assert!(Scenario::parse("x", &top).unwrap_err().contains("setle_ms"));
        let step = r#"{"clients":[{"name":"a","user_id":"alice"}],
            "steps":[{"op":"create","client":"a"},{"op":"login","client":"a","rom":"r1"}]}"#;
        let err = Scenario::parse("x", step).unwrap_err();
        assert!(err.starts_with("step 1: login:"), "{err}");
        assert!(err.contains("rom"), "{err}");
        let client = MINIMAL.replace(
            "\"user_id\":\"alice\"",
            "\"user_id\":\"alice\",\"ping_ms\":1",
        );
        assert!(
            Scenario::parse("x", &client)
                .unwrap_err()
                .contains("ping_ms")
        );
    }

    #[test]
    fn bad_steps_are_rejected() {
        let with = |step: &str| {
            let text =
                format!(r#"{{"clients":[{{"name":"a","user_id":"alice"}}],"steps":[{step}]}}"#);
            Scenario::parse("x", &text)
        };
        assert!(
            with(r#"{"op":"create","client":"z"}"#)
                .unwrap_err()
                .contains("unknown client")
        );
        assert!(
            with(r#"{"op":"create"}"#)
                .unwrap_err()
                .contains("missing \"client\"")
        );
        assert!(with(r#"{"op":"fault","client":"a","fault":"delay"}"#).is_err());
        assert!(with(r#"{"op":"teleport","client":"a"}"#).is_err());
        assert!(with(r#"{"op":"create","client":"a","room":"r1"}"#).is_err());
        assert!(with(r#"{"op":"sleep","ms":5,"client":"a"}"#).is_err());
        let hook = r#"{"op":"in_callback","client":"a","when":{"event":"room_state_changed"},"then":{"op":"create"}}"#;
        assert!(with(hook).unwrap_err().contains("then"));
        let hook = r#"{"op":"in_callback","client":"a","when":{"event":"room_state_changed","reason":"Logined"},"then":{"op":"logout","room":"r1"}}"#;
        assert!(matches!(
            with(hook).unwrap().steps[0],
            Step::Client {
                op: ClientOp::InCallback { .. },
                ..
            }
        ));
    }

    #[test]
    fn node_and_redis_steps_belong_to_cluster_only_scenarios() {
        let with = |cluster: &str, step: &str| {
            let text = format!(
                r#"{{{cluster}"clients":[{{"name":"a","user_id":"alice"}}],"steps":[{step}]}}"#
            );
            Scenario::parse("x", &text)
        };
        let kill = r#"{"op":"node","action":"kill","node":1}"#;
        assert!(with("", kill).unwrap_err().contains("need \"cluster\""));
        let s = with(r#""cluster":{"nodes":2},"#, kill).unwrap();
        assert_eq!(s.cluster_nodes, Some(2));
        assert!(matches!(
            s.steps[0],
            Step::World(WorldOp::Node {
                action: NodeAction::Kill,
                node: 1
            })
        ));
        assert!(
            with(
                r#""cluster":{"nodes":2},"#,
                r#"{"op":"node","action":"kill","node":2}"#
            )
            .unwrap_err()
            .contains("no node 2")
        );
        assert!(with(r#""cluster":{"nodes":1},"#, kill).is_err());
        let redis = r#"{"op":"redis","action":"stop"}"#;
        assert!(with("", redis).is_err());
        assert!(with(r#""cluster":{"nodes":2},"#, redis).is_ok());
        let cert = r#"{"op":"certificate","trusted":false}"#;
        assert!(with("", cert).unwrap_err().contains("need \"tls\""));
        assert!(with(r#""tls":true,"#, cert).unwrap().tls);
        let hold = r#"{"op":"fault","client":"a","fault":"hold_next"}"#;
        assert!(with(r#""cluster":{"nodes":2},"#, hold).is_err());
        assert_eq!(with("", hold).unwrap().cluster_nodes, None);
    }

    #[test]
    fn tokens_parse_in_every_form() {
        let t: TokenSpec = serde_json::from_str(r#""any_room""#).unwrap();
        assert_eq!(t, TokenSpec::Named(TokenKind::AnyRoom));
        let t: TokenSpec = serde_json::from_str(r#"{"expires_in_ms":1500}"#).unwrap();
        assert_eq!(
            t,
            TokenSpec::Expiring {
                expires_in_ms: 1500
            }
        );
        assert!(serde_json::from_str::<TokenSpec>(r#""forged""#).is_err());
    }

    #[test]
    fn time_scale_multiplies_durations() {
        assert_eq!(scaled(300, 1.0), Duration::from_millis(300));
        assert_eq!(scaled(300, 2.5), Duration::from_millis(750));
    }
}
