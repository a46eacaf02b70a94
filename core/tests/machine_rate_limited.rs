//! The server's rate limits (`RATE_LIMITED`, 1900010), hand-driven on virtual time: a refused
//! login is retried after the backoff and never fails the room with 1900010; a dropped publish,
//! unpublish or renewal is made good by sending the room's state again once the budget refilled;
//! a link closed for flooding is redialled only after at least `backoff_cap / 2`, never at once.

mod hand;

use std::time::{Duration, Instant};

use hand::*;
use roomlink::machine::{ConnId, Machine, Output, Transmit};
use roomlink::protocol::{ClientFrame, Login, ServerFrame, Snapshot};
use roomlink::{ErrorCode, RoomConfig, RoomStateChangedReason as R, User};

fn me() -> User {
    User::new("me", "Me")
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

fn rate_limited_login(room: &str) -> ServerFrame {
    ServerFrame::LoginFailed {
        room_id: room.into(),
        code: ErrorCode::RATE_LIMITED,
        message: "too many room events".into(),
    }
}

fn rate_limited(room: Option<&str>) -> ServerFrame {
    ServerFrame::Error {
        room_id: room.map(str::to_string),
        code: ErrorCode::RATE_LIMITED,
        message: "retry later".into(),
    }
}

fn logins(out: &[Output]) -> Vec<Login> {
    sends(out)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Login(l) => Some(l),
            _ => None,
        })
        .collect()
}

fn connects(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Transmit(Transmit::Connect { .. })))
        .count()
}

/// Logged in to "r" (session "s1") on an open connection at t0, output drained.
fn logged_in(seed: u64, t0: Instant) -> (Machine, ConnId) {
    logged_in_with(seed, t0, "r", me(), joined("r", "s1"))
}

#[test]
fn a_login_refused_for_rate_stays_logining_and_goes_out_again_after_the_backoff() {
    let t0 = Instant::now();
    let config = cfg();
    let (base, login_timeout) = (config.backoff_base, config.login_timeout);
    let mut m = Machine::new(config, 3);
    m.login_room(t0, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c);
    m.handle_frame(t0, c, rate_limited_login("r"));
    let (out, deadline) = drain(&mut m);
    assert!(states(&out).is_empty(), "not a LoginFailed: {out:?}");
    assert!(sends(&out).is_empty(), "not resent at once: {out:?}");
    let t = deadline.expect("the retry timer");
    assert!(t <= t0 + base, "first retry within backoff_base: {t:?}");
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    assert_eq!(
        logins(&out).len(),
        1,
        "sent again on the same link: {out:?}"
    );
    assert_eq!(connects(&out), 0);
    m.handle_frame(t, c, joined("r", "s1"));
    let (out, _) = drain(&mut m);
    assert_eq!(states(&out), vec![("r".into(), R::Logined, ErrorCode::OK)]);
    assert!(t < t0 + login_timeout);
}

