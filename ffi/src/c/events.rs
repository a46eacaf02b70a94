//! Events as C sees them: flat structs of borrowed pointers, the same ones in the callbacks
//! (`roomlink_event_handler`) and in the pull API (`roomlink_event`).
//!
//! [`CEvent`] owns everything a `roomlink_event` points to; its first field is that struct, so a
//! `*mut CEvent` handed to C *is* a `roomlink_event *` (both `repr(C)`).

use std::ffi::{CString, c_char};

use roomlink::{Event, StreamInfo, User};

use super::strings;

/// Which event a `roomlink_event` holds.
pub type roomlink_event_kind = u32;
/// ZEGO's `onRoomStateChanged`: `reason`, `error_code`, `extended_data`.
pub const ROOMLINK_EVENT_ROOM_STATE_CHANGED: roomlink_event_kind = 0;
/// Other users joined or left: `update_type`, `users` (never the local user, sorted by ID).
pub const ROOMLINK_EVENT_ROOM_USER_UPDATE: roomlink_event_kind = 1;
/// Users in the room, the local user included: `count`.
pub const ROOMLINK_EVENT_ROOM_ONLINE_USER_COUNT_UPDATE: roomlink_event_kind = 2;
/// Other users' streams were added or removed: `update_type`, `streams`, `stream_delete_reason`.
pub const ROOMLINK_EVENT_ROOM_STREAM_UPDATE: roomlink_event_kind = 3;
/// The room's token expires in `remaining_seconds`: call `roomlink_renew_token` or be kicked
/// (1002056).
pub const ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE: roomlink_event_kind = 4;

// The values of these types, `ROOMLINK_REASON_*`, `ROOMLINK_UPDATE_*` and
// `ROOMLINK_STREAM_DELETE_REASON_*` (but `_NONE`), are written into the header by build.rs from
// core's enums; Rust code here converts with `as`.

/// Why a room's state changed: ZEGO's `ZegoRoomStateChangedReason` ordinals (`ROOMLINK_REASON_*`).
pub type roomlink_room_state_reason = u32;

/// Whether an update adds or removes (ZEGO's `ZegoUpdateType`; `ROOMLINK_UPDATE_*`).
pub type roomlink_update_type = u32;

/// Why streams went away (`stream_delete_reason`; `ROOMLINK_STREAM_DELETE_REASON_NONE` for Add).
pub type roomlink_stream_delete_reason = i32;
/// Not a delete (the update adds streams).
pub const ROOMLINK_STREAM_DELETE_REASON_NONE: roomlink_stream_delete_reason = -1;

/// A user as other members see them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_user {
    pub user_id: *const c_char,
    pub user_name: *const c_char,
}

/// A published stream's metadata.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_stream {
    pub stream_id: *const c_char,
    /// The publisher.
    pub user: roomlink_user,
    /// Free-form data set by the publisher (may be empty, never NULL).
    pub extra_info: *const c_char,
}

/// One key/value pair of a state change's extended data (keys sorted).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_kv {
    pub key: *const c_char,
    pub value: *const c_char,
}

/// One event, for the pull API. One flat struct for every kind: `kind` says which fields are
/// set; the others are 0/NULL. Array pointers are NULL when their count is 0. Every pointer is
/// owned by the event and valid until `roomlink_event_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct roomlink_event {
    /// `ROOMLINK_EVENT_*`.
    pub kind: roomlink_event_kind,
    /// The room the event is about (every kind).
    pub room_id: *const c_char,
    /// State change: `ROOMLINK_REASON_*`.
    pub reason: roomlink_room_state_reason,
    /// State change: 0 or a `ROOMLINK_CODE_*`.
    pub error_code: i32,
    /// State change: key/value pairs, sorted by key.
    pub extended_data: *const roomlink_kv,
    pub extended_data_len: u32,
    /// User or stream update: `ROOMLINK_UPDATE_*`.
    pub update_type: roomlink_update_type,
    /// User update: the users, sorted by user ID.
    pub users: *const roomlink_user,
    pub user_count: u32,
    /// Stream update: the streams.
    pub streams: *const roomlink_stream,
    pub stream_count: u32,
    /// Stream update: `ROOMLINK_STREAM_DELETE_REASON_*` (`_NONE` for Add).
    pub stream_delete_reason: roomlink_stream_delete_reason,
    /// Online user count update: the count.
    pub count: u32,
    /// Token will expire: seconds left.
    pub remaining_seconds: u32,
}

