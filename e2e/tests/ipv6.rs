//! IPv6 loopback end to end: the server bound to `[::1]`, the engine connecting to
//! `ws://[::1]:port` (an IPv6-only network, as NAT64 networks are for apps).

mod common;

use common::*;
use roomlink::RoomStateChangedReason as R;

const ROOM: &str = "six";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv6_loopback_server_is_reached_end_to_end() {
    init_log();
    let server = Server::start_with(|c| c.bind = "[::1]:0".parse().expect("literal")).await;
    assert!(server.addr().is_ipv6());
    let direct = |_fault_proxy| {
        let url = format!("ws://{}{}", server.addr(), roomlink::protocol::WS_PATH);
        assert!(url.starts_with("ws://[::1]:"), "{url}");
        (url, None)
    };
    let mut a = Client::with_transport(&server, "alice", direct, |_| {}).await;
    let mut b = Client::new(&server, "bob").await; // through its fault proxy, upstream [::1]
    a.join(&server, ROOM).await;
    b.join(&server, ROOM).await;
    a.expect(user_update(roomlink::UpdateType::Add, "bob"), "bob Add")
        .await;
    assert_eq!(server.members(ROOM).await, ids(&["alice", "bob"]));
    a.leave(ROOM).await;
    b.expect(
        user_update(roomlink::UpdateType::Delete, "alice"),
        "alice Delete",
    )
    .await;
    b.expect_none(QUIET, reason_is(R::Reconnecting), "bob stays connected")
        .await;
}
