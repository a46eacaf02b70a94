//! Requests in flight when the link changes: token renewals the server refused or never saw, kicks
//! learnt from a refused resume, logins that rode in a Hello and were ended while connecting,
//! sessions abandoned while reconnecting, and outgoing size limits. Hand-driven unless the
//! simulated server makes the point clearer.

mod hand;
mod sim;

use std::time::Instant;

use hand::*;
use roomlink::event::extended_keys;
use roomlink::machine::{ConnId, HELLO_BUDGET_BYTES, LinkError, MAX_PUBLISHED_STREAMS, Machine};
use roomlink::protocol::{ClientFrame, ServerFrame, Snapshot};
use roomlink::{ErrorCode, Event, RoomConfig, RoomStateChangedReason as R, User};
use sim::{Fault, Sim, multi, secs};

fn joined(room: &str, sid: &str) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room.into(),
        session_id: sid.into(),
        room_session_id: "rs".into(),
        seq: 0,
        snapshot: Snapshot::default(),
        token_expires_in_ms: None,
    }
}

fn resumed(room: &str, sid: &str) -> ServerFrame {
    ServerFrame::Resumed {
        room_id: room.into(),
        session_id: sid.into(),
        room_session_id: "rs".into(),
        events: vec![],
        snapshot: None,
        seq: 0,
        token_expires_in_ms: Some(20_000),
    }
}

fn me() -> User {
    User::new("me", "Me")
}

fn logout(room: &str) -> ClientFrame {
    ClientFrame::Logout {
        room_id: room.into(),
        session_id: None,
        token: None,
    }
}

/// Logged in to "r" (session "s1") on an open connection.
fn logged_in(t0: Instant) -> (Machine, ConnId) {
    logged_in_with(7, t0, "r", me(), joined("r", "s1"))
}

// ---- 1. renewals the server refused ----

#[test]
fn rejected_renewal_does_not_replace_the_token_used_for_resume() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.renew_token(t0, "r", "garbage").unwrap();
    assert_eq!(
        sends(&drain(&mut m).0),
        vec![ClientFrame::RenewToken {
            room_id: "r".into(),
            token: "garbage".into()
        }]
    );
    // The server refuses the renewal and keeps the old token in force.
    m.handle_frame(
        t0,
        c1,
        ServerFrame::Error {
            room_id: Some("r".into()),
            code: ErrorCode::AUTH_FAILED,
            message: "bad".into(),
        },
    );
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, hello, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins[0].token, "tok");
    m.handle_connected(t, c2);
    m.handle_frame(t, c2, resumed("r", "s1"));
    let out = drain(&mut m).0;
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnected, ErrorCode::OK)]
    );
    assert!(
        !sends(&out)
            .iter()
            .any(|f| matches!(f, ClientFrame::RenewToken { .. })),
        "the refused token is not tried again: {out:?}"
    );
}

#[test]
fn accepted_renewal_is_used_by_the_next_resume() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.renew_token(t0, "r", "tok2").unwrap();
    drain(&mut m);
    // Not confirmed yet: a resume now would still carry the token the server holds.
    m.handle_frame(
        t0,
        c1,
        ServerFrame::TokenRenewed {
            room_id: "r".into(),
            token_expires_in_ms: None,
        },
    );
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (_, hello, _) = next_connect(&mut m, t0);
    assert_eq!(hello.logins[0].token, "tok2");
}

#[test]
fn unconfirmed_renewal_is_sent_again_after_the_resume() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.renew_token(t0, "r", "tok2").unwrap();
    drain(&mut m);
    // The link drops before the server answered: resume with the old token, then renew again.
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, hello, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins[0].token, "tok");
    m.handle_connected(t, c2);
    m.handle_frame(t, c2, resumed("r", "s1"));
    assert!(sends(&drain(&mut m).0).contains(&ClientFrame::RenewToken {
        room_id: "r".into(),
        token: "tok2".into()
    }));
}

// ---- 2. kicks learnt from a refused resume ----

fn kicked_during_outage(code: ErrorCode, message: &str) -> (R, ErrorCode, Option<String>) {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, hello, t) = next_connect(&mut m, t0);
    assert!(hello.logins[0].resume.is_some());
    m.handle_connected(t, c2);
    drain(&mut m);
    m.handle_frame(
        t,
        c2,
        ServerFrame::LoginFailed {
            room_id: "r".into(),
            code,
            message: message.into(),
        },
    );
    let ev = events(&drain(&mut m).0);
    let Some(Event::RoomStateChanged {
        reason,
        error_code,
        extended_data,
        ..
    }) = ev.first()
    else {
        panic!("{ev:?}")
    };
    (
        *reason,
        *error_code,
        extended_data
            .get(extended_keys::CUSTOM_KICKOUT_MESSAGE)
            .cloned(),
    )
}

