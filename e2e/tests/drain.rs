//! A draining server against a real engine with two server URLs: the engine moves to the other
//! server at once. The in-memory servers share no state, so on the second one the engine logs
//! in fresh (`Reconnected` via `Joined`); on a cluster it would resume.

mod common;

use std::time::{Duration, Instant};

use common::*;
use roomlink::{ErrorCode, Event, RoomStateChangedReason as R, UpdateType};

const ROOM: &str = "drain";

/// The engine's backoff is far longer than the test's patience, so reaching the second server in
/// time proves the drain skipped the backoff; the order of events (Reconnecting, then
/// Reconnected, nothing in between) shows it was one outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_server_sends_the_engine_to_the_next_url_without_a_backoff_wait() {
    init_log();
    let mut a_server = Server::start().await;
    let b_server = Server::start().await;
    let b_url = format!("ws://{}{}", b_server.addr(), roomlink::protocol::WS_PATH);
    let mut alice = Client::with_config(&a_server, "alice", |c| {
        c.more_server_urls = vec![b_url];
        // A backoff wait would be uniform in 0..1 h: a drain that waited one out would all but
        // never finish within the test's patience.
        c.backoff_base = Duration::from_secs(3600);
        c.backoff_cap = Duration::from_secs(3600);
        c.retry_window = Duration::from_secs(7200);
    })
    .await;
    // A peer on the second server sees alice arrive there.
    let mut bob = Client::new(&b_server, "bob").await;
    bob.join(&b_server, ROOM).await;
    alice.join(&a_server, ROOM).await;
    a_server.wait_members(ROOM, &["alice"]).await;
    let mark = alice.history.len();

    let began = Instant::now();
    a_server.drain(began + Duration::from_secs(5)).await;
    let drained_in = began.elapsed();
    alice
        .expect(
            state(R::Reconnecting, ErrorCode::RECONNECTING),
            "Reconnecting after the drain bye",
        )
        .await;
    alice
        .expect(
            state(R::Reconnected, ErrorCode::OK),
            "Reconnected on the second server",
        )
        .await;
    let moved_in = began.elapsed();
    println!("drain returned after {drained_in:?}; alice Reconnected on B after {moved_in:?}");
    assert!(
        drained_in < Duration::from_secs(5),
        "the engine closed at once, so the drain did not wait for its deadline: {drained_in:?}"
    );
    let states: Vec<_> = alice.history[mark..]
        .iter()
        .filter_map(|e| match e {
            Event::RoomStateChanged {
                reason, error_code, ..
            } => Some((*reason, *error_code)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (R::Reconnecting, ErrorCode::RECONNECTING),
            (R::Reconnected, ErrorCode::OK)
        ],
        "one outage, no failure"
    );
    b_server.wait_members(ROOM, &["alice", "bob"]).await;
    bob.expect(
        user_update(UpdateType::Add, "alice"),
        "bob sees alice arrive",
    )
    .await;
    // alice's list on B gains bob (the snapshot diff of the fresh login there).
    alice
        .expect(
            user_update(UpdateType::Add, "bob"),
            "alice sees bob on the second server",
        )
        .await;
    assert_eq!(alice.users(ROOM), ids(&["bob"]));
}

/// A rolling restart of a two-node cluster on one Redis: each node in turn drains (and comes
/// back), and its clients resume on the other node at once (the drained node detached their
/// sessions in Redis, so the other node continues them). The promise of issue 11: the members
/// see nothing of it (no user or stream update at all), only the moved clients report
/// `Reconnecting` then `Reconnected`, and their lists stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_a_cluster_is_invisible_to_the_members() {
    init_log();
    let redis = roomlink_testredis::Redis::start();
    let on_redis = |c: &mut roomlink_server::ServerConfig| {
        c.redis = Some(roomlink_server::StoreUrl(redis.url()));
    };
    let mut node_a = Server::start_with(on_redis).await;
    let mut node_b = Server::start_with(on_redis).await;
    let url = |s: &Server| format!("ws://{}{}", s.addr(), roomlink::protocol::WS_PATH);
    let (a_url, b_url) = (url(&node_a), url(&node_b));
    // alice reaches node A through her proxy, then B; bob the other way round.
    let mut alice =
        Client::with_config(&node_a, "alice", |c| c.more_server_urls = vec![b_url]).await;
    let mut bob = Client::with_config(&node_b, "bob", |c| c.more_server_urls = vec![a_url]).await;
    alice.join(&node_a, ROOM).await;
    bob.join(&node_b, ROOM).await;
    alice
        .expect(user_update(UpdateType::Add, "bob"), "alice sees bob")
        .await;
    bob.expect(
        user_update(UpdateType::Add, "alice"),
        "bob's snapshot has alice",
    )
    .await;
    // A stream tells a resume from a fresh login: a fresh login elsewhere would replace the
    // detached session as a duplicate, and bob would see its stream deleted (user_kicked).
    alice
        .engine
        .publish_stream(ROOM, "alice-cam", "")
        .expect("publish");
    bob.expect(
        |e| {
            matches!(
                e,
                Event::RoomStreamUpdate {
                    update_type: UpdateType::Add,
                    ..
                }
            )
        },
        "bob sees alice's stream",
    )
    .await;
    let (alice_mark, bob_mark) = (alice.history.len(), bob.history.len());

    // Node A drains: alice resumes on B.
    node_a.drain(Instant::now() + Duration::from_secs(5)).await;
    alice
        .expect(
            state(R::Reconnecting, ErrorCode::RECONNECTING),
            "alice: Reconnecting",
        )
        .await;
    alice
        .expect(
            state(R::Reconnected, ErrorCode::OK),
            "alice: Reconnected on B",
        )
        .await;
    node_a.restart().await;
    // Node B drains: alice and bob resume on the restarted A.
    node_b.drain(Instant::now() + Duration::from_secs(5)).await;
    for c in [&mut alice, &mut bob] {
        c.expect(
            state(R::Reconnecting, ErrorCode::RECONNECTING),
            "Reconnecting as B drains",
        )
        .await;
        c.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected on A")
            .await;
    }
    node_a.wait_members(ROOM, &["alice", "bob"]).await;
    for c in [&mut alice, &mut bob] {
        c.expect_none(QUIET, any_user_update, "the members see nothing")
            .await;
    }
    let updates = |c: &Client, mark: usize| {
        c.history[mark..]
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Event::RoomUserUpdate { .. } | Event::RoomStreamUpdate { .. }
                )
            })
            .map(describe)
            .collect::<Vec<_>>()
    };
    assert_eq!(updates(&alice, alice_mark), Vec::<String>::new());
    assert_eq!(updates(&bob, bob_mark), Vec::<String>::new());
    assert_eq!(alice.users(ROOM), ids(&["bob"]));
    assert_eq!(bob.users(ROOM), ids(&["alice"]));
}
