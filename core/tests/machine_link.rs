//! The machine driven by hand (no simulator): link lifecycle, backoff, stale connections,
//! timers, frame handling and event ordering.

mod hand;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hand::*;
use roomlink::machine::{ConnId, LinkError, Machine, Output, Transmit};
use roomlink::model::{StreamDeleteReason, StreamInfo, UpdateType};
use roomlink::protocol::{ClientFrame, RoomEvent, SeqEvent, ServerFrame, Snapshot};
use roomlink::{EngineConfig, ErrorCode, Event, RoomConfig, RoomStateChangedReason as R, User};

fn user(id: &str) -> User {
    User::new(id, id.to_uppercase())
}

fn stream(id: &str, by: &str) -> StreamInfo {
    StreamInfo {
        stream_id: id.into(),
        user: user(by),
        extra_info: String::new(),
    }
}

fn joined(room: &str, users: Vec<User>, streams: Vec<StreamInfo>) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room.into(),
        session_id: format!("sess-{room}"),
        room_session_id: "rs1".into(),
        seq: 3,
        snapshot: Snapshot { users, streams },
        token_expires_in_ms: None,
    }
}

/// A machine logged in to "r" as "me" on conn, at t0.
fn logged_in(t0: Instant) -> (Machine, ConnId) {
    logged_in_with(
        42,
        t0,
        "r",
        user("me"),
        joined("r", vec![user("b")], vec![]),
    )
}

/// Event `seq` of room "r", as the server sends it.
fn ev(seq: u64, event: RoomEvent) -> ServerFrame {
    ServerFrame::Event {
        room_id: "r".into(),
        first_seq: None,
        event: SeqEvent { seq, event },
    }
}

#[test]
fn logined_is_followed_by_adds_sorted_then_count_and_never_self() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let (conn, hello) = connect_of(&out).unwrap();
    assert_eq!(hello.logins.len(), 1);
    assert_eq!(hello.logins[0].resume, None);
    m.handle_connected(t0, conn);
    m.handle_frame(
        t0,
        conn,
        joined(
            "r",
            vec![user("z"), user("me"), user("a")],
            vec![stream("s2", "z"), stream("s1", "a"), stream("mine", "me")],
        ),
    );
    let ev = events(&drain(&mut m).0);
    let ext = BTreeMap::from([("room_session_id".to_string(), "rs1".to_string())]);
    assert_eq!(
        ev,
        vec![
            Event::RoomStateChanged {
                room_id: "r".into(),
                reason: R::Logined,
                error_code: ErrorCode::OK,
                extended_data: ext
            },
            Event::RoomUserUpdate {
                room_id: "r".into(),
                update_type: UpdateType::Add,
                users: vec![user("a"), user("z")]
            },
            Event::RoomStreamUpdate {
                room_id: "r".into(),
                update_type: UpdateType::Add,
                streams: vec![stream("s1", "a"), stream("s2", "z")],
                reason: None
            },
            Event::RoomOnlineUserCountUpdate {
                room_id: "r".into(),
                count: 3
            },
        ]
    );
}

#[test]
fn duplicate_events_are_ignored_and_each_event_is_update_then_count() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.handle_frame(
        t0,
        conn,
        ev(
            3,
            RoomEvent::UserAdd {
                users: vec![user("c")],
            },
        ),
    );
    assert!(events(&drain(&mut m).0).is_empty(), "seq 3 <= last_seq 3");
    m.handle_frame(
        t0,
        conn,
        ev(
            4,
            RoomEvent::UserAdd {
                users: vec![user("c")],
            },
        ),
    );
    assert_eq!(
        events(&drain(&mut m).0),
        vec![
            Event::RoomUserUpdate {
                room_id: "r".into(),
                update_type: UpdateType::Add,
                users: vec![user("c")]
            },
            Event::RoomOnlineUserCountUpdate {
                room_id: "r".into(),
                count: 3
            },
        ]
    );
    m.handle_frame(
        t0,
        conn,
        ev(
            5,
            RoomEvent::StreamAdd {
                streams: vec![stream("s", "c")],
            },
        ),
    );
    let e = events(&drain(&mut m).0);
    assert_eq!(e.len(), 1, "count unchanged → no count update: {e:?}");
    m.handle_frame(
        t0,
        conn,
        ev(
            4,
            RoomEvent::UserDelete {
                users: vec![user("c")],
            },
        ),
    );
    assert!(events(&drain(&mut m).0).is_empty());
}