#[test]
fn kick_during_outage_keeps_the_admin_reason_in_extended_data() {
    assert_eq!(
        kicked_during_outage(ErrorCode::KICKED_BY_SERVER, "spam"),
        (R::KickOut, ErrorCode::KICKED_BY_SERVER, Some("spam".into()))
    );
    assert_eq!(
        kicked_during_outage(ErrorCode::ROOM_CLOSED, "closed by admin"),
        (
            R::KickOut,
            ErrorCode::ROOM_CLOSED,
            Some("closed by admin".into())
        )
    );
    // Logged out by ID from elsewhere while this link was down: the resume says so.
    assert_eq!(
        kicked_during_outage(ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE, "by id"),
        (
            R::KickOut,
            ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE,
            Some("by id".into())
        )
    );
    // Always present on a KickOut, maybe empty.
    assert_eq!(
        kicked_during_outage(ErrorCode::AUTH_FAILED, ""),
        (
            R::KickOut,
            ErrorCode::KICKED_TOKEN_EXPIRED,
            Some(String::new())
        )
    );
    // Not a kick: no kickout message.
    assert_eq!(
        kicked_during_outage(ErrorCode::ROOM_FULL, "full"),
        (R::ReconnectFailed, ErrorCode::ROOM_FULL, None)
    );
}

// ---- 3. renewals made while a login or resume is in flight ----

#[test]
fn renewal_made_while_a_resume_is_in_flight_reaches_the_server() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, hello, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins[0].token, "tok");
    m.renew_token(t, "r", "tok2").unwrap();
    assert!(
        sends(&drain(&mut m).0).is_empty(),
        "not joined: nothing yet"
    );
    m.handle_connected(t, c2);
    drain(&mut m);
    m.handle_frame(t, c2, resumed("r", "s1"));
    assert_eq!(
        sends(&drain(&mut m).0),
        vec![ClientFrame::RenewToken {
            room_id: "r".into(),
            token: "tok2".into()
        }]
    );
    m.handle_frame(
        t,
        c2,
        ServerFrame::TokenRenewed {
            room_id: "r".into(),
            token_expires_in_ms: None,
        },
    );
    m.handle_link_down(t, c2, LinkError::Transient("reset".into()));
    let (_, hello, _) = next_connect(&mut m, t);
    assert_eq!(hello.logins[0].token, "tok2");
}

#[test]
fn renewal_made_while_the_first_login_is_in_flight_reaches_the_server() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 7);
    m.login_room(t0, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    let (c, _) = connect_of(&drain(&mut m).0).unwrap();
    m.renew_token(t0, "r", "tok2").unwrap();
    m.handle_connected(t0, c);
    assert!(sends(&drain(&mut m).0).is_empty());
    m.handle_frame(t0, c, joined("r", "s1"));
    assert!(sends(&drain(&mut m).0).contains(&ClientFrame::RenewToken {
        room_id: "r".into(),
        token: "tok2".into()
    }));
}

// ---- 4. a login in the Hello, ended while connecting ----

/// Rooms "s" and "r" logging in; returns the machine, the attempt carrying both, and when.
fn two_rooms_connecting(t0: Instant) -> (Machine, ConnId, Instant) {
    let mut m = Machine::new(cfg(), 7);
    m.login_room(t0, "s", me(), "tok", RoomConfig::default())
        .unwrap();
    m.login_room(t0, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    let (c0, _) = connect_of(&drain(&mut m).0).unwrap();
    // The first attempt is refused: the next one carries both logins in its Hello.
    m.handle_link_down(t0, c0, LinkError::Transient("refused".into()));
    let (c, hello, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins.len(), 2);
    (m, c, t)
}

#[test]
fn relogin_while_connecting_logs_the_hello_login_out_before_the_new_login() {
    let t0 = Instant::now();
    let (mut m, c, t) = two_rooms_connecting(t0);
    m.logout_room(t, "r").unwrap();
    m.login_room(t, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    m.handle_connected(t, c);
    let frames = sends(&drain(&mut m).0);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0], logout("r"));
    assert!(matches!(&frames[1], ClientFrame::Login(l) if l.room_id == "r"));
    // The server answers the Hello's logins, then the Logout (nothing), then the new Login.
    m.handle_frame(t, c, joined("s", "x"));
    m.handle_frame(t, c, joined("r", "sid1"));
    m.handle_frame(t, c, joined("r", "sid2"));
    let out = drain(&mut m).0;
    assert_eq!(
        states(&out),
        vec![
            ("s".into(), R::Logined, ErrorCode::OK),
            ("r".into(), R::Logined, ErrorCode::OK)
        ]
    );
    assert!(sends(&out).is_empty(), "{out:?}");
    // The room's session is the new login's.
    m.handle_link_down(t, c, LinkError::Transient("reset".into()));
    let (_, hello, _) = next_connect(&mut m, t);
    let r = hello.logins.iter().find(|l| l.room_id == "r").unwrap();
    assert_eq!(r.resume.as_ref().unwrap().session_id, "sid2");
}

