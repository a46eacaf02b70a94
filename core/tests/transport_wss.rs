//! `wss://` end to end: WebSocketTransport over rustls (ring) against a TLS server with a
//! certificate made for the test, trusted through `with_tls_config`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomlink::ErrorCode;
use roomlink::machine::LinkError;
use roomlink::model::User;
use roomlink::protocol::{ClientFrame, HELLO_HEADER, Hello, Login, ServerFrame, WS_PATH};
use roomlink::transport::{Transport, WebSocketTransport};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;

const LIMIT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

struct Tls {
    acceptor: TlsAcceptor,
    cert: rustls::pki_types::CertificateDer<'static>,
}

fn tls_for_localhost() -> Tls {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert = key.cert.der().clone();
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .expect("server config");
    Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert,
    }
}

fn trusting(cert: &rustls::pki_types::CertificateDer<'static>) -> WebSocketTransport {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("add root");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    WebSocketTransport::with_tls_config(Arc::new(config))
}

fn hello() -> Hello {
    Hello {
        logins: vec![Login {
            room_id: "r1".into(),
            user: User::new("u1", "U"),
            token: "tok".into(),
            user_update: true,
            resume: None,
            streams: vec![],
            fence: None,
        }],
    }
}

#[tokio::test]
async fn wss_carries_the_hello_header_and_frames_both_ways() {
    let Tls { acceptor, cert } = tls_for_localhost();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.expect("TLS handshake");
        let mut hello_header = None;
        #[allow(clippy::result_large_err)]
        let mut ws = tokio_tungstenite::accept_hdr_async(
            tls,
            |req: &tokio_tungstenite::tungstenite::handshake::server::Request, resp| {
                hello_header = req
                    .headers()
                    .get(HELLO_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                Ok(resp)
            },
        )
        .await
        .expect("upgrade");
        ws.send(Message::text(ServerFrame::Pong.encode()))
            .await
            .unwrap();
        let got = ws.next().await.expect("a frame").expect("ok frame");
        (hello_header, got.into_text().unwrap().to_string())
    });

    let transport = trusting(&cert);
    let url = format!("wss://localhost:{port}{WS_PATH}");
    let mut conn = tokio::time::timeout(LIMIT, transport.connect(&url, &hello(), 64 * 1024))
        .await
        .expect("no hang")
        .expect("wss connect");
    let first = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        ServerFrame::decode(&first, 1024).unwrap(),
        ServerFrame::Pong
    );
    conn.sink.send(ClientFrame::Ping.encode()).await.unwrap();
    let (hello_header, echoed) = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert_eq!(
        Hello::from_header(&hello_header.expect("hello header"), 8192).unwrap(),
        hello()
    );
    assert_eq!(
        ClientFrame::decode(&echoed, 1024).unwrap(),
        ClientFrame::Ping
    );
}

#[tokio::test]
async fn wss_with_an_untrusted_certificate_is_a_fatal_connect_failure() {
    let Tls { acceptor, .. } = tls_for_localhost();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    // The default transport trusts the public web roots only.
    let transport = WebSocketTransport::new().unwrap();
    let url = format!("wss://localhost:{port}{WS_PATH}");
    let result = tokio::time::timeout(LIMIT, transport.connect(&url, &hello(), 64 * 1024))
        .await
        .expect("no hang");
    match result {
        Err(LinkError::Fatal { code, .. }) => assert_eq!(code, ErrorCode::CONNECT_FAILED),
        Err(other) => panic!("expected a fatal error, got {other:?}"),
        Ok(_) => panic!("an untrusted certificate must not connect"),
    }
}
