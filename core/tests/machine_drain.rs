//! A draining server (`bye` 1900008) and a server that cannot decide a login now
//! (`login_failed` 1900009), hand-driven on virtual time: the drain moves to the next server URL
//! in the same instant, the refusal keeps the room where it is and sends the login again after
//! the backoff.

mod hand;

use std::time::{Duration, Instant};

use hand::*;
use roomlink::machine::{ConnId, LinkError, Machine, Output, Transmit};
use roomlink::protocol::{ClientFrame, Hello, ServerFrame, Snapshot};
use roomlink::{EngineConfig, ErrorCode, RoomConfig, RoomStateChangedReason as R, User};

fn three_urls() -> EngineConfig {
    EngineConfig {
        room_mode: roomlink::RoomMode::MultiRoom,
        ..EngineConfig::with_urls(["ws://a", "ws://b", "ws://c"])
    }
}

fn connects(out: &[Output]) -> Vec<(ConnId, usize, Hello)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Connect { conn, url, hello }) => {
                Some((*conn, *url, hello.clone()))
            }
            _ => None,
        })
        .collect()
}

fn closes(out: &[Output]) -> Vec<ConnId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Close { conn }) => Some(*conn),
            _ => None,
        })
        .collect()
}

fn joined(room: &str, session: &str) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room.into(),
        session_id: session.into(),
        room_session_id: "rs".into(),
        seq: 0,
        snapshot: Snapshot::default(),
        token_expires_in_ms: None,
    }
}

fn resumed(room: &str, session: &str) -> ServerFrame {
    ServerFrame::Resumed {
        room_id: room.into(),
        session_id: session.into(),
        room_session_id: "rs".into(),
        events: vec![],
        snapshot: None,
        seq: 0,
        token_expires_in_ms: None,
    }
}

fn draining() -> ServerFrame {
    ServerFrame::Bye {
        code: ErrorCode::SERVER_DRAINING,
        message: "node draining".into(),
    }
}

fn unavailable(room: &str) -> ServerFrame {
    ServerFrame::LoginFailed {
        room_id: room.into(),
        code: ErrorCode::SERVER_UNAVAILABLE,
        message: "shared store unreachable".into(),
    }
}

/// A machine with `config` logged in to room "r" (session "s1") on URL 0 at t0.
fn joined_on_first_url(config: EngineConfig, t0: Instant) -> (Machine, ConnId) {
    let mut m = Machine::new(config, 5);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connects(&out);
    assert_eq!(c[0].1, 0);
    m.handle_connected(t0, c[0].0);
    m.handle_frame(t0, c[0].0, joined("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(states(&out), vec![("r".into(), R::Logined, ErrorCode::OK)]);
    (m, c[0].0)
}

fn logins(out: &[Output]) -> Vec<roomlink::protocol::Login> {
    sends(out)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Login(l) => Some(l),
            _ => None,
        })
        .collect()
}

#[test]
fn a_drain_bye_dials_the_next_url_in_the_same_instant_and_resumes_there() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(three_urls(), t0);
    m.handle_frame(t0, c0, draining());
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnecting, ErrorCode::RECONNECTING)]
    );
    assert_eq!(closes(&out), vec![c0], "the drained link is closed");
    let c = connects(&out);
    assert_eq!(c.len(), 1, "a new attempt at once, no backoff: {out:?}");
    assert_eq!(c[0].1, 1, "to the next URL");
    let resume = c[0].2.logins[0].resume.as_ref().expect("a resume");
    assert_eq!(resume.session_id, "s1");
    m.handle_connected(t0, c[0].0);
    m.handle_frame(t0, c[0].0, resumed("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnected, ErrorCode::OK)]
    );
}

#[test]
fn after_a_drain_hop_one_full_round_of_failures_backs_off() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(three_urls(), t0);
    m.handle_frame(t0, c0, draining());
    let (out, _) = drain(&mut m);
    let mut conn = connects(&out)[0].0;
    // URL 1 and 2 refuse, then URL 0 (the drained node, listener closed) does too: each moves
    // on at once; the third failure completes the round and waits out the backoff.
    let mut dialled = vec![connects(&out)[0].1];
    for _ in 0..2 {
        m.handle_link_down(t0, conn, LinkError::Transient("refused".into()));
        let (out, _) = drain(&mut m);
        let c = connects(&out);
        assert_eq!(c.len(), 1, "still within the immediate round: {out:?}");
        dialled.push(c[0].1);
        conn = c[0].0;
    }
    assert_eq!(dialled, vec![1, 2, 0]);
    m.handle_link_down(t0, conn, LinkError::Transient("refused".into()));
    let (out, deadline) = drain(&mut m);
    assert!(connects(&out).is_empty(), "a full round backs off: {out:?}");
    assert!(deadline.is_some(), "the backoff timer");
}