#[test]
fn logout_while_connecting_logs_the_hello_login_out_once() {
    let t0 = Instant::now();
    let (mut m, c, t) = two_rooms_connecting(t0);
    m.logout_room(t, "r").unwrap();
    drain(&mut m);
    m.handle_connected(t, c);
    assert_eq!(sends(&drain(&mut m).0), vec![logout("r")]);
    m.handle_frame(t, c, joined("s", "x"));
    m.handle_frame(t, c, joined("r", "sid1"));
    let out = drain(&mut m).0;
    assert!(sends(&out).is_empty(), "no second Logout: {out:?}");
    // A refusal of the abandoned login does not touch a new login either.
    m.login_room(t, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    m.handle_frame(t, c, joined("r", "sid2"));
    assert_eq!(
        states(&drain(&mut m).0),
        vec![("r".into(), R::Logined, ErrorCode::OK)]
    );
}

#[test]
fn relogin_on_the_open_link_ignores_the_answer_to_the_abandoned_login() {
    let t0 = Instant::now();
    let (mut m, c) = logged_in(t0);
    m.login_room(t0, "q", me(), "tok", RoomConfig::default())
        .unwrap();
    m.logout_room(t0, "q").unwrap();
    m.login_room(t0, "q", me(), "bad", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    // Answer to the first login, then the refusal of the second.
    m.handle_frame(t0, c, joined("q", "q1"));
    m.handle_frame(
        t0,
        c,
        ServerFrame::LoginFailed {
            room_id: "q".into(),
            code: ErrorCode::AUTH_FAILED,
            message: String::new(),
        },
    );
    assert_eq!(
        states(&drain(&mut m).0),
        vec![("q".into(), R::LoginFailed, ErrorCode::AUTH_FAILED)]
    );
}

#[test]
fn relogin_while_connecting_does_not_kick_the_user_in_the_sim() {
    // Same story against the simulated server (with attempts held in flight).
    let mut sim = Sim::with_config(2, multi());
    sim.login(1, "r", "t").unwrap();
    sim.set_fault(0, Fault::Refuse);
    sim.login(0, "s", "t").unwrap();
    sim.login(0, "r", "t").unwrap();
    sim.set_fault(0, Fault::Hold);
    sim.run_for(secs(5));
    sim.logout(0, "r").unwrap();
    sim.login(0, "r", "t").unwrap();
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(1));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
    assert!(
        !sim.states(0, "r").iter().any(|(r, _)| *r == R::KickOut),
        "{}",
        sim.dump(0)
    );
    assert_eq!(sim.server.members("r"), vec!["u0", "u1"]);
    assert_eq!(sim.user_list(1, "r"), ["u0".to_string()].into());
    // The Hello's login of "r" was logged out before the new Login went out.
    let frames: Vec<&ClientFrame> = sim
        .server
        .received
        .iter()
        .filter(|(k, f)| k.client == 0 && !matches!(f, ClientFrame::Ping))
        .map(|(_, f)| f)
        .collect();
    assert!(
        matches!(frames.as_slice(), [ClientFrame::Logout { room_id, session_id: None, .. }, ClientFrame::Login(l)] if room_id == "r" && l.room_id == "r"),
        "{frames:?}"
    );
}

// ---- 5. sessions abandoned while reconnecting ----

#[test]
fn logout_while_reconnecting_logs_the_session_out_by_id_on_the_next_connection() {
    let mut sim = Sim::with_config(2, multi());
    sim.login(0, "r", "t").unwrap();
    sim.login(0, "s", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.set_fault(0, Fault::Refuse);
    sim.reset(0);
    sim.logout(0, "r").unwrap();
    sim.with(0, |m, now| m.switch_room(now, "s", "q", "t"))
        .unwrap();
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(10));
    assert_eq!(
        sim.states(0, "q").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
    let by_id: Vec<_> = sim
        .server
        .received
        .iter()
        .filter_map(|(k, f)| match f {
            ClientFrame::Logout {
                room_id,
                session_id: Some(_),
                token: Some(t),
            } if k.client == 0 && t == "t" => Some(room_id.clone()),
            _ => None,
        })
        .collect();
    // Each carries the room's token: the server ends a session by ID only with that proof.
    assert_eq!(by_id, vec!["r".to_string(), "s".to_string()]);
    // Peers see the user leave now, not at the heartbeat timeout (90 s).
    assert_eq!(sim.server.members("r"), vec!["u1"]);
    assert!(sim.server.members("s").is_empty());
    assert!(sim.user_list(1, "r").is_empty(), "{}", sim.dump(1));
}

#[test]
fn logout_while_reconnecting_does_not_reconnect_to_say_goodbye() {
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.handle_link_down(t0, c1, LinkError::Transient("x".into()));
    drain(&mut m);
    m.logout_room(t0, "r").unwrap();
    let (out, d) = drain(&mut m);
    assert!(connect_of(&out).is_none());
    assert_eq!(d, None);
    // Nor is the goodbye sent on a later, unrelated login.
    m.login_room(t0, "q", me(), "tok", RoomConfig::default())
        .unwrap();
    let (c, _) = connect_of(&drain(&mut m).0).unwrap();
    m.handle_connected(t0, c);
    assert!(sends(&drain(&mut m).0).is_empty());
}

// ---- 6. outgoing size ----

#[test]
fn hello_stays_within_its_budget_and_the_rest_follow_as_login_frames() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 7);
    let token = "t".repeat(2000);
    let n = 12;
    for i in 0..n {
        m.login_room(
            t0,
            &format!("room{i:02}"),
            me(),
            &token,
            RoomConfig::default(),
        )
        .unwrap();
    }
    let out = drain(&mut m).0;
    let (c, hello) = connect_of(&out).unwrap();
    // Only the first login was connected for; the others waited for that attempt.
    m.handle_link_down(t0, c, LinkError::Transient("refused".into()));
    let (c, hello2, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins.len(), 1);
    let header = hello2.to_header();
    assert!(header.len() <= HELLO_BUDGET_BYTES, "{}", header.len());
    assert!(
        hello2.logins.len() >= 5,
        "the budget is used: {}",
        hello2.logins.len()
    );
    assert!(hello2.logins.len() < n);
    m.handle_connected(t, c);
    let frames = sends(&drain(&mut m).0);
    let mut rooms: Vec<String> = hello2.logins.iter().map(|l| l.room_id.clone()).collect();
    rooms.extend(frames.iter().filter_map(|f| match f {
        ClientFrame::Login(l) => Some(l.room_id.clone()),
        _ => None,
    }));
    rooms.sort();
    let all: Vec<String> = (0..n).map(|i| format!("room{i:02}")).collect();
    assert_eq!(rooms, all, "every login exactly once");
}

