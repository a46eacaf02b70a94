//! Fresh logins: the first frame, peers' events, several rooms on one link, refusals.

mod common;

use common::*;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, StreamInfo, User};

#[tokio::test]
async fn joined_is_the_first_frame_with_a_sorted_snapshot_and_peers_see_user_add() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (mut b, _) = Client::join(&url, login("b", "r1")).await;
    let with_stream = login_publishing("c", "r1", "c-cam", "x");
    let (_c, _) = Client::join(&url, with_stream).await;
    assert_eq!(
        event(b.recv().await),
        (
            1,
            RoomEvent::UserAdd {
                users: vec![User::new("c", "name-c")]
            }
        )
    );
    let (seq, ev) = event(b.recv().await);
    assert_eq!(seq, 2);
    assert!(
        matches!(ev, RoomEvent::StreamAdd { ref streams } if streams[0].stream_id == "c-cam"),
        "{ev:?}"
    );

    let (_a, joined) = Client::join(&url, login("a", "r1")).await;
    let ServerFrame::Joined {
        room_id,
        seq,
        snapshot,
        token_expires_in_ms,
        session_id,
        ..
    } = joined
    else {
        unreachable!()
    };
    assert_eq!(room_id, "r1");
    assert_eq!(seq, 0);
    assert_eq!(session_id.len(), 32);
    assert_eq!(
        snapshot.users,
        vec![User::new("b", "name-b"), User::new("c", "name-c")]
    );
    assert_eq!(
        snapshot.streams,
        vec![StreamInfo {
            stream_id: "c-cam".into(),
            user: User::new("c", "name-c"),
            extra_info: "x".into()
        }]
    );
    assert!(token_expires_in_ms.is_some_and(|ms| ms > 3_000_000 && ms <= 3_600_000));
    assert_eq!(
        event(b.recv().await),
        (
            3,
            RoomEvent::UserAdd {
                users: vec![User::new("a", "name-a")]
            }
        )
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_second_room_on_the_same_link_via_a_login_frame() {
    let s = server(2000).await;
    let (mut a, j1) = Client::join(&s.ws_url(), login("a", "r1")).await;
    a.send(ClientFrame::Login(login("a", "r2")));
    let j2 = a.recv().await;
    assert!(
        matches!(j2, ServerFrame::Joined { ref room_id, .. } if room_id == "r2"),
        "{j2:?}"
    );
    assert_ne!(session_id(&j1), session_id(&j2));
    let rooms: Vec<String> = s_rooms(&s).await;
    assert_eq!(rooms, vec!["r1".to_string(), "r2".to_string()]);
    // Logging out of one room leaves the other.
    a.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    a.send(ClientFrame::Ping);
    assert_eq!(a.recv().await, ServerFrame::Pong);
    assert_eq!(s_rooms(&s).await, vec!["r2".to_string()]);
    s.shutdown().await;
}

async fn s_rooms(s: &roomlink_server::ServerHandle) -> Vec<String> {
    let (status, body) = roomlink_server::admin::request(
        s.local_addr(),
        "GET",
        "/admin/rooms",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["room_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn several_logins_in_the_hello_each_get_a_result_in_order() {
    let s = server(2000).await;
    let mut bad = login("a", "r2");
    bad.token = token("a", "other-room");
    let mut a = Client::connect(
        &s.ws_url(),
        vec![login("a", "r1"), bad, login("a", "r3")],
        true,
    )
    .await;
    assert!(matches!(a.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "r1"));
    assert!(
        matches!(a.recv().await, ServerFrame::LoginFailed { room_id, code, .. } if room_id == "r2" && code == ErrorCode::AUTH_FAILED)
    );
    assert!(matches!(a.recv().await, ServerFrame::Joined { room_id, .. } if room_id == "r3"));
    s.shutdown().await;
}

#[tokio::test]
async fn bad_token_is_refused_with_auth_failed() {
    let s = server(2000).await;
    let mut l = login("a", "r1");
    l.token = roomlink_server::token::mint(
        "wrong-secret",
        &roomlink_server::token::Claims {
            app_id: "roomlink-dev".into(),
            user_id: "a".into(),
            room_id: "r1".into(),
            expires_at_ms: 0,
        },
    );
    let mut a = Client::connect(&s.ws_url(), vec![l], true).await;
    let f = a.recv().await;
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
    // Nothing changed: no room was created.
    let (_, body) = roomlink_server::admin::request(
        s.local_addr(),
        "GET",
        "/admin/rooms",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(body, "[]");
    s.shutdown().await;
}

#[tokio::test]
async fn expired_token_at_login_is_auth_failed() {
    let s = server(2000).await;
    let mut l = login("a", "r1");
    l.token = token_until("a", "r1", now_ms() - 1);
    let mut a = Client::connect(&s.ws_url(), vec![l], true).await;
    let f = a.recv().await;
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
    s.shutdown().await;
}

#[tokio::test]
async fn a_full_room_refuses_with_room_full() {
    let s = roomlink_server::start(roomlink_server::ServerConfig {
        room_capacity: 2,
        ..config(2000)
    })
    .await
    .unwrap();
    let url = s.ws_url();
    let (_a, _) = Client::join(&url, login("a", "r1")).await;
    let (_b, _) = Client::join(&url, login("b", "r1")).await;
    let mut c = Client::connect(&url, vec![login("c", "r1")], true).await;
    let f = c.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::LoginFailed {
                code: ErrorCode::ROOM_FULL,
                ..
            }
        ),
        "{f:?}"
    );
    // Another room still has space.
    c.send(ClientFrame::Login(login("c", "r2")));
    assert!(matches!(c.recv().await, ServerFrame::Joined { .. }));
    s.shutdown().await;
}

#[tokio::test]
async fn duplicate_login_kicks_the_older_session_and_peers_see_no_leave() {
    let s = server(2000).await;
    let url = s.ws_url();
    let first = login_publishing("a", "r1", "s1", "");
    let (mut old, _) = Client::join(&url, first).await;
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    let second = login_publishing("a", "r1", "s2", "");
    let (_new, joined) = Client::join(&url, second).await;
    let ServerFrame::Joined { snapshot, .. } = joined else {
        unreachable!()
    };
    assert_eq!(snapshot.users, vec![User::new("p", "name-p")]);

    assert!(matches!(
        event(old.recv().await).1,
        RoomEvent::UserAdd { .. }
    ));
    let f = old.recv().await;
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
    let a = User::new("a", "name-a");
    let s1 = StreamInfo {
        stream_id: "s1".into(),
        user: a.clone(),
        extra_info: String::new(),
    };
    let s2 = StreamInfo {
        stream_id: "s2".into(),
        user: a.clone(),
        extra_info: String::new(),
    };
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamDelete {
            streams: vec![s1],
            reason: StreamDeleteReason::UserKicked
        }
    );
    assert_eq!(
        event(peer.recv().await).1,
        RoomEvent::StreamAdd { streams: vec![s2] }
    );
    peer.send(ClientFrame::Ping);
    assert_eq!(
        peer.recv().await,
        ServerFrame::Pong,
        "no user events for the replacement"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn publish_unpublish_and_logout_reach_peers() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (mut a, _) = Client::join(&url, login("a", "r1")).await;
    let (mut b, _) = Client::join(&url, login("b", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    b.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "bad id".into(),
        extra_info: String::new(),
    });
    b.expect_error(ErrorCode::INVALID_ARGUMENT).await;
    b.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "b1".into(),
        extra_info: "hi".into(),
    });
    let info = StreamInfo {
        stream_id: "b1".into(),
        user: User::new("b", "name-b"),
        extra_info: "hi".into(),
    };
    assert_eq!(
        event(a.recv().await),
        (
            2,
            RoomEvent::StreamAdd {
                streams: vec![info.clone()]
            }
        )
    );
    b.send(ClientFrame::UnpublishStream {
        room_id: "r1".into(),
        stream_id: "b1".into(),
    });
    let stopped = RoomEvent::StreamDelete {
        streams: vec![info.clone()],
        reason: StreamDeleteReason::Stopped,
    };
    assert_eq!(event(a.recv().await), (3, stopped));
    b.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "b1".into(),
        extra_info: "hi".into(),
    });
    assert!(matches!(
        event(a.recv().await).1,
        RoomEvent::StreamAdd { .. }
    ));
    b.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    let left = RoomEvent::StreamDelete {
        streams: vec![info],
        reason: StreamDeleteReason::UserLeft,
    };
    assert_eq!(event(a.recv().await), (5, left));
    assert_eq!(
        event(a.recv().await),
        (
            6,
            RoomEvent::UserDelete {
                users: vec![User::new("b", "name-b")]
            }
        )
    );
    b.send(ClientFrame::Logout {
        room_id: "r1".into(),
        session_id: None,
        token: None,
    });
    b.expect_error(ErrorCode::ROOM_NOT_LOGGED_IN).await;
    s.shutdown().await;
}

