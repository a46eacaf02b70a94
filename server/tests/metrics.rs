//! `GET /metrics` over real sockets: behind the admin bearer, and every counter moves by exactly
//! what happened (logins good and bad, a resume, a kick, an expiry, a refused room event, an
//! undecodable frame). Also on a two-node cluster, where every node applies every entry of the
//! room: the nodes' sums are the cluster's totals, each event counted on one node. And the series
//! only the connection driver counts, each driven for real: an outbound queue that overflows
//! behind a peer that does not read, and the edge's refusals by kind.

mod common;

use std::collections::BTreeMap;

use common::*;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_server::{ConnectionLimits, Rate, RateLimits, ServerConfig, ServerHandle, StoreUrl};
use roomlink_testredis::Redis;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "metrics-room";

/// A short heartbeat (an expiry within a second) and a member budget of two room events (a
/// login and one publish), refilled at one per second.
fn cfg() -> ServerConfig {
    ServerConfig {
        rates: RateLimits {
            member_events: Rate {
                per_sec: 1,
                burst: 2,
            },
            ..RateLimits::default()
        },
        ..config(1_000)
    }
}

/// Every sample of the exposition: `name{labels}` → value.
async fn scrape(s: &ServerHandle) -> BTreeMap<String, f64> {
    let (status, body) =
        roomlink_server::admin::request(s.local_addr(), "GET", "/metrics", Some("dev-admin"), None)
            .await
            .expect("scrape");
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("# EOF\n"), "OpenMetrics text: {body}");
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no sample {key} in {m:#?}"))
}

/// Reads `c`'s frames until one satisfies `want`.
async fn until(c: &mut Client, want: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
    loop {
        let f = c.recv().await;
        if want(&f) {
            return f;
        }
    }
}

fn user_deleted(id: &'static str) -> impl Fn(&ServerFrame) -> bool {
    move |f| {
        matches!(f, ServerFrame::Event { event, .. }
            if matches!(&event.event, RoomEvent::UserDelete { users } if users.iter().any(|u| u.user_id == id)))
    }
}