/// A `roomlink_event` and the memory it points into. Moving it is fine: the pointers point into
/// heap buffers (the `CString`s' and the `Vec`s'), which do not move.
#[repr(C)]
pub(crate) struct CEvent {
    pub(crate) raw: roomlink_event,
    _strings: Vec<CString>,
    _users: Vec<roomlink_user>,
    _streams: Vec<roomlink_stream>,
    _kvs: Vec<roomlink_kv>,
}

/// Keeps the strings alive and hands out their pointers.
#[derive(Default)]
struct Strings(Vec<CString>);

impl Strings {
    fn add(&mut self, s: &str) -> *const c_char {
        let c = strings::to_c(s);
        let ptr = c.as_ptr();
        self.0.push(c);
        ptr
    }

    fn user(&mut self, u: &User) -> roomlink_user {
        roomlink_user {
            user_id: self.add(&u.user_id),
            user_name: self.add(&u.user_name),
        }
    }

    fn stream(&mut self, s: &StreamInfo) -> roomlink_stream {
        roomlink_stream {
            stream_id: self.add(&s.stream_id),
            user: self.user(&s.user),
            extra_info: self.add(&s.extra_info),
        }
    }
}

fn array<T>(items: &[T]) -> (*const T, u32) {
    if items.is_empty() {
        return (std::ptr::null(), 0);
    }
    // Lists are bounded by the frame size (64 KiB by default), far below u32::MAX.
    (
        items.as_ptr(),
        u32::try_from(items.len()).unwrap_or(u32::MAX),
    )
}

