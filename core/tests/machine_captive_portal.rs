//! Captive portals and TLS interception during an outage, on virtual time: while a room is
//! Reconnecting, a TLS failure or a refused upgrade (`LinkError::Fatal` 1002030 from the
//! transport) is retried until the retry window ends; at first login it stays a prompt
//! `LoginFailed` 1002030. Proxy credentials refused (1900007) stay final either way.

mod hand;

use std::time::{Duration, Instant};

use hand::*;
use roomlink::machine::{LinkError, Machine};
use roomlink::protocol::{ServerFrame, Snapshot};
use roomlink::{ErrorCode, RoomConfig, RoomStateChangedReason as R, User};

fn user(id: &str) -> User {
    User::new(id, id.to_uppercase())
}

fn joined(room: &str) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room.into(),
        session_id: format!("sess-{room}"),
        room_session_id: "rs1".into(),
        seq: 3,
        snapshot: Snapshot {
            users: vec![user("b")],
            streams: vec![],
        },
        token_expires_in_ms: None,
    }
}

fn bad_certificate() -> LinkError {
    LinkError::Fatal {
        code: ErrorCode::CONNECT_FAILED,
        detail: "TLS: invalid peer certificate: UnknownIssuer".into(),
    }
}

/// Logged in to "r", then the link is lost: Reconnecting. Returns the machine and the time.
fn reconnecting(t0: Instant) -> Machine {
    let (mut m, _) = logged_in_with(7, t0, "r", user("me"), joined("r"));
    m.on_network_changed(t0, false);
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnecting, ErrorCode::RECONNECTING)]
    );
    m
}

#[test]
fn a_bad_certificate_during_an_outage_is_retried_and_the_room_comes_back() {
    let t0 = Instant::now();
    let mut m = reconnecting(t0);
    let mut t = t0;
    // The hotel portal intercepts TLS for a while: every attempt fails its handshake.
    for _ in 0..5 {
        let (conn, hello, at) = next_connect(&mut m, t);
        assert!(hello.logins[0].resume.is_some(), "still resuming");
        t = at;
        m.handle_link_down(t, conn, bad_certificate());
        let (out, deadline) = drain(&mut m);
        assert!(states(&out).is_empty(), "no state change: {out:?}");
        assert!(deadline.is_some(), "a retry is scheduled");
    }
    // The user got past the portal: the next attempt resumes.
    let (conn, _, at) = next_connect(&mut m, t);
    m.handle_connected(at, conn);
    m.handle_frame(
        at,
        conn,
        ServerFrame::Resumed {
            room_id: "r".into(),
            session_id: "sess-r".into(),
            room_session_id: "rs1".into(),
            events: vec![],
            snapshot: None,
            seq: 3,
            token_expires_in_ms: None,
        },
    );
    let (out, _) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::Reconnected, ErrorCode::OK)]
    );
}

#[test]
fn bad_certificates_until_the_retry_window_ends_are_a_reconnect_timeout() {
    let t0 = Instant::now();
    let mut m = reconnecting(t0);
    let window = cfg().retry_window;
    let mut t = t0;
    loop {
        let (out, deadline) = drain(&mut m);
        if let Some((conn, _)) = connect_of(&out) {
            m.handle_link_down(t, conn, bad_certificate());
            continue;
        }
        let got = states(&out);
        if !got.is_empty() {
            assert_eq!(
                got,
                vec![("r".into(), R::ReconnectFailed, ErrorCode::NETWORK_TIMEOUT)]
            );
            assert!(t >= t0 + window, "not before the window ends");
            assert!(t <= t0 + window + Duration::from_secs(1));
            return;
        }
        t = deadline.expect("retrying or failing, never idle");
        m.handle_timeout(t);
    }
}

#[test]
fn a_bad_certificate_at_first_login_fails_at_once() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 1);
    m.login_room(t0, "r", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (conn, _) = connect_of(&drain(&mut m).0).unwrap();
    m.handle_link_down(t0, conn, bad_certificate());
    let (out, deadline) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::LoginFailed, ErrorCode::CONNECT_FAILED)]
    );
    assert_eq!(deadline, None, "nothing retries");
}

#[test]
fn a_first_login_sharing_the_outages_attempt_fails_while_the_reconnecting_room_retries() {
    let t0 = Instant::now();
    let mut m = reconnecting(t0);
    m.login_room(t0, "r2", user("me"), "tok", RoomConfig::default())
        .unwrap();
    let (conn, hello, t) = next_connect(&mut m, t0);
    assert_eq!(hello.logins.len(), 2, "both rooms in the attempt");
    m.handle_link_down(t, conn, bad_certificate());
    let (out, deadline) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r2".into(), R::LoginFailed, ErrorCode::CONNECT_FAILED)]
    );
    assert!(deadline.is_some());
    let (_, hello, _) = next_connect(&mut m, t);
    assert_eq!(hello.logins.len(), 1);
    assert_eq!(hello.logins[0].room_id, "r");
}

#[test]
fn proxy_credentials_refused_during_an_outage_stay_final() {
    let t0 = Instant::now();
    let mut m = reconnecting(t0);
    let (conn, _, t) = next_connect(&mut m, t0);
    m.handle_link_down(
        t,
        conn,
        LinkError::Fatal {
            code: ErrorCode::PROXY_AUTH_FAILED,
            detail: "proxy: the proxy refused the credentials".into(),
        },
    );
    let (out, deadline) = drain(&mut m);
    assert_eq!(
        states(&out),
        vec![("r".into(), R::ReconnectFailed, ErrorCode::PROXY_AUTH_FAILED)]
    );
    assert_eq!(deadline, None);
}
