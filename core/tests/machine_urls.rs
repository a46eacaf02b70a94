//! Several server URLs: each attempt names the URL it dials, a failed attempt moves on to the
//! next one at once, and only a full round of failures waits out the backoff. Virtual time.

mod hand;

use std::time::Instant;

use hand::*;
use roomlink::machine::{ConnId, LinkError, Machine, Output, Transmit};
use roomlink::protocol::{ServerFrame, Snapshot};
use roomlink::{EngineConfig, RoomConfig, User};

fn three_urls() -> EngineConfig {
    EngineConfig {
        room_mode: roomlink::RoomMode::MultiRoom,
        ..EngineConfig::with_urls(["ws://a", "ws://b", "ws://c"])
    }
}

/// The connects in `out`, as (conn, url index).
fn connects(out: &[Output]) -> Vec<(ConnId, usize)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Connect { conn, url, .. }) => Some((*conn, *url)),
            _ => None,
        })
        .collect()
}

fn logging_in(t0: Instant) -> (Machine, ConnId) {
    let mut m = Machine::new(three_urls(), 9);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let c = connects(&out);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].1, 0, "the first attempt dials server_url");
    (m, c[0].0)
}

fn refused() -> LinkError {
    LinkError::Transient("connection refused".into())
}

#[test]
fn a_failed_attempt_dials_the_next_url_at_once_and_a_full_round_backs_off() {
    let t0 = Instant::now();
    let (mut m, c0) = logging_in(t0);
    m.handle_link_down(t0, c0, refused());
    let (out, _) = drain(&mut m);
    let c1 = connects(&out);
    assert_eq!(c1.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1]);
    m.handle_link_down(t0, c1[0].0, refused());
    let (out, _) = drain(&mut m);
    let c2 = connects(&out);
    assert_eq!(c2.iter().map(|c| c.1).collect::<Vec<_>>(), vec![2]);

    // All three failed: no attempt now, only after the backoff wait.
    m.handle_link_down(t0, c2[0].0, refused());
    let (out, deadline) = drain(&mut m);
    assert!(
        connects(&out).is_empty(),
        "a dead cluster is hammered: {out:?}"
    );
    let t = deadline.expect("the backoff deadline");
    assert!(t <= t0 + three_urls().backoff_base);
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    assert_eq!(
        connects(&out).iter().map(|c| c.1).collect::<Vec<_>>(),
        vec![0],
        "the next round starts over at the first URL"
    );
}

#[test]
fn an_attempt_that_times_out_moves_on_at_the_same_instant() {
    let t0 = Instant::now();
    let (mut m, c0) = logging_in(t0);
    let t = t0 + three_urls().ping_timeout;
    m.handle_timeout(t);
    let (out, _) = drain(&mut m);
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Transmit(Transmit::Close { conn }) if *conn == c0)),
        "the timed-out attempt is closed: {out:?}"
    );
    assert_eq!(
        connects(&out).iter().map(|c| c.1).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn after_a_success_the_working_url_is_kept_and_a_new_round_begins() {
    let t0 = Instant::now();
    let (mut m, c0) = logging_in(t0);
    m.handle_link_down(t0, c0, refused());
    let (out, _) = drain(&mut m);
    let (c1, url) = connects(&out)[0];
    assert_eq!(url, 1);
    m.handle_connected(t0, c1);
    m.handle_frame(
        t0,
        c1,
        ServerFrame::Joined {
            room_id: "r".into(),
            session_id: "s".into(),
            room_session_id: "rs".into(),
            seq: 0,
            snapshot: Snapshot::default(),
            token_expires_in_ms: None,
        },
    );
    drain(&mut m);
    // The open link is lost: retry the same server after the backoff.
    m.handle_link_down(t0, c1, LinkError::Transient("reset".into()));
    let (c2, _, t) = next_connect(&mut m, t0);
    let (out, _) = drain(&mut m);
    assert!(out.iter().all(|o| !matches!(o, Output::Transmit(_))));
    // That attempt dialled URL 1 again; its failure moves on to URL 2 at once, then URL 0, and
    // only then (a full round from URL 1) the backoff.
    let mut seen = Vec::new();
    let mut conn = c2;
    for _ in 0..2 {
        m.handle_link_down(t, conn, refused());
        let (out, _) = drain(&mut m);
        let c = connects(&out);
        assert_eq!(c.len(), 1, "moves on at once: {out:?}");
        seen.push(c[0].1);
        conn = c[0].0;
    }
    assert_eq!(seen, vec![2, 0]);
    m.handle_link_down(t, conn, refused());
    let (out, _) = drain(&mut m);
    assert!(connects(&out).is_empty(), "a full round backs off");
}

#[test]
fn one_url_backs_off_after_every_failure_as_before() {
    let t0 = Instant::now();
    let mut m = Machine::new(cfg(), 9);
    m.login_room(t0, "r", User::new("me", "Me"), "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let (c0, url) = connects(&out)[0];
    assert_eq!(url, 0);
    m.handle_link_down(t0, c0, refused());
    let (out, _) = drain(&mut m);
    assert!(connects(&out).is_empty());
    let (_, _, _) = next_connect(&mut m, t0);
}

#[test]
fn every_url_is_validated() {
    assert!(three_urls().validate().is_ok());
    let bad = EngineConfig::with_urls(["ws://a", "http://b"]);
    assert!(bad.validate().is_err());
    assert!(
        EngineConfig::with_urls(Vec::<String>::new())
            .validate()
            .is_err()
    );
}
