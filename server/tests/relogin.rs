//! A user's session replaced by a newer login (same or another connection). Logouts that name
//! the session to end: logout_by_id.rs.

mod common;

use common::*;
use roomlink_proto::protocol::{ClientFrame, Login, PublishedStream, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, StreamInfo, User};

fn with_streams(mut l: Login, streams: &[(&str, &str)]) -> Login {
    l.streams = streams
        .iter()
        .map(|(id, extra)| PublishedStream {
            stream_id: (*id).into(),
            extra_info: (*extra).into(),
        })
        .collect();
    l
}

fn info(id: &str, user: &User, extra: &str) -> StreamInfo {
    StreamInfo {
        stream_id: id.into(),
        user: user.clone(),
        extra_info: extra.into(),
    }
}

/// Asserts `c` has nothing queued: a ping is answered by the very next frame.
async fn nothing_pending(c: &mut Client, why: &str) {
    c.send(ClientFrame::Ping);
    assert_eq!(c.recv().await, ServerFrame::Pong, "{why}");
}

async fn admin_room(s: &roomlink_server::ServerHandle, room: &str) -> serde_json::Value {
    let (status, body) = roomlink_server::admin::request(
        s.local_addr(),
        "GET",
        &format!("/admin/rooms/{room}"),
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn relogin_on_the_same_connection_replaces_the_session_without_a_kick() {
    let s = server(5000).await;
    let url = s.ws_url();
    let first = with_streams(login("a", "r1"), &[("s1", "x"), ("s2", "")]);
    let (mut a, joined) = Client::join(&url, first).await;
    let old_sid = session_id(&joined);
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));

    // s1 published again unchanged, s2 dropped, s3 new.
    a.send(ClientFrame::Login(with_streams(
        login("a", "r1"),
        &[("s1", "x"), ("s3", "")],
    )));
    let f = a.recv().await;
    let ServerFrame::Joined {
        ref session_id,
        ref snapshot,
        ..
    } = f
    else {
        panic!("expected Joined as the first answer (no Kicked), got {f:?}")
    };
    assert_ne!(*session_id, old_sid);
    assert_eq!(snapshot.users, vec![User::new("p", "name-p")]);
    nothing_pending(&mut a, "no Kicked after Joined either").await;

    let me = User::new("a", "name-a");
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamDelete {
            streams: vec![info("s2", &me, "")],
            reason: StreamDeleteReason::Stopped
        }
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamAdd {
            streams: vec![info("s3", &me, "")]
        }
    );
    nothing_pending(&mut peer, "no user events and nothing for the kept s1").await;
    let room = admin_room(&s, "r1").await;
    let ids: Vec<&str> = room["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["s1", "s3"]);

    // The old session is simply gone: resuming it is a fresh login (it was not kicked).
    let (mut other, _) = Client::join(&url, login("o", "r2")).await;
    other.send(ClientFrame::Login(resume(login("o", "r1"), &old_sid, 0)));
    assert!(matches!(other.recv().await, ServerFrame::Joined { .. }));

    // The new session is this connection's session in the room.
    a.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    assert!(matches!(
        event(peer.recv().await).1,
        RoomEvent::UserAdd { .. }
    )); // o
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamDelete {
            streams: vec![info("s1", &me, "x"), info("s3", &me, "")],
            reason: StreamDeleteReason::UserLeft
        }
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::UserDelete { users: vec![me] }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn relogin_on_the_same_connection_with_a_new_name_renames_the_user_for_peers() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut a, _) = Client::join(&url, with_streams(login("a", "r1"), &[("s1", "")])).await;
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));

    let mut renamed = with_streams(login("a", "r1"), &[("s1", "")]);
    renamed.user.user_name = "Alice".into();
    a.send(ClientFrame::Login(renamed));
    assert!(matches!(a.recv().await, ServerFrame::Joined { .. }));
    let (old, new) = (User::new("a", "name-a"), User::new("a", "Alice"));
    let expected = [
        RoomEvent::StreamDelete {
            streams: vec![info("s1", &old, "")],
            reason: StreamDeleteReason::Stopped,
        },
        RoomEvent::UserDelete {
            users: vec![old.clone()],
        },
        RoomEvent::UserAdd {
            users: vec![new.clone()],
        },
        RoomEvent::StreamAdd {
            streams: vec![info("s1", &new, "")],
        },
    ];
    for want in expected {
        assert_eq!(event(peer.recv().await).1, want);
    }
    nothing_pending(&mut peer, "nothing more").await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_different_user_on_the_same_connection_is_still_refused() {
    let s = server(5000).await;
    let (mut a, _) = Client::join(&s.ws_url(), login("a", "r1")).await;
    a.send(ClientFrame::Login(login("b", "r1")));
    let f = a.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::LoginFailed {
                code: ErrorCode::ALREADY_LOGGED_IN,
                ..
            }
        ),
        "{f:?}"
    );
    // a's session is untouched: its own relogin still replaces it quietly.
    a.send(ClientFrame::Login(login("a", "r1")));
    assert!(matches!(a.recv().await, ServerFrame::Joined { .. }));
    s.shutdown().await;
}

#[tokio::test]
async fn duplicate_login_elsewhere_with_a_new_name_renames_the_user_for_peers() {
    let s = server(5000).await;
    let url = s.ws_url();
    let (mut old_conn, _) = Client::join(&url, with_streams(login("a", "r1"), &[("s1", "")])).await;
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(
        event(old_conn.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    let mut renamed = with_streams(login("a", "r1"), &[("s1", "")]);
    renamed.user.user_name = "Alice".into();
    let (_new_conn, _) = Client::join(&url, renamed).await;
    let f = old_conn.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::Kicked {
                code: ErrorCode::KICKED_DUPLICATE_LOGIN,
                ..
            }
        ),
        "{f:?}"
    );
    let (old, new) = (User::new("a", "name-a"), User::new("a", "Alice"));
    let expected = [
        RoomEvent::StreamDelete {
            streams: vec![info("s1", &old, "")],
            reason: StreamDeleteReason::UserKicked,
        },
        RoomEvent::UserDelete {
            users: vec![old.clone()],
        },
        RoomEvent::UserAdd {
            users: vec![new.clone()],
        },
        RoomEvent::StreamAdd {
            streams: vec![info("s1", &new, "")],
        },
    ];
    for want in expected {
        assert_eq!(event(peer.recv().await).1, want);
    }
    let room = admin_room(&s, "r1").await;
    assert_eq!(
        room["users"],
        serde_json::json!([{"user_id": "a", "user_name": "Alice"}, {"user_id": "p", "user_name": "name-p"}])
    );
    s.shutdown().await;
}
