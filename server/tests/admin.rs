//! The admin API: auth, listing, kick, close, bad input.

mod common;

use common::*;
use roomlink_proto::protocol::{RoomEvent, ServerFrame};
use roomlink_proto::{ErrorCode, StreamDeleteReason, User};
use roomlink_server::admin::request;

#[tokio::test]
async fn admin_requires_the_bearer_secret() {
    let s = server(2000).await;
    let addr = s.local_addr();
    for bearer in [
        None,
        Some(""),
        Some("wrong"),
        Some("dev-admi"),
        Some("dev-admin2"),
    ] {
        let (status, body) = request(addr, "GET", "/admin/rooms", bearer, None)
            .await
            .unwrap();
        assert_eq!(status, 401, "{bearer:?}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].is_string());
    }
    let (status, _) = request(
        addr,
        "POST",
        "/admin/rooms/r1/close",
        Some("nope"),
        Some("{}"),
    )
    .await
    .unwrap();
    assert_eq!(status, 401);
    assert_eq!(
        request(addr, "GET", "/admin/rooms", Some("dev-admin"), None)
            .await
            .unwrap(),
        (200, "[]".to_string())
    );
    assert_eq!(
        request(addr, "GET", "/healthz", None, None).await.unwrap(),
        (200, "ok".to_string())
    );
    s.shutdown().await;
}

/// Sends `GET /admin/rooms` with `authorization` as the raw header line (if any); the status.
async fn raw_admin_status(addr: std::net::SocketAddr, authorization: Option<&str>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET /admin/rooms HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut resp))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&resp);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_missing_or_malformed_authorization_header_is_always_401() {
    let s = server(2000).await;
    let addr = s.local_addr();
    for auth in [
        None,
        Some("dev-admin"),
        Some("Basic dev-admin"),
        Some("bearer dev-admin"),
        Some("Bearer"),
        Some("Bearer "),
    ] {
        assert_eq!(raw_admin_status(addr, auth).await, 401, "{auth:?}");
    }
    assert_eq!(raw_admin_status(addr, Some("Bearer dev-admin")).await, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn an_empty_admin_secret_is_refused_at_start() {
    // With an empty secret a request without credentials used to match it.
    let err = roomlink_server::start(roomlink_server::ServerConfig {
        admin_secret: String::new(),
        ..config(2000)
    })
    .await
    .err()
    .expect("start refuses an empty admin secret");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("admin_secret"), "{err}");
}

#[tokio::test]
async fn admin_lists_rooms_with_users_and_streams() {
    let s = server(2000).await;
    let l = login_publishing("b", "r1", "b1", "e");
    let (_b, _) = Client::join(&s.ws_url(), l).await;
    let (_a, _) = Client::join(&s.ws_url(), login("a", "r1")).await;
    let (status, body) = request(
        s.local_addr(),
        "GET",
        "/admin/rooms/r1",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["room_id"], "r1");
    assert_eq!(v["room_session_id"].as_str().unwrap().len(), 32);
    assert_eq!(v["users"][0]["user_id"], "a");
    assert_eq!(v["users"][1]["user_id"], "b");
    assert_eq!(v["streams"][0]["stream_id"], "b1");
    assert_eq!(v["streams"][0]["user"]["user_id"], "b");
    let (status, _) = request(
        s.local_addr(),
        "GET",
        "/admin/rooms/nope",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
    s.shutdown().await;
}

#[tokio::test]
async fn admin_kick_sends_kicked_with_reason_and_peers_see_the_user_leave() {
    let s = server(2000).await;
    let url = s.ws_url();
    let l = login_publishing("a", "r1", "a1", "");
    let (mut a, _) = Client::join(&url, l).await;
    let (mut peer, _) = Client::join(&url, login("p", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let addr = s.local_addr();

    for bad in ["{", r#"{"reason":"x"}"#, "[1]"] {
        let (status, body) = request(
            addr,
            "POST",
            "/admin/rooms/r1/kick",
            Some("dev-admin"),
            Some(bad),
        )
        .await
        .unwrap();
        assert_eq!(status, 400, "{bad}");
        assert!(body.contains("bad JSON body"), "{body}");
    }
    let (status, _) = request(
        addr,
        "POST",
        "/admin/rooms/r1/kick",
        Some("dev-admin"),
        Some(r#"{"user_id":"zed"}"#),
    )
    .await
    .unwrap();
    assert_eq!(status, 404);

    let body = r#"{"user_id":"a","reason":"rule 3"}"#;
    let (status, _) = request(
        addr,
        "POST",
        "/admin/rooms/r1/kick",
        Some("dev-admin"),
        Some(body),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        a.recv().await,
        ServerFrame::Kicked {
            room_id: "r1".into(),
            code: ErrorCode::KICKED_BY_SERVER,
            reason: "rule 3".into()
        }
    );
    let (_, ev) = event(peer.recv().await);
    assert!(
        matches!(
            ev,
            RoomEvent::StreamDelete {
                reason: StreamDeleteReason::UserKicked,
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
    s.shutdown().await;
}

#[tokio::test]
async fn admin_close_kicks_everyone_with_room_closed_and_removes_the_room() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (mut a, ja) = Client::join(&url, login("a", "r1")).await;
    let (mut b, _) = Client::join(&url, login("b", "r1")).await;
    assert!(matches!(event(a.recv().await).1, RoomEvent::UserAdd { .. }));
    let addr = s.local_addr();
    let (status, _) = request(
        addr,
        "POST",
        "/admin/rooms/r1/close",
        Some("dev-admin"),
        Some(r#"{"reason":"done"}"#),
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    for c in [&mut a, &mut b] {
        assert_eq!(
            c.recv().await,
            ServerFrame::Kicked {
                room_id: "r1".into(),
                code: ErrorCode::ROOM_CLOSED,
                reason: "done".into()
            }
        );
    }
    let (status, _) = request(addr, "GET", "/admin/rooms/r1", Some("dev-admin"), None)
        .await
        .unwrap();
    assert_eq!(status, 404);
    let (status, _) = request(
        addr,
        "POST",
        "/admin/rooms/r1/close",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 404);
    // A new login creates a new incarnation of the room.
    let (_c, jc) = Client::join(&url, login("c", "r1")).await;
    let rsid = |f: &ServerFrame| match f {
        ServerFrame::Joined {
            room_session_id, ..
        } => room_session_id.clone(),
        _ => unreachable!(),
    };
    assert_ne!(rsid(&ja), rsid(&jc));
    s.shutdown().await;
}