#[test]
fn user_updates_follow_room_config_but_lists_are_tracked() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    m.login_room(
        t0,
        "r",
        user("me"),
        "tok",
        RoomConfig { user_update: false },
    )
    .unwrap();
    let (conn, hello) = connect_of(&drain(&mut m).0).unwrap();
    assert!(!hello.logins[0].user_update);
    m.handle_connected(t0, conn);
    m.handle_frame(t0, conn, joined("r", vec![user("b")], vec![]));
    let e = events(&drain(&mut m).0);
    assert!(!e.iter().any(|e| matches!(e, Event::RoomUserUpdate { .. })));
    assert!(e.contains(&Event::RoomOnlineUserCountUpdate {
        room_id: "r".into(),
        count: 2
    }));
}

#[test]
fn heartbeat_pings_and_ping_timeout_loses_the_link_with_close() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    let (_, t) = drain(&mut m);
    assert_eq!(t, Some(t0 + Duration::from_secs(10)));
    m.handle_timeout(t0 + Duration::from_secs(10));
    let (out, t) = drain(&mut m);
    assert_eq!(
        out,
        vec![Output::Transmit(Transmit::Send {
            conn,
            frame: ClientFrame::Ping
        })]
    );
    assert_eq!(t, Some(t0 + Duration::from_secs(20)));
    m.handle_timeout(t0 + Duration::from_secs(20));
    drain(&mut m);
    // Nothing inbound since t0: at 25 s the link is lost.
    m.handle_timeout(t0 + Duration::from_secs(25));
    let (out, _) = drain(&mut m);
    assert_eq!(out[0], Output::Transmit(Transmit::Close { conn }));
    assert!(
        matches!(&out[1], Output::Event(Event::RoomStateChanged { reason: R::Reconnecting, error_code, .. }) if *error_code == ErrorCode::RECONNECTING)
    );
    // Inbound Pong keeps it alive.
    let (mut m, conn) = logged_in(t0);
    m.handle_frame(t0 + Duration::from_secs(20), conn, ServerFrame::Pong);
    m.handle_timeout(t0 + Duration::from_secs(25));
    assert!(events(&drain(&mut m).0).is_empty());
}

#[test]
fn backoff_is_full_jitter_and_capped() {
    let t0 = Instant::now();
    let c = cfg();
    let mut waits: Vec<Vec<Duration>> = Vec::new();
    for seed in 0..40u64 {
        let mut m = Machine::new(c.clone(), seed);
        m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
            .unwrap();
        let (out, _) = drain(&mut m);
        let (mut conn, _) = connect_of(&out).unwrap();
        let mut now = t0;
        let mut per_attempt = Vec::new();
        for _ in 0..8 {
            m.handle_link_down(now, conn, LinkError::Transient("refused".into()));
            let (out, t) = drain(&mut m);
            assert!(out.is_empty(), "no Close after handle_link_down: {out:?}");
            let t = t.unwrap();
            per_attempt.push(t - now);
            now = t;
            m.handle_timeout(now);
            let (out, _) = drain(&mut m);
            conn = connect_of(&out)
                .expect("reconnects when the backoff ends")
                .0;
        }
        waits.push(per_attempt);
    }
    for n in 0..8 {
        let ceiling = (c.backoff_base * 2u32.pow(n as u32)).min(c.backoff_cap);
        let ws: Vec<Duration> = waits.iter().map(|w| w[n]).collect();
        assert!(
            ws.iter().all(|w| *w <= ceiling),
            "attempt {n} exceeds {ceiling:?}: {ws:?}"
        );
        // Full jitter: spread over the whole range, not clustered near the ceiling.
        assert!(ws.iter().any(|w| *w < ceiling / 3), "attempt {n}: {ws:?}");
        assert!(
            ws.iter().any(|w| *w > ceiling * 2 / 3),
            "attempt {n}: {ws:?}"
        );
    }
}

