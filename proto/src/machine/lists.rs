//! User and stream lists: applying room events and diffing snapshots, producing the updates in
//! the documented order.

use std::collections::BTreeMap;

use crate::event::Event;
use crate::model::{StreamDeleteReason, StreamInfo, UpdateType, User};
use crate::protocol::{RoomEvent, Snapshot};

use super::room::Room;

/// Updates produced by one change, in emission order.
#[derive(Debug, Default)]
pub(crate) struct Updates {
    pub(crate) user_delete: Vec<User>,
    pub(crate) user_add: Vec<User>,
    pub(crate) stream_delete: Vec<StreamInfo>,
    pub(crate) stream_delete_reason: Option<StreamDeleteReason>,
    pub(crate) stream_add: Vec<StreamInfo>,
}

impl Updates {
    /// Appends the events (user Delete, user Add, stream Delete, stream Add; each only if
    /// non-empty; user updates only when the room asked for them).
    pub(crate) fn into_events(mut self, room_id: &str, user_update: bool, out: &mut Vec<Event>) {
        self.user_delete.sort();
        self.user_add.sort();
        self.stream_delete
            .sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        self.stream_add
            .sort_by(|a, b| a.stream_id.cmp(&b.stream_id));
        if user_update && !self.user_delete.is_empty() {
            out.push(Event::RoomUserUpdate {
                room_id: room_id.to_string(),
                update_type: UpdateType::Delete,
                users: self.user_delete,
            });
        }
        if user_update && !self.user_add.is_empty() {
            out.push(Event::RoomUserUpdate {
                room_id: room_id.to_string(),
                update_type: UpdateType::Add,
                users: self.user_add,
            });
        }
        if !self.stream_delete.is_empty() {
            out.push(Event::RoomStreamUpdate {
                room_id: room_id.to_string(),
                update_type: UpdateType::Delete,
                streams: self.stream_delete,
                reason: Some(
                    self.stream_delete_reason
                        .unwrap_or(StreamDeleteReason::Resync),
                ),
            });
        }
        if !self.stream_add.is_empty() {
            out.push(Event::RoomStreamUpdate {
                room_id: room_id.to_string(),
                update_type: UpdateType::Add,
                streams: self.stream_add,
                reason: None,
            });
        }
    }
}

/// Applies one server room event to the room's lists. Users or streams already known (or the local
/// user's own) are not reported twice.
pub(crate) fn apply_event(room: &mut Room, event: &RoomEvent) -> Updates {
    let me = room.user.user_id.clone();
    let mut up = Updates::default();
    match event {
        RoomEvent::UserAdd { users } => {
            for u in users.iter().filter(|u| u.user_id != me) {
                if room.users.get(&u.user_id) != Some(u) {
                    room.users.insert(u.user_id.clone(), u.clone());
                    up.user_add.push(u.clone());
                }
            }
        }
        RoomEvent::UserDelete { users } => {
            for u in users {
                if let Some(old) = room.users.remove(&u.user_id) {
                    up.user_delete.push(old);
                }
            }
        }
        RoomEvent::StreamAdd { streams } => {
            for s in streams.iter().filter(|s| s.user.user_id != me) {
                if room.streams.get(&s.stream_id) != Some(s) {
                    room.streams.insert(s.stream_id.clone(), s.clone());
                    up.stream_add.push(s.clone());
                }
            }
        }
        RoomEvent::StreamDelete { streams, reason } => {
            up.stream_delete_reason = Some(*reason);
            for s in streams {
                if let Some(old) = room.streams.remove(&s.stream_id) {
                    up.stream_delete.push(old);
                }
            }
        }
        RoomEvent::Unknown => {}
    }
    up
}

/// Replaces the room's lists with `snapshot`, returning what changed (stream deletes as `Resync`).
pub(crate) fn diff_snapshot(room: &mut Room, snapshot: &Snapshot) -> Updates {
    let me = &room.user.user_id;
    let users: BTreeMap<String, User> = snapshot
        .users
        .iter()
        .filter(|u| &u.user_id != me)
        .map(|u| (u.user_id.clone(), u.clone()))
        .collect();
    let streams: BTreeMap<String, StreamInfo> = snapshot
        .streams
        .iter()
        .filter(|s| &s.user.user_id != me)
        .map(|s| (s.stream_id.clone(), s.clone()))
        .collect();
    let mut up = Updates {
        stream_delete_reason: Some(StreamDeleteReason::Resync),
        ..Default::default()
    };
    up.user_delete = room
        .users
        .iter()
        .filter(|(id, u)| users.get(*id) != Some(u))
        .map(|(_, u)| u.clone())
        .collect();
    up.user_add = users
        .iter()
        .filter(|(id, u)| room.users.get(*id) != Some(u))
        .map(|(_, u)| u.clone())
        .collect();
    up.stream_delete = room
        .streams
        .iter()
        .filter(|(id, s)| streams.get(*id) != Some(s))
        .map(|(_, s)| s.clone())
        .collect();
    up.stream_add = streams
        .iter()
        .filter(|(id, s)| room.streams.get(*id) != Some(s))
        .map(|(_, s)| s.clone())
        .collect();
    room.users = users;
    room.streams = streams;
    up
}

/// Appends a `RoomOnlineUserCountUpdate` if the count differs from the last one reported.
pub(crate) fn count_update(room_id: &str, room: &mut Room, out: &mut Vec<Event>) {
    let count = room.count();
    if room.last_count != Some(count) {
        room.last_count = Some(count);
        out.push(Event::RoomOnlineUserCountUpdate {
            room_id: room_id.to_string(),
            count,
        });
    }
}