#[tokio::test]
async fn sessions_without_user_update_get_only_stream_events() {
    let s = server(2000).await;
    let url = s.ws_url();
    let mut quiet = login("q", "r1");
    quiet.user_update = false;
    let (mut q, _) = Client::join(&url, quiet).await;
    let (b, _) = Client::join(&url, login("b", "r1")).await;
    b.send(ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "b1".into(),
        extra_info: String::new(),
    });
    let (seq, ev) = event(q.recv().await);
    assert_eq!(seq, 1);
    assert!(matches!(ev, RoomEvent::StreamAdd { .. }), "{ev:?}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_second_user_in_the_same_room_on_one_connection_is_refused() {
    let s = server(2000).await;
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
    let (status, body) = roomlink_server::admin::request(
        s.local_addr(),
        "GET",
        "/admin/rooms/r1",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert!(!body.contains("\"b\""), "{body}");
    s.shutdown().await;
}

#[tokio::test]
async fn publishing_an_own_stream_again_with_other_extra_info_changes_nothing() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (mut a, _) = Client::join(&url, login("a", "r1")).await;
    let (mut b, _) = Client::join(&url, login("b", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let publish = |extra: &str| ClientFrame::PublishStream {
        room_id: "r1".into(),
        stream_id: "b1".into(),
        extra_info: extra.into(),
    };
    b.send(publish("first"));
    assert!(matches!(
        event(a.recv().await).1,
        RoomEvent::StreamAdd { .. }
    ));
    b.send(publish("second"));
    // b's frames are handled in order, so once its Pong is back the republish was handled; a's
    // Pong then comes before anything else, so nothing was sent to a for it.
    b.send(ClientFrame::Ping);
    assert_eq!(b.recv().await, ServerFrame::Pong);
    a.send(ClientFrame::Ping);
    assert_eq!(a.recv().await, ServerFrame::Pong);
    let (_c, joined) = Client::join(&url, login("c", "r1")).await;
    let ServerFrame::Joined { snapshot, .. } = joined else {
        unreachable!()
    };
    assert_eq!(
        snapshot.streams[0].extra_info, "first",
        "the first extra_info stays"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn a_session_without_user_update_gets_the_users_only_in_its_snapshot() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (_b, _) = Client::join(&url, login("b", "r1")).await;
    let mut quiet = login("q", "r1");
    quiet.user_update = false;
    let (mut q, joined) = Client::join(&url, quiet).await;
    let ServerFrame::Joined { snapshot, .. } = joined else {
        unreachable!()
    };
    assert_eq!(snapshot.users, vec![User::new("b", "name-b")]);
    // A user joining later is not told: a count derived from the list goes stale.
    let (_c, _) = Client::join(&url, login("c", "r1")).await;
    q.send(ClientFrame::Ping);
    assert_eq!(q.recv().await, ServerFrame::Pong);
    s.shutdown().await;
}
