//! The login fence: an engine's abandoned attempt that reaches the server late changes nothing,
//! and a connection that loses its session to a resume elsewhere is told.

mod common;

use common::*;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{ClientFrame, Fence, Login, ServerFrame};

fn fenced(mut l: Login, instance: &str, attempt: u64) -> Login {
    l.fence = Some(Fence {
        instance: instance.into(),
        attempt,
    });
    l
}

/// The next frame on `c` is the answer to a ping: nothing else was sent to it before.
async fn nothing_before_pong(c: &mut Client) {
    c.send(ClientFrame::Ping);
    assert_eq!(c.recv().await, ServerFrame::Pong);
}

fn stale(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::LoginFailed { code, .. } if *code == ErrorCode::STALE_ATTEMPT)
}

#[tokio::test]
async fn a_late_fresh_login_of_an_abandoned_attempt_is_refused_and_kicks_nobody() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut live, _) = Client::join(&url, fenced(login("a", "r1"), "e1", 2)).await;
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert_eq!(event(live.recv().await).0, 1);

    // Attempt 1 of the same engine arrives after attempt 2 was answered.
    let mut late = Client::connect(&url, vec![fenced(login("a", "r1"), "e1", 1)], true).await;
    let f = late.recv().await;
    assert!(stale(&f), "expected LoginFailed STALE_ATTEMPT, got {f:?}");
    nothing_before_pong(&mut live).await;
    nothing_before_pong(&mut peer).await;
    // The live session still works: a peer's stream reaches it.
    peer.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "p1".into(),
        extra_info: String::new(),
    });
    assert_eq!(event(live.recv().await).0, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn a_late_resume_of_an_abandoned_attempt_is_refused_and_moves_nothing() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (first, joined) = Client::join(&url, fenced(login("a", "r1"), "e1", 1)).await;
    let sid = session_id(&joined);
    let (peer, _) = Client::join(&url, login("p", "r1")).await;
    first.drop_link();
    let resume_at = |attempt| fenced(resume(login("a", "r1"), &sid, 0), "e1", attempt);
    let mut live = Client::connect(&url, vec![resume_at(3)], true).await;
    let f = live.recv().await;
    assert!(matches!(f, ServerFrame::Resumed { .. }), "got {f:?}");

    let mut late = Client::connect(&url, vec![resume_at(2)], true).await;
    let f = late.recv().await;
    assert!(stale(&f), "expected LoginFailed STALE_ATTEMPT, got {f:?}");
    // The session stayed on the live connection: no SessionMoved, and events still reach it.
    nothing_before_pong(&mut live).await;
    peer.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "p1".into(),
        extra_info: String::new(),
    });
    let f = live.recv().await;
    assert!(matches!(f, ServerFrame::Event { .. }), "got {f:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn another_instance_is_a_real_duplicate_login() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut old, _) = Client::join(&url, fenced(login("a", "r1"), "e1", 7)).await;
    // Another device (or the app restarted): a new instance, counting from 1.
    let (_new, _) = Client::join(&url, fenced(login("a", "r1"), "e2", 1)).await;
    let f = old.recv().await;
    assert!(
        matches!(f, ServerFrame::Kicked { code, .. } if code == ErrorCode::KICKED_DUPLICATE_LOGIN),
        "got {f:?}"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_loses_its_session_to_a_resume_is_told() {
    let s = server(5000).await;
    let url = s.ws_url();
    // No fences: an older client, or a half-dead connection the same engine replaced.
    let (mut old, joined) = Client::join(&url, login("a", "r1")).await;
    let sid = session_id(&joined);
    let mut new = Client::connect(&url, vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = new.recv().await;
    assert!(matches!(f, ServerFrame::Resumed { .. }), "got {f:?}");
    assert_eq!(
        old.recv().await,
        ServerFrame::SessionMoved {
            room_id: "r1".into()
        }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_resume_on_the_sessions_own_connection_is_not_a_move() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut c, joined) = Client::join(&url, fenced(login("a", "r1"), "e1", 1)).await;
    let sid = session_id(&joined);
    c.send(ClientFrame::Login(fenced(
        resume(login("a", "r1"), &sid, 0),
        "e1",
        1,
    )));
    let f = c.recv().await;
    assert!(matches!(f, ServerFrame::Resumed { .. }), "got {f:?}");
    nothing_before_pong(&mut c).await;
    s.shutdown().await;
}
