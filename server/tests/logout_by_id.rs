//! A logout that names the session to end (`session_id`): it needs a token of that session's
//! user for the room (expired is fine), the connection holding the session is kicked with
//! 1900012, and without the proof nothing changes.

mod common;

use common::*;
use roomlink_proto::protocol::{ClientFrame, Login, PublishedStream, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, StreamInfo, User};

fn publishing(mut l: Login, stream_id: &str) -> Login {
    l.streams = vec![PublishedStream {
        stream_id: stream_id.into(),
        extra_info: String::new(),
    }];
    l
}

/// Ping, then the next frame must be its Pong: nothing else was pending before it.
async fn nothing_pending(c: &mut Client, why: &str) {
    c.send(ClientFrame::Ping);
    assert_eq!(c.recv().await, ServerFrame::Pong, "{why}");
}

fn by_id(room: &str, sid: &str, token: Option<String>) -> ClientFrame {
    ClientFrame::Logout {
        room_id: room.into(),
        session_id: Some(sid.into()),
        token,
    }
}

#[tokio::test]
async fn a_session_ended_by_id_from_another_connection_tells_its_holder() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut a, joined) = Client::join(&url, publishing(login("a", "r1"), "a-cam")).await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let mut other = Client::connect(&url, vec![], true).await;

    other.send(by_id("r1", &sid, Some(token("a", "r1"))));
    let f = a.recv().await;
    assert!(
        matches!(&f, ServerFrame::Kicked { room_id, code, .. }
            if room_id == "r1" && *code == ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE),
        "{f:?}"
    );
    // Peers see a logout, not a kick.
    let me = User::new("a", "name-a");
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamDelete {
            streams: vec![StreamInfo {
                stream_id: "a-cam".into(),
                user: me.clone(),
                extra_info: String::new(),
            }],
            reason: StreamDeleteReason::UserLeft,
        }
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete { users: vec![me] }
    );
    nothing_pending(&mut other, "a logout by ID is not answered").await;
    // The holder's connection no longer has a session there, and a resume of it is told why.
    a.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    a.expect_error(ErrorCode::ROOM_NOT_LOGGED_IN).await;
    a.send(ClientFrame::Login(resume(login("a", "r1"), &sid, 0)));
    let f = a.recv().await;
    assert!(
        matches!(&f, ServerFrame::LoginFailed { code, .. } if *code == ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE),
        "{f:?}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn without_a_token_of_that_user_for_that_room_nothing_changes() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let mut other = Client::connect(&url, vec![], true).await;

    let mut foreign = token("a", "r1");
    foreign.push('x'); // the MAC no longer matches
    let refused = [
        ("no token", None),
        ("another user's token", Some(token("p", "r1"))),
        ("another room's token", Some(token("a", "r2"))),
        ("a forged token", Some(foreign)),
        ("not a token", Some("a".to_string())),
    ];
    for (why, proof) in refused {
        other.send(by_id("r1", &sid, proof));
        let f = other.recv().await;
        assert!(
            matches!(&f, ServerFrame::Error { room_id: Some(r), code, .. }
                if r == "r1" && *code == ErrorCode::LOGOUT_UNPROVEN),
            "{why}: {f:?}"
        );
        nothing_pending(&mut a, why).await;
        nothing_pending(&mut peer, why).await;
    }
    // The session is intact: it still publishes to its peer.
    a.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "a-cam".into(),
        extra_info: String::new(),
    });
    assert!(matches!(
        event(peer.recv().await).1,
        RoomEvent::StreamAdd { .. }
    ));
    // A session that does not exist (or is in another room) is not answered, proof or not: it
    // may have expired already, and an error naming the room could be taken for one about the
    // sender's newer session there.
    other.send(by_id("r2", &sid, Some(token("a", "r2"))));
    other.send(by_id("r1", "0123456789abcdef0123456789abcdef", None));
    nothing_pending(&mut other, "logouts of unknown sessions are not answered").await;
    nothing_pending(&mut a, "a is still in r1").await;
    s.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_still_proves_a_logout_of_a_detached_session() {
    // A heartbeat timeout longer than WAIT: peers can only see the leave through the logout.
    let s = server(20_000).await;
    let url = s.ws_url();
    let (a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    a.drop_link();

    // The app comes back after an outage that outlasted its token.
    let mut a2 = Client::connect(&url, vec![], true).await;
    let expired = token_until("a", "r1", now_ms() - 1_000);
    a2.send(by_id("r1", &sid, Some(expired)));
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete {
            users: vec![User::new("a", "name-a")]
        }
    );
    nothing_pending(&mut a2, "a logout by ID is not answered").await;
    s.shutdown().await;
}