#[test]
fn publishing_beyond_the_stream_limit_is_refused_and_changes_nothing() {
    let t0 = Instant::now();
    let (mut m, _) = logged_in(t0);
    for i in 0..MAX_PUBLISHED_STREAMS {
        m.publish_stream(t0, "r", &format!("s{i}"), "").unwrap();
    }
    drain(&mut m);
    assert_eq!(
        m.publish_stream(t0, "r", "one-more", ""),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    assert!(drain(&mut m).0.is_empty());
    m.unpublish_stream(t0, "r", "s0").unwrap();
    m.publish_stream(t0, "r", "one-more", "").unwrap();
}

#[test]
fn renew_with_other_room_frames_is_unaffected_by_unrelated_errors() {
    // An Error about another code (e.g. a Logout of a room not logged in) does not drop a renewal.
    let t0 = Instant::now();
    let (mut m, c1) = logged_in(t0);
    m.renew_token(t0, "r", "tok2").unwrap();
    drain(&mut m);
    m.handle_frame(
        t0,
        c1,
        ServerFrame::Error {
            room_id: Some("r".into()),
            code: ErrorCode::ROOM_NOT_LOGGED_IN,
            message: String::new(),
        },
    );
    m.handle_frame(
        t0,
        c1,
        ServerFrame::TokenRenewed {
            room_id: "r".into(),
            token_expires_in_ms: None,
        },
    );
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (_, hello, _) = next_connect(&mut m, t0);
    assert_eq!(hello.logins[0].token, "tok2");
}
