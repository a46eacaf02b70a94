//! The per-member room-event budget (fresh logins, publishes, unpublishes, renewals) at its
//! boundaries, on virtual time: the burst is admitted, the next event is refused with
//! `RATE_LIMITED` and changes nothing, and the budget refills at the sustained rate.

mod support;

use std::time::Instant;

use roomlink_proto::protocol::{Login, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, User};
use roomlink_server_core::{ConnId, Rate, Rooms, Rules};
use support::{Ids, Tokens, at, drain};

/// 10 events per second, a burst of 4.
const RATE: Rate = Rate {
    per_sec: 10,
    burst: 4,
};

fn rooms() -> Rooms {
    let rules = Rules {
        member_events: RATE,
        ..Rules::default()
    };
    Rooms::new(rules, Box::new(Tokens), Box::<Ids>::default())
}

fn login(user: &str, token: &str) -> Login {
    Login {
        room_id: "r".into(),
        user: User::new(user, user),
        token: token.into(),
        user_update: true,
        resume: None,
        streams: vec![],
        fence: None,
    }
}

fn rate_limited(sent: &[(ConnId, ServerFrame)], conn: ConnId) -> bool {
    sent.iter().any(|(c, f)| {
        *c == conn
            && matches!(f,
                ServerFrame::Error { code, .. } | ServerFrame::LoginFailed { code, .. }
                    if *code == ErrorCode::RATE_LIMITED)
    })
}

/// Stream events conn 2 (the peer) was sent.
fn peer_stream_events(sent: &[(ConnId, ServerFrame)]) -> usize {
    sent.iter()
        .filter(|(c, f)| {
            *c == 2
                && matches!(f, ServerFrame::Event { event, .. }
                    if matches!(event.event, RoomEvent::StreamAdd { .. } | RoomEvent::StreamDelete { .. }))
        })
        .count()
}

/// Room "r" with the attacker `a` on conn 1 and a peer `b` on conn 2.
fn room_with_peer(t0: Instant) -> Rooms {
    let mut r = rooms();
    r.handle_login(at(t0, 0), 2, login("b", "t"));
    r.handle_login(at(t0, 0), 1, login("a", "t"));
    drain(&mut r);
    r
}

#[test]
fn a_publish_flood_reaches_peers_at_the_burst_then_the_rate() {
    let t0 = Instant::now();
    let mut r = room_with_peer(t0);
    // a's fresh login into an existing room spent one event: three of the burst are left.
    for i in 0..3 {
        r.handle_publish_stream(at(t0, 0), 1, "r", &format!("s{i}"), "");
    }
    let sent = drain(&mut r);
    assert_eq!(peer_stream_events(&sent), 3);
    assert!(!rate_limited(&sent, 1));

    r.handle_publish_stream(at(t0, 0), 1, "r", "over", "");
    let sent = drain(&mut r);
    assert!(rate_limited(&sent, 1), "one over the burst: {sent:?}");
    assert_eq!(
        peer_stream_events(&sent),
        0,
        "a refused publish tells no peer"
    );
    assert!(
        r.room("r")
            .unwrap()
            .streams
            .iter()
            .all(|s| s.stream_id != "over"),
        "and changes nothing"
    );
    // An unpublish is a room event too, and so is a renewal.
    r.handle_unpublish_stream(at(t0, 99), 1, "r", "s0");
    r.handle_renew_token(at(t0, 99), 1, "r", "t");
    let sent = drain(&mut r);
    assert_eq!(
        sent.iter().filter(|(c, _)| *c == 1).count(),
        2,
        "two refusals: {sent:?}"
    );
    assert!(sent.iter().all(|(c, f)| *c == 1
        && matches!(f, ServerFrame::Error { code, .. } if *code == ErrorCode::RATE_LIMITED)));

    // One interval after the burst, exactly one more event is admitted.
    r.handle_unpublish_stream(at(t0, 100), 1, "r", "s0");
    r.handle_renew_token(at(t0, 100), 1, "r", "t");
    let sent = drain(&mut r);
    assert_eq!(peer_stream_events(&sent), 1);
    assert!(
        rate_limited(&sent, 1),
        "the renewal in the same interval: {sent:?}"
    );
    r.handle_renew_token(at(t0, 200), 1, "r", "t");
    let sent = drain(&mut r);
    assert!(
        matches!(&sent[..], [(1, ServerFrame::TokenRenewed { .. })]),
        "{sent:?}"
    );
}

#[test]
fn the_budget_is_per_member_and_survives_logging_out_and_in() {
    let t0 = Instant::now();
    let mut r = room_with_peer(t0);
    for i in 0..3 {
        r.handle_publish_stream(at(t0, 0), 1, "r", &format!("s{i}"), "");
    }
    // Another member's budget is its own.
    r.handle_publish_stream(at(t0, 0), 2, "r", "b-cam", "");
    let sent = drain(&mut r);
    assert!(!rate_limited(&sent, 2), "{sent:?}");

    // Logging out and in does not refill a's budget: the fresh login itself is refused.
    r.handle_logout(at(t0, 0), 1, "r", None, None);
    drain(&mut r);
    r.handle_login(at(t0, 0), 1, login("a", "t"));
    let sent = drain(&mut r);
    assert!(rate_limited(&sent, 1), "{sent:?}");
    assert!(
        r.room("r").unwrap().users.iter().all(|u| u.user_id != "a"),
        "a refused login joins nothing"
    );
    r.handle_login(at(t0, 100), 1, login("a", "t"));
    let sent = drain(&mut r);
    assert!(
        sent.iter()
            .any(|(c, f)| *c == 1 && matches!(f, ServerFrame::Joined { .. })),
        "{sent:?}"
    );
}

#[test]
fn logins_with_a_bad_token_spend_nothing_of_the_named_users_budget() {
    let t0 = Instant::now();
    let mut r = room_with_peer(t0);
    // Someone without a's token tries to use up a's budget.
    for _ in 0..50 {
        r.handle_login(at(t0, 0), 3, login("a", "bad"));
    }
    drain(&mut r);
    for i in 0..3 {
        r.handle_publish_stream(at(t0, 0), 1, "r", &format!("s{i}"), "");
    }
    let sent = drain(&mut r);
    assert!(!rate_limited(&sent, 1), "{sent:?}");
    assert_eq!(peer_stream_events(&sent), 3);
}

#[test]
fn republishing_an_unchanged_stream_and_bad_requests_spend_nothing() {
    let t0 = Instant::now();
    let mut r = room_with_peer(t0);
    r.handle_publish_stream(at(t0, 0), 1, "r", "cam", "");
    for _ in 0..20 {
        r.handle_publish_stream(at(t0, 0), 1, "r", "cam", "");
        r.handle_unpublish_stream(at(t0, 0), 1, "r", "nope");
    }
    drain(&mut r);
    r.handle_publish_stream(at(t0, 0), 1, "r", "mic", "");
    r.handle_unpublish_stream(at(t0, 0), 1, "r", "mic");
    let sent = drain(&mut r);
    assert!(!rate_limited(&sent, 1), "{sent:?}");
    assert_eq!(peer_stream_events(&sent), 2);
}
