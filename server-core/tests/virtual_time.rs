//! The core on virtual time: deadlines come out of `poll_output`, and nothing happens before them.

mod support;

use std::time::{Duration, Instant};

use roomlink_proto::protocol::{Login, Resume, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, User};
use roomlink_server_core::{ConnEnd, ConnId, Now, Output, Rooms, Rules};
use support::{Ids, Tokens};

fn rooms() -> Rooms {
    let rules = Rules {
        heartbeat_timeout: Duration::from_millis(500),
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

/// Everything sent since the last drain, and the deadline it ended with.
fn drain(r: &mut Rooms) -> (Vec<(ConnId, ServerFrame)>, Option<Instant>) {
    let mut sent = Vec::new();
    loop {
        match r.poll_output() {
            Output::Send { conn, frame } => sent.push((conn, frame)),
            Output::Timeout(t) => return (sent, t),
        }
    }
}

fn at(t0: Instant, ms: u64) -> Now {
    Now {
        at: t0 + Duration::from_millis(ms),
        unix_ms: 1_000_000 + ms,
    }
}

#[test]
fn a_detached_session_expires_at_last_heard_plus_the_heartbeat_timeout_and_not_before() {
    let t0 = Instant::now();
    let mut r = rooms();
    r.handle_login(at(t0, 0), 1, login("a", "t"));
    r.handle_login(at(t0, 0), 2, login("b", "t"));
    let (_, deadline) = drain(&mut r);
    assert_eq!(
        deadline, None,
        "no timer while attached with a token that never expires"
    );

    let last_heard = at(t0, 100).at;
    r.handle_connection_ended(at(t0, 300), 1, ConnEnd::Closed { last_heard });
    let (sent, deadline) = drain(&mut r);
    assert!(sent.is_empty(), "peers see nothing at the detach: {sent:?}");
    assert_eq!(deadline, Some(at(t0, 600).at));

    r.handle_timeout(at(t0, 599));
    assert_eq!(drain(&mut r).0, vec![], "not a millisecond early");
    r.handle_timeout(at(t0, 600));
    let (sent, deadline) = drain(&mut r);
    assert_eq!(deadline, None);
    assert!(
        matches!(&sent[..], [(2, ServerFrame::Event { event, .. })]
            if event.event == RoomEvent::UserDelete { users: vec![User::new("a", "a")] }),
        "{sent:?}"
    );
    assert_eq!(r.room("r").unwrap().users, vec![User::new("b", "b")]);
}

#[test]
fn a_resume_in_time_disarms_the_expiry_and_replays_what_was_missed() {
    let t0 = Instant::now();
    let mut r = rooms();
    r.handle_login(at(t0, 0), 1, login("a", "t"));
    let (sent, _) = drain(&mut r);
    let Some((_, ServerFrame::Joined { session_id, .. })) = sent.into_iter().next() else {
        panic!("no joined");
    };
    r.handle_connection_ended(at(t0, 10), 1, ConnEnd::Closed { last_heard: t0 });
    r.handle_login(at(t0, 20), 2, login("b", "t"));
    drain(&mut r);
    let mut again = login("a", "t");
    again.resume = Some(Resume {
        session_id: session_id.clone(),
        last_seq: 0,
    });
    r.handle_login(at(t0, 400), 3, again);
    let (sent, deadline) = drain(&mut r);
    assert_eq!(deadline, None, "the detach timer is gone");
    assert!(
        matches!(&sent[..], [(3, ServerFrame::Resumed { events, snapshot: None, seq: 1, .. })]
            if events.len() == 1 && events[0].event == RoomEvent::UserAdd { users: vec![User::new("b", "b")] }),
        "{sent:?}"
    );
    r.handle_timeout(at(t0, 10_000));
    assert_eq!(drain(&mut r).0, vec![]);
}

#[test]
fn a_token_expiry_on_the_wall_clock_kicks_at_the_matching_instant() {
    let t0 = Instant::now();
    let mut r = rooms();
    // Expires 250 ms after the login, on the wall clock.
    r.handle_login(at(t0, 0), 1, login("a", "exp=1000250"));
    let (sent, deadline) = drain(&mut r);
    assert!(
        matches!(
            &sent[..],
            [(
                1,
                ServerFrame::Joined {
                    token_expires_in_ms: Some(250),
                    ..
                }
            )]
        ),
        "{sent:?}"
    );
    assert_eq!(deadline, Some(at(t0, 250).at));
    r.handle_timeout(at(t0, 250));
    let (sent, _) = drain(&mut r);
    assert!(
        matches!(
            &sent[..],
            [(
                1,
                ServerFrame::Kicked {
                    code: ErrorCode::KICKED_TOKEN_EXPIRED,
                    ..
                }
            )]
        ),
        "{sent:?}"
    );
    assert!(r.rooms().is_empty());
    // An expired token at login is a plain refusal.
    r.handle_login(at(t0, 300), 2, login("a", "exp=1000100"));
    let (sent, _) = drain(&mut r);
    assert!(
        matches!(
            &sent[..],
            [(
                2,
                ServerFrame::LoginFailed {
                    code: ErrorCode::AUTH_FAILED,
                    ..
                }
            )]
        ),
        "{sent:?}"
    );
}
