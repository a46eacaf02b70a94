//! Coalesced event frames (`first_seq..=seq`, docs/PROTOCOL.md "Coalesced events"): the machine
//! applies one as the events it stands for, reports its whole list in one update, continues from
//! its `seq`, and treats a range that does not join up with what it applied as a lost link.

mod hand;

use std::time::Instant;

use hand::*;
use roomlink::machine::{ConnId, LinkError, Machine, Output, Transmit};
use roomlink::model::{StreamDeleteReason, StreamInfo, UpdateType};
use roomlink::protocol::{RoomEvent, SeqEvent, ServerFrame, Snapshot};
use roomlink::{Event, RoomStateChangedReason as R, User};

fn user(id: &str) -> User {
    User::new(id, id.to_uppercase())
}

fn cam(by: &str) -> StreamInfo {
    StreamInfo {
        stream_id: format!("{by}-cam"),
        user: user(by),
        extra_info: String::new(),
    }
}

/// Logged in to "r" at seq 3 with b, c and d listed, each publishing a camera.
fn logged_in(t0: Instant) -> (Machine, ConnId) {
    let others = ["b", "c", "d"];
    let joined = ServerFrame::Joined {
        room_id: "r".into(),
        session_id: "sess".into(),
        room_session_id: "rs1".into(),
        seq: 3,
        snapshot: Snapshot {
            users: others.iter().map(|u| user(u)).collect(),
            streams: others.iter().map(|u| cam(u)).collect(),
        },
        token_expires_in_ms: None,
    };
    let (mut m, conn) = logged_in_with(42, t0, "r", user("me"), joined);
    drain(&mut m);
    (m, conn)
}

fn frame(first_seq: Option<u64>, seq: u64, event: RoomEvent) -> ServerFrame {
    ServerFrame::Event {
        room_id: "r".into(),
        first_seq,
        event: SeqEvent { seq, event },
    }
}

/// The frames the server's queue makes of b, c and d timing out (six events, seqs 4..=9): the
/// stream deletes' frame keeps its own range (4..=4), the users' frame covers the rest.
fn departure() -> (ServerFrame, ServerFrame) {
    let streams = frame(
        None,
        4,
        RoomEvent::StreamDelete {
            streams: vec![cam("b"), cam("c"), cam("d")],
            reason: StreamDeleteReason::UserTimedOut,
        },
    );
    let users = frame(
        Some(5),
        9,
        RoomEvent::UserDelete {
            users: vec![user("b"), user("c"), user("d")],
        },
    );
    (streams, users)
}

#[test]
fn a_coalesced_frame_is_one_update_per_list_and_the_next_event_follows_its_seq() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    let (streams, users) = departure();
    m.handle_frame(t0, conn, streams);
    m.handle_frame(t0, conn, users);
    let got = events(&drain(&mut m).0);
    assert_eq!(
        got,
        vec![
            Event::RoomStreamUpdate {
                room_id: "r".into(),
                update_type: UpdateType::Delete,
                streams: vec![cam("b"), cam("c"), cam("d")],
                reason: Some(StreamDeleteReason::UserTimedOut),
            },
            Event::RoomUserUpdate {
                room_id: "r".into(),
                update_type: UpdateType::Delete,
                users: vec![user("b"), user("c"), user("d")],
            },
            Event::RoomOnlineUserCountUpdate {
                room_id: "r".into(),
                count: 1
            },
        ],
        "the count is reported only when it changes: not after the stream deletes"
    );
    // Seq 10 follows the users' frame (9): applied, no gap.
    m.handle_frame(
        t0,
        conn,
        frame(
            None,
            10,
            RoomEvent::UserAdd {
                users: vec![user("e")],
            },
        ),
    );
    let (out, _) = drain(&mut m);
    assert!(!out.contains(&Output::Transmit(Transmit::Close { conn })));
    assert_eq!(events(&out).len(), 2, "{out:?}");
    // A frame wholly before that is a duplicate: nothing.
    let (_, users) = departure();
    m.handle_frame(t0, conn, users);
    assert!(drain(&mut m).0.is_empty());
}

#[test]
fn a_coalesced_range_after_a_gap_loses_the_link_and_resumes_from_the_last_applied() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    let (_, users) = departure(); // 5..=9, but 4 never came
    m.handle_frame(t0, conn, users);
    let (out, _) = drain(&mut m);
    assert_eq!(out[0], Output::Transmit(Transmit::Close { conn }));
    assert!(matches!(
        &out[1],
        Output::Event(Event::RoomStateChanged {
            reason: R::Reconnecting,
            ..
        })
    ));
    m.on_network_changed(t0, true);
    let (_, hello) = connect_of(&drain(&mut m).0).unwrap();
    assert_eq!(hello.logins[0].resume.as_ref().unwrap().last_seq, 3);
}

#[test]
fn a_link_lost_between_the_two_frames_is_made_whole_by_the_per_event_replay() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    let (streams, _) = departure();
    m.handle_frame(t0, conn, streams);
    drain(&mut m);
    m.handle_link_down(t0, conn, LinkError::Transient("reset".into()));
    drain(&mut m);
    m.on_network_changed(t0, true);
    let (out, _) = drain(&mut m);
    let (conn2, hello) = connect_of(&out).unwrap();
    assert_eq!(hello.logins[0].resume.as_ref().unwrap().last_seq, 4);
    m.handle_connected(t0, conn2);
    // The ring replays events 5..=9 one by one: the stream deletes moved into frame 4 again
    // (nothing to report), and the user deletes.
    let replay = [
        (
            5,
            RoomEvent::UserDelete {
                users: vec![user("b")],
            },
        ),
        (6, sd("c")),
        (
            7,
            RoomEvent::UserDelete {
                users: vec![user("c")],
            },
        ),
        (8, sd("d")),
        (
            9,
            RoomEvent::UserDelete {
                users: vec![user("d")],
            },
        ),
    ];
    m.handle_frame(
        t0,
        conn2,
        ServerFrame::Resumed {
            room_id: "r".into(),
            session_id: "sess".into(),
            room_session_id: "rs1".into(),
            events: replay
                .into_iter()
                .map(|(seq, event)| SeqEvent { seq, event })
                .collect(),
            snapshot: None,
            seq: 9,
            token_expires_in_ms: None,
        },
    );
    let got = events(&drain(&mut m).0);
    let deleted: Vec<&User> = got
        .iter()
        .filter_map(|e| match e {
            Event::RoomUserUpdate { users, .. } => Some(users),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(deleted, vec![&user("b"), &user("c"), &user("d")], "{got:?}");
    assert!(
        !got.iter()
            .any(|e| matches!(e, Event::RoomStreamUpdate { .. })),
        "no stream is deleted twice: {got:?}"
    );
}

fn sd(by: &str) -> RoomEvent {
    RoomEvent::StreamDelete {
        streams: vec![cam(by)],
        reason: StreamDeleteReason::UserTimedOut,
    }
}
