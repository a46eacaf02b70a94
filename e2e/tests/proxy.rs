//! Logins through a real HTTP proxy (Debian's tinyproxy, `CONNECT` tunnels): `ws://` and
//! `wss://`, a proxy that refuses the credentials (407), and a proxy that is down during an
//! outage. The tunnel is proven by the proxy's own log naming the server's address.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tinyproxy::Tinyproxy;
use common::tls_front::TlsFront;
use common::*;
use roomlink::transport::HttpProxy;
use roomlink::{ErrorCode, ProxyUrl, RoomStateChangedReason as R, Transport, WebSocketTransport};

const ROOM: &str = "tunnel";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw";

fn proxy_config(url: String) -> impl FnOnce(&mut roomlink::EngineConfig) {
    move |c| c.proxy = Some(ProxyUrl(url))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_logs_in_through_the_proxy_tunnel() {
    init_log();
    let Some(tinyproxy) = Tinyproxy::start(None).await else {
        return;
    };
    let server = Server::start().await;
    let mut a = Client::with_config(&server, "alice", proxy_config(tinyproxy.url(None))).await;
    a.join(&server, ROOM).await;
    assert_eq!(server.members(ROOM).await, ids(&["alice"]));
    let log = tinyproxy.log();
    let target = format!("CONNECT {}", a.proxy.local_addr());
    assert!(
        log.contains(&target),
        "tinyproxy never saw {target}:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_logs_in_through_the_proxy_tunnel_with_tls_end_to_end() {
    init_log();
    let Some(tinyproxy) = Tinyproxy::start(None).await else {
        return;
    };
    let server = Server::start().await;
    let proxy = HttpProxy::parse(&tinyproxy.url(None)).unwrap();
    let mut front = None;
    let setup = |backend| {
        let tls = TlsFront::start(backend).expect("TLS front");
        let transport =
            WebSocketTransport::with_tls_config(tls.client_tls()).with_proxy(Some(proxy));
        let url = common::tls_front::url(&tls);
        front = Some(tls);
        (url, Some(Arc::new(transport) as Arc<dyn Transport>))
    };
    let mut a = Client::with_transport(&server, "alice", setup, |_| {}).await;
    a.join(&server, ROOM).await;
    let target = format!("CONNECT {}", front.as_ref().unwrap().addr());
    let log = tinyproxy.log();
    assert!(
        log.contains(&target),
        "tinyproxy never saw {target}:\n{log}"
    );
}

/// Every log record of this process (each nextest test is its own process).
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{}: {}", r.target(), r.args()));
    }
    fn flush(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_refuses_the_credentials_fails_the_login_at_once_and_never_logs_them() {
    static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));
    log::set_logger(&CAPTURE).expect("the only logger of this process");
    log::set_max_level(log::LevelFilter::Trace);
    let Some(tinyproxy) = Tinyproxy::start(Some((USER, PASSWORD))).await else {
        return;
    };
    let server = Server::start().await;
    for (what, url) in [
        ("wrong password", tinyproxy.url(Some((USER, "wrong")))),
        ("no credentials", tinyproxy.url(None)),
    ] {
        let mut a = Client::with_config(&server, "alice", proxy_config(url)).await;
        a.login(&server, ROOM);
        // 407 is not worth a retry: LoginFailed with its own code, not the login timeout's.
        a.expect(
            state(R::LoginFailed, ErrorCode::PROXY_AUTH_FAILED),
            &format!("LoginFailed 1900007 ({what})"),
        )
        .await;
    }
    assert!(server.members(ROOM).await.is_empty());
    let mut a = Client::with_config(
        &server,
        "alice",
        proxy_config(tinyproxy.url(Some((USER, PASSWORD)))),
    )
    .await;
    a.join(&server, ROOM).await;
    a.leave(ROOM).await;

    let records = CAPTURE.0.lock().unwrap().clone();
    assert!(!records.is_empty(), "the engine logs at trace level");
    let basic = "YWxpY2U6czNjcmV0LXB3"; // base64("alice:s3cret-pw")
    for r in &records {
        assert!(
            !r.contains(PASSWORD) && !r.contains(basic) && !r.contains("wrong"),
            "a proxy credential reached the log: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_is_down_during_an_outage_is_retried_until_it_is_back() {
    init_log();
    let Some(mut tinyproxy) = Tinyproxy::start(None).await else {
        return;
    };
    let server = Server::start().await;
    let mut a = Client::with_config(&server, "alice", proxy_config(tinyproxy.url(None))).await;
    a.join(&server, ROOM).await;
    // The proxy dies: the tunnel goes with it, and every attempt finds nothing listening.
    tinyproxy.stop().await;
    a.expect(
        state(R::Reconnecting, ErrorCode::RECONNECTING),
        "Reconnecting",
    )
    .await;
    // Hold the outage for several backoff rounds (cap 200 ms): refused attempts stay retries.
    a.expect_none(
        Duration::from_millis(800),
        |e| matches!(e, roomlink::Event::RoomStateChanged { .. }),
        "no state change while the proxy is down",
    )
    .await;
    tinyproxy.restart().await;
    a.expect(state(R::Reconnected, ErrorCode::OK), "Reconnected")
        .await;
    assert_eq!(server.members(ROOM).await, ids(&["alice"]));
}
