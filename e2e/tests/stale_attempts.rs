//! A connection attempt the engine gave up on that reaches the server late must not hurt the
//! engine's live session (issue 13, item 1). The fault proxy holds the attempt's bytes and
//! delivers them after a newer attempt was answered, so the race that once ended
//! `a_reset_is_noticed_at_once_a_blackhole_only_at_the_ping_timeout` (bob: Reconnecting,
//! Reconnected, KickOut 1002050) plays out every time.

mod common;

use common::*;
use roomlink::{ErrorCode, RoomStateChangedReason as R, UpdateType};

const ROOM: &str = "stale";

/// The seed case's sequence: bob's link goes silent, the server drops him at its heartbeat
/// timeout, his first reconnect attempt (a resume of the session that just expired, so a fresh
/// login to the server) is stuck in the network, a later attempt gets through (Reconnected), and
/// then the stuck one arrives. Without the fence the server took it as a duplicate login and
/// kicked bob's live session with 1002050.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_abandoned_attempt_does_not_kick_the_live_session() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    a.expect(user_update(UpdateType::Add, "bob"), "Add bob")
        .await;

    b.proxy.hold_next();
    b.blackhole();
    b.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting at the ping timeout",
    )
    .await;
    a.expect(
        user_update(UpdateType::Delete, "bob"),
        "Delete bob at the server's heartbeat timeout",
    )
    .await;
    // Bob's first attempt is held; the ones after it went into the blackhole. Lifting it lets
    // the next attempt through: a fresh session, reported as Reconnected.
    b.restore();
    b.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    a.expect(user_update(UpdateType::Add, "bob"), "Add bob again")
        .await;

    // The held attempt reaches the server only now; this returns once the server handled it.
    b.proxy.release_held().await;
    b.expect_none(
        QUIET,
        reason_is(R::KickOut),
        "kicked as a duplicate of itself by its own abandoned attempt",
    )
    .await;
    a.expect_none(QUIET, any_update_of("bob"), "bob left or came again")
        .await;
    server.wait_members(ROOM, &["alice", "bob"]).await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice"]));
}

/// The same with a resume: bob's session is still alive when the held attempt (resuming it)
/// arrives. Without the fence the server moved the session onto that dead connection, silently:
/// bob heard nothing more for the room and alice saw him leave at the heartbeat timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_abandoned_resume_does_not_move_the_session() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    a.expect(user_update(UpdateType::Add, "bob"), "Add bob")
        .await;

    b.proxy.hold_next();
    b.proxy.set(roomlink_faultproxy::Fault::Reset);
    b.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting after the reset",
    )
    .await;
    b.restore();
    b.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    b.proxy.release_held().await;
    // Past the server's heartbeat timeout the session is still bob's live one.
    a.expect_none(
        HEARTBEAT_TIMEOUT + QUIET,
        any_update_of("bob"),
        "bob's session moved to the dead connection and expired",
    )
    .await;
    a.engine
        .publish_stream(ROOM, "alice-cam", "")
        .expect("publish");
    b.expect(
        |e| {
            matches!(
                e,
                roomlink::Event::RoomStreamUpdate {
                    update_type: UpdateType::Add,
                    ..
                }
            )
        },
        "alice's stream reaches bob's live session",
    )
    .await;
    server.wait_members(ROOM, &["alice", "bob"]).await;
}
