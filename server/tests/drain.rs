//! Graceful drain: every WebSocket connection gets `bye{1900008}` and a close 1012, its sessions
//! are detached (not removed), the port is closed, `/healthz` says 503 to a request already
//! accepted, and the drain returns when the connections are gone or at its deadline.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;
use roomlink_server::memory::MemoryRegistry;
use roomlink_server::{RoomRegistry, ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

async fn start(heartbeat_ms: u64) -> (ServerHandle, Arc<MemoryRegistry>) {
    let config = config(heartbeat_ms);
    let registry = Arc::new(MemoryRegistry::new(config.clone()));
    let server = roomlink_server::start_with_registry(config, registry.clone())
        .await
        .unwrap();
    (server, registry)
}

/// A raw WebSocket that logged `user` in to `room` with the hello and read its `joined`.
async fn joined(url: &str, user: &str, room: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(request(url, vec![login(user, room)]))
        .await
        .unwrap();
    let first = next_frame(&mut ws).await;
    assert!(
        matches!(first, Some(ServerFrame::Joined { .. })),
        "{first:?}"
    );
    ws
}

async fn next_frame(ws: &mut Ws) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Text(t))) => {
                return Some(ServerFrame::decode(t.as_str(), 1 << 20).unwrap());
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            _ => return None,
        }
    }
}

/// Reads to the close: the frames before it and the close code. Keeps reading after the close
/// frame so the client library sends its answer and the close handshake completes.
async fn until_close(ws: &mut Ws) -> (Vec<ServerFrame>, Option<CloseCode>) {
    let mut frames = Vec::new();
    let mut code = None;
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Text(t))) => {
                frames.push(ServerFrame::decode(t.as_str(), 1 << 20).unwrap())
            }
            Some(Ok(Message::Close(c))) => code = c.map(|c| c.code),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (frames, code),
        }
    }
}

async fn rooms(registry: &Arc<MemoryRegistry>) -> Vec<roomlink_server::RoomInfo> {
    registry
        .rooms()
        .await
        .expect("the in-memory store always answers")
}

fn is_drain_bye(f: &ServerFrame) -> bool {
    matches!(f, ServerFrame::Bye { code, .. } if *code == ErrorCode::SERVER_DRAINING)
}

#[tokio::test]
async fn every_connection_gets_the_drain_bye_and_a_1012_close_and_its_sessions_stay_detached() {
    let (mut server, registry) = start(60_000).await;
    let url = server.ws_url();
    let addr = server.local_addr();
    let mut a = joined(&url, "a", "r").await;
    let mut b = joined(&url, "b", "r").await;
    // a sees b join.
    assert!(matches!(
        next_frame(&mut a).await,
        Some(ServerFrame::Event { .. })
    ));

    let deadline = Instant::now() + Duration::from_secs(30);
    let readers = tokio::spawn(async move {
        let ra = until_close(&mut a).await;
        let rb = until_close(&mut b).await;
        (ra, rb)
    });
    server.drain(deadline).await;
    assert!(
        Instant::now() < deadline,
        "returns once the connections are gone, not at the deadline"
    );
    let ((fa, ca), (fb, cb)) = readers.await.unwrap();
    for (frames, code) in [(fa, ca), (fb, cb)] {
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert!(is_drain_bye(&frames[0]), "{frames:?}");
        assert_eq!(code, Some(CloseCode::Restart), "close 1012 service restart");
    }
    assert_eq!(server.edge_stats().connections, 0);
    // Detached, not removed: both users are still members (until their heartbeat timeout), so a
    // resume on another node finds them and peers saw nothing.
    let rooms = rooms(&registry).await;
    assert_eq!(rooms.len(), 1);
    let users: Vec<_> = rooms[0].users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(users, ["a", "b"]);
    // The port is closed.
    let err = TcpStream::connect(addr).await.expect_err("not accepting");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    server.shutdown().await;
}

