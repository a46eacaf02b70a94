//! Event patterns (`wait.for`, `in_callback.when`): the scenario form (names), the driver
//! protocol form (ordinals), and matching against a driver's event line.

use roomlink::RoomStateChangedReason;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

/// The event names of the driver protocol.
pub const EVENTS: [&str; 5] = [
    "room_state_changed",
    "room_user_update",
    "room_online_user_count_update",
    "room_stream_update",
    "room_token_will_expire",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    #[serde(deserialize_with = "event_name")]
    pub event: String,
    pub room: Option<String>,
    #[serde(default, deserialize_with = "reason_name_de")]
    pub reason: Option<RoomStateChangedReason>,
    pub code: Option<i64>,
    pub update: Option<Update>,
    pub users: Option<Vec<String>>,
    pub streams: Option<Vec<String>>,
    pub count: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    Add = 0,
    Delete = 1,
}

fn event_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if EVENTS.contains(&name.as_str()) {
        Ok(name)
    } else {
        Err(serde::de::Error::custom(format!(
            "unknown event {name:?}; one of {EVENTS:?}"
        )))
    }
}

/// The reason's name, e.g. `"Logined"`.
pub fn reason_from_name(name: &str) -> Option<RoomStateChangedReason> {
    RoomStateChangedReason::ALL
        .into_iter()
        .find(|r| r.as_str() == name)
}

/// The name of a reason ordinal; an unknown one is shown as such so it appears in a diff.
pub fn reason_name(ordinal: &Value) -> String {
    ordinal
        .as_u64()
        .and_then(|n| RoomStateChangedReason::ALL.get(usize::try_from(n).ok()?))
        .map_or_else(|| format!("?{ordinal}"), |r| r.as_str().to_string())
}

fn reason_name_de<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<RoomStateChangedReason>, D::Error> {
    let name = String::deserialize(d)?;
    reason_from_name(&name)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown reason {name:?}")))
}
impl Pattern {
    /// The driver protocol form: names become ordinals, absent fields are left out.
    pub fn to_wire(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("event".into(), json!(self.event));
        if let Some(room) = &self.room {
            m.insert("room".into(), json!(room));
        }
        if let Some(r) = self.reason {
            m.insert("reason".into(), json!(r as u32));
        }
        if let Some(c) = self.code {
            m.insert("code".into(), json!(c));
        }
        if let Some(u) = self.update {
            m.insert("update".into(), json!(u as u32));
        }
        if let Some(users) = &self.users {
            m.insert("users".into(), json!(users));
        }
        if let Some(streams) = &self.streams {
            m.insert("streams".into(), json!(streams));
        }
        if let Some(count) = self.count {
            m.insert("count".into(), json!(count));
        }
        m
    }

    /// Whether a driver's event line matches: every field given equals the event's; `users` and
    /// `streams` compare the sorted IDs exactly.
    pub fn matches(&self, line: &Value) -> bool {
        self.to_wire().iter().all(|(key, want)| {
            let id_key = match key.as_str() {
                "users" => "user_id",
                "streams" => "stream_id",
                _ => return &line[key] == want,
            };
            let mut ids: Vec<&str> = line[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x[id_key].as_str())
                .collect();
            ids.sort_unstable();
            want.as_array()
                .is_some_and(|w| w.iter().map(Value::as_str).eq(ids.into_iter().map(Some)))
        })
    }

    /// For messages: the scenario form.
    pub fn describe(&self) -> String {
        let mut m = self.to_wire();
        if let Some(r) = self.reason {
            m.insert("reason".into(), json!(r.as_str()));
        }
        if let Some(u) = self.update {
            m.insert(
                "update".into(),
                json!(if u == Update::Add { "add" } else { "delete" }),
            );
        }
        Value::Object(m).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn names_become_ordinals_on_the_wire() {
        let p = pattern(r#"{"event":"room_state_changed","room":"r1","reason":"Logined"}"#);
        assert_eq!(
            Value::Object(p.to_wire()),
            json!({"event":"room_state_changed","room":"r1","reason":1})
        );
        let p = pattern(r#"{"event":"room_user_update","update":"delete"}"#);
        assert_eq!(p.to_wire()["update"], json!(1));
    }

    #[test]
    fn unknown_names_and_keys_are_rejected() {
        assert!(
            serde_json::from_str::<Pattern>(
                r#"{"event":"room_state_changed","reason":"LoggedIn"}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<Pattern>(r#"{"event":"room_state"}"#).is_err());
        assert!(
            serde_json::from_str::<Pattern>(r#"{"event":"room_user_update","user":["bob"]}"#)
                .is_err()
        );
    }

    #[test]
    fn matches_every_given_field() {
        let line = json!({"client":"a","event":"room_state_changed","room":"r1","reason":3,"code":1002051,"extended_data":{}});
        assert!(pattern(r#"{"event":"room_state_changed"}"#).matches(&line));
        assert!(
            pattern(r#"{"event":"room_state_changed","reason":"Reconnecting","code":1002051}"#)
                .matches(&line)
        );
        assert!(
            !pattern(r#"{"event":"room_state_changed","reason":"Reconnected"}"#).matches(&line)
        );
        assert!(!pattern(r#"{"event":"room_state_changed","room":"r2"}"#).matches(&line));
        assert!(!pattern(r#"{"event":"room_user_update"}"#).matches(&line));
    }

    #[test]
    fn users_and_streams_compare_sorted_ids_exactly() {
        let line = json!({"event":"room_user_update","room":"r1","update":0,
            "users":[{"user_id":"carol","user_name":"C"},{"user_id":"bob","user_name":"B"}]});
        assert!(
            pattern(r#"{"event":"room_user_update","users":["bob","carol"],"update":"add"}"#)
                .matches(&line)
        );
        assert!(!pattern(r#"{"event":"room_user_update","users":["bob"]}"#).matches(&line));
        let line = json!({"event":"room_stream_update","room":"r1","update":1,"reason":1,
            "streams":[{"user_id":"bob","stream_id":"s1","extra_info":""}]});
        assert!(pattern(r#"{"event":"room_stream_update","streams":["s1"]}"#).matches(&line));
        assert!(!pattern(r#"{"event":"room_stream_update","streams":["s2"]}"#).matches(&line));
    }

    #[test]
    fn reason_ordinals_have_names() {
        assert_eq!(reason_name(&json!(1)), "Logined");
        assert_eq!(reason_name(&json!(8)), "LogoutFailed");
        assert_eq!(reason_name(&json!(9)), "?9");
    }
}
