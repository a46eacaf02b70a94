//! `wss://` trusts what the platform trusts: a server whose certificate comes from a CA in the
//! store the platform verifier reads (on Linux the system store, here the file `SSL_CERT_FILE`
//! names, as an enterprise or MDM-installed CA would be) is accepted, and one from any other CA
//! is a prompt `LoginFailed` 1002030. A CA pinned in `EngineConfig::tls_ca_pem` replaces the
//! store: only it is trusted.
//!
//! One test in its own binary: the trust store is chosen by environment variables, which are
//! set once, before any thread exists, and then shared by every case.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::tls_front::{TestCa, TlsFront};
use common::*;
use roomlink::{CaPem, ErrorCode, RoomStateChangedReason as R, Transport};

const ROOM: &str = "trust";

/// A client over the real engine's default transport (`Engine::new`, as every binding creates
/// it), reaching the server through a TLS front whose certificate `ca` signed.
async fn client(
    server: &Server,
    user_id: &str,
    ca: &TestCa,
    pinned: Option<&TestCa>,
) -> (Client, TlsFront) {
    let mut front = None;
    let setup = |backend| {
        let tls = TlsFront::start_signed_by(backend, ca).expect("TLS front");
        let url = common::tls_front::url(&tls);
        front = Some(tls);
        (url, None::<Arc<dyn Transport>>)
    };
    let pem = pinned.map(|ca| CaPem(ca.pem().into_bytes()));
    let client = Client::with_transport(server, user_id, setup, |config| {
        config.tls_ca_pem = pem;
    })
    .await;
    (client, front.expect("front started"))
}

/// A store holding only `ca` (a file, and an empty folder so that no system folder is read).
fn store_with(ca: &TestCa) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("roomlink-trust-{}", std::process::id()));
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).expect("store folder");
    let file = dir.join("ca.pem");
    std::fs::write(&file, ca.pem()).expect("store file");
    (file, certs)
}

#[test]
fn the_platform_store_decides_unless_a_ca_is_pinned() {
    let company = TestCa::new("roomlink test: the company's CA, in the store").expect("CA");
    let other = TestCa::new("roomlink test: a CA nobody installed").expect("CA");
    let (file, dir) = store_with(&company);
    // SAFETY: the first thing this binary's only test does, before it starts any thread.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &file);
        std::env::set_var("SSL_CERT_DIR", &dir);
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            init_log();
            let server = Server::start().await;

            // A certificate from the CA in the store: in.
            let (mut a, _front) = client(&server, "alice", &company, None).await;
            a.join(&server, ROOM).await;

            // From a CA that is not in the store: refused at once, as a bad certificate is.
            let (mut b, front) = client(&server, "bob", &other, None).await;
            b.login(&server, ROOM);
            b.expect(
                state(R::LoginFailed, ErrorCode::CONNECT_FAILED),
                "LoginFailed 1002030 (untrusted CA)",
            )
            .await;
            wait_until("the front saw bob refuse its certificate", || {
                front.failed_handshakes() == 1
            })
            .await;

            // Pinned: the pinned CA is trusted although the store does not hold it...
            let (mut c, _front) = client(&server, "carol", &other, Some(&other)).await;
            c.join(&server, ROOM).await;

            // ...and the store is no longer consulted: the company's CA is refused.
            let (mut d, _front) = client(&server, "dave", &company, Some(&other)).await;
            d.login(&server, ROOM);
            d.expect(
                state(R::LoginFailed, ErrorCode::CONNECT_FAILED),
                "LoginFailed 1002030 (pinned CA only)",
            )
            .await;

            assert_eq!(server.members(ROOM).await, ids(&["alice", "carol"]));
        });
    let _ = std::fs::remove_dir_all(file.parent().expect("store folder"));
}
