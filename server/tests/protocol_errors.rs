//! Bad input from one client: refused upgrades, malformed and oversized frames.

mod common;

use common::*;
use roomlink_proto::protocol::{ClientFrame, ServerFrame};
use roomlink_proto::{ErrorCode, User};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue};

async fn upgrade_status(req: tungstenite::handshake::client::Request) -> (u16, String) {
    match tokio_tungstenite::connect_async(req).await {
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).to_string())
                .unwrap_or_default();
            (resp.status().as_u16(), body)
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("upgrade unexpectedly succeeded"),
    }
}

#[tokio::test]
async fn upgrade_without_version_header_is_400() {
    let s = server(2000).await;
    let req = s.ws_url().into_client_request().unwrap();
    let (status, body) = upgrade_status(req).await;
    assert_eq!(status, 400);
    assert!(body.contains("roomlink-version"), "{body}");

    let mut req = s.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("roomlink-version", HeaderValue::from_static("2"));
    assert_eq!(upgrade_status(req).await.0, 400);
    s.shutdown().await;
}

#[tokio::test]
async fn upgrade_with_malformed_hello_is_400() {
    let s = server(2000).await;
    let mut req = request(&s.ws_url(), vec![]);
    req.headers_mut()
        .insert("roomlink-hello", HeaderValue::from_static("!!not-base64!!"));
    let (status, body) = upgrade_status(req).await;
    assert_eq!(status, 400);
    assert!(body.contains("roomlink-hello"), "{body}");
    s.shutdown().await;
}

#[tokio::test]
async fn malformed_frame_gets_bye_and_closes_only_that_connection() {
    let s = server(2000).await;
    let url = s.ws_url();
    let (mut bad, _) = Client::join(&url, login("a", "r1")).await;
    let (mut good, _) = Client::join(&url, login("b", "r1")).await;
    assert!(matches!(
        event(bad.recv().await).1,
        roomlink_proto::protocol::RoomEvent::UserAdd { .. }
    ));
    bad.send_raw(Message::text("{not json"));
    let frames = bad.closed().await;
    assert!(
        matches!(
            frames.as_slice(),
            [ServerFrame::Bye {
                code: ErrorCode::PROTOCOL_ERROR,
                ..
            }]
        ),
        "{frames:?}"
    );
    // The other client is unaffected and sees no leave (the bad one's session is only detached).
    good.send(ClientFrame::Ping);
    assert_eq!(good.recv().await, ServerFrame::Pong);
    let (_c, _) = Client::join(&url, login("c", "r1")).await;
    assert_eq!(
        event(good.recv().await).1,
        roomlink_proto::protocol::RoomEvent::UserAdd {
            users: vec![User::new("c", "name-c")]
        }
    );
    s.shutdown().await;
}

#[tokio::test]
async fn oversized_and_binary_frames_get_bye() {
    let cfg = roomlink_server::ServerConfig {
        max_frame_bytes: 1024,
        ..config(2000)
    };
    let s = roomlink_server::start(cfg).await.unwrap();
    let url = s.ws_url();
    let (a, _) = Client::join(&url, login("a", "r1")).await;
    let big = format!(r#"{{"t":"ping","pad":"{}"}}"#, "x".repeat(2000));
    a.send_raw(Message::text(big));
    let mut a = a;
    let frames = a.closed().await;
    assert!(
        matches!(
            frames.as_slice(),
            [ServerFrame::Bye {
                code: ErrorCode::PROTOCOL_ERROR,
                ..
            }]
        ),
        "{frames:?}"
    );

    let mut b = Client::connect(&url, vec![], true).await;
    b.send_raw(Message::binary(vec![1u8, 2, 3]));
    let frames = b.closed().await;
    assert!(
        matches!(
            frames.as_slice(),
            [ServerFrame::Bye {
                code: ErrorCode::PROTOCOL_ERROR,
                ..
            }]
        ),
        "{frames:?}"
    );

    // Far above even the transport limit: still a clean close.
    let mut c = Client::connect(&url, vec![], true).await;
    c.send_raw(Message::text("x".repeat(100_000)));
    c.closed().await;
    s.shutdown().await;
}

#[tokio::test]
async fn unknown_frames_are_ignored() {
    let s = server(2000).await;
    let (mut a, _) = Client::join(&s.ws_url(), login("a", "r1")).await;
    a.send_raw(Message::text(r#"{"t":"teleport","to":"mars"}"#));
    a.send(ClientFrame::Ping);
    assert_eq!(a.recv().await, ServerFrame::Pong);
    s.shutdown().await;
}
