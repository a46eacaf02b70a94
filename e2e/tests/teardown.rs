//! Teardown is bounded offline: with the link blackholed (bytes vanish, nothing answers, the
//! TCP connection stays up), `logout_room` and `destroy` return at once. Neither may wait for an
//! answer from the server: the logout is local first (the server is told on the next link, or
//! drops the user at its heartbeat timeout), and destroy's goodbye is best effort.
//!
//! The bound asserted is the ping timeout: anything that waited on the network would wait for
//! it (or for the 1 s close grace). How fast teardown is on a healthy machine is a benchmark's
//! business; here it only must not wait.

mod common;

use std::time::{Duration, Instant};

use common::*;
use roomlink::{ErrorCode, RoomStateChangedReason as R};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_destroy_return_at_once_with_the_link_blackholed() {
    init_log();
    let server = Server::start().await;
    let ping_timeout = Duration::from_secs(5);
    let mut a = Client::with_config(&server, "alice", |c| {
        c.ping_timeout = ping_timeout;
        c.room_mode = roomlink::RoomMode::MultiRoom;
    })
    .await;
    a.join(&server, "r1").await;
    a.join(&server, "r2").await;
    a.blackhole();

    let started = Instant::now();
    a.engine.logout_room("r1").expect("logout");
    let logout = started.elapsed();
    a.expect(state_in("r1", R::Logout, ErrorCode::OK), "Logout r1")
        .await;

    let started = Instant::now();
    a.engine.destroy();
    let destroy = started.elapsed();
    eprintln!("blackholed: logout_room took {logout:?}, destroy {destroy:?}");
    assert!(logout < ping_timeout, "logout_room waited {logout:?}");
    assert!(destroy < ping_timeout, "destroy waited {destroy:?}");
    assert!(
        destroy < Duration::from_secs(1),
        "destroy waited {destroy:?}: as long as the close grace, so for the network"
    );
}