#[test]
fn stale_conn_events_are_ignored() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.on_network_changed(t0, false);
    drain(&mut m);
    m.on_network_changed(t0, true);
    let (out, _) = drain(&mut m);
    let (conn2, hello) = connect_of(&out).unwrap();
    assert!(conn2 > conn);
    assert_eq!(
        hello.logins[0].resume.as_ref().unwrap().session_id,
        "sess-r"
    );
    // Late news about the old connection changes nothing.
    m.handle_connected(t0, conn);
    m.handle_frame(
        t0,
        conn,
        ServerFrame::Kicked {
            room_id: "r".into(),
            code: ErrorCode::KICKED_BY_SERVER,
            reason: String::new(),
        },
    );
    m.handle_link_down(
        t0,
        conn,
        LinkError::Fatal {
            code: ErrorCode::CONNECT_FAILED,
            detail: String::new(),
        },
    );
    assert!(drain(&mut m).0.is_empty());
    assert_eq!(m.room_reason("r"), Some(R::Reconnecting));
    m.handle_connected(t0, conn2);
    m.handle_frame(
        t0,
        conn2,
        ServerFrame::Resumed {
            room_id: "r".into(),
            session_id: "sess-r".into(),
            room_session_id: "rs1".into(),
            events: vec![
                SeqEvent {
                    seq: 3,
                    event: RoomEvent::UserAdd {
                        users: vec![user("old")],
                    },
                },
                SeqEvent {
                    seq: 5,
                    event: RoomEvent::StreamAdd {
                        streams: vec![stream("s", "b")],
                    },
                },
                SeqEvent {
                    seq: 4,
                    event: RoomEvent::UserAdd {
                        users: vec![user("c")],
                    },
                },
            ],
            snapshot: None,
            seq: 5,
            token_expires_in_ms: None,
        },
    );
    let e = events(&drain(&mut m).0);
    assert!(matches!(
        &e[0],
        Event::RoomStateChanged {
            reason: R::Reconnected,
            ..
        }
    ));
    assert_eq!(
        e[1],
        Event::RoomUserUpdate {
            room_id: "r".into(),
            update_type: UpdateType::Add,
            users: vec![user("c")]
        }
    );
    assert!(matches!(
        &e[2],
        Event::RoomStreamUpdate {
            update_type: UpdateType::Add,
            ..
        }
    ));
    assert_eq!(
        e[3],
        Event::RoomOnlineUserCountUpdate {
            room_id: "r".into(),
            count: 3
        }
    );
    assert_eq!(e.len(), 4);
}

