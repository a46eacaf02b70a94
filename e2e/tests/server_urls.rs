//! Several server URLs against real servers: the engine moves past a server that is down.

mod common;

use std::time::Duration;

use common::*;
use roomlink::{ErrorCode, RoomStateChangedReason as R};

const ROOM: &str = "urls";

/// The first URL's server is down; the second one's is up. The backoff is far longer than the
/// expect timeout, so the login can only succeed in time if the refused attempt moved on to the
/// next URL at once (the machine tests pin the exact rule on virtual time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_moves_past_a_server_that_is_down_without_waiting_out_the_backoff() {
    init_log();
    let mut down = Server::start().await;
    let down_url = format!("ws://{}{}", down.addr(), roomlink::protocol::WS_PATH);
    down.stop().await;
    let up = Server::start().await;
    let mut a = Client::with_config(&up, "alice", |c| {
        let live = std::mem::replace(&mut c.server_url, down_url);
        c.more_server_urls = vec![live];
        c.backoff_base = Duration::from_secs(600);
        c.backoff_cap = Duration::from_secs(600);
        c.login_timeout = Duration::from_secs(600);
    })
    .await;
    a.login(&up, ROOM);
    a.expect(
        state(R::Logined, ErrorCode::OK),
        "Logined on the second server",
    )
    .await;
    up.wait_members(ROOM, &["alice"]).await;
}
