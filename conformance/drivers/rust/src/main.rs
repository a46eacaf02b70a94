//! The reference conformance driver: the `roomlink` crate's callback API behind the driver
//! protocol of `conformance/README.md` (JSON lines: commands on stdin; replies, events and
//! callback results on stdout). Other bindings' drivers copy this shape.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use roomlink::{Engine, EngineConfig, ErrorCode, Event, RoomConfig, RoomMode, User};
use serde_json::{Map, Value, json};

/// A one-shot `in_callback` hook: run `then` inside the callback of the next event matching `when`.
struct Hook {
    /// The arming command's id, echoed in the callback result so the orchestrator can pair them.
    id: Value,
    when: Map<String, Value>,
    then: Value,
}

#[derive(Default)]
struct Driver {
    engines: Mutex<HashMap<String, Arc<Engine>>>,
    /// Clients whose engine was destroyed: `exit` must not destroy them again (a C binding's
    /// handle may be gone by then).
    destroyed: Mutex<HashSet<String>>,
    /// Per client, oldest armed first.
    hooks: Mutex<HashMap<String, Vec<Hook>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn str_of<'a>(cmd: &'a Value, key: &str) -> Result<&'a str, String> {
    cmd[key]
        .as_str()
        .ok_or_else(|| format!("missing string {key:?}"))
}

fn bool_of(cmd: &Value, key: &str) -> Result<bool, String> {
    cmd[key]
        .as_bool()
        .ok_or_else(|| format!("missing bool {key:?}"))
}

/// `config.more_server_urls`: absent (none), or an array of strings.
fn more_urls(config: &Value) -> Result<Vec<String>, String> {
    match &config["more_server_urls"] {
        Value::Null => Ok(Vec::new()),
        Value::Array(urls) => urls
            .iter()
            .map(|u| {
                u.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "config.more_server_urls: not a string".to_string())
            })
            .collect(),
        _ => Err("config.more_server_urls must be an array".into()),
    }
}

fn ms_of(config: &Value, key: &str) -> Result<Duration, String> {
    config[key]
        .as_u64()
        .map(Duration::from_millis)
        .ok_or_else(|| format!("missing integer config.{key}"))
}

fn code(result: Result<(), ErrorCode>) -> Value {
    json!({ "code": result.err().map_or(0, ErrorCode::value) })
}

/// The spec's JSON line for one event (ordinals as numbers).
fn event_line(client: &str, event: &Event) -> Value {
    let mut line = match event {
        Event::RoomStateChanged {
            reason: r,
            error_code: c,
            extended_data: x,
            ..
        } => {
            json!({ "event": "room_state_changed", "reason": *r as u32, "code": c.value(), "extended_data": x })
        }
        Event::RoomUserUpdate {
            update_type, users, ..
        } => {
            json!({ "event": "room_user_update", "update": *update_type as u32, "users": users })
        }
        Event::RoomOnlineUserCountUpdate { count, .. } => {
            json!({ "event": "room_online_user_count_update", "count": count })
        }
        Event::RoomStreamUpdate {
            update_type,
            streams,
            reason,
            ..
        } => {
            let streams: Vec<Value> = (streams.iter())
                .map(|s| json!({ "user_id": s.user.user_id, "stream_id": s.stream_id, "extra_info": s.extra_info }))
                .collect();
            let (update, reason) = (*update_type as u32, reason.map(|r| r as u32));
            json!({ "event": "room_stream_update", "update": update, "streams": streams, "reason": reason })
        }
        Event::RoomTokenWillExpire {
            remaining_seconds, ..
        } => {
            json!({ "event": "room_token_will_expire", "remaining_seconds": remaining_seconds })
        }
    };
    line["client"] = json!(client);
    line["room"] = json!(event.room_id());
    line
}

/// The spec's pattern match: every key of `when` equals the event's, except `users`/`streams`,
/// which compare the sorted IDs.
fn matches(when: &Map<String, Value>, line: &Value) -> bool {
    when.iter().all(|(key, want)| {
        let id_key = match key.as_str() {
            "users" => "user_id",
            "streams" => "stream_id",
            _ => return &line[key] == want,
        };
        let mut ids: Vec<&Value> = line[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| &x[id_key])
            .collect();
        ids.sort_by_key(|v| v.as_str().unwrap_or_default().to_string());
        want.as_array().is_some_and(|w| w.iter().eq(ids))
    })
}

impl Driver {
    fn print(&self, line: &Value) {
        // The lock is held for the whole line, so lines from the event threads never interleave.
        let mut stdout = std::io::stdout().lock();
        // Nobody to tell if stdout is gone: the orchestrator has already failed the run.
        let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    }

    fn engine(&self, client: &str) -> Result<Arc<Engine>, String> {
        lock(&self.engines)
            .get(client)
            .cloned()
            .ok_or_else(|| "no client".to_string())
    }

