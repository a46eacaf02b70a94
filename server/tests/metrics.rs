//! `GET /metrics` over real sockets: behind the admin bearer, and every counter moves by exactly
//! what happened (logins good and bad, a resume, a kick, an expiry, a refused room event, an
//! undecodable frame). Also on a two-node cluster, where every node applies every entry of the
//! room: the nodes' sums are the cluster's totals, each event counted on one node.

mod common;

use std::collections::BTreeMap;

use common::*;
use roomlink::ErrorCode;
use roomlink::protocol::{ClientFrame, RoomEvent, ServerFrame};
use roomlink_server::{Rate, RateLimits, ServerConfig, ServerHandle, StoreUrl};
use roomlink_testredis::Redis;
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

fn bad_login(user: &str) -> roomlink::protocol::Login {
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
