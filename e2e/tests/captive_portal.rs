//! A real `wss://` server whose certificate turns untrusted during an outage (a hotel portal or
//! a TLS-intercepting network) and back: the room keeps retrying and comes back. At first login
//! an untrusted certificate is a prompt `LoginFailed` 1002030.

mod common;

use std::sync::Arc;

use common::tls_front::TlsFront;
use common::*;
use roomlink::{ErrorCode, RoomStateChangedReason as R, Transport, WebSocketTransport};

const ROOM: &str = "portal";

/// A client reaching the server through a TLS front (in front of its fault proxy).
async fn over_wss(server: &Server, user_id: &str) -> (Client, TlsFront) {
    let mut front = None;
    let setup = |backend| {
        let tls = TlsFront::start(backend).expect("TLS front");
        let transport = WebSocketTransport::with_tls_config(tls.client_tls());
        let url = common::tls_front::url(&tls);
        front = Some(tls);
        (url, Some(Arc::new(transport) as Arc<dyn Transport>))
    };
    let client = Client::with_transport(server, user_id, setup, |_| {}).await;
    (client, front.expect("front started"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_during_an_outage_is_retried_until_the_real_one_is_back() {
    init_log();
    let server = Server::start().await;
    let (mut a, front) = over_wss(&server, "alice").await;
    a.join(&server, ROOM).await;
    // The network goes silent, and when it answers again it is the portal's certificate.
    front.present_untrusted(true);
    a.blackhole();
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting",
    )
    .await;
    a.proxy.set(roomlink_faultproxy::Fault::Pass);
    a.engine.on_network_changed(true);
    wait_until("several attempts refused the portal's certificate", || {
        front.failed_handshakes() >= 3
    })
    .await;
    a.drain();
    assert!(
        !a.history.iter().any(|e| reason_is(R::ReconnectFailed)(e)),
        "the outage must not end on a certificate error"
    );
    // Past the portal: the real certificate again.
    front.present_untrusted(false);
    a.engine.on_network_changed(true);
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    assert_eq!(server.members(ROOM).await, ids(&["alice"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_at_first_login_fails_at_once() {
    init_log();
    let server = Server::start().await;
    let (mut a, front) = over_wss(&server, "alice").await;
    front.present_untrusted(true);
    a.login(&server, ROOM);
    a.expect(
        state(R::LoginFailed, ErrorCode::CONNECT_FAILED),
        "LoginFailed 1002030",
    )
    .await;
    // The client refused the front's certificate (the front counts it once its side ends).
    wait_until("the front saw the refused handshake", || {
        front.failed_handshakes() == 1
    })
    .await;
    assert_eq!(a.room_state(ROOM), roomlink::ConnectionState::Failed);
}