    fn create(self: &Arc<Self>, client: &str, config: &Value) -> Result<Value, String> {
        if lock(&self.engines).contains_key(client) {
            return Err(format!("client {client:?} exists"));
        }
        let room_mode = match str_of(config, "room_mode")? {
            "single_room" => RoomMode::SingleRoom,
            "multi_room" => RoomMode::MultiRoom,
            other => return Err(format!("unknown room_mode {other:?}")),
        };
        let config = EngineConfig {
            room_mode,
            heartbeat_interval: ms_of(config, "heartbeat_interval_ms")?,
            ping_timeout: ms_of(config, "ping_timeout_ms")?,
            login_timeout: ms_of(config, "login_timeout_ms")?,
            retry_window: ms_of(config, "retry_window_ms")?,
            backoff_base: ms_of(config, "backoff_base_ms")?,
            backoff_cap: ms_of(config, "backoff_cap_ms")?,
            token_warning: ms_of(config, "token_warning_ms")?,
            more_server_urls: more_urls(config)?,
            tls_ca_pem: match &config["tls_ca_pem"] {
                Value::Null => None,
                Value::String(pem) => Some(roomlink::CaPem(pem.clone().into_bytes())),
                _ => return Err("config.tls_ca_pem must be a string".into()),
            },
            ..EngineConfig::new(str_of(config, "server_url")?)
        };
        let (driver, name) = (Arc::clone(self), client.to_string());
        let handler = move |event: Event| driver.on_event(&name, &event);
        match Engine::new(config, Some(Arc::new(handler))) {
            Ok(engine) => {
                lock(&self.engines).insert(client.to_string(), Arc::new(engine));
                Ok(code(Ok(())))
            }
            Err(e) => Ok(code(Err(e))),
        }
    }

    /// Runs on the engine's event thread: print the event, then fire a matching hook in place.
    fn on_event(&self, client: &str, event: &Event) {
        let line = event_line(client, event);
        let hook = {
            // Choosing the hook and printing the line under one lock: a hook armed after this
            // event's line was printed never fires on it (hooks see only later events).
            let mut hooks = lock(&self.hooks);
            let list = hooks.entry(client.to_string()).or_default();
            // Only the first-armed matching hook fires on one event.
            let at = list.iter().position(|h| matches(&h.when, &line));
            self.print(&line);
            at.map(|i| list.remove(i))
        };
        if let Some(hook) = hook {
            let mut result = self
                .call(client, &hook.then)
                .unwrap_or_else(|e| json!({ "code": -1, "error": e }));
            result["hook"] = hook.id;
            result["cmd"] = hook.then["cmd"].clone();
            self.print(&json!({ "client": client, "callback_result": result }));
        }
    }

    /// One engine call (a command, or a hook's `then`); the reply's fields except `id`.
    fn call(&self, client: &str, cmd: &Value) -> Result<Value, String> {
        let name = str_of(cmd, "cmd")?;
        if name == "destroy" {
            // The handle stays: later calls on it must return 1900005 (engine destroyed).
            let engine = self.engine(client)?;
            // Marked first: exit must never destroy it again, even if this destroy is in flight.
            lock(&self.destroyed).insert(client.to_string());
            engine.destroy(); // delivers this engine's last events before returning (off its own thread)
            return Ok(code(Ok(())));
        }
        let engine = self.engine(client)?;
        let room = || str_of(cmd, "room");
        Ok(match name {
            "login" => {
                let user = User::new(str_of(cmd, "user_id")?, str_of(cmd, "user_name")?);
                let config = RoomConfig {
                    user_update: bool_of(cmd, "user_update")?,
                };
                code(engine.login_room(room()?, user, str_of(cmd, "token")?, config))
            }
            "logout" => code(engine.logout_room(room()?)),
            "switch_room" => code(engine.switch_room(
                str_of(cmd, "from")?,
                str_of(cmd, "to")?,
                str_of(cmd, "token")?,
            )),
            "renew_token" => code(engine.renew_token(room()?, str_of(cmd, "token")?)),
            "network" => {
                engine.on_network_changed(bool_of(cmd, "available")?);
                code(Ok(()))
            }
            "app" => {
                match str_of(cmd, "state")? {
                    "background" => engine.on_app_background(),
                    "foreground" => engine.on_app_foreground(),
                    other => return Err(format!("unknown app state {other:?}")),
                }
                code(Ok(()))
            }
            "room_state" => json!({ "code": 0, "state": engine.room_state(room()?) as u32 }),
            "publish_stream" => code(engine.publish_stream(
                room()?,
                str_of(cmd, "stream_id")?,
                str_of(cmd, "extra_info")?,
            )),
            "unpublish_stream" => code(engine.unpublish_stream(room()?, str_of(cmd, "stream_id")?)),
            other => return Err(format!("unknown cmd {other:?}")),
        })
    }

    /// One stdin command → its reply's fields except `id`.
    fn command(self: &Arc<Self>, cmd: &Value) -> Result<Value, String> {
        let client = str_of(cmd, "client")?;
        match str_of(cmd, "cmd")? {
            "create" => self.create(client, &cmd["config"]),
            "in_callback" => {
                let when = cmd["when"]
                    .as_object()
                    .ok_or("missing object \"when\"")?
                    .clone();
                let then = cmd["then"].clone();
                str_of(&then, "cmd")?;
                self.engine(client)?;
                lock(&self.hooks)
                    .entry(client.to_string())
                    .or_default()
                    .push(Hook {
                        id: cmd["id"].clone(),
                        when,
                        then,
                    });
                Ok(code(Ok(())))
            }
            _ => self.call(client, cmd),
        }
    }
}

fn main() {
    let driver = Arc::new(Driver::default());
    driver.print(&json!({ "ready": true, "driver": "rust" }));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let cmd: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                driver.print(&json!({ "id": null, "code": -1, "error": format!("bad JSON: {e}") }));
                continue;
            }
        };
        if cmd["cmd"] == "exit" {
            let engines: Vec<_> = lock(&driver.engines).drain().collect();
            let destroyed = lock(&driver.destroyed).clone();
            (engines.into_iter())
                .filter(|(client, _)| !destroyed.contains(client))
                .for_each(|(_, engine)| engine.destroy());
            driver.print(&json!({ "id": cmd["id"], "code": 0 }));
            return;
        }
        let mut reply = driver
            .command(&cmd)
            .unwrap_or_else(|e| json!({ "code": -1, "error": e }));
        reply["id"] = cmd["id"].clone();
        driver.print(&reply);
    }
}
