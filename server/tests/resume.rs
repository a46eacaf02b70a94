//! Link loss: detached sessions, resume with replay, expiry after the heartbeat timeout.

mod common;

use std::time::Instant;

use common::*;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, User};

#[tokio::test]
async fn resume_within_the_timeout_replays_missed_events_and_peers_see_nothing() {
    let s = server(1500).await;
    let url = s.ws_url();
    let (mut a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert_eq!(event(a.recv().await).0, 1);
    a.drop_link();

    peer.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "p1".into(),
        extra_info: String::new(),
    });
    peer.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "p2".into(),
        extra_info: String::new(),
    });
    // Both publishes are processed once the ping after them is answered.
    peer.send(ClientFrame::Ping);
    assert_eq!(peer.recv().await, ServerFrame::Pong);

    let mut a2 = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 1)], true).await;
    let f = a2.recv().await;
    let ServerFrame::Resumed {
        session_id,
        events,
        snapshot,
        seq,
        ..
    } = f
    else {
        panic!("expected Resumed, got {f:?}")
    };
    assert_eq!(session_id, sid);
    assert_eq!(seq, 3);
    assert!(snapshot.is_none());
    let replayed: Vec<(u64, String)> = events
        .iter()
        .map(|e| match &e.event {
            RoomEvent::StreamAdd { streams } => (e.seq, streams[0].stream_id.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(replayed, vec![(2, "p1".to_string()), (3, "p2".to_string())]);
    // Live events continue the numbering.
    peer.send(ClientFrame::UnpublishStream {
        room_id: "r1".into(),
        stream_id: "p1".into(),
    });
    assert_eq!(event(a2.recv().await).0, 4);
    // The peer saw no leave or join: past the original timeout it still has nothing.
    peer.expect_silence(1700).await;
    s.shutdown().await;
}

#[tokio::test]
async fn resume_beyond_the_replay_ring_gets_a_snapshot() {
    let cfg = roomlink_server::ServerConfig {
        replay_buffer: 1,
        ..config(1500)
    };
    let s = roomlink_server::start(cfg).await.unwrap();
    let url = s.ws_url();
    let (a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    a.drop_link();
    let with_stream = login_publishing("p", "r1", "p1", "");
    let (peer, _) = Client::join(&url, with_stream).await; // a's seq 1 (UserAdd) and 2 (StreamAdd)
    peer.send(ClientFrame::Ping);
    let mut a2 = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = a2.recv().await;
    let ServerFrame::Resumed {
        events,
        snapshot,
        seq,
        ..
    } = f
    else {
        panic!("expected Resumed, got {f:?}")
    };
    assert!(events.is_empty());
    assert_eq!(seq, 2);
    let snap = snapshot.expect("snapshot when the ring no longer covers last_seq + 1");
    assert_eq!(snap.users, vec![User::new("p", "name-p")]);
    assert_eq!(snap.streams.len(), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn resume_moves_a_session_off_a_half_dead_connection() {
    let s = server(1500).await;
    let url = s.ws_url();
    let (mut old, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    // The old link stays open (as a half-dead one would look to the server).
    let mut new = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    assert!(matches!(new.recv().await, ServerFrame::Resumed { .. }));
    let (_peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(
        event(new.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    // The old connection is told once that the session left it (never a silent move), then
    // gets nothing more for it.
    assert_eq!(
        old.recv().await,
        ServerFrame::SessionMoved {
            room_id: "r1".into()
        }
    );
    old.expect_silence(300).await;
    s.shutdown().await;
}

#[tokio::test]
async fn resume_after_the_timeout_is_a_fresh_join_and_peers_see_leave_then_join() {
    let s = server(400).await;
    let url = s.ws_url();
    let with_stream = login_publishing("a", "r1", "a1", "");
    let (a, joined) = Client::join(&url, with_stream).await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    let dropped = Instant::now();
    a.drop_link();

    let (_, ev) = event(peer.recv().await);
    assert!(
        matches!(
            ev,
            RoomEvent::StreamDelete {
                reason: StreamDeleteReason::UserTimedOut,
                ..
            }
        ),
        "{ev:?}"
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete {
            users: vec![User::new("a", "name-a")]
        }
    );
    assert!(
        dropped.elapsed().as_millis() >= 300,
        "expired too early: {:?}",
        dropped.elapsed()
    );

    let mut a2 = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = a2.recv().await;
    assert!(
        matches!(f, ServerFrame::Joined { ref session_id, .. } if *session_id != sid),
        "{f:?}"
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserAdd {
            users: vec![User::new("a", "name-a")]
        }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_silent_connection_is_dropped_and_its_sessions_expire_at_once() {
    let s = server(400).await;
    let url = s.ws_url();
    let mut silent = Client::connect(&url, vec![login("a", "r1")], false).await;
    let joined = silent.recv().await;
    let sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    let start = Instant::now();
    let frames = silent.closed().await;
    assert!(
        frames
            .iter()
            .all(|f| matches!(f, ServerFrame::Event { .. })),
        "{frames:?}"
    );
    assert!(start.elapsed().as_millis() >= 300);
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete {
            users: vec![User::new("a", "name-a")]
        }
    );
    // The session is gone: a resume is a fresh join.
    let mut again = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    assert!(matches!(again.recv().await, ServerFrame::Joined { .. }));
    s.shutdown().await;
}

#[tokio::test]
async fn a_session_kicked_while_detached_learns_why_on_resume() {
    let s = server(1500).await;
    let url = s.ws_url();
    let (a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    a.drop_link();
    let body = r#"{"user_id":"a","reason":"spam"}"#;
    let (status, _) = roomlink_server::admin::request(
        s.local_addr(),
        "POST",
        "/admin/rooms/r1/kick",
        Some("dev-admin"),
        Some(body),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let mut a2 = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = a2.recv().await;
    assert_eq!(
        f,
        ServerFrame::LoginFailed {
            room_id: "r1".into(),
            code: ErrorCode::KICKED_BY_SERVER,
            message: "spam".into()
        }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn resume_with_an_expired_or_bad_token_is_refused() {
    let s = server(1500).await;
    let url = s.ws_url();
    let (a, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    a.drop_link();
    let mut expired = resume(login("a", "r1"), &sid, 0);
    expired.token = token_until("a", "r1", now_ms() - 1);
    let mut bad = resume(login("a", "r1"), &sid, 0);
    bad.token = "v1.nope.nope".into();
    let mut c = Client::connect(&url, vec![expired, bad], true).await;
    let f = c.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::LoginFailed {
                code: ErrorCode::KICKED_TOKEN_EXPIRED,
                ..
            }
        ),
        "{f:?}"
    );
    let f = c.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::LoginFailed {
                code: ErrorCode::AUTH_FAILED,
                ..
            }
        ),
        "{f:?}"
    );
    // The session is untouched and still resumable.
    c.send(ClientFrame::Login(resume(login("a", "r1"), &sid, 0)));
    assert!(matches!(c.recv().await, ServerFrame::Resumed { .. }));
    s.shutdown().await;
}
