//! The trace of one run: per client, the synchronous results of its calls and the events it saw,
//! rendered as the text format of `conformance/README.md` (normalised: `room_session_id` → `*`,
//! `reconnect_attempts` → `*` unless the scenario says its count is exact, `remaining_seconds`
//! dropped).

use serde_json::Value;

use crate::pattern::reason_name;

const SESSION_KEY: &str = "room_session_id";
const ATTEMPTS_KEY: &str = "reconnect_attempts";

/// How a trace records `Reconnected`'s `reconnect_attempts`: how many connections an outage took
/// depends on when a blackhole's attempts time out against the scenario's real-time steps, so it
/// is `*` unless a scenario makes it deterministic and says so (`"exact_attempts": true`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Attempts {
    #[default]
    Normalised,
    Exact,
}

#[derive(Debug, Default)]
struct ClientTrace {
    name: String,
    user_id: String,
    calls: Vec<String>,
    events: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Trace {
    scenario: String,
    clients: Vec<ClientTrace>,
    attempts: Attempts,
}

impl Trace {
    /// An empty trace with one block per client, in the scenario's order: `(name, user_id)`.
    pub fn new(scenario: &str, clients: &[(String, String)], attempts: Attempts) -> Trace {
        Trace {
            scenario: scenario.to_string(),
            attempts,
            clients: clients
                .iter()
                .map(|(name, user_id)| ClientTrace {
                    name: name.clone(),
                    user_id: user_id.clone(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    fn client(&mut self, name: &str) -> Result<&mut ClientTrace, String> {
        self.clients
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                format!("the driver reported client {name:?}, which the scenario does not have")
            })
    }

    /// A call's result; `call` is its rendered form, e.g. `login r1`.
    pub fn call(&mut self, client: &str, call: &str, reply: &Value) -> Result<(), String> {
        let line = format!("{call} -> {}", result(reply));
        self.client(client)?.calls.push(line);
        Ok(())
    }

    /// An event line from the driver.
    pub fn event(&mut self, client: &str, line: &Value) -> Result<(), String> {
        let rendered = render_event_as(line, self.attempts)?;
        self.client(client)?.events.push(rendered);
        Ok(())
    }

    pub fn render(&self) -> String {
        let mut out = format!("# roomlink conformance trace v1: {}\n", self.scenario);
        for c in &self.clients {
            out.push_str(&format!("client {} ({})\n  calls\n", c.name, c.user_id));
            for line in &c.calls {
                out.push_str(&format!("    {line}\n"));
            }
            out.push_str("  events\n");
            for line in &c.events {
                out.push_str(&format!("    {line}\n"));
            }
        }
        out
    }
}

/// `0`, or `0 Connected` for a reply carrying a connection state.
fn result(reply: &Value) -> String {
    let code = &reply["code"];
    match reply.get("state") {
        Some(state) => format!("{code} {}", state_name(state)),
        None => code.to_string(),
    }
}

fn state_name(state: &Value) -> String {
    const NAMES: [&str; 5] = [
        "Disconnected",
        "Connecting",
        "Connected",
        "Reconnecting",
        "Failed",
    ];
    state
        .as_u64()
        .and_then(|n| NAMES.get(usize::try_from(n).ok()?.checked_sub(1)?))
        .map_or_else(|| format!("?{state}"), |s| s.to_string())
}

fn text<'a>(line: &'a Value, key: &str) -> Result<&'a str, String> {
    line[key]
        .as_str()
        .ok_or_else(|| format!("event without string {key:?}: {line}"))
}

fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

fn update_name(line: &Value) -> Result<&'static str, String> {
    match line["update"].as_u64() {
        Some(0) => Ok("add"),
        Some(1) => Ok("delete"),
        _ => Err(format!("event with a bad \"update\": {line}")),
    }
}

fn list(line: &Value, key: &str) -> Result<Vec<Value>, String> {
    line[key]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("event without list {key:?}: {line}"))
}

fn stream_reason(reason: &Value) -> String {
    const NAMES: [&str; 5] = [
        "Stopped",
        "UserLeft",
        "UserTimedOut",
        "UserKicked",
        "Resync",
    ];
    reason
        .as_u64()
        .and_then(|n| NAMES.get(usize::try_from(n).ok()?))
        .map_or_else(|| format!("?{reason}"), |s| s.to_string())
}

