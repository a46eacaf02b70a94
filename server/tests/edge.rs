//! The edge against a real server over loopback: the request deadline (slowloris, a one-byte
//! connection), the connection caps at their boundaries, and the login deadline.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use roomlink_proto::protocol::{ClientFrame, ServerFrame};
use roomlink_server::admin::request;
use roomlink_server::{ConnectionLimits, EdgeStats, ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Enough of an upgrade request that the server is waiting for the rest of its headers.
const PARTIAL_REQUEST: &[u8] = b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n";

async fn start(cfg: ServerConfig) -> ServerHandle {
    roomlink_server::start(cfg).await.expect("server starts")
}

fn limits(max_connections: usize, max_pending: usize, max_per_ip: usize) -> ConnectionLimits {
    ConnectionLimits {
        max_connections: Some(max_connections),
        max_pending: Some(max_pending),
        max_per_ip: Some(max_per_ip),
    }
}

/// Waits until the server's edge counters satisfy `cond` (they change as the server notices a
/// connection open or end, asynchronously to the test).
async fn until(s: &ServerHandle, what: &str, cond: impl Fn(&EdgeStats) -> bool) -> EdgeStats {
    let give_up = Instant::now() + WAIT;
    loop {
        let st = s.edge_stats();
        if cond(&st) {
            return st;
        }
        assert!(
            Instant::now() < give_up,
            "{what}: still {st:?} after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A connection that sent `PARTIAL_REQUEST` and holds still.
async fn held(addr: SocketAddr) -> TcpStream {
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(PARTIAL_REQUEST).await.unwrap();
    t
}

/// Reads until the server closes; panics if it does not within `WAIT`.
async fn read_to_close(t: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(WAIT, t.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("connection still open after {WAIT:?}"),
        }
    }
}

async fn healthz(addr: SocketAddr) -> u16 {
    request(addr, "GET", "/healthz", None, None)
        .await
        .unwrap()
        .0
}

/// Connects and sends one more connection's worth of request; asserts it is refused with 503.
async fn assert_refused(addr: SocketAddr) {
    let mut t = TcpStream::connect(addr).await.unwrap();
    // The request may or may not get out before the refusal closes the socket.
    let _ = t.write_all(PARTIAL_REQUEST).await;
    let answer = String::from_utf8(read_to_close(&mut t).await).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503 "),
        "expected a 503 refusal, got {answer:?}"
    );
    assert!(
        answer.ends_with("{\"error\":\"too many connections\"}"),
        "{answer:?}"
    );
}

/// Trickles an upgrade request one byte per 100 ms until the server closes the connection;
/// returns how many bytes got out and how long the connection lived.
async fn slowloris(addr: SocketAddr) -> (usize, Duration) {
    let mut request = PARTIAL_REQUEST.to_vec();
    // ~60 s worth of header at this pace: the deadline must end it long before it completes.
    request.extend_from_slice(format!("X-Pad: {}\r\n\r\n", "a".repeat(600)).as_bytes());
    let began = Instant::now();
    let mut t = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = t.split();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut sent = 0;
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => {
                assert!(!matches!(r, Ok(n) if n > 0), "the server answered a half request");
                return (sent, began.elapsed());
            }
            _ = tick.tick() => {
                assert!(sent < request.len(), "the whole slow request got through");
                if wr.write_all(&request[sent..sent + 1]).await.is_err() {
                    return (sent, began.elapsed());
                }
                sent += 1;
            }
        }
    }
}

#[tokio::test]
async fn slowloris_and_a_one_byte_connection_are_closed_at_the_deadline() {
    let deadline = Duration::from_millis(400);
    let s = start(ServerConfig {
        request_timeout: deadline,
        ..config(5000)
    })
    .await;
    let addr = s.local_addr();
    let attack = tokio::spawn(slowloris(addr));
    let began = Instant::now();
    let mut one_byte = TcpStream::connect(addr).await.unwrap();
    one_byte.write_all(b"G").await.unwrap();
    // Meanwhile a real user logs in and the health check answers.
    let (mut alice, _) = Client::join(&s.ws_url(), login("alice", "r1")).await;
    assert_eq!(healthz(addr).await, 200);

    assert!(read_to_close(&mut one_byte).await.is_empty());
    assert!(began.elapsed() >= deadline, "closed before its deadline");
    let (sent, lived) = attack.await.unwrap();
    assert!(lived >= deadline, "slowloris closed after {lived:?}");
    assert!(sent > 0, "the slowloris got no byte out");
    let st = until(&s, "both attackers closed", |st| st.pending == 0).await;
    assert_eq!(st.request_timeouts, 2, "{st:?}");
    // The user who logged in meanwhile is unaffected.
    alice.send(ClientFrame::Ping);
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    s.shutdown().await;
}