#[tokio::test]
async fn detached_sessions_of_a_drained_node_expire_at_the_heartbeat_timeout() {
    let (mut server, registry) = start(300).await;
    let url = server.ws_url();
    let mut a = joined(&url, "a", "r").await;
    let reader = tokio::spawn(async move { until_close(&mut a).await });
    server.drain(Instant::now() + Duration::from_secs(10)).await;
    reader.await.unwrap();
    assert_eq!(rooms(&registry).await.len(), 1, "kept at first");
    // Detached sessions expire at last heard + heartbeat timeout, as for any closed connection.
    let start = Instant::now();
    while !rooms(&registry).await.is_empty() {
        assert!(start.elapsed() < WAIT, "the detached session never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_deadline_cuts_off_a_client_that_never_answers_the_close() {
    let (mut server, _registry) = start(60_000).await;
    let url = server.ws_url();
    // Never polled again: it neither reads the bye nor answers the close.
    let _mute = joined(&url, "mute", "r").await;
    let mut polite = joined(&url, "polite", "r").await;
    let reader = tokio::spawn(async move { until_close(&mut polite).await });
    let grace = Duration::from_millis(400);
    let began = Instant::now();
    server.drain(began + grace).await;
    let took = began.elapsed();
    assert!(
        took >= grace,
        "returned before the deadline with a connection open: {took:?}"
    );
    assert!(
        took < grace + Duration::from_secs(2),
        "the deadline was not honoured: {took:?}"
    );
    let (frames, code) = reader.await.unwrap();
    assert!(frames.iter().any(is_drain_bye), "{frames:?}");
    assert_eq!(code, Some(CloseCode::Restart));
    // The mute client's socket was dropped at the deadline.
    let start = Instant::now();
    while server.edge_stats().connections > 0 {
        assert!(start.elapsed() < WAIT, "the mute connection is still held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn admin_drain_answers_202_and_starts_the_drain() {
    let (mut server, _registry) = start(60_000).await;
    let url = server.ws_url();
    let mut a = joined(&url, "a", "r").await;
    let (status, body) = roomlink_server::admin::request(
        server.local_addr(),
        "POST",
        "/admin/drain",
        Some("dev-admin"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"draining\":true"), "{body}");
    let (frames, code) = until_close(&mut a).await;
    assert!(frames.iter().any(is_drain_bye), "{frames:?}");
    assert_eq!(code, Some(CloseCode::Restart));
    let deadline = tokio::time::timeout(WAIT, server.drain_started())
        .await
        .expect("the drain is seen as started")
        .expect("a deadline");
    assert!(
        deadline > Instant::now(),
        "the config's drain_timeout is ahead"
    );
    server.drain(deadline).await;
    assert_eq!(server.edge_stats().connections, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn admin_drain_needs_the_bearer() {
    let (server, _registry) = start(60_000).await;
    let (status, _) =
        roomlink_server::admin::request(server.local_addr(), "POST", "/admin/drain", None, None)
            .await
            .unwrap();
    assert_eq!(status, 401);
    // Still serving.
    let mut c = Client::connect(&server.ws_url(), vec![login("a", "r")], false).await;
    assert!(matches!(c.recv().await, ServerFrame::Joined { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_answers_503_draining_to_a_request_accepted_before_the_drain() {
    let (mut server, _registry) = start(60_000).await;
    let addr = server.local_addr();
    let mut a = joined(&server.ws_url(), "a", "r").await;
    // The request's first bytes are in (so the kernel hands it to the server), not the rest.
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let start = Instant::now();
    while server.edge_stats().pending == 0 {
        assert!(start.elapsed() < WAIT, "the request was never accepted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let client = async {
        until_close(&mut a).await;
        t.write_all(format!("Host: {addr}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        t.read_to_string(&mut answer).await.unwrap();
        answer
    };
    let (answer, ()) = tokio::join!(client, server.drain(deadline));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.ends_with("draining"), "{answer}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_upgrade_completed_after_the_drain_began_gets_the_bye_and_its_logins_are_not_taken() {
    let (mut server, registry) = start(60_000).await;
    let addr = server.local_addr();
    let hello = roomlink_proto::protocol::Hello {
        logins: vec![login("late", "r")],
    }
    .to_header();
    // All of the upgrade request but its final CRLF, so it is accepted and still pending.
    let mut t = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /v1/ws HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         roomlink-version: 1\r\nroomlink-hello: {hello}\r\n"
    );
    t.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    while server.edge_stats().pending == 0 {
        assert!(start.elapsed() < WAIT, "the request was never accepted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let client = async {
        // Once the port refuses connections, the drain has begun.
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        t.write_all(b"\r\n").await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(t.read(&mut byte).await.unwrap(), 1, "upgrade answered");
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            tokio_tungstenite::MaybeTlsStream::Plain(t),
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await;
        until_close(&mut ws).await
    };
    let ((frames, code), ()) = tokio::join!(
        client,
        server.drain(Instant::now() + Duration::from_secs(5))
    );
    assert_eq!(
        frames.len(),
        1,
        "the bye and nothing else (no joined): {frames:?}"
    );
    assert!(is_drain_bye(&frames[0]));
    assert_eq!(code, Some(CloseCode::Restart));
    assert!(rooms(&registry).await.is_empty(), "its login was not taken");
    server.shutdown().await;
}

#[test]
fn drain_timeout_is_validated() {
    let bad = ServerConfig {
        drain_timeout: Duration::from_secs(2 * 24 * 3600),
        ..ServerConfig::default()
    };
    assert!(bad.validate().unwrap_err().contains("drain_timeout"));
    assert!(ServerConfig::default().validate().is_ok());
}

/// On a cluster the drained node's sessions are detached in the shared store: the client resumes
/// on another node, is replayed what it missed while moving, and the peers see nothing.
#[tokio::test]
async fn a_session_drained_from_one_node_resumes_on_another_with_its_replay() {
    let redis = roomlink_testredis::Redis::start();
    let on_redis = || {
        let mut c = config(60_000);
        c.redis = Some(roomlink_server::StoreUrl(redis.url()));
        c
    };
    let mut node_a = roomlink_server::start(on_redis()).await.unwrap();
    let node_b = roomlink_server::start(on_redis()).await.unwrap();
    let (mut alice, joined) = Client::join(&node_a.ws_url(), login("alice", "r")).await;
    let alice_session = session_id(&joined);
    let (mut bob, _) = Client::join(&node_b.ws_url(), login("bob", "r")).await;
    let (seq, _) = event(alice.recv().await); // bob's user_add
    node_a.drain(Instant::now() + Duration::from_secs(5)).await;
    let frames = alice.closed().await;
    assert!(frames.iter().any(is_drain_bye), "{frames:?}");
    // While alice moves, bob publishes.
    bob.send(roomlink_proto::protocol::ClientFrame::PublishStream {
        room_id: "r".into(),
        stream_id: "bob-cam".into(),
        extra_info: String::new(),
    });
    let mut alice = Client::connect(
        &node_b.ws_url(),
        vec![resume(login("alice", "r"), &alice_session, seq)],
        true,
    )
    .await;
    match alice.recv().await {
        ServerFrame::Resumed {
            session_id, events, ..
        } => {
            assert_eq!(session_id, alice_session, "the same session, continued");
            assert_eq!(events.len(), 1, "bob's stream_add replayed: {events:?}");
            assert!(matches!(
                events[0].event,
                roomlink_proto::protocol::RoomEvent::StreamAdd { .. }
            ));
        }
        other => panic!("expected Resumed, got {other:?}"),
    }
    bob.expect_silence(300).await;
    node_b.shutdown().await;
    node_a.shutdown().await;
}
