//! Everything that ends a session from the server side: admin kick, duplicate login, room close,
//! token expiry (and a renewal that prevents it).

mod common;

use std::time::Duration;

use common::*;
use roomlink::{ConnectionState, ErrorCode, Event, RoomStateChangedReason as R, UpdateType};

const ROOM: &str = "kicks";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_kick_carries_the_reason_and_peers_see_the_user_leave() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    b.expect(user_update(UpdateType::Add, "alice"), "Add alice")
        .await;

    server.kick(ROOM, "alice", "too loud").await;
    let kicked = a
        .expect(
            state(R::KickOut, ErrorCode::KICKED_BY_SERVER),
            "KickOut 1002055",
        )
        .await;
    assert_eq!(kickout_message(&kicked), Some("too loud"));
    b.expect(user_update(UpdateType::Delete, "alice"), "Delete alice")
        .await;
    assert_eq!(a.room_state(ROOM), ConnectionState::Disconnected);
    // A kick is final: the engine does not come back by itself.
    a.expect_none(
        QUIET,
        reason_is(R::Reconnecting),
        "no reconnect after a kick",
    )
    .await;
    assert_eq!(server.members(ROOM).await, ids(&["bob"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&[]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_login_kicks_the_older_device_without_a_leave_for_peers() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    b.expect(user_update(UpdateType::Add, "alice"), "Add alice")
        .await;

    let mut tablet = Client::new(&server, "alice").await;
    tablet.join(&server, ROOM).await;
    a.expect(
        state(R::KickOut, ErrorCode::KICKED_DUPLICATE_LOGIN),
        "KickOut 1002050",
    )
    .await;
    b.expect_none(
        QUIET,
        any_update_of("alice"),
        "alice stays listed across the device change",
    )
    .await;
    assert_eq!(server.members(ROOM).await, ids(&["alice", "bob"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice"]));
    assert_eq!(tablet.converge(&server, ROOM).await, ids(&["bob"]));
    // The kicked device stays out (no reconnect fighting the new one).
    a.expect_none(
        QUIET,
        reason_is(R::Reconnecting),
        "no reconnect after a kick",
    )
    .await;
    tablet
        .expect_none(
            QUIET,
            reason_is(R::KickOut),
            "the new device keeps its session",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_room_kicks_everyone_with_room_closed() {
    init_log();
    let server = Server::start().await;
    let mut clients = Vec::new();
    for id in ["alice", "bob", "carol"] {
        let mut c = Client::new(&server, id).await;
        c.join(&server, ROOM).await;
        clients.push(c);
    }
    server.close(ROOM, "closing time").await;
    for c in &mut clients {
        c.expect(state(R::KickOut, ErrorCode::ROOM_CLOSED), "KickOut 1900001")
            .await;
        assert_eq!(c.room_state(ROOM), ConnectionState::Disconnected);
    }
    assert!(server.members(ROOM).await.is_empty());
}

/// Two users hold tokens that expire at the same instant; A renews when warned, B does not. B is
/// kicked with 1002056 at the expiry; A, still there after B's kick, was not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_token_keeps_the_session_and_an_unrenewed_one_is_kicked() {
    init_log();
    let server = Server::start().await;
    let warn = |c: &mut roomlink::EngineConfig| c.token_warning = Duration::from_millis(1500);
    let mut a = Client::with_config(&server, "alice", warn).await;
    let mut b = Client::with_config(&server, "bob", warn).await;
    let expires_at = roomlink_server::token::now_unix_ms() + 2500;
    a.login_with_token(ROOM, &server.token_expiring_at("alice", ROOM, expires_at));
    b.login_with_token(ROOM, &server.token_expiring_at("bob", ROOM, expires_at));
    a.expect(state(R::Logined, ErrorCode::OK), "Logined").await;
    b.expect(state(R::Logined, ErrorCode::OK), "Logined").await;

    let is_warning =
        |e: &Event| matches!(e, Event::RoomTokenWillExpire { room_id, .. } if room_id == ROOM);
    a.expect(is_warning, "RoomTokenWillExpire").await;
    a.engine
        .renew_token(ROOM, &server.token("alice", ROOM))
        .expect("renew_token");
    b.expect(is_warning, "RoomTokenWillExpire").await;

    b.expect(
        state(R::KickOut, ErrorCode::KICKED_TOKEN_EXPIRED),
        "KickOut 1002056",
    )
    .await;
    a.expect(user_update(UpdateType::Delete, "bob"), "Delete bob")
        .await;
    a.expect_none(QUIET, reason_is(R::KickOut), "the renewed token keeps A in")
        .await;
    assert_eq!(a.room_state(ROOM), ConnectionState::Connected);
    assert_eq!(server.members(ROOM).await, ids(&["alice"]));
}