#[test]
fn another_bye_waits_out_the_backoff_as_before() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(three_urls(), t0);
    m.handle_frame(
        t0,
        c0,
        ServerFrame::Bye {
            code: ErrorCode::PROTOCOL_ERROR,
            message: "malformed frame".into(),
        },
    );
    let (out, deadline) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnecting, ErrorCode::RECONNECTING)]
    );
    assert!(
        connects(&out).is_empty(),
        "no hop for a protocol bye: {out:?}"
    );
    assert!(deadline.is_some(), "the backoff timer");
    let (_, _, _) = next_connect(&mut m, t0);
}

#[test]
fn with_one_url_a_drain_bye_redials_it_at_once() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(cfg(), t0);
    m.handle_frame(t0, c0, draining());
    let (out, _) = drain(&mut m);
    let c = connects(&out);
    assert_eq!(
        c.len(),
        1,
        "behind a load balancer the same URL reaches another node"
    );
    assert_eq!(c[0].1, 0);
}

#[test]
fn a_second_drain_bye_within_backoff_cap_backs_off_and_a_later_one_hops_again() {
    let t0 = Instant::now();
    let config = three_urls();
    let cap = config.backoff_cap;
    let (mut m, c0) = joined_on_first_url(config, t0);
    m.handle_frame(t0, c0, draining());
    let (out, _) = drain(&mut m);
    let c1 = connects(&out)[0].0;
    let t1 = t0 + Duration::from_millis(50);
    m.handle_connected(t1, c1);
    m.handle_frame(t1, c1, resumed("r", "s1"));
    drain(&mut m);
    // The node it moved to says it drains too, right away: not another immediate hop.
    m.handle_frame(t1, c1, draining());
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnecting, ErrorCode::RECONNECTING)]
    );
    assert!(
        connects(&out).is_empty(),
        "a drain loop is not redialled at once: {out:?}"
    );
    let (c2, _, t2) = next_connect(&mut m, t1);
    m.handle_connected(t2, c2);
    m.handle_frame(t2, c2, resumed("r", "s1"));
    drain(&mut m);
    // Long after the last hop, a drain hops at once again.
    let t3 = t0 + cap + Duration::from_secs(1);
    m.handle_frame(t3, c2, draining());
    let (out, _) = drain(&mut m);
    assert_eq!(connects(&out).len(), 1, "{out:?}");
}

#[test]
fn server_unavailable_at_first_login_keeps_logining_and_sends_the_login_again_after_the_backoff() {
    let t0 = Instant::now();
    let config = cfg();
    let base = config.backoff_base;
    let mut m = Machine::new(config, 3);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c);
    m.handle_frame(t0, c, unavailable("r"));
    let (out, deadline) = drain(&mut m);
    assert!(states(&out).is_empty(), "no state change: {out:?}");
    assert!(sends(&out).is_empty(), "not resent at once: {out:?}");
    assert_eq!(m.room_reason("r"), Some(R::Logining));
    let t = deadline.expect("the retry timer");
    assert!(t <= t0 + base, "first retry within backoff_base: {t:?}");
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    assert!(
        closes(&out).is_empty() && connects(&out).is_empty(),
        "same link: {out:?}"
    );
    let again = logins(&out);
    assert_eq!(again.len(), 1, "the login goes out again: {out:?}");
    assert!(again[0].resume.is_none());
    m.handle_frame(t, c, joined("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(states(&out), vec![("r".into(), R::Logined, ErrorCode::OK)]);
}

#[test]
fn server_unavailable_until_the_login_timeout_fails_with_network_timeout_never_its_own_code() {
    let t0 = Instant::now();
    let config = cfg();
    let login_timeout = config.login_timeout;
    let mut m = Machine::new(config, 3);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c);
    let mut t = t0;
    let mut refusals = 0;
    let mut all = Vec::new();
    while m.room_reason("r") == Some(R::Logining) {
        m.handle_frame(t, c, unavailable("r"));
        refusals += 1;
        loop {
            let (out, deadline) = drain(&mut m);
            let resent = !logins(&out).is_empty();
            all.extend(out);
            if resent || m.room_reason("r") != Some(R::Logining) {
                break;
            }
            // Answered by a heartbeat so the link itself stays up.
            let next = deadline.expect("a timer");
            assert!(next >= t, "time never goes back");
            t = next;
            m.handle_frame(t, c, ServerFrame::Pong);
            m.handle_timeout(t);
        }
        assert!(refusals < 1000, "the login timeout ends it");
    }
    assert!(refusals > 3, "retried several times: {refusals}");
    assert_eq!(
        states(&all),
        vec![("r".into(), R::LoginFailed, ErrorCode::NETWORK_TIMEOUT)]
    );
    assert!(t >= t0 + login_timeout);
}