#[test]
fn a_login_refused_for_rate_until_the_login_timeout_fails_with_1002053_not_1900010() {
    let t0 = Instant::now();
    let config = cfg();
    let login_timeout = config.login_timeout;
    let mut m = Machine::new(config, 4);
    m.login_room(t0, "r", me(), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connect_of(&out).unwrap().0;
    m.handle_connected(t0, c);
    let mut t = t0;
    let mut sent = 1;
    let end = loop {
        m.handle_frame(t, c, rate_limited_login("r"));
        let (out, deadline) = drain(&mut m);
        assert!(states(&out).is_empty(), "{out:?}");
        t = deadline.expect("a timer");
        // Keep the link alive: only the login is refused.
        m.handle_frame(t, c, ServerFrame::Pong);
        m.handle_timeout(t);
        let (out, _) = drain(&mut m);
        if let Some(s) = states(&out).first().cloned() {
            break s;
        }
        sent += logins(&out).len();
    };
    assert_eq!(
        end,
        ("r".into(), R::LoginFailed, ErrorCode::NETWORK_TIMEOUT)
    );
    assert!(t >= t0 + login_timeout, "only at the login timeout: {t:?}");
    assert!(sent >= 3, "retried with backoff meanwhile, {sent} logins");
}

#[test]
fn a_dropped_publish_is_made_good_by_a_relogin_with_every_stream_after_the_wait() {
    let t0 = Instant::now();
    let cap = cfg().backoff_cap;
    let (mut m, c) = logged_in(5, t0);
    m.publish_stream(t0, "r", "cam", "hd").unwrap();
    m.publish_stream(t0, "r", "mic", "").unwrap();
    drain(&mut m);
    m.handle_frame(t0, c, rate_limited(Some("r")));
    let (out, deadline) = drain(&mut m);
    assert!(states(&out).is_empty() && sends(&out).is_empty(), "{out:?}");
    let t = deadline.expect("the resync timer");
    assert!(
        t >= t0 + cap / 2 && t <= t0 + cap,
        "waits for the budget to refill: {:?}",
        t - t0
    );
    // A second refusal meanwhile does not move it.
    m.handle_frame(t0 + Duration::from_millis(10), c, rate_limited(Some("r")));
    assert_eq!(drain(&mut m).1, Some(t));
    m.handle_frame(t, c, ServerFrame::Pong);
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    let l = logins(&out);
    assert_eq!(l.len(), 1, "one relogin on the same link: {out:?}");
    assert_eq!(connects(&out), 0);
    let mut streams: Vec<_> = l[0].streams.iter().map(|s| s.stream_id.as_str()).collect();
    streams.sort_unstable();
    assert_eq!(streams, vec!["cam", "mic"]);
    assert!(
        l[0].resume.is_none(),
        "a relogin, which makes the streams match"
    );
    // Its answer is a resync, not a state change; nothing more is sent.
    m.handle_frame(t, c, joined("r", "s2"));
    let (out, _) = drain(&mut m);
    assert!(states(&out).is_empty(), "{out:?}");
    assert!(sends(&out).is_empty(), "{out:?}");
    assert_eq!(m.room_reason("r"), Some(R::Logined));
}

#[test]
fn a_dropped_renewal_is_sent_again_after_the_relogin() {
    let t0 = Instant::now();
    let (mut m, c) = logged_in(6, t0);
    m.renew_token(t0, "r", "tok2").unwrap();
    drain(&mut m);
    m.handle_frame(t0, c, rate_limited(Some("r")));
    let t = drain(&mut m).1.expect("the resync timer");
    m.handle_frame(t, c, ServerFrame::Pong);
    m.handle_timeout(t);
    let out = sends(&drain(&mut m).0);
    assert!(
        matches!(out.as_slice(), [ClientFrame::Login(l), ClientFrame::RenewToken { token, .. }]
            if l.token == "tok" && token == "tok2"),
        "{out:?}"
    );
}

#[test]
fn a_relogin_refused_for_rate_keeps_the_room_and_waits_again() {
    let t0 = Instant::now();
    let cap = cfg().backoff_cap;
    let (mut m, c) = logged_in(7, t0);
    m.handle_frame(t0, c, rate_limited(None));
    let t = drain(&mut m).1.expect("the resync timer");
    m.handle_frame(t, c, ServerFrame::Pong);
    m.handle_timeout(t);
    assert_eq!(logins(&drain(&mut m).0).len(), 1);
    m.handle_frame(t, c, rate_limited_login("r"));
    let (out, deadline) = drain(&mut m);
    assert!(states(&out).is_empty(), "still Logined: {out:?}");
    assert_eq!(m.room_reason("r"), Some(R::Logined));
    // Timers fire (pings among them) until the login goes out again.
    let mut at = deadline.expect("resync again");
    let resent = loop {
        m.handle_frame(at, c, ServerFrame::Pong);
        m.handle_timeout(at);
        let (out, next) = drain(&mut m);
        if !logins(&out).is_empty() {
            break at;
        }
        at = next.expect("a timer");
    };
    assert!(
        resent >= t + cap / 2 && resent <= t + cap,
        "{:?}",
        resent - t
    );
}

#[test]
fn a_bye_for_rate_reconnects_after_at_least_half_the_backoff_cap() {
    let cap = cfg().backoff_cap;
    // Any seed: the first backoff alone would often be shorter than backoff_base.
    for seed in 0..20 {
        let t0 = Instant::now();
        let (mut m, c) = logged_in(seed, t0);
        m.handle_frame(
            t0,
            c,
            ServerFrame::Bye {
                code: ErrorCode::RATE_LIMITED,
                message: "too many frames".into(),
            },
        );
        let (out, deadline) = drain(&mut m);
        assert_eq!(
            states(&out),
            vec![("r".into(), R::Reconnecting, ErrorCode::RECONNECTING)]
        );
        assert_eq!(connects(&out), 0, "not at once");
        let t = deadline.expect("the backoff");
        assert!(
            t >= t0 + cap / 2 && t <= t0 + cap,
            "seed {seed}: {:?}",
            t - t0
        );
        let (_, hello, _) = next_connect(&mut m, t0);
        assert!(hello.logins[0].resume.is_some(), "the session is resumed");
    }
}
