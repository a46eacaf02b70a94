//! Room changes: switch_room in single-room mode, and one engine in two rooms at once.

mod common;

use std::time::Duration;

use common::*;
use roomlink::{
    ConnectionState, ErrorCode, Event, RoomMode, RoomStateChangedReason as R, UpdateType,
};

fn update_in(room: &str, kind: UpdateType, user_id: &str) -> impl Fn(&Event) -> bool + use<> {
    let (room, pred) = (room.to_string(), user_update(kind, user_id));
    move |e| e.room_id() == room && pred(e)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switch_room_leaves_the_old_room_and_joins_the_new_one() {
    init_log();
    let server = Server::start().await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    let mut c = Client::new(&server, "carol").await;
    a.join(&server, "r1").await;
    b.join(&server, "r1").await;
    c.join(&server, "r2").await;
    b.expect(update_in("r1", UpdateType::Add, "alice"), "Add alice in r1")
        .await;

    a.engine
        .switch_room("r1", "r2", &server.token("alice", "r2"))
        .expect("switch_room");
    a.expect(state_in("r1", R::Logout, ErrorCode::OK), "Logout r1")
        .await;
    a.expect(state_in("r2", R::Logining, ErrorCode::OK), "Logining r2")
        .await;
    a.expect(state_in("r2", R::Logined, ErrorCode::OK), "Logined r2")
        .await;
    b.expect(
        update_in("r1", UpdateType::Delete, "alice"),
        "Delete alice in r1",
    )
    .await;
    c.expect(update_in("r2", UpdateType::Add, "alice"), "Add alice in r2")
        .await;
    assert_eq!(a.room_state("r1"), ConnectionState::Disconnected);
    assert_eq!(a.room_state("r2"), ConnectionState::Connected);
    assert_eq!(server.members("r1").await, ids(&["bob"]));
    assert_eq!(a.converge(&server, "r2").await, ids(&["carol"]));
    assert_eq!(b.converge(&server, "r1").await, ids(&[]));
    assert_eq!(c.converge(&server, "r2").await, ids(&["alice"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_engine_in_two_rooms_shares_one_link_and_keeps_rooms_apart() {
    init_log();
    let server = Server::start().await;
    let mut m = Client::with_config(&server, "multi", |c| c.room_mode = RoomMode::MultiRoom).await;
    let mut p1 = Client::new(&server, "p1").await;
    let mut p2 = Client::new(&server, "p2").await;
    p1.join(&server, "r1").await;
    p2.join(&server, "r2").await;
    m.join(&server, "r1").await;
    m.join(&server, "r2").await;
    assert_eq!(
        m.proxy.open_connections(),
        1,
        "both rooms over one WebSocket"
    );
    assert_eq!(m.converge(&server, "r1").await, ids(&["p1"]));
    assert_eq!(m.converge(&server, "r2").await, ids(&["p2"]));

    // A change in r1 is reported in r1 only.
    p1.leave("r1").await;
    m.expect(update_in("r1", UpdateType::Delete, "p1"), "Delete p1 in r1")
        .await;
    m.expect_none(QUIET, |e| e.room_id() == "r2", "nothing happened in r2")
        .await;

    // The link carries both rooms: losing it reconnects both, each with its own events.
    let mark = m.history.len();
    m.blackhole();
    for room in ["r1", "r2"] {
        let reconnecting = state_in(room, R::Reconnecting, ErrorCode::RECONNECTING);
        m.seen_or_expect(mark, reconnecting, "Reconnecting").await;
    }
    p1.join(&server, "r1").await;
    m.restore();
    for room in ["r1", "r2"] {
        let reconnected = state_in(room, R::Reconnected, ErrorCode::OK);
        m.seen_or_expect(mark, reconnected, "Reconnected").await;
    }
    // The dead connection is held by the blackhole until the server gives it up.
    wait_until("one WebSocket after the reconnect", || {
        m.proxy.open_connections() == 1
    })
    .await;
    assert_eq!(m.converge(&server, "r1").await, ids(&["p1"]));
    assert_eq!(m.converge(&server, "r2").await, ids(&["p2"]));

    // Leaving r1 leaves r2 alone.
    m.leave("r1").await;
    assert_eq!(m.room_state("r2"), ConnectionState::Connected);
    p2.expect_none(
        QUIET,
        user_update(UpdateType::Delete, "multi"),
        "r2 did not see multi leave r1",
    )
    .await;
    assert_eq!(server.members("r1").await, ids(&["p1"]));
    assert_eq!(server.members("r2").await, ids(&["multi", "p2"]));
    assert_eq!(p2.converge(&server, "r2").await, ids(&["multi"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_a_room_during_an_outage_ends_the_session_on_the_next_link_not_at_the_timeout() {
    init_log();
    // A heartbeat timeout far beyond PATIENCE: peers can only see the leave through the client
    // ending its abandoned session by ID once it has a link again.
    let server = Server::start_with(|c| c.heartbeat_timeout = Duration::from_secs(60)).await;
    let mut m = Client::with_config(&server, "multi", |c| c.room_mode = RoomMode::MultiRoom).await;
    let mut p1 = Client::new(&server, "p1").await;
    p1.join(&server, "r1").await;
    m.join(&server, "r1").await;
    m.join(&server, "r2").await;
    p1.expect(user_update(UpdateType::Add, "multi"), "Add multi")
        .await;

    let mark = m.history.len();
    m.blackhole();
    for room in ["r1", "r2"] {
        m.seen_or_expect(
            mark,
            state_in(room, R::Reconnecting, ErrorCode::RECONNECTING),
            "Reconnecting",
        )
        .await;
    }
    // No link: the logout is local now; r2 keeps the link wanted.
    m.leave("r1").await;
    m.restore();
    m.expect(
        state_in("r2", R::Reconnected, ErrorCode::OK),
        "r2 Reconnected",
    )
    .await;
    p1.expect(
        user_update(UpdateType::Delete, "multi"),
        "Delete multi long before the heartbeat timeout",
    )
    .await;
    server.wait_members("r1", &["p1"]).await;
    assert_eq!(server.members("r2").await, ids(&["multi"]));
}
