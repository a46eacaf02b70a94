//! One run: a scenario against one driver. Walks the steps, feeds every driver line into the
//! trace, and reports the first thing that went wrong (naming the step).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::driver::{Driver, Msg};
use crate::pattern::Pattern;
use crate::scenario::{ClientOp, DEFAULT_WAIT_MS, Scenario, ServerAction, Step, WorldOp, scaled};
use crate::tokens;
use crate::trace::{Attempts, Trace, arg};
use crate::world::World;

/// How long a driver may take to answer a command (times the time scale). Generous: `destroy`
/// waits for the engine's threads.
pub const REPLY_MS: u64 = 10_000;
/// How long a driver may take to exit after `exit` has been answered.
const EXIT_GRACE_MS: u64 = 5_000;
/// More events than this from one client in one scenario is a flooding driver: fail the run
/// rather than grow memory without bound.
pub const MAX_EVENTS_PER_CLIENT: usize = 10_000;

/// What a run produced: the trace so far (complete if `error` is `None`).
pub struct Outcome {
    pub trace: String,
    pub error: Option<String>,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    scale: f64,
    world: World,
    driver: Driver,
    trace: Trace,
    /// Per client: events not yet consumed by a `wait`.
    unseen: HashMap<String, VecDeque<Value>>,
    /// Armed hooks by the arming command's id: (client, the hook's rendered call).
    armed: HashMap<u64, (String, String)>,
    /// Per client: how many events it reported (capped at [`MAX_EVENTS_PER_CLIENT`]).
    events: HashMap<String, usize>,
    /// Clients whose `create` returned a non-zero code, with that reply.
    failed_creates: HashMap<String, Value>,
    next_id: u64,
    recording: bool,
}

/// Runs `scenario` against the driver started by `command`; its stderr goes to `stderr_log`.
/// `cluster`: that many nodes on one Redis instead of one in-memory server.
pub async fn run(
    scenario: &Scenario,
    command: &str,
    stderr_log: &Path,
    scale: f64,
    cluster: Option<usize>,
) -> Outcome {
    let clients: Vec<(String, String)> = scenario
        .clients
        .iter()
        .map(|c| (c.name.clone(), c.user_id.clone()))
        .collect();
    let attempts = if scenario.exact_attempts {
        Attempts::Exact
    } else {
        Attempts::Normalised
    };
    let mut trace = Trace::new(&scenario.name, &clients, attempts);
    let world = match World::start(scenario, scale, cluster).await {
        Ok(w) => w,
        Err(e) => {
            return Outcome {
                trace: trace.render(),
                error: Some(e),
            };
        }
    };
    let driver = match Driver::spawn(command, stderr_log) {
        Ok(d) => d,
        Err(e) => {
            // The run already failed; a slow server stop adds nothing to the message.
            let _ = world.shutdown().await;
            return Outcome {
                trace: trace.render(),
                error: Some(e),
            };
        }
    };
    let mut runner = Runner {
        scenario,
        scale,
        world,
        driver,
        trace: std::mem::take(&mut trace),
        unseen: HashMap::new(),
        armed: HashMap::new(),
        events: HashMap::new(),
        failed_creates: HashMap::new(),
        next_id: 0,
        recording: true,
    };
    let error = runner.walk().await.err();
    let Runner {
        world,
        driver,
        trace,
        ..
    } = runner;
    // On error the driver is killed (dropped) rather than asked to exit: it may be the culprit.
    let exit = if error.is_none() {
        driver.finish(scaled(EXIT_GRACE_MS, scale)).await.err()
    } else {
        drop(driver);
        None
    };
    let stopped = world.shutdown().await.err();
    Outcome {
        trace: trace.render(),
        error: error.or(exit).or(stopped),
    }
}