/// An argument as a call or event line shows it: bare when that is unambiguous, else JSON-quoted (an empty
/// room ID, one with spaces), so every call line reads back to exactly the arguments it had.
pub fn arg(value: &str) -> String {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c.is_control())
    {
        Value::from(value).to_string()
    } else {
        value.to_string()
    }
}

/// One event line → its trace line, `reconnect_attempts` normalised.
pub fn render_event(line: &Value) -> Result<String, String> {
    render_event_as(line, Attempts::Normalised)
}

/// One event line → its trace line.
pub fn render_event_as(line: &Value, attempts: Attempts) -> Result<String, String> {
    let event = text(line, "event")?;
    // Quoted exactly like the call lines' room arguments.
    let room = &arg(text(line, "room")?);
    Ok(match event {
        "room_state_changed" => {
            let mut out = format!(
                "{event} {room} {} {}",
                reason_name(&line["reason"]),
                line["code"]
            );
            let data = line["extended_data"]
                .as_object()
                .ok_or_else(|| format!("event without object \"extended_data\": {line}"))?;
            if !data.is_empty() {
                let mut pairs: Vec<String> = data
                    .iter()
                    .map(|(k, v)| match (k.as_str(), v.as_str()) {
                        (_, None) => Err(format!(
                            "extended_data values must be strings, got {k}={v}: {line}"
                        )),
                        (SESSION_KEY, _) => Ok(format!("{k}=*")),
                        (ATTEMPTS_KEY, _) if attempts == Attempts::Normalised => {
                            Ok(format!("{k}=*"))
                        }
                        (_, Some(s)) => Ok(format!("{k}={s}")),
                    })
                    .collect::<Result<_, String>>()?;
                pairs.sort();
                out.push_str(&format!(" {{{}}}", pairs.join(", ")));
            }
            out
        }
        "room_user_update" => {
            let users: Vec<String> = list(line, "users")?
                .iter()
                .map(|u| {
                    Ok(format!(
                        "{} {}",
                        text(u, "user_id")?,
                        quoted(text(u, "user_name")?)
                    ))
                })
                .collect::<Result<_, String>>()?;
            format!(
                "{event} {room} {} [{}]",
                update_name(line)?,
                users.join(", ")
            )
        }
        "room_online_user_count_update" => format!("{event} {room} {}", line["count"]),
        "room_stream_update" => {
            let streams: Vec<String> = list(line, "streams")?
                .iter()
                .map(|s| {
                    let (user, id) = (text(s, "user_id")?, text(s, "stream_id")?);
                    Ok(format!("{user}/{id} {}", quoted(text(s, "extra_info")?)))
                })
                .collect::<Result<_, String>>()?;
            let mut out = format!(
                "{event} {room} {} [{}]",
                update_name(line)?,
                streams.join(", ")
            );
            match line.get("reason") {
                None => {
                    return Err(format!(
                        "room_stream_update without \"reason\" (null for add): {line}"
                    ));
                }
                Some(Value::Null) => {}
                Some(reason) => out.push_str(&format!(" {}", stream_reason(reason))),
            }
            out
        }
        // remaining_seconds is time-derived: the event's existence is the contract, not the number.
        "room_token_will_expire" => format!("{event} {room}"),
        other => return Err(format!("unknown event {other:?}: {line}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_render_normalised() {
        let logined = json!({"client":"a","event":"room_state_changed","room":"r1","reason":1,"code":0,
            "extended_data":{"room_session_id":"f00d"}});
        assert_eq!(
            render_event(&logined).unwrap(),
            "room_state_changed r1 Logined 0 {room_session_id=*}"
        );
        let back = json!({"event":"room_state_changed","room":"r1","reason":4,"code":0,
            "extended_data":{"room_session_id":"f00d","reconnect_kind":"resynced","reconnect_attempts":"3"}});
        assert_eq!(
            render_event(&back).unwrap(),
            "room_state_changed r1 Reconnected 0 {reconnect_attempts=*, reconnect_kind=resynced, room_session_id=*}"
        );
        assert_eq!(
            render_event_as(&back, Attempts::Exact).unwrap(),
            "room_state_changed r1 Reconnected 0 {reconnect_attempts=3, reconnect_kind=resynced, room_session_id=*}"
        );
        let kick = json!({"event":"room_state_changed","room":"r1","reason":6,"code":1002055,
            "extended_data":{"custom_kickout_message":"spam"}});
        assert_eq!(
            render_event(&kick).unwrap(),
            "room_state_changed r1 KickOut 1002055 {custom_kickout_message=spam}"
        );
        let logining = json!({"event":"room_state_changed","room":"r1","reason":0,"code":0,"extended_data":{}});
        assert_eq!(
            render_event(&logining).unwrap(),
            "room_state_changed r1 Logining 0"
        );
        let expire = json!({"event":"room_token_will_expire","room":"r1","remaining_seconds":7});
        assert_eq!(render_event(&expire).unwrap(), "room_token_will_expire r1");
    }

    #[test]
    fn lists_render_in_delivery_order() {
        let users = json!({"event":"room_user_update","room":"r1","update":0,
            "users":[{"user_id":"bob","user_name":"Bob"},{"user_id":"al","user_name":"A \"l\""}]});
        assert_eq!(
            render_event(&users).unwrap(),
            r#"room_user_update r1 add [bob "Bob", al "A \"l\""]"#
        );
        let gone = json!({"event":"room_stream_update","room":"r1","update":1,"reason":1,
            "streams":[{"user_id":"bob","stream_id":"s1","extra_info":""}]});
        assert_eq!(
            render_event(&gone).unwrap(),
            r#"room_stream_update r1 delete [bob/s1 ""] UserLeft"#
        );
        let added = json!({"event":"room_stream_update","room":"r1","update":0,"reason":null,
            "streams":[{"user_id":"bob","stream_id":"s1","extra_info":"hd"}]});
        assert_eq!(
            render_event(&added).unwrap(),
            r#"room_stream_update r1 add [bob/s1 "hd"]"#
        );
        let count = json!({"event":"room_online_user_count_update","room":"r1","count":2});
        assert_eq!(
            render_event(&count).unwrap(),
            "room_online_user_count_update r1 2"
        );
    }

    #[test]
    fn ambiguous_arguments_are_quoted() {
        assert_eq!(arg("r1"), "r1");
        assert_eq!(arg(""), "\"\"");
        assert_eq!(arg("has space"), "\"has space\"");
        let spaced = json!({"event":"room_online_user_count_update","room":"a b","count":1});
        assert_eq!(
            render_event(&spaced).unwrap(),
            "room_online_user_count_update \"a b\" 1"
        );
    }

    #[test]
    fn malformed_events_are_errors() {
        let no_reason = json!({"event":"room_stream_update","room":"r1","update":0,"streams":[]});
        assert!(render_event(&no_reason).unwrap_err().contains("reason"));
        let numeric = json!({"event":"room_state_changed","room":"r1","reason":6,"code":1,
            "extended_data":{"n":3}});
        assert!(
            render_event(&numeric)
                .unwrap_err()
                .contains("must be strings")
        );
        assert!(render_event(&json!({"event":"room_user_update","room":"r1","update":0})).is_err());
        assert!(render_event(&json!({"event":"room_moved","room":"r1"})).is_err());
        assert!(
            render_event(&json!({"event":"room_user_update","room":"r1","update":5,"users":[]}))
                .is_err()
        );
    }

    #[test]
    fn the_trace_groups_calls_and_events_per_client() {
        let mut t = Trace::new(
            "demo",
            &[("a".into(), "alice".into()), ("b".into(), "bob".into())],
            Attempts::Normalised,
        );
        t.call("a", "create", &json!({"id":1,"code":0})).unwrap();
        t.call("a", "room_state r1", &json!({"id":2,"code":0,"state":3}))
            .unwrap();
        t.call(
            "b",
            "logout r1 (in callback)",
            &json!({"cmd":"logout","code":1002002}),
        )
        .unwrap();
        t.event(
            "a",
            &json!({"event":"room_online_user_count_update","room":"r1","count":1}),
        )
        .unwrap();
        assert!(t.call("z", "create", &json!({"code":0})).is_err());
        let expected = "# roomlink conformance trace v1: demo\nclient a (alice)\n  calls\n    create -> 0\n    room_state r1 -> 0 Connected\n  events\n    room_online_user_count_update r1 1\nclient b (bob)\n  calls\n    logout r1 (in callback) -> 1002002\n  events\n";
        assert_eq!(t.render(), expected);
    }
}
