//! User lists stay true: whatever happens while a client is away, once it is back its list
//! (rebuilt from nothing but the `RoomUserUpdate`s it received) equals the server's.

mod common;

use common::*;
use roomlink::{ErrorCode, RoomStateChangedReason as R, UpdateType};

const ROOM: &str = "lists";

/// Users join and leave while A is away, first for less than the heartbeat timeout (A resumes and
/// is replayed the events), then for longer (A re-joins and gets the snapshot difference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_converge_after_short_and_long_absences() {
    init_log();
    // Heartbeat timeout 3 s so the short absence (detection + two logins) stays short on a slow machine.
    let server =
        Server::start_with(|c| c.heartbeat_timeout = std::time::Duration::from_secs(3)).await;
    let mut a = Client::new(&server, "alice").await;
    let mut b = Client::new(&server, "bob").await;
    let mut extras = Vec::new();
    for id in ["u1", "u2", "u3"] {
        extras.push(Client::new(&server, id).await);
    }
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    extras[0].join(&server, ROOM).await;
    extras[1].join(&server, ROOM).await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "u1", "u2"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice", "u1", "u2"]));

    // Short absence: u3 joins, u1 leaves, u3 leaves and joins again.
    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting",
    )
    .await;
    extras[2].join(&server, ROOM).await;
    extras[0].leave(ROOM).await;
    extras[2].leave(ROOM).await;
    extras[2].join(&server, ROOM).await;
    a.restore();
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected (resume)")
        .await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "u2", "u3"]));
    b.expect_none(
        QUIET,
        any_update_of("alice"),
        "A's short absence is invisible",
    )
    .await;
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice", "u2", "u3"]));
    for c in &mut extras[1..] {
        c.converge(&server, ROOM).await;
    }

    // Long absence: the server drops A; u1 comes back, u2 leaves.
    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting",
    )
    .await;
    b.expect(
        user_update(UpdateType::Delete, "alice"),
        "Delete alice at the timeout",
    )
    .await;
    extras[0].join(&server, ROOM).await;
    extras[1].leave(ROOM).await;
    a.restore();
    a.expect(
        state(R::Reconnected, ErrorCode::OK),
        "Reconnected (re-join)",
    )
    .await;
    assert_eq!(a.converge(&server, ROOM).await, ids(&["bob", "u1", "u3"]));
    assert_eq!(b.converge(&server, ROOM).await, ids(&["alice", "u1", "u3"]));
    for i in [0, 2] {
        let me = extras[i].id().to_string();
        let list = extras[i].converge(&server, ROOM).await;
        assert!(list.contains("alice") && !list.contains(&me));
    }
}

/// The server crashes and comes back empty on the same port: every client reconnects (as
/// `Reconnected`, not a new login) and the lists agree with the rebuilt room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_reconnects_after_a_server_restart() {
    init_log();
    let mut server = Server::start().await;
    let mut clients = Vec::new();
    for id in ["alice", "bob", "carol"] {
        let mut c = Client::new(&server, id).await;
        c.join(&server, ROOM).await;
        clients.push(c);
    }
    for c in &mut clients {
        c.converge(&server, ROOM).await;
    }
    server.restart().await;
    for c in &mut clients {
        c.expect(
            state(R::Reconnecting, ErrorCode::RECONNECTING),
            "Reconnecting",
        )
        .await;
    }
    for c in &mut clients {
        c.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
            .await;
    }
    server.wait_members(ROOM, &["alice", "bob", "carol"]).await;
    for c in &mut clients {
        let me = c.id().to_string();
        let mut others = ids(&["alice", "bob", "carol"]);
        others.remove(&me);
        assert_eq!(c.converge(&server, ROOM).await, others);
        let logined = c
            .history
            .iter()
            .filter(|e| reason_is(R::Logined)(e))
            .count();
        assert_eq!(
            logined, 1,
            "{me}: the restart is a reconnect, not a new login"
        );
    }
}