impl Runner<'_> {
    async fn walk(&mut self) -> Result<(), String> {
        self.expect_ready().await?;
        for (i, step) in self.scenario.steps.iter().enumerate() {
            self.step(step)
                .await
                .map_err(|e| format!("step {i}: {e}"))?;
        }
        let settle = Instant::now() + scaled(self.scenario.settle_ms, self.scale);
        self.pump_until(settle)
            .await
            .map_err(|e| format!("settling: {e}"))?;
        self.recording = false;
        self.command(json!({ "cmd": "exit" }))
            .await
            .map_err(|e| format!("exit: {e}"))?;
        Ok(())
    }

    async fn expect_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + scaled(REPLY_MS, self.scale);
        match self.driver.recv(deadline).await? {
            Some(Msg::Ready) => Ok(()),
            Some(other) => Err(format!(
                "the driver's first line must be ready, got {other:?}"
            )),
            None => Err("the driver did not print its ready line in time".into()),
        }
    }

    /// Records an event or a callback result. Returns replies to the caller.
    fn handle(&mut self, msg: Msg) -> Result<Option<Value>, String> {
        match msg {
            Msg::Reply(v) => return Ok(Some(v)),
            Msg::Ready => return Err("the driver printed ready twice".into()),
            Msg::Event { client, line } => {
                let n = self.events.entry(client.clone()).or_default();
                *n += 1;
                if *n > MAX_EVENTS_PER_CLIENT {
                    return Err(format!(
                        "too many events: client {client:?} reported more than {MAX_EVENTS_PER_CLIENT} in one scenario"
                    ));
                }
                if self.recording {
                    self.trace.event(&client, &line)?;
                    self.unseen.entry(client).or_default().push_back(line);
                }
            }
            Msg::CallbackResult { client, result } => {
                let hook = result["hook"].as_u64().ok_or_else(|| {
                    format!(
                        "a callback result without the arming command's id in \"hook\": {result}"
                    )
                })?;
                let (armed_for, call) = self.armed.remove(&hook).ok_or_else(|| {
                    format!("a callback result for hook {hook}, which is unknown or already used: {result}")
                })?;
                if armed_for != client {
                    return Err(format!(
                        "hook {hook} was armed for client {armed_for:?}, its result names {client:?}: {result}"
                    ));
                }
                if result["code"] == -1 {
                    return Err(format!(
                        "the driver could not run the hook `{call}`: {result}"
                    ));
                }
                if self.recording {
                    self.trace
                        .call(&client, &format!("{call} (in callback)"), &result)?;
                }
            }
        }
        Ok(None)
    }

    /// Handles everything the driver says until `deadline` (sleeps and settling).
    async fn pump_until(&mut self, deadline: Instant) -> Result<(), String> {
        while let Some(msg) = self.driver.recv(deadline).await? {
            if let Some(reply) = self.handle(msg)? {
                return Err(format!("a reply nobody asked for: {reply}"));
            }
        }
        Ok(())
    }

    /// Sends a command and returns its reply (events arriving meanwhile are recorded).
    async fn command(&mut self, mut cmd: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        cmd["id"] = json!(id);
        self.driver.send(&cmd).await?;
        let deadline = Instant::now() + scaled(REPLY_MS, self.scale);
        loop {
            let Some(msg) = self.driver.recv(deadline).await? else {
                return Err(format!(
                    "no reply to {cmd} within {:?}",
                    scaled(REPLY_MS, self.scale)
                ));
            };
            if let Some(reply) = self.handle(msg)? {
                // Checked before the id: a rejection of an unparseable line has `"id":null`.
                if reply["code"] == -1 {
                    return Err(self.rejected(&cmd, &reply));
                }
                if reply["id"] != json!(id) {
                    return Err(format!("reply {reply} to command {id}: out of order"));
                }
                return Ok(reply);
            }
        }
    }

    /// The message for a `code: -1` reply; names a failed `create` as the likely cause.
    fn rejected(&self, cmd: &Value, reply: &Value) -> String {
        let failed = cmd["client"]
            .as_str()
            .and_then(|c| Some((c, self.failed_creates.get(c)?)));
        match failed {
            Some((client, create)) => format!(
                "the driver rejected {cmd}: {reply}; client {client:?} has no engine because its create failed ({create})"
            ),
            None => format!("the driver rejected {cmd}: {reply}"),
        }
    }

    /// An engine call of `client` as a driver command (without `client`) and its trace form.
    fn engine_call(&self, client: &str, op: &ClientOp) -> Result<(Value, String), String> {
        let c = self
            .scenario
            .client(client)
            .ok_or_else(|| format!("no client {client:?}"))?;
        let token =
            |spec, room: &str| tokens::make(spec, &self.world.config, &c.user_id, room, self.scale);
        Ok(match op {
            ClientOp::Login {
                room,
                token: spec,
                user_update,
            } => (
                json!({ "cmd": "login", "room": room, "user_id": c.user_id, "user_name": c.user_name,
                        "token": token(spec.as_ref(), room), "user_update": user_update.unwrap_or(true) }),
                format!("login {}", arg(room)),
            ),
            ClientOp::Logout { room, .. } => (
                json!({ "cmd": "logout", "room": room }),
                format!("logout {}", arg(room)),
            ),
            ClientOp::SwitchRoom {
                from,
                to,
                token: spec,
            } => (
                json!({ "cmd": "switch_room", "from": from, "to": to, "token": token(spec.as_ref(), to) }),
                format!("switch_room {} {}", arg(from), arg(to)),
            ),
            ClientOp::RenewToken { room, token: spec } => (
                json!({ "cmd": "renew_token", "room": room, "token": token(spec.as_ref(), room) }),
                format!("renew_token {}", arg(room)),
            ),
            ClientOp::Network { available } => (
                json!({ "cmd": "network", "available": available }),
                format!("network {available}"),
            ),
            ClientOp::App { state } => (
                json!({ "cmd": "app", "state": state.as_str() }),
                format!("app {}", state.as_str()),
            ),
            ClientOp::RoomState { room } => (
                json!({ "cmd": "room_state", "room": room }),
                format!("room_state {}", arg(room)),
            ),
            ClientOp::PublishStream {
                room,
                stream_id,
                extra_info,
            } => (
                json!({ "cmd": "publish_stream", "room": room, "stream_id": stream_id,
                        "extra_info": extra_info.as_deref().unwrap_or("") }),
                format!("publish_stream {} {}", arg(room), arg(stream_id)),
            ),
            ClientOp::UnpublishStream { room, stream_id } => (
                json!({ "cmd": "unpublish_stream", "room": room, "stream_id": stream_id }),
                format!("unpublish_stream {} {}", arg(room), arg(stream_id)),
            ),
            ClientOp::Destroy { .. } => (json!({ "cmd": "destroy" }), "destroy".into()),
            ClientOp::Create {}
            | ClientOp::InCallback { .. }
            | ClientOp::Fault { .. }
            | ClientOp::Wait { .. } => {
                return Err(format!("{op:?} is not an engine call"));
            }
        })
    }

    fn create_command(&self, client: &str) -> Result<Value, String> {
        let c = self
            .scenario
            .client(client)
            .ok_or_else(|| format!("no client {client:?}"))?;
        let urls = self.world.urls_for(client)?;
        let mut config = json!({ "server_url": urls[0], "room_mode": c.room_mode.as_str() });
        if urls.len() > 1 {
            // Only cluster-only scenarios have more (so other scenarios' commands stay as they
            // were for every driver).
            config["more_server_urls"] = json!(urls[1..]);
        }
        if let Some(pem) = self.world.ca_pem() {
            // Only `"tls": true` scenarios send it.
            config["tls_ca_pem"] = json!(pem);
        }
        for (key, ms) in &c.durations_ms {
            config[*key] = json!(scaled(*ms, self.scale).as_millis() as u64);
        }
        Ok(json!({ "cmd": "create", "client": client, "config": config }))
    }

    async fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Client { client, op } => self.client_step(client, op).await,
            Step::World(op) => self.world_step(op).await,
        }
    }

    async fn client_step(&mut self, client: &str, op: &ClientOp) -> Result<(), String> {
        match op {
            ClientOp::Create {} => {
                let reply = self.command(self.create_command(client)?).await?;
                if reply["code"] != 0 {
                    self.failed_creates
                        .insert(client.to_string(), reply.clone());
                }
                self.trace.call(client, "create", &reply)
            }
            ClientOp::InCallback { when, then } => {
                let (then, call) = self.engine_call(client, then)?;
                // Armed before the command is sent, under the id `command` is about to give it:
                // the hook may fire before its reply arrives.
                self.armed
                    .insert(self.next_id + 1, (client.to_string(), call));
                let cmd = json!({ "cmd": "in_callback", "client": client, "when": when.to_wire(), "then": then });
                self.command(cmd).await.map(drop)
            }
            ClientOp::Fault { fault, ms } => {
                self.world.fault(client, *fault, *ms, self.scale).await
            }
            ClientOp::Wait {
                pattern,
                timeout_ms,
            } => {
                let deadline =
                    Instant::now() + scaled(timeout_ms.unwrap_or(DEFAULT_WAIT_MS), self.scale);
                self.wait(client, pattern, deadline).await
            }
            _ => {
                let (mut cmd, call) = self.engine_call(client, op)?;
                cmd["client"] = json!(client);
                let sent = Instant::now();
                let reply = self.command(cmd).await?;
                let took = sent.elapsed();
                if let ClientOp::Logout {
                    within_ms: Some(ms),
                    ..
                }
                | ClientOp::Destroy {
                    within_ms: Some(ms),
                } = op
                {
                    // The driver's own round trip is in it too: the bound is for "did not wait
                    // on the network", not a speed figure.
                    let bound = scaled(*ms, self.scale);
                    if took > bound {
                        return Err(format!(
                            "{call} replied after {took:?}, more than its bound {bound:?}"
                        ));
                    }
                }
                self.trace.call(client, &call, &reply)
            }
        }
    }

    /// Consumes `client`'s events up to and including the first that matches.
    async fn wait(
        &mut self,
        client: &str,
        pattern: &Pattern,
        deadline: Instant,
    ) -> Result<(), String> {
        let mut skipped = Vec::new();
        loop {
            while let Some(line) = self.unseen.get_mut(client).and_then(VecDeque::pop_front) {
                if pattern.matches(&line) {
                    return Ok(());
                }
                skipped
                    .push(crate::trace::render_event(&line).unwrap_or_else(|_| line.to_string()));
            }
            let Some(msg) = self.driver.recv(deadline).await? else {
                return Err(format!(
                    "wait {client}: no event {} in time; the events it saw meanwhile: [{}]",
                    pattern.describe(),
                    skipped.join("; ")
                ));
            };
            if let Some(reply) = self.handle(msg)? {
                return Err(format!("a reply nobody asked for: {reply}"));
            }
        }
    }

    async fn world_step(&mut self, op: &WorldOp) -> Result<(), String> {
        let scale = self.scale;
        match op {
            WorldOp::Kick {
                room,
                user_id,
                reason,
            } => {
                self.world
                    .kick(room, user_id, reason.as_deref().unwrap_or(""))
                    .await
            }
            WorldOp::CloseRoom { room, reason } => {
                self.world
                    .close_room(room, reason.as_deref().unwrap_or(""))
                    .await
            }
            WorldOp::Server {
                action: ServerAction::Stop,
                ..
            } => self.world.stop_server().await,
            WorldOp::Server {
                action: ServerAction::Start,
                ..
            } => self.world.start_server().await,
            WorldOp::Server {
                action: ServerAction::Drain,
                ..
            } => self.world.drain_server().await,
            WorldOp::Server {
                action: ServerAction::Restart,
                down_ms,
            } => {
                self.world.stop_server().await?;
                let back = Instant::now() + scaled(down_ms.unwrap_or(0), scale);
                self.pump_until(back).await?;
                self.world.start_server().await
            }
            WorldOp::Node { action, node } => self.world.node(*action, *node).await,
            WorldOp::Redis { action } => self.world.redis(*action).await,
            WorldOp::Certificate { trusted } => {
                self.world.present_trusted(*trusted);
                Ok(())
            }
            WorldOp::WaitMembers {
                room,
                users,
                timeout_ms,
            } => {
                let deadline =
                    Instant::now() + scaled(timeout_ms.unwrap_or(DEFAULT_WAIT_MS), scale);
                self.world.wait_members(room, users, deadline).await
            }
            WorldOp::Sleep { ms } => self.pump_until(Instant::now() + scaled(*ms, scale)).await,
        }
    }
}

/// For messages and the table: how long a run took.
pub fn seconds(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}
