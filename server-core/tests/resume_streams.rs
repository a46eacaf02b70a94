//! A resume's `streams` are the session's streams from then on: an unpublish the server never
//! applied (lost with the link, or read on the old connection after the session had moved)
//! must not leave the stream listed for peers.

mod support;

use std::time::Instant;

use roomlink_proto::protocol::{Login, PublishedStream, Resume, RoomEvent, ServerFrame};
use roomlink_proto::{StreamDeleteReason, User};
use roomlink_server_core::{ConnEnd, ConnId, Rooms, Rules};
use support::{Ids, Tokens, at, drain};

fn login(user: &str, streams: &[(&str, &str)]) -> Login {
    Login {
        room_id: "r".into(),
        user: User::new(user, user),
        token: "t".into(),
        user_update: true,
        resume: None,
        streams: streams
            .iter()
            .map(|(id, extra)| PublishedStream {
                stream_id: id.to_string(),
                extra_info: extra.to_string(),
            })
            .collect(),
        fence: None,
    }
}

/// The room's stream IDs, as `GET /admin/rooms/r` lists them.
fn streams(r: &Rooms) -> Vec<String> {
    let room = r.room("r").expect("room");
    room.streams.into_iter().map(|s| s.stream_id).collect()
}

/// The events peer `conn` got, in order.
fn events_to(sent: &[(ConnId, ServerFrame)], conn: ConnId) -> Vec<RoomEvent> {
    sent.iter()
        .filter(|(c, _)| *c == conn)
        .filter_map(|(_, f)| match f {
            ServerFrame::Event { event, .. } => Some(event.event.clone()),
            _ => None,
        })
        .collect()
}

/// `a` publishes `a-cam` and `a-mic` on conn 1 with `b` on conn 2; returns a's session ID.
fn setup(r: &mut Rooms, t0: Instant) -> String {
    r.handle_login(at(t0, 0), 1, login("a", &[("a-cam", ""), ("a-mic", "m")]));
    let Some((_, ServerFrame::Joined { session_id, .. })) = drain(r).into_iter().next() else {
        panic!("no joined");
    };
    r.handle_login(at(t0, 0), 2, login("b", &[]));
    drain(r);
    session_id
}

fn resume(user: &str, sid: &str, streams: &[(&str, &str)]) -> Login {
    let mut l = login(user, streams);
    l.resume = Some(Resume {
        session_id: sid.to_string(),
        last_seq: 0,
    });
    l
}

#[test]
fn an_unpublish_read_on_the_old_connection_after_the_resume_does_not_leave_the_stream_listed() {
    let t0 = Instant::now();
    let mut r = Rooms::new(Rules::default(), Box::new(Tokens), Box::<Ids>::default());
    let sid = setup(&mut r, t0);
    // The client unpublished a-cam and its link dropped at once; its resume on conn 3 reaches
    // the rules before the unpublish still in conn 1's socket, which by then holds no session.
    r.handle_login(at(t0, 10), 3, resume("a", &sid, &[("a-mic", "m")]));
    r.handle_unpublish_stream(at(t0, 11), 1, "r", "a-cam");
    r.handle_connection_ended(at(t0, 12), 1, ConnEnd::Closed { last_heard: t0 });
    let sent = drain(&mut r);
    assert!(
        sent.iter()
            .any(|(c, f)| *c == 3 && matches!(f, ServerFrame::Resumed { .. })),
        "{sent:?}"
    );
    assert_eq!(streams(&r), vec!["a-mic".to_string()]);
    let to_b = events_to(&sent, 2);
    assert!(
        matches!(&to_b[..], [RoomEvent::StreamDelete { streams, reason: StreamDeleteReason::Stopped }]
            if streams.len() == 1 && streams[0].stream_id == "a-cam"),
        "the peer is told once that a-cam stopped: {to_b:?}"
    );
}

#[test]
fn an_unpublish_lost_with_the_link_is_applied_by_the_resume() {
    let t0 = Instant::now();
    let mut r = Rooms::new(Rules::default(), Box::new(Tokens), Box::<Ids>::default());
    let sid = setup(&mut r, t0);
    // The unpublish of a-mic never arrives; the link's end is seen first, then the resume.
    r.handle_connection_ended(at(t0, 5), 1, ConnEnd::Closed { last_heard: t0 });
    r.handle_login(at(t0, 10), 3, resume("a", &sid, &[("a-cam", "")]));
    let sent = drain(&mut r);
    assert_eq!(streams(&r), vec!["a-cam".to_string()]);
    let to_b = events_to(&sent, 2);
    assert!(
        matches!(&to_b[..], [RoomEvent::StreamDelete { streams, reason: StreamDeleteReason::Stopped }]
            if streams.len() == 1 && streams[0].stream_id == "a-mic"),
        "{to_b:?}"
    );
}

#[test]
fn a_resume_listing_every_stream_unchanged_shows_peers_nothing() {
    let t0 = Instant::now();
    let mut r = Rooms::new(Rules::default(), Box::new(Tokens), Box::<Ids>::default());
    let sid = setup(&mut r, t0);
    r.handle_connection_ended(at(t0, 5), 1, ConnEnd::Closed { last_heard: t0 });
    r.handle_login(
        at(t0, 10),
        3,
        resume("a", &sid, &[("a-mic", "m"), ("a-cam", ""), ("a-new", "")]),
    );
    let sent = drain(&mut r);
    assert_eq!(streams(&r), vec!["a-cam", "a-mic", "a-new"]);
    let to_b = events_to(&sent, 2);
    assert!(
        matches!(&to_b[..], [RoomEvent::StreamAdd { streams }]
            if streams.len() == 1 && streams[0].stream_id == "a-new"),
        "only the new stream is news to peers: {to_b:?}"
    );
}
