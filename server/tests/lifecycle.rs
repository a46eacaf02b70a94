//! Shutdown and restart on the same port.

mod common;

use common::*;
use roomlink::protocol::ServerFrame;

#[tokio::test]
async fn shutdown_drops_connections_and_a_restart_forgets_everything() {
    let s = server(2000).await;
    let addr = s.local_addr();
    let (mut a, joined) = Client::join(&s.ws_url(), login("a", "r1")).await;
    let sid = session_id(&joined);
    s.shutdown().await;
    a.closed().await;

    let s2 = roomlink_server::start(roomlink_server::ServerConfig {
        bind: addr,
        ..config(2000)
    })
    .await
    .unwrap();
    assert_eq!(s2.local_addr(), addr);
    let mut a2 = Client::connect(&s2.ws_url(), vec![resume(login("a", "r1"), &sid, 0)], true).await;
    let f = a2.recv().await;
    assert!(
        matches!(f, ServerFrame::Joined { ref session_id, .. } if *session_id != sid),
        "{f:?}"
    );
    s2.shutdown().await;
}