impl CEvent {
    pub(crate) fn new(event: &Event) -> CEvent {
        let mut strings = Strings::default();
        let room_id = strings.add(event.room_id());
        let mut raw = roomlink_event {
            kind: 0,
            room_id,
            reason: 0,
            error_code: 0,
            extended_data: std::ptr::null(),
            extended_data_len: 0,
            update_type: 0,
            users: std::ptr::null(),
            user_count: 0,
            streams: std::ptr::null(),
            stream_count: 0,
            stream_delete_reason: ROOMLINK_STREAM_DELETE_REASON_NONE,
            count: 0,
            remaining_seconds: 0,
        };
        let (mut users, mut streams, mut kvs) = (Vec::new(), Vec::new(), Vec::new());
        match event {
            Event::RoomStateChanged {
                reason,
                error_code,
                extended_data,
                ..
            } => {
                raw.kind = ROOMLINK_EVENT_ROOM_STATE_CHANGED;
                raw.reason = *reason as roomlink_room_state_reason;
                raw.error_code = error_code.value();
                kvs = (extended_data.iter())
                    .map(|(k, v)| roomlink_kv {
                        key: strings.add(k),
                        value: strings.add(v),
                    })
                    .collect();
                (raw.extended_data, raw.extended_data_len) = array(&kvs);
            }
            Event::RoomUserUpdate {
                update_type,
                users: list,
                ..
            } => {
                raw.kind = ROOMLINK_EVENT_ROOM_USER_UPDATE;
                raw.update_type = *update_type as roomlink_update_type;
                users = list.iter().map(|u| strings.user(u)).collect();
                (raw.users, raw.user_count) = array(&users);
            }
            Event::RoomOnlineUserCountUpdate { count, .. } => {
                raw.kind = ROOMLINK_EVENT_ROOM_ONLINE_USER_COUNT_UPDATE;
                raw.count = *count;
            }
            Event::RoomStreamUpdate {
                update_type,
                streams: list,
                reason,
                ..
            } => {
                raw.kind = ROOMLINK_EVENT_ROOM_STREAM_UPDATE;
                raw.update_type = *update_type as roomlink_update_type;
                raw.stream_delete_reason = reason.map_or(ROOMLINK_STREAM_DELETE_REASON_NONE, |r| {
                    r as roomlink_stream_delete_reason
                });
                streams = list.iter().map(|s| strings.stream(s)).collect();
                (raw.streams, raw.stream_count) = array(&streams);
            }
            Event::RoomTokenWillExpire {
                remaining_seconds, ..
            } => {
                raw.kind = ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE;
                raw.remaining_seconds = *remaining_seconds;
            }
        }
        CEvent {
            raw,
            _strings: strings.0,
            _users: users,
            _streams: streams,
            _kvs: kvs,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ffi::CStr;

    use roomlink::{ErrorCode, RoomStateChangedReason, StreamDeleteReason, UpdateType};

    use super::*;

    fn s(p: *const c_char) -> &'static str {
        unsafe { CStr::from_ptr(p) }.to_str().unwrap()
    }

    #[test]
    fn a_state_change_carries_its_extended_data() {
        let event = Event::RoomStateChanged {
            room_id: "r1".into(),
            reason: RoomStateChangedReason::KickOut,
            error_code: ErrorCode::KICKED_BY_SERVER,
            extended_data: BTreeMap::from([("custom_kickout_message".into(), "bye".into())]),
        };
        let c = CEvent::new(&event);
        let moved = Box::new(c); // pointers survive a move
        let raw = moved.raw;
        assert_eq!(raw.kind, ROOMLINK_EVENT_ROOM_STATE_CHANGED);
        assert_eq!(
            (s(raw.room_id), raw.reason, raw.error_code),
            ("r1", 6, 1002055)
        );
        assert_eq!(raw.extended_data_len, 1);
        let kv = unsafe { *raw.extended_data };
        assert_eq!((s(kv.key), s(kv.value)), ("custom_kickout_message", "bye"));
        assert!(raw.users.is_null() && raw.streams.is_null());
    }

    #[test]
    fn a_stream_delete_has_its_reason_and_an_add_has_none() {
        let stream = StreamInfo {
            stream_id: "s1".into(),
            user: User::new("bob", "Bob"),
            extra_info: "x".into(),
        };
        let mut event = Event::RoomStreamUpdate {
            room_id: "r1".into(),
            update_type: UpdateType::Delete,
            streams: vec![stream.clone()],
            reason: Some(StreamDeleteReason::UserLeft),
        };
        let c = CEvent::new(&event);
        assert_eq!(c.raw.stream_delete_reason, 1); // ROOMLINK_STREAM_DELETE_REASON_USER_LEFT
        let st = unsafe { *c.raw.streams };
        assert_eq!(
            (s(st.stream_id), s(st.user.user_name), s(st.extra_info)),
            ("s1", "Bob", "x")
        );
        if let Event::RoomStreamUpdate {
            update_type,
            reason,
            ..
        } = &mut event
        {
            *update_type = UpdateType::Add;
            *reason = None;
        }
        let c = CEvent::new(&event);
        assert_eq!(c.raw.update_type, 0); // ROOMLINK_UPDATE_ADD
        assert_eq!(
            c.raw.stream_delete_reason,
            ROOMLINK_STREAM_DELETE_REASON_NONE
        );
    }

    #[test]
    fn an_empty_user_list_is_null() {
        let event = Event::RoomUserUpdate {
            room_id: "r1".into(),
            update_type: UpdateType::Add,
            users: vec![],
        };
        let c = CEvent::new(&event);
        assert!(c.raw.users.is_null());
        assert_eq!(c.raw.user_count, 0);
    }
}