#[test]
fn resume_snapshot_diff_deletes_with_resync_reason() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.handle_frame(
        t0,
        conn,
        ev(
            4,
            RoomEvent::StreamAdd {
                streams: vec![stream("s", "b")],
            },
        ),
    );
    m.handle_link_down(t0, conn, LinkError::Transient("reset".into()));
    drain(&mut m);
    m.on_network_changed(t0, true);
    let (conn2, _) = connect_of(&drain(&mut m).0).unwrap();
    m.handle_connected(t0, conn2);
    m.handle_frame(t0, conn2, joined("r", vec![user("c")], vec![]));
    let e = events(&drain(&mut m).0);
    assert!(
        matches!(
            &e[0],
            Event::RoomStateChanged {
                reason: R::Reconnected,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e[1],
        Event::RoomUserUpdate {
            room_id: "r".into(),
            update_type: UpdateType::Delete,
            users: vec![user("b")]
        }
    );
    assert_eq!(
        e[2],
        Event::RoomUserUpdate {
            room_id: "r".into(),
            update_type: UpdateType::Add,
            users: vec![user("c")]
        }
    );
    assert_eq!(
        e[3],
        Event::RoomStreamUpdate {
            room_id: "r".into(),
            update_type: UpdateType::Delete,
            streams: vec![stream("s", "b")],
            reason: Some(StreamDeleteReason::Resync)
        }
    );
    assert_eq!(e.len(), 4, "count unchanged (2): {e:?}");
}

#[test]
fn resume_refusals_map_to_kickout_or_reconnect_failed() {
    let cases = [
        (
            ErrorCode::AUTH_FAILED,
            R::KickOut,
            ErrorCode::KICKED_TOKEN_EXPIRED,
        ),
        (
            ErrorCode::KICKED_TOKEN_EXPIRED,
            R::KickOut,
            ErrorCode::KICKED_TOKEN_EXPIRED,
        ),
        (ErrorCode::ROOM_CLOSED, R::KickOut, ErrorCode::ROOM_CLOSED),
        (
            ErrorCode::KICKED_DUPLICATE_LOGIN,
            R::KickOut,
            ErrorCode::KICKED_DUPLICATE_LOGIN,
        ),
        (
            ErrorCode::KICKED_BY_SERVER,
            R::KickOut,
            ErrorCode::KICKED_BY_SERVER,
        ),
        (
            ErrorCode::ROOM_FULL,
            R::ReconnectFailed,
            ErrorCode::ROOM_FULL,
        ),
    ];
    for (code, reason, want) in cases {
        let t0 = Instant::now();
        let (mut m, conn) = logged_in(t0);
        m.handle_link_down(t0, conn, LinkError::Transient("reset".into()));
        drain(&mut m);
        m.on_network_changed(t0, true);
        let (conn2, _) = connect_of(&drain(&mut m).0).unwrap();
        m.handle_connected(t0, conn2);
        m.handle_frame(
            t0,
            conn2,
            ServerFrame::LoginFailed {
                room_id: "r".into(),
                code,
                message: String::new(),
            },
        );
        let (out, t) = drain(&mut m);
        let e = events(&out);
        assert!(
            matches!(&e[0], Event::RoomStateChanged { reason: r, error_code, .. } if *r == reason && *error_code == want),
            "{code}: {e:?}"
        );
        assert!(
            out.contains(&Output::Transmit(Transmit::Close { conn: conn2 })),
            "no room left → link closed"
        );
        assert_eq!(t, None);
    }
}

#[test]
fn fatal_link_error_fails_every_room_by_phase() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.login_room(t0, "r2", user("me"), "tok", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    m.handle_link_down(
        t0,
        conn,
        LinkError::Fatal {
            code: ErrorCode::CONNECT_FAILED,
            detail: "tls".into(),
        },
    );
    let (out, t) = drain(&mut m);
    let got = states(&out);
    assert_eq!(
        got,
        vec![
            ("r".into(), R::ReconnectFailed, ErrorCode::CONNECT_FAILED),
            ("r2".into(), R::LoginFailed, ErrorCode::CONNECT_FAILED)
        ]
    );
    assert_eq!(t, None);
}

#[test]
fn joined_after_logout_makes_the_server_drop_the_session() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (conn, _) = connect_of(&drain(&mut m).0).unwrap();
    m.logout_room(t0, "r").unwrap();
    let (out, t) = drain(&mut m);
    assert!(
        out.contains(&Output::Transmit(Transmit::Close { conn })),
        "{out:?}"
    );
    assert_eq!(t, None);
    // Multi-room: another room keeps the link. The Logout goes out at once; the late Joined
    // answering the abandoned login is then ignored (no second Logout).
    let (mut m, conn) = logged_in(t0);
    m.login_room(t0, "r2", user("me"), "tok", RoomConfig::default())
        .unwrap();
    m.logout_room(t0, "r2").unwrap();
    let (out, _) = drain(&mut m);
    assert_eq!(
        out.last(),
        Some(&Output::Transmit(Transmit::Send {
            conn,
            frame: ClientFrame::Logout {
                room_id: "r2".into(),
                session_id: None,
                token: None,
            }
        }))
    );
    m.handle_frame(t0, conn, joined("r2", vec![], vec![]));
    assert_eq!(drain(&mut m).0, vec![]);
    // A Joined nobody is waiting for (say, a server's late answer) still gets a Logout.
    m.handle_frame(t0, conn, joined("r3", vec![], vec![]));
    let (out, _) = drain(&mut m);
    assert_eq!(
        out,
        vec![Output::Transmit(Transmit::Send {
            conn,
            frame: ClientFrame::Logout {
                room_id: "r3".into(),
                session_id: None,
                token: None,
            }
        })]
    );
}