#[tokio::test]
async fn held_requests_do_not_hold_up_logins_healthz_or_the_admin_api() {
    // A deadline far beyond the test, so the attackers are certainly still held throughout.
    let s = start(ServerConfig {
        request_timeout: Duration::from_secs(60),
        ..config(5000)
    })
    .await;
    let addr = s.local_addr();
    let mut attackers = Vec::new();
    for _ in 0..20 {
        attackers.push(held(addr).await);
        let mut one = TcpStream::connect(addr).await.unwrap();
        one.write_all(b"G").await.unwrap();
        attackers.push(one);
    }
    until(&s, "attackers accepted", |st| st.pending == 40).await;
    let (_alice, _) = Client::join(&s.ws_url(), login("alice", "r1")).await;
    assert_eq!(healthz(addr).await, 200);
    let (status, _) = request(addr, "GET", "/admin/rooms", Some("dev-admin"), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(s.edge_stats().pending, 40, "the attackers are still held");
    s.shutdown().await;
}

#[tokio::test]
async fn per_ip_cap_admits_n_refuses_one_more_and_frees_a_slot_when_one_ends() {
    let s = start(ServerConfig {
        request_timeout: Duration::from_secs(60),
        limits: limits(10, 10, 3),
        ..config(5000)
    })
    .await;
    let addr = s.local_addr();
    let mut conns = Vec::new();
    for n in 1..=3 {
        conns.push(held(addr).await);
        until(&s, "held connection accepted", |st| st.connections == n).await;
    }
    assert_refused(addr).await;
    assert_eq!(s.edge_stats().refused_per_ip, 1);
    drop(conns.pop());
    until(&s, "slot freed", |st| st.connections == 2).await;
    assert_eq!(healthz(addr).await, 200);
    let st = s.edge_stats();
    assert_eq!(
        (
            st.refused_per_ip,
            st.refused_connections,
            st.refused_pending
        ),
        (1, 0, 0)
    );
    s.shutdown().await;
}

#[tokio::test]
async fn connection_cap_counts_websockets_and_frees_a_slot_when_one_ends() {
    let s = start(ServerConfig {
        limits: limits(2, 2, 2),
        ..config(5000)
    })
    .await;
    let addr = s.local_addr();
    let (alice, _) = Client::join(&s.ws_url(), login("alice", "r1")).await;
    let (_bob, _) = Client::join(&s.ws_url(), login("bob", "r1")).await;
    let st = until(&s, "upgraded", |st| st.connections == 2 && st.pending == 0).await;
    assert_eq!(st.refused_connections, 0);
    assert_refused(addr).await;
    assert_eq!(s.edge_stats().refused_connections, 1);
    alice.drop_link();
    until(&s, "slot freed", |st| st.connections == 1).await;
    let (mut carol, _) = Client::join(&s.ws_url(), login("carol", "r1")).await;
    carol.send(ClientFrame::Ping);
    assert_eq!(carol.recv().await, ServerFrame::Pong);
    s.shutdown().await;
}

#[tokio::test]
async fn pending_cap_admits_n_refuses_one_more_and_frees_a_slot_when_a_request_completes() {
    let s = start(ServerConfig {
        request_timeout: Duration::from_secs(60),
        limits: limits(10, 2, 10),
        ..config(5000)
    })
    .await;
    let addr = s.local_addr();
    // An upgraded connection is past its request: it does not count as pending.
    let (_alice, _) = Client::join(&s.ws_url(), login("alice", "r1")).await;
    let mut first = held(addr).await;
    until(&s, "first held", |st| st.pending == 1).await;
    let _second = held(addr).await;
    until(&s, "second held", |st| st.pending == 2).await;
    assert_refused(addr).await;
    assert_eq!(s.edge_stats().refused_pending, 1);
    // The first request completes (a plain GET of the WebSocket path without upgrade headers).
    first.write_all(b"\r\n").await.unwrap();
    let answer = String::from_utf8(read_to_close(&mut first).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 "), "{answer:?}");
    until(&s, "slot freed", |st| st.pending == 1).await;
    assert_eq!(healthz(addr).await, 200);
    s.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_never_gets_a_session_is_closed_after_the_login_timeout() {
    let login_timeout = Duration::from_millis(300);
    let s = start(ServerConfig {
        login_timeout,
        ..config(5000)
    })
    .await;
    let url = s.ws_url();
    let began = Instant::now();
    let (mut alice, _) = Client::join(&url, login("alice", "r1")).await;
    // Keeps the link alive with WebSocket pings: that is not a session and must not help.
    let mut idle = Client::connect(&url, vec![], true).await;
    let mut bad = login("bob", "r1");
    bad.token = token("mallory", "r1");
    let mut refused = Client::connect(&url, vec![bad], true).await;

    assert_eq!(idle.closed().await, vec![]);
    let frames = refused.closed().await;
    assert!(
        matches!(frames.as_slice(), [ServerFrame::LoginFailed { .. }]),
        "{frames:?}"
    );
    assert!(began.elapsed() >= login_timeout);
    let st = until(&s, "closed", |st| st.connections == 1).await;
    assert_eq!(st.sessionless_closed, 2, "{st:?}");
    // The connection that holds a session is past the login deadline and still served.
    alice.send(ClientFrame::Ping);
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    s.shutdown().await;
}
