//! The engine over the real WebSocket transport, against a tiny scripted server.
#![allow(clippy::result_large_err)]

mod engine_support;

use std::sync::mpsc;

use engine_support::*;
use futures_util::{SinkExt, StreamExt};
use roomlink::protocol::{ClientFrame, HELLO_HEADER, Hello, WS_PATH};
use roomlink::{
    ConnectionState, Engine, EngineConfig, ErrorCode, RoomConfig, RoomStateChangedReason as R, User,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// Serves one connection: answers the hello's logins with Joined, then reports every client frame.
fn spawn_server() -> (
    String,
    mpsc::Receiver<ClientFrame>,
    std::thread::JoinHandle<()>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("ws://{}{}", listener.local_addr().unwrap(), WS_PATH);
    let (tx, rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        rt.block_on(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut hello = None;
            let mut ws =
                tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
                    let header = req
                        .headers()
                        .get(HELLO_HEADER)
                        .and_then(|v| v.to_str().ok());
                    hello = header.and_then(|h| Hello::from_header(h, 8192).ok());
                    Ok(resp)
                })
                .await
                .unwrap();
            for login in hello.expect("hello header").logins {
                ws.send(Message::text(joined(&login.room_id).encode()))
                    .await
                    .unwrap();
            }
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(text) = msg {
                    let _ = tx.send(ClientFrame::decode(text.as_str(), 1 << 20).unwrap());
                }
            }
        })
    });
    (url, rx, server)
}

#[test]
fn engine_logs_in_and_out_over_websocket() {
    let (url, frames, server) = spawn_server();
    let (handler, rx) = collector();
    let engine = Engine::new(EngineConfig::new(url), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Logining, ErrorCode::OK)
    );
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    assert_eq!(engine.room_state("room1"), ConnectionState::Connected);
    engine.logout_room("room1").unwrap();
    assert_eq!(next_state(&rx), ("room1".into(), R::Logout, ErrorCode::OK));
    assert_eq!(
        frames.recv_timeout(LIMIT).unwrap(),
        ClientFrame::Logout {
            room_id: "room1".into(),
            session_id: None,
            token: None,
        }
    );
    // The last room gone, the engine closes the WebSocket and the server's loop ends.
    server.join().unwrap();
    drop(engine);
}

#[test]
fn http_404_on_upgrade_fails_the_login_with_connect_failed() {
    // A plain HTTP server answering 404: not a roomlink server, so the login fails at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/wrong/path", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut tcp, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf);
        let _ = tcp.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    });
    let (handler, rx) = collector();
    let engine = Engine::new(EngineConfig::new(url), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(next_state(&rx).1, R::Logining);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::LoginFailed, ErrorCode::CONNECT_FAILED)
    );
    server.join().unwrap();
    drop(engine);
}