#[test]
fn a_refused_resume_keeps_reconnecting_and_is_resent_until_resumed() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(cfg(), t0);
    m.handle_link_down(t0, c0, LinkError::Transient("reset".into()));
    let (c1, hello, t1) = next_connect(&mut m, t0);
    assert!(hello.logins[0].resume.is_some());
    m.handle_connected(t1, c1);
    m.handle_frame(t1, c1, unavailable("r"));
    let (out, deadline) = drain(&mut m);
    assert!(
        states(&out).is_empty(),
        "still Reconnecting, silently: {out:?}"
    );
    assert_eq!(m.room_reason("r"), Some(R::Reconnecting));
    let t2 = deadline.unwrap();
    m.handle_timeout(t2);
    let (out, _) = drain(&mut m);
    let again = logins(&out);
    assert_eq!(again.len(), 1, "{out:?}");
    assert_eq!(
        again[0].resume.as_ref().map(|r| r.session_id.as_str()),
        Some("s1")
    );
    m.handle_frame(t2, c1, resumed("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnected, ErrorCode::OK)]
    );
}

#[test]
fn a_refused_resume_until_the_retry_window_ends_is_reconnect_failed_network_timeout() {
    let t0 = Instant::now();
    let config = EngineConfig {
        retry_window: Duration::from_secs(5),
        ..cfg()
    };
    let mut m = Machine::new(config, 5);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c0 = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c0);
    m.handle_frame(t0, c0, joined("r", "s1"));
    drain(&mut m);
    m.handle_link_down(t0, c0, LinkError::Transient("reset".into()));
    let (c1, _, t1) = next_connect(&mut m, t0);
    m.handle_connected(t1, c1);
    let mut t = t1;
    let mut all = Vec::new();
    for _ in 0..1000 {
        if m.room_reason("r") != Some(R::Reconnecting) {
            break;
        }
        m.handle_frame(t, c1, unavailable("r"));
        let (out, deadline) = drain(&mut m);
        all.extend(out);
        t = deadline.unwrap();
        m.handle_frame(t, c1, ServerFrame::Pong);
        m.handle_timeout(t);
        let (out, _) = drain(&mut m);
        all.extend(out);
    }
    assert_eq!(
        states(&all),
        vec![("r".into(), R::ReconnectFailed, ErrorCode::NETWORK_TIMEOUT)]
    );
}

#[test]
fn a_refusal_for_one_room_leaves_the_link_and_the_other_joined_room_alone() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(cfg(), t0);
    m.login_room(t0, "q", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    assert_eq!(logins(&out).len(), 1, "q's login on the open link");
    m.handle_frame(t0, c0, unavailable("q"));
    let (out, deadline) = drain(&mut m);
    assert!(closes(&out).is_empty(), "the link serves r: {out:?}");
    assert!(states(&out).is_empty());
    assert_eq!(m.room_reason("r"), Some(R::Logined));
    let t = deadline.unwrap();
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    assert_eq!(
        logins(&out)
            .iter()
            .map(|l| l.room_id.as_str())
            .collect::<Vec<_>>(),
        vec!["q"]
    );
}

#[test]
fn logging_out_while_a_refused_login_waits_sends_nothing_and_a_new_login_is_answered() {
    let t0 = Instant::now();
    let (mut m, c0) = joined_on_first_url(cfg(), t0);
    m.login_room(t0, "q", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    m.handle_frame(t0, c0, unavailable("q"));
    drain(&mut m);
    m.logout_room(t0, "q").unwrap();
    let (out, _) = drain(&mut m);
    assert!(
        sends(&out).is_empty(),
        "the server holds no session of q's: nothing to log out: {out:?}"
    );
    // The answer to the next login of q on this link is not mistaken for a stale one.
    m.login_room(t0, "q", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    drain(&mut m);
    m.handle_frame(t0, c0, joined("q", "s2"));
    let (out, _) = drain(&mut m);
    assert_eq!(states(&out), vec![("q".into(), R::Logined, ErrorCode::OK)]);
}

#[test]
fn a_link_lost_during_the_wait_carries_the_login_in_the_next_hello() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 3);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c0 = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c0);
    m.handle_frame(t0, c0, unavailable("r"));
    drain(&mut m);
    m.handle_link_down(t0, c0, LinkError::Transient("reset".into()));
    let (c1, hello, t1) = next_connect(&mut m, t0);
    assert_eq!(hello.logins.len(), 1, "the login rides in the next hello");
    m.handle_connected(t1, c1);
    let (out, _) = drain(&mut m);
    assert!(logins(&out).is_empty(), "and is not sent twice: {out:?}");
    m.handle_frame(t1, c1, joined("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(states(&out), vec![("r".into(), R::Logined, ErrorCode::OK)]);
}
