//! The whole state of a [`crate::Rooms`] as plain data, and back: what a cluster node stores so
//! that a room's log can be trimmed, and a node that starts serving the room loads instead of
//! replaying the log from its first entry.
//!
//! Restoring must give a core that decides exactly what the original would from then on, or
//! replicas loaded from a snapshot would drift from replicas that applied the log. So everything
//! that shapes later decisions is kept: sequence numbers and replay rings, the order of timers
//! with equal deadlines (re-armed in firing order), the order of the recent-kick list, each
//! connection's session order, the member budgets. Times are kept as nanoseconds relative to the
//! [`Now`] the snapshot was taken at and mapped onto the restoring side's `Now`; nothing here
//! reads a clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roomlink_proto::protocol::{Fence, RoomEvent};
use roomlink_proto::{StreamInfo, User};
use serde::{Deserialize, Serialize};

use crate::kicks::{KickRecord, RecentKicks};
use crate::output::ConnId;
use crate::session::Session;
use crate::state::{Room, State};
use crate::time::Now;
use crate::timers::{TimerKind, Timers};

/// A core's state, serializable. Opaque: only [`crate::Rooms::snapshot`] makes one and only
/// [`crate::Rooms::restore`] reads one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreSnapshot {
    rooms: Vec<RoomSnap>,
    sessions: Vec<SessionSnap>,
    /// Each distinct ring event once (one broadcast is shared by every member's ring).
    events: Vec<RoomEvent>,
    by_conn: Vec<(ConnId, Vec<String>)>,
    kick_order: Vec<(i128, String)>,
    kicks: Vec<(String, KickRecord)>,
    /// In firing order: (deadline, kind, session ID).
    timers: Vec<(i128, TimerKind, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RoomSnap {
    room_id: String,
    room_session_id: String,
    members: Vec<(String, String)>,
    streams: Vec<StreamInfo>,
    /// user → when the member's budget is full again (`None`: full).
    budgets: Vec<(String, Option<i128>)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionSnap {
    session_id: String,
    room_id: String,
    user: User,
    user_update: bool,
    conn: Option<ConnId>,
    /// Absent in snapshots taken before it existed: then the attached connection, if any.
    #[serde(default)]
    home: Option<ConnId>,
    seq: u64,
    /// (seq, index into `events`).
    ring: Vec<(u64, usize)>,
    token_expires_at_ms: u64,
    fence: Option<Fence>,
}

/// `t` as signed nanoseconds after `now.at`.
fn rel(now: Now, t: Instant) -> i128 {
    match t.checked_duration_since(now.at) {
        Some(d) => d.as_nanos() as i128,
        None => -(now.at.duration_since(t).as_nanos() as i128),
    }
}

/// The instant `nanos` after `now.at` (saturating at what `Instant` can hold).
fn abs(now: Now, nanos: i128) -> Instant {
    let d = Duration::from_nanos(nanos.unsigned_abs().min(u64::MAX as u128) as u64);
    if nanos >= 0 {
        crate::time::deadline(now.at, d)
    } else {
        now.at.checked_sub(d).unwrap_or(now.at)
    }
}

pub(crate) fn take(st: &State, now: Now) -> CoreSnapshot {
    let mut rooms: Vec<RoomSnap> = st
        .rooms
        .iter()
        .map(|(id, r)| {
            let mut budgets: Vec<(String, Option<i128>)> = r
                .budgets
                .iter()
                .map(|(u, b)| (u.clone(), b.full_at().map(|t| rel(now, t))))
                .collect();
            budgets.sort();
            RoomSnap {
                room_id: id.to_string(),
                room_session_id: r.room_session_id.clone(),
                members: r
                    .members
                    .iter()
                    .map(|(u, s)| (u.clone(), s.to_string()))
                    .collect(),
                streams: r.streams.values().cloned().collect(),
                budgets,
            }
        })
        .collect();
    rooms.sort_by(|a, b| a.room_id.cmp(&b.room_id));

    let mut events = Vec::new();
    let mut event_index: HashMap<*const RoomEvent, usize> = HashMap::new();
    let mut sids: Vec<&Arc<str>> = st.sessions.keys().collect();
    sids.sort();
    let sessions = sids
        .into_iter()
        .filter_map(|sid| st.sessions.get(sid))
        .map(|s| SessionSnap {
            session_id: s.session_id.to_string(),
            room_id: s.room_id.to_string(),
            user: s.user.clone(),
            user_update: s.user_update,
            conn: s.conn,
            home: Some(s.home),
            seq: s.seq,
            ring: s
                .ring()
                .map(|(seq, ev)| {
                    let i = *event_index.entry(Arc::as_ptr(ev)).or_insert_with(|| {
                        events.push(RoomEvent::clone(ev));
                        events.len() - 1
                    });
                    (seq, i)
                })
                .collect(),
            token_expires_at_ms: s.token_expires_at_ms,
            fence: s.fence.clone(),
        })
        .collect();

    let mut by_conn: Vec<(ConnId, Vec<String>)> = st
        .by_conn
        .iter()
        .map(|(c, v)| (*c, v.iter().map(|s| s.to_string()).collect()))
        .collect();
    by_conn.sort();

    let (order, records) = st.kicked.parts();
    let kick_order = order
        .map(|(t, sid)| (rel(now, t), sid.to_string()))
        .collect();
    let mut kicks: Vec<(String, KickRecord)> =
        records.map(|(s, r)| (s.to_string(), r.clone())).collect();
    kicks.sort_by(|a, b| a.0.cmp(&b.0));

    let timers = st
        .timers
        .in_order()
        .map(|(at, kind, sid)| (rel(now, at), kind, sid.to_string()))
        .collect();

    CoreSnapshot {
        rooms,
        sessions,
        events,
        by_conn,
        kick_order,
        kicks,
        timers,
    }
}

pub(crate) fn restore(snap: CoreSnapshot, now: Now, replay_buffer: usize) -> State {
    let mut st = State::default();
    // One allocation per session ID, shared by every structure that names it (as when live).
    let mut ids: HashMap<String, Arc<str>> = HashMap::new();
    let mut id =
        |s: &str| -> Arc<str> { ids.entry(s.to_string()).or_insert_with(|| s.into()).clone() };
    let events: Vec<Arc<RoomEvent>> = snap.events.into_iter().map(Arc::new).collect();

    let mut room_keys: HashMap<String, Arc<str>> = HashMap::new();
    for r in snap.rooms {
        let key: Arc<str> = r.room_id.as_str().into();
        room_keys.insert(r.room_id.clone(), key.clone());
        let mut room = Room::new(r.room_session_id);
        room.members = r
            .members
            .into_iter()
            .map(|(u, s)| (u, id(&s)))
            .collect::<BTreeMap<_, _>>();
        room.streams = r
            .streams
            .into_iter()
            .map(|s| (s.stream_id.clone(), s))
            .collect();
        for (u, full_at) in r.budgets {
            room.budgets.insert(
                u,
                crate::bucket::TokenBucket::from_full_at(full_at.map(|n| abs(now, n))),
            );
        }
        st.rooms.insert(key, room);
    }
    for s in snap.sessions {
        let sid = id(&s.session_id);
        let room_id = room_keys
            .get(&s.room_id)
            .cloned()
            .unwrap_or_else(|| s.room_id.as_str().into());
        let mut sess = Session::new(sid.clone(), room_id, s.user, s.user_update, replay_buffer);
        sess.conn = s.conn;
        sess.home = s.home.or(s.conn).unwrap_or(0);
        sess.seq = s.seq;
        sess.token_expires_at_ms = s.token_expires_at_ms;
        sess.fence = s.fence;
        sess.set_ring(
            s.ring
                .into_iter()
                .filter_map(|(seq, i)| events.get(i).map(|e| (seq, e.clone()))),
        );
        st.sessions.insert(sid, sess);
    }
    for (conn, sids) in snap.by_conn {
        st.by_conn
            .insert(conn, sids.iter().map(|s| id(s)).collect());
    }
    let records: HashMap<String, KickRecord> = snap.kicks.into_iter().collect();
    st.kicked = RecentKicks::from_parts(
        snap.kick_order
            .into_iter()
            .map(|(t, sid)| (abs(now, t), sid)),
        records,
    );
    let mut timers = Timers::default();
    for (at, kind, sid) in snap.timers {
        let sid = id(&sid);
        let key = timers.arm(abs(now, at), kind, sid.clone());
        if let Some(sess) = st.sessions.get_mut(&sid) {
            match kind {
                TimerKind::Detach => sess.detach_timer = Some(key),
                TimerKind::Token => sess.token_timer = Some(key),
            }
        }
    }
    st.timers = timers;
    st
}