#[test]
fn login_timeout_sends_logout_when_the_login_went_out() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.login_room(t0, "r2", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    assert!(matches!(
        &out[1],
        Output::Transmit(Transmit::Send {
            frame: ClientFrame::Login(_),
            ..
        })
    ));
    let deadline = t0 + cfg().login_timeout;
    // Keep the link alive meanwhile.
    m.handle_frame(deadline - Duration::from_secs(1), conn, ServerFrame::Pong);
    m.handle_timeout(deadline);
    let (out, _) = drain(&mut m);
    assert!(
        matches!(&out[0], Output::Event(Event::RoomStateChanged { reason: R::LoginFailed, error_code, .. }) if *error_code == ErrorCode::NETWORK_TIMEOUT)
    );
    assert!(out.contains(&Output::Transmit(Transmit::Send {
        conn,
        frame: ClientFrame::Logout {
            room_id: "r2".into(),
            session_id: None,
            token: None,
        }
    })));
}

#[test]
fn no_timers_when_idle() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    assert_eq!(m.poll_output(), Output::Timeout(None));
    m.handle_timeout(t0);
    m.on_network_changed(t0, true);
    m.on_network_changed(t0, false);
    assert_eq!(m.poll_output(), Output::Timeout(None));
    let (mut m, _) = logged_in(t0);
    m.logout_all(t0);
    let (out, t) = drain(&mut m);
    assert_eq!(t, None);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Transmit(Transmit::Close { .. })))
    );
}

#[test]
fn attempt_that_never_connects_is_closed_after_ping_timeout() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, t) = drain(&mut m);
    let (conn, _) = connect_of(&out).unwrap();
    assert_eq!(t, Some(t0 + cfg().ping_timeout));
    m.handle_timeout(t0 + cfg().ping_timeout);
    let (out, t) = drain(&mut m);
    assert_eq!(out, vec![Output::Transmit(Transmit::Close { conn })]);
    assert!(t.unwrap() <= t0 + cfg().ping_timeout + cfg().backoff_base);
}

#[test]
fn a_gap_in_event_seqs_reconnects_and_resumes_from_the_last_applied() {
    let t0 = Instant::now();
    let (mut m, conn) = logged_in(t0);
    m.handle_frame(
        t0,
        conn,
        ev(
            6,
            RoomEvent::UserAdd {
                users: vec![user("c")],
            },
        ),
    );
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
fn huge_durations_from_server_or_config_do_not_panic() {
    let t0 = Instant::now();
    let huge = Duration::from_secs(u64::MAX / 2);
    let c = EngineConfig {
        login_timeout: huge,
        retry_window: huge,
        backoff_cap: huge,
        ..cfg()
    };
    let mut m = Machine::new(c, 1);
    m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (conn, _) = connect_of(&drain(&mut m).0).unwrap();
    m.handle_connected(t0, conn);
    m.handle_frame(
        t0,
        conn,
        ServerFrame::TokenRenewed {
            room_id: "r".into(),
            token_expires_in_ms: Some(u64::MAX),
        },
    );
    m.handle_frame(t0, conn, joined("r", vec![], vec![]));
    m.handle_frame(
        t0,
        conn,
        ServerFrame::TokenRenewed {
            room_id: "r".into(),
            token_expires_in_ms: Some(u64::MAX),
        },
    );
    for _ in 0..40 {
        m.handle_link_down(t0, conn, LinkError::Transient("x".into()));
    }
    let (_, t) = drain(&mut m);
    assert!(t.is_some());
}
