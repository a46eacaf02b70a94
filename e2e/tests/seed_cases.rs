//! The three reconnection cases from the vendor pages (seeds/001): an outage shorter than the
//! server's heartbeat timeout, one longer, and one that never ends.

mod common;

use std::time::Duration;

use common::*;
use roomlink::{ConnectionState, ErrorCode, RoomStateChangedReason as R, UpdateType};

const ROOM: &str = "seed";

/// Case 1: A's link is down for less than the heartbeat timeout. A resumes its session; B never
/// sees A leave; C, who joined while A was away, is replayed to A after `Reconnected`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_outage_resumes_silently_and_replays_what_was_missed() {
    init_log();
    // A longer heartbeat timeout than elsewhere so a slow machine cannot stretch the "short"
    // outage (loss detection + C's login + restore) past it.
    let server = Server::start_with(|c| c.heartbeat_timeout = Duration::from_secs(3)).await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    let mut c = Client::new(&server, "carol").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    a.expect(user_update(UpdateType::Add, "bob"), "Add bob")
        .await;

    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting 1002051",
    )
    .await;
    c.join(&server, ROOM).await;
    b.expect(user_update(UpdateType::Add, "carol"), "Add carol")
        .await;
    a.restore();
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected 0")
        .await;
    a.expect(
        user_update(UpdateType::Add, "carol"),
        "carol replayed after Reconnected",
    )
    .await;
    let logined = a
        .history
        .iter()
        .filter(|e| reason_is(R::Logined)(e))
        .count();
    assert_eq!(logined, 1, "a resume is not a second Logined");
    b.expect_none(
        QUIET,
        any_update_of("alice"),
        "B saw nothing of A's short outage",
    )
    .await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "carol"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice", "carol"]));
}

/// Case 2: A's link is down for longer than the heartbeat timeout. B sees A leave at the timeout
/// and come back; A gets `Reconnected` (never a second `Logined`) and the difference: C joined and
/// D left while it was away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_outage_rejoins_and_reports_the_difference() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    let mut c = Client::new(&server, "carol").await;
    let mut d = Client::new(&server, "dave").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    d.join(&server, ROOM).await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "dave"]));

    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting 1002051",
    )
    .await;
    b.expect(
        user_update(UpdateType::Delete, "alice"),
        "Delete alice at the heartbeat timeout",
    )
    .await;
    c.join(&server, ROOM).await;
    d.leave(ROOM).await;
    server.wait_members(ROOM, &["bob", "carol"]).await;
    a.restore();
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected 0")
        .await;
    b.expect(
        user_update(UpdateType::Add, "alice"),
        "Add alice when A is back",
    )
    .await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "carol"]));
    let logined = a
        .history
        .iter()
        .filter(|e| reason_is(R::Logined)(e))
        .count();
    assert_eq!(
        logined, 1,
        "a rejoin is reported as Reconnected, never a second Logined"
    );
    // The diff names exactly who changed while A was away.
    let after = a
        .history
        .iter()
        .position(state(R::Reconnected, ErrorCode::OK))
        .expect("Reconnected recorded");
    let diff = &a.history[after..];
    assert!(diff.iter().any(user_update(UpdateType::Add, "carol")));
    assert!(diff.iter().any(user_update(UpdateType::Delete, "dave")));
    assert!(!diff.iter().any(any_update_of("bob")), "bob never changed");
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice", "carol"]));
}

/// Case 3: the link never comes back. After the retry window A gets `ReconnectFailed 1002053`,
/// the room is `Failed`, and nothing tries to connect any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_outage_fails_after_the_retry_window_and_stops_retrying() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::with_config(&server, "alice", |c| {
        c.retry_window = Duration::from_secs(2);
    })
    .await;
    let mut b = Client::new(&server, "bob").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;

    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting 1002051",
    )
    .await;
    b.expect(user_update(UpdateType::Delete, "alice"), "Delete alice")
        .await;
    a.expect(
        state(R::ReconnectFailed, ErrorCode::NETWORK_TIMEOUT),
        "ReconnectFailed 1002053",
    )
    .await;
    assert_eq!(a.room_state(ROOM), ConnectionState::Failed);

    // The attempts the blackhole held are given up by the client...
    wait_until("the blackholed connections are closed", || {
        a.proxy.open_connections() == 0
    })
    .await;
    // ...and with the link healthy again, nothing reconnects: any attempt would now succeed and
    // stay open (and alice would reappear on the server).
    a.proxy.set(roomlink_faultproxy::Fault::Pass);
    a.engine.on_network_changed(true);
    let until = tokio::time::Instant::now() + Duration::from_secs(1);
    while tokio::time::Instant::now() < until {
        assert_eq!(
            a.proxy.open_connections(),
            0,
            "a connection attempt after ReconnectFailed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.expect_none(QUIET, |_| true, "no event after ReconnectFailed")
        .await;
    assert_eq!(server.members(ROOM).await, ids(&["bob"]));
    assert_eq!(a.room_state(ROOM), ConnectionState::Failed);
}

/// A reset link is noticed at once, a silent one only at the ping timeout. Both clients have a
/// long (5 s) ping timeout and lose their links at the same moment: A's link is reset, B's is
/// blackholed. A is back (Reconnecting, Reconnected) before B has even noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_noticed_at_once_a_blackhole_only_at_the_ping_timeout() {
    init_log();
    let server = Server::start().await;
    let slow_to_notice = |c: &mut roomlink::EngineConfig| c.ping_timeout = Duration::from_secs(5);
    let mut a = Client::with_config(&server, "alice", slow_to_notice).await;
    let mut b = Client::with_config(&server, "bob", slow_to_notice).await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;

    a.proxy.set(roomlink_faultproxy::Fault::Reset);
    b.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting after the reset",
    )
    .await;
    a.restore();
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    b.drain();
    assert!(
        !b.history.iter().any(reason_is(R::Reconnecting)),
        "B noticed the silent link before A recovered from a reset"
    );
    // The server drops the silent B at its heartbeat timeout (1 s) and closes B's connection; a
    // blackhole does not carry that close either, so B still hears nothing.
    a.expect(
        user_update(UpdateType::Delete, "bob"),
        "Delete bob at the server's heartbeat timeout",
    )
    .await;
    b.expect_none(
        QUIET,
        reason_is(R::Reconnecting),
        "the server's close does not reach B through the blackhole",
    )
    .await;
    b.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting at the ping timeout",
    )
    .await;
    b.restore();
    b.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice"]));
}
