//! The login fence on the client side: every login names the engine instance and the attempt it
//! rides on, and a `SessionMoved` is a resume-again on the current link, stale on any other.

mod hand;

use std::time::Instant;

use hand::*;
use roomlink::event::extended_keys;
use roomlink::machine::{LinkError, Machine};
use roomlink::protocol::{ClientFrame, Login, ServerFrame, Snapshot};
use roomlink::{ErrorCode, Event, RoomConfig, RoomStateChangedReason as R, User};

fn joined(room: &str) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room.into(),
        session_id: format!("sess-{room}"),
        room_session_id: "rs1".into(),
        seq: 0,
        snapshot: Snapshot::default(),
        token_expires_in_ms: None,
    }
}

fn resumed(room: &str) -> ServerFrame {
    ServerFrame::Resumed {
        room_id: room.into(),
        session_id: format!("sess-{room}"),
        room_session_id: "rs1".into(),
        events: vec![],
        snapshot: None,
        seq: 0,
        token_expires_in_ms: None,
    }
}

fn me() -> User {
    User::new("me", "Me")
}

fn logins(frames: Vec<ClientFrame>) -> Vec<Login> {
    frames
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Login(l) => Some(l),
            _ => None,
        })
        .collect()
}

#[test]
fn every_login_names_the_instance_and_the_attempt_it_rides_on() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 5);
    m.login_room(t0, "r1", me(), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let (c1, hello) = connect_of(&out).unwrap();
    let f1 = hello.logins[0].fence.clone().expect("hello login fenced");
    assert_eq!(f1.attempt, c1);
    assert!(!f1.instance.is_empty());

    // The attempt fails; the next one has a higher number and the same instance.
    m.handle_link_down(t0, c1, LinkError::Transient("refused".into()));
    let (c2, hello, t) = next_connect(&mut m, t0);
    let f2 = hello.logins[0].fence.clone().expect("fenced");
    assert!(f2.attempt > f1.attempt);
    assert_eq!(f2.instance, f1.instance);

    // A Login frame on the open link carries that connection's attempt.
    m.handle_connected(t, c2);
    m.handle_frame(t, c2, joined("r1"));
    drain(&mut m);
    m.login_room(t, "r2", me(), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let sent = logins(sends(&out));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].fence, Some(f2));

    // Another engine is another instance.
    let mut other = Machine::new(cfg(), 6);
    other
        .login_room(t0, "r1", me(), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut other);
    let (_, hello) = connect_of(&out).unwrap();
    assert_ne!(
        hello.logins[0].fence.as_ref().unwrap().instance,
        f1.instance
    );
}

#[test]
fn session_moved_on_the_current_link_resumes_again_and_is_no_kickout() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in_with(1, t0, "r1", me(), joined("r1"));
    m.handle_frame(
        t0,
        conn,
        ServerFrame::SessionMoved {
            room_id: "r1".into(),
        },
    );
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r1".to_string(), R::Reconnecting, ErrorCode::RECONNECTING)]
    );
    let sent = logins(sends(&out));
    assert_eq!(sent.len(), 1, "one resume on the same link: {out:?}");
    assert_eq!(
        sent[0].resume.as_ref().map(|r| r.session_id.as_str()),
        Some("sess-r1")
    );
    assert_eq!(sent[0].fence.as_ref().map(|f| f.attempt), Some(conn));
    m.handle_frame(t0, conn, resumed("r1"));
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r1".to_string(), R::Reconnected, ErrorCode::OK)]
    );
    // Back on the link it already had: a replay, and no new connection was opened for it.
    let Some(Event::RoomStateChanged { extended_data, .. }) = events(&out).into_iter().next()
    else {
        panic!("no Reconnected: {out:?}");
    };
    assert_eq!(extended_data[extended_keys::RECONNECT_KIND], "resumed");
    assert_eq!(extended_data[extended_keys::RECONNECT_ATTEMPTS], "0");
}

#[test]
fn session_moved_on_a_connection_given_up_is_stale() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in_with(1, t0, "r1", me(), joined("r1"));
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, _, t) = next_connect(&mut m, t0);
    m.handle_connected(t, c2);
    m.handle_frame(t, c2, resumed("r1"));
    drain(&mut m);
    m.handle_frame(
        t,
        c1,
        ServerFrame::SessionMoved {
            room_id: "r1".into(),
        },
    );
    let (out, _) = drain(&mut m);
    assert!(
        out.is_empty(),
        "a frame on a dead connection did something: {out:?}"
    );
}