async fn kick(s: &ServerHandle, user: &str) {
    let body = format!(r#"{{"user_id":"{user}","reason":"test"}}"#);
    let (status, text) = roomlink_server::admin::request(
        s.local_addr(),
        "POST",
        &format!("/admin/rooms/{ROOM}/kick"),
        Some("dev-admin"),
        Some(&body),
    )
    .await
    .expect("kick");
    assert_eq!(status, 200, "{text}");
}

fn bad_login(user: &str) -> roomlink_proto::protocol::Login {
    let mut l = login(user, ROOM);
    l.token = token(user, "another-room");
    l
}

#[tokio::test]
async fn a_scrape_without_the_admin_bearer_is_refused() {
    let s = roomlink_server::start(cfg()).await.unwrap();
    for bearer in [None, Some("wrong")] {
        let (status, body) =
            roomlink_server::admin::request(s.local_addr(), "GET", "/metrics", bearer, None)
                .await
                .unwrap();
        assert_eq!(status, 401, "{bearer:?}: {body}");
        assert!(!body.contains("roomlink_"), "{body}");
    }
    s.shutdown().await;
}

#[tokio::test]
async fn every_counter_moves_by_exactly_what_happened() {
    let s = roomlink_server::start(cfg()).await.unwrap();
    let url = s.ws_url();
    let before = scrape(&s).await;
    assert_eq!(get(&before, r#"roomlink_logins_total{outcome="ok"}"#), 0.0);
    assert_eq!(get(&before, "roomlink_sessions"), 0.0);

    // Two good logins and a bad one.
    let (mut alice, _) = Client::join(&url, login("alice", ROOM)).await;
    let (bob, joined) = Client::join(&url, login("bob", ROOM)).await;
    let mut mallory = Client::connect(&url, vec![bad_login("mallory")], true).await;
    assert!(matches!(
        mallory.recv().await,
        ServerFrame::LoginFailed {
            code: ErrorCode::AUTH_FAILED,
            ..
        }
    ));
    // A resume with replay: bob's link drops, he comes back on a new one.
    let sid = session_id(&joined);
    bob.drop_link();
    let mut bob = Client::connect(&url, vec![resume(login("bob", ROOM), &sid, 0)], true).await;
    assert!(matches!(
        bob.recv().await,
        ServerFrame::Resumed { snapshot: None, .. }
    ));
    // A kick.
    kick(&s, "bob").await;
    until(&mut alice, user_deleted("bob")).await;
    // An expiry: carol's link drops and the heartbeat timeout passes.
    let (carol, _) = Client::join(&url, login("carol", ROOM)).await;
    carol.drop_link();
    until(&mut alice, user_deleted("carol")).await;
    // A room event over the member's budget: the login and one publish fit, the next does not.
    let (mut dave, _) = Client::join(&url, login("dave", ROOM)).await;
    for id in ["d1", "d2"] {
        dave.send(ClientFrame::PublishStream {
            room_id: ROOM.into(),
            stream_id: id.into(),
            extra_info: String::new(),
        });
    }
    dave.expect_error(ErrorCode::RATE_LIMITED).await;
    // An undecodable frame.
    let mut garbled = Client::connect(&url, vec![], true).await;
    garbled.send_raw(Message::text("{not json"));
    let bye = garbled.closed().await;
    assert!(
        matches!(bye.last(), Some(ServerFrame::Bye { .. })),
        "{bye:?}"
    );

    let m = scrape(&s).await;
    let moved = |key: &str| get(&m, key) - before.get(key).copied().unwrap_or(0.0);
    // alice, bob, bob's resume, carol, dave.
    assert_eq!(moved(r#"roomlink_logins_total{outcome="ok"}"#), 5.0);
    assert_eq!(
        moved(r#"roomlink_logins_total{outcome="refused",code="1002033"}"#),
        1.0
    );
    assert_eq!(moved(r#"roomlink_resumes_total{outcome="replay"}"#), 1.0);
    assert!(!m.contains_key(r#"roomlink_resumes_total{outcome="snapshot"}"#));
    assert_eq!(moved(r#"roomlink_kicks_total{code="1002055"}"#), 1.0);
    assert_eq!(moved("roomlink_expiries_total"), 1.0);
    assert_eq!(
        moved(r#"roomlink_rate_limited_total{kind="member_events"}"#),
        1.0
    );
    assert_eq!(moved(r#"roomlink_rate_limited_total{kind="frames"}"#), 0.0);
    assert_eq!(moved("roomlink_decode_errors_total"), 1.0);
    assert_eq!(moved("roomlink_outbound_queue_overflows_total"), 0.0);
    assert_eq!(moved("roomlink_login_latency_seconds_count"), 6.0);
    assert_eq!(
        moved(r#"roomlink_edge_refusals_total{kind="max_connections"}"#),
        0.0
    );
    // alice and dave are left, in one room.
    assert_eq!(get(&m, "roomlink_sessions"), 2.0);
    assert_eq!(get(&m, "roomlink_rooms"), 1.0);
    assert!(get(&m, "roomlink_connections") >= 2.0);
    s.shutdown().await;
}

async fn node(redis: &Redis) -> ServerHandle {
    let mut c = cfg();
    c.redis = Some(StoreUrl(redis.url()));
    roomlink_server::start(c).await.expect("node starts")
}

/// Catches the node's replica of the room up (an admin read waits for it), then scrapes.
async fn caught_up_scrape(s: &ServerHandle) -> BTreeMap<String, f64> {
    let _ = roomlink_server::admin::request(
        s.local_addr(),
        "GET",
        &format!("/admin/rooms/{ROOM}"),
        Some("dev-admin"),
        None,
    )
    .await
    .expect("admin read");
    scrape(s).await
}

#[tokio::test]
async fn a_clusters_nodes_sum_to_what_happened() {
    let redis = Redis::start();
    let (a, b) = (node(&redis).await, node(&redis).await);
    // alice on A, bob on B; a bad login on B.
    let (mut alice, _) = Client::join(&a.ws_url(), login("alice", ROOM)).await;
    let (bob, joined) = Client::join(&b.ws_url(), login("bob", ROOM)).await;
    until(&mut alice, |f| matches!(f, ServerFrame::Event { .. })).await;
    let mut mallory = Client::connect(&b.ws_url(), vec![bad_login("mallory")], true).await;
    assert!(matches!(
        mallory.recv().await,
        ServerFrame::LoginFailed {
            code: ErrorCode::AUTH_FAILED,
            ..
        }
    ));
    // bob resumes on A.
    let sid = session_id(&joined);
    bob.drop_link();
    let mut bob =
        Client::connect(&a.ws_url(), vec![resume(login("bob", ROOM), &sid, 0)], true).await;
    assert!(matches!(bob.recv().await, ServerFrame::Resumed { .. }));
    // carol on B expires; the admin kick of alice goes through B.
    let (carol, _) = Client::join(&b.ws_url(), login("carol", ROOM)).await;
    carol.drop_link();
    until(&mut bob, user_deleted("carol")).await;
    kick(&b, "alice").await;
    until(&mut bob, user_deleted("alice")).await;

    let (ma, mb) = (caught_up_scrape(&a).await, caught_up_scrape(&b).await);
    let sum = |key: &str| ma.get(key).copied().unwrap_or(0.0) + mb.get(key).copied().unwrap_or(0.0);
    // alice, bob, bob's resume, carol: each once in the cluster, though both nodes applied all.
    assert_eq!(sum(r#"roomlink_logins_total{outcome="ok"}"#), 4.0);
    assert_eq!(
        sum(r#"roomlink_logins_total{outcome="refused",code="1002033"}"#),
        1.0
    );
    assert_eq!(sum(r#"roomlink_resumes_total{outcome="replay"}"#), 1.0);
    assert_eq!(sum(r#"roomlink_kicks_total{code="1002055"}"#), 1.0);
    assert_eq!(sum("roomlink_expiries_total"), 1.0);
    assert_eq!(sum("roomlink_login_latency_seconds_count"), 5.0);
    // Counted where the connection was: the kick under alice's (A), the expiry under carol's (B).
    assert_eq!(get(&ma, r#"roomlink_kicks_total{code="1002055"}"#), 1.0);
    assert_eq!(get(&mb, "roomlink_expiries_total"), 1.0);
    assert_eq!(get(&ma, r#"roomlink_resumes_total{outcome="replay"}"#), 1.0);
    // bob is left, in one room.
    assert_eq!(sum("roomlink_sessions"), 1.0);
    assert_eq!(sum("roomlink_rooms"), 1.0);
    a.shutdown().await;
    b.shutdown().await;
}

const NO_RATE: Rate = Rate {
    per_sec: roomlink_server::MAX_RATE_PER_SEC,
    burst: u32::MAX,
};

/// The flood that fills the queue, per round: this many publish + unpublish pairs in each of
/// two rooms, interleaved so that no two consecutive events to the victim are of one room (they
/// cannot coalesce: every one takes a slot of its queue).
const PAIRS_PER_ROUND: usize = 500;
/// Rounds before giving up: ~45 MB of frames, far more than a loopback socket buffers.
const MAX_ROUNDS: usize = 40;

#[tokio::test]
async fn a_peer_that_does_not_read_overflows_its_queue_once_and_is_counted() {
    // A long heartbeat, so a write blocked on the full socket does not end the link first.
    let s = roomlink_server::start(ServerConfig {
        rates: RateLimits {
            frames: NO_RATE,
            member_events: NO_RATE,
            ..RateLimits::default()
        },
        ..config(60_000)
    })
    .await
    .unwrap();
    let url = s.ws_url();
    let rooms = ["overflow-a", "overflow-b"];
    // The victim joins both rooms and never reads a frame.
    let (_victim, _) = tokio_tungstenite::connect_async(request(
        &url,
        rooms.iter().map(|r| login("victim", r)).collect(),
    ))
    .await
    .expect("upgrade");
    let mut attacker = Client::connect(
        &url,
        rooms.iter().map(|r| login("mallory", r)).collect(),
        true,
    )
    .await;
    for _ in rooms {
        assert!(matches!(attacker.recv().await, ServerFrame::Joined { .. }));
    }
    let before = scrape(&s).await;
    let overflows = |m: &BTreeMap<String, f64>| {
        get(m, "roomlink_outbound_queue_overflows_total")
            - get(&before, "roomlink_outbound_queue_overflows_total")
    };
    let extra = "x".repeat(1024);
    let mut rounds = 0;
    let m = loop {
        assert!(rounds < MAX_ROUNDS, "no overflow after {rounds} rounds");
        rounds += 1;
        for _ in 0..PAIRS_PER_ROUND {
            for publish in [true, false] {
                for room in rooms {
                    let stream_id = format!("{room}-cam");
                    attacker.send(if publish {
                        ClientFrame::PublishStream {
                            room_id: room.into(),
                            stream_id,
                            extra_info: extra.clone(),
                        }
                    } else {
                        ClientFrame::UnpublishStream {
                            room_id: room.into(),
                            stream_id,
                        }
                    });
                }
            }
        }
        // Answered after every frame of the round was handled (and its events queued).
        attacker.send(ClientFrame::Ping);
        until(&mut attacker, |f| *f == ServerFrame::Pong).await;
        let m = scrape(&s).await;
        if overflows(&m) > 0.0 {
            break m;
        }
    };
    assert_eq!(overflows(&m), 1.0, "one connection overflowed, once");
    // The attacker, which reads, is still served.
    attacker.send(ClientFrame::Ping);
    until(&mut attacker, |f| *f == ServerFrame::Pong).await;
    assert_eq!(
        overflows(&scrape(&s).await),
        1.0,
        "nothing else overflowed after {rounds} rounds"
    );
    s.shutdown().await;
}

/// Enough of an upgrade request that the server waits for the rest of its headers.
const PARTIAL_REQUEST: &[u8] = b"GET /v1/ws HTTP/1.1\r\nHost: x\r\n";

/// Reads until the server closes; what it sent.
async fn read_to_close(t: &mut TcpStream) -> String {
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, t.read_to_end(&mut got))
        .await
        .expect("closed by the server")
        .ok();
    String::from_utf8_lossy(&got).into_owned()
}

/// A connection that is refused at accept: answered 503.
async fn refused(s: &ServerHandle) {
    let mut t = TcpStream::connect(s.local_addr()).await.unwrap();
    let _ = t.write_all(PARTIAL_REQUEST).await;
    let answer = read_to_close(&mut t).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
}

/// Waits until the server has noticed connections open or end (asynchronously to the test).
async fn until_edge(s: &ServerHandle, cond: impl Fn(&roomlink_server::EdgeStats) -> bool) {
    let give_up = std::time::Instant::now() + WAIT;
    while !cond(&s.edge_stats()) {
        assert!(std::time::Instant::now() < give_up, "{:?}", s.edge_stats());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Since `before`, each refusal kind in `moved` was counted once and every other kind not at all.
async fn assert_refusals(s: &ServerHandle, before: &BTreeMap<String, f64>, moved: &[&str]) {
    let m = scrape(s).await;
    for kind in KINDS {
        let want = if moved.contains(&kind) { 1.0 } else { 0.0 };
        let key = refusals(kind);
        assert_eq!(get(&m, &key) - get(before, &key), want, "{kind}");
    }
}

fn refusals(kind: &str) -> String {
    format!(r#"roomlink_edge_refusals_total{{kind="{kind}"}}"#)
}

const KINDS: [&str; 5] = [
    "max_connections",
    "max_pending",
    "max_per_ip",
    "request_timeout",
    "sessionless",
];

#[tokio::test]
async fn each_connection_cap_refusal_is_counted_under_its_kind() {
    let s = roomlink_server::start(ServerConfig {
        request_timeout: std::time::Duration::from_secs(60),
        limits: ConnectionLimits {
            max_connections: Some(3),
            max_pending: Some(1),
            max_per_ip: Some(3),
        },
        ..config(5000)
    })
    .await
    .unwrap();
    let url = s.ws_url();
    let before = scrape(&s).await;
    // One request held incomplete: the next connection is over the pending cap (2 of 3 open).
    let (_alice, _) = Client::join(&url, login("alice", ROOM)).await;
    let mut held = TcpStream::connect(s.local_addr()).await.unwrap();
    held.write_all(PARTIAL_REQUEST).await.unwrap();
    until_edge(&s, |st| st.pending == 1).await;
    refused(&s).await;
    held.write_all(b"\r\n").await.unwrap();
    read_to_close(&mut held).await;
    until_edge(&s, |st| st.pending == 0 && st.connections == 1).await;
    // Three WebSockets: the next connection is over the connection cap.
    let (_bob, _) = Client::join(&url, login("bob", ROOM)).await;
    let (carol, _) = Client::join(&url, login("carol", ROOM)).await;
    until_edge(&s, |st| st.connections == 3).await;
    refused(&s).await;
    carol.drop_link();
    until_edge(&s, |st| st.connections == 2).await;

    assert_refusals(&s, &before, &["max_connections", "max_pending"]).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_refusal_over_the_per_address_cap_is_counted_under_its_kind() {
    let s = roomlink_server::start(ServerConfig {
        limits: ConnectionLimits {
            max_per_ip: Some(2),
            ..ConnectionLimits::default()
        },
        ..config(5000)
    })
    .await
    .unwrap();
    let before = scrape(&s).await;
    let (_alice, _) = Client::join(&s.ws_url(), login("alice", ROOM)).await;
    let (bob, _) = Client::join(&s.ws_url(), login("bob", ROOM)).await;
    until_edge(&s, |st| st.connections == 2).await;
    refused(&s).await;
    bob.drop_link();
    until_edge(&s, |st| st.connections == 1).await;

    assert_refusals(&s, &before, &["max_per_ip"]).await;
    s.shutdown().await;
}

#[tokio::test]
async fn a_request_past_its_deadline_and_a_sessionless_websocket_are_counted_under_their_kinds() {
    let deadline = std::time::Duration::from_millis(300);
    let s = roomlink_server::start(ServerConfig {
        request_timeout: deadline,
        login_timeout: deadline,
        ..config(5000)
    })
    .await
    .unwrap();
    let before = scrape(&s).await;
    let mut one_byte = TcpStream::connect(s.local_addr()).await.unwrap();
    one_byte.write_all(b"G").await.unwrap();
    let mut idle = Client::connect(&s.ws_url(), vec![], false).await;
    assert_eq!(read_to_close(&mut one_byte).await, "");
    assert_eq!(idle.closed().await, vec![]);
    until_edge(&s, |st| st.connections == 0).await;

    assert_refusals(&s, &before, &["request_timeout", "sessionless"]).await;
    s.shutdown().await;
}
