//! WebSocketTransport against tiny tokio-tungstenite servers on localhost.
// tungstenite's handshake callback type returns its large ErrorResponse by value.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomlink::ErrorCode;
use roomlink::machine::LinkError;
use roomlink::model::User;
use roomlink::protocol::{HELLO_HEADER, Hello, Login, ServerFrame, VERSION_HEADER, WS_PATH};
use roomlink::transport::{Connection, Transport, WebSocketTransport};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

const LIMIT: Duration = Duration::from_secs(10);

fn hello() -> Hello {
    Hello {
        logins: vec![Login {
            room_id: "room1".into(),
            user: User::new("u1", "Zoë"),
            token: "secret-token".into(),
            user_update: true,
            resume: None,
            streams: vec![],
            fence: None,
        }],
    }
}

/// What the server saw in the upgrade request.
#[derive(Debug)]
struct Upgrade {
    uri: String,
    version: Option<String>,
    hello: Option<String>,
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}{}", listener.local_addr().unwrap(), WS_PATH);
    (listener, url)
}

/// Asserts `error` is the fatal 1002030 (retrying cannot help).
fn assert_connect_failed(error: &LinkError, context: &str) {
    assert!(
        matches!(
            error,
            LinkError::Fatal {
                code: ErrorCode::CONNECT_FAILED,
                ..
            }
        ),
        "{context} {error:?}"
    );
}

/// Accepts one connection and refuses its WebSocket upgrade with `status`.
async fn refuse_upgrade(listener: TcpListener, status: StatusCode, why: &'static str) {
    let (tcp, _) = listener.accept().await.unwrap();
    let _ = tokio_tungstenite::accept_hdr_async(tcp, |_req: &Request, _resp: Response| {
        let mut refusal = ErrorResponse::new(Some(why.to_owned()));
        *refusal.status_mut() = status;
        Err(refusal)
    })
    .await;
}

/// Accepts one connection, reads the request and answers with `response` verbatim (a plain web
/// server, or plain HTTP where TLS was expected).
async fn answer_raw(listener: TcpListener, response: &'static [u8]) {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 2048];
    let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
    let _ = tcp.write_all(response).await;
    let _ = tcp.shutdown().await;
}

/// Accepts one WebSocket connection, reports the upgrade request, then runs `script` on it.
async fn serve_one<F, Fut>(listener: TcpListener, seen: oneshot::Sender<Upgrade>, script: F)
where
    F: FnOnce(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (tcp, _) = listener.accept().await.unwrap();
    let mut seen = Some(seen);
    let ws = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let upgrade = Upgrade {
            uri: req.uri().to_string(),
            version: header(VERSION_HEADER),
            hello: header(HELLO_HEADER),
        };
        if let Some(seen) = seen.take() {
            let _ = seen.send(upgrade);
        }
        Ok(resp)
    })
    .await
    .unwrap();
    script(ws).await;
}

async fn connect(url: &str, max: usize) -> Result<Connection, LinkError> {
    let transport = WebSocketTransport::new().unwrap();
    tokio::time::timeout(LIMIT, transport.connect(url, &hello(), max))
        .await
        .expect("connect hung")
}

#[tokio::test]
async fn login_rides_in_upgrade_headers_and_frames_flow_both_ways() {
    let (listener, url) = listener().await;
    let (seen_tx, seen_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, seen_tx, |mut ws| async move {
        let got = ws.next().await.unwrap().unwrap();
        assert_eq!(got, Message::text(r#"{"t":"ping"}"#));
        ws.send(Message::text(ServerFrame::Pong.encode()))
            .await
            .unwrap();
        // Wait for the client to close.
        while let Some(Ok(_)) = ws.next().await {}
    }));

    let mut conn = connect(&url, 64 * 1024).await.unwrap();
    let upgrade = seen_rx.await.unwrap();
    assert_eq!(upgrade.uri, WS_PATH, "path kept, nothing added to the URL");
    assert!(!upgrade.uri.contains("secret-token"));
    assert_eq!(upgrade.version.as_deref(), Some("1"));
    let hello_header = upgrade.hello.expect("hello header present");
    assert_eq!(Hello::from_header(&hello_header, 8192).unwrap(), hello());

    conn.sink.send(r#"{"t":"ping"}"#.to_owned()).await.unwrap();
    let reply = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        ServerFrame::decode(&reply, 1024).unwrap(),
        ServerFrame::Pong
    );
    conn.sink.close().await.unwrap();
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn oversized_incoming_frame_is_a_protocol_error() {
    let (listener, url) = listener().await;
    let (seen_tx, _seen_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, seen_tx, |mut ws| async move {
        let _ = ws.send(Message::text("x".repeat(4096))).await;
        while let Some(Ok(_)) = ws.next().await {}
    }));
    let mut conn = connect(&url, 1024).await.unwrap();
    let item = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap();
    assert!(
        matches!(item, Some(Err(LinkError::Protocol(_)))),
        "{item:?}"
    );
    drop(conn);
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn oversized_outgoing_frame_is_refused() {
    let (listener, url) = listener().await;
    let (seen_tx, _seen_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, seen_tx, |mut ws| async move {
        while let Some(Ok(_)) = ws.next().await {}
    }));
    let mut conn = connect(&url, 1024).await.unwrap();
    let result = conn.sink.send("y".repeat(2000)).await;
    assert!(matches!(result, Err(LinkError::Protocol(_))), "{result:?}");
    drop(conn);
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn binary_frame_is_a_protocol_error() {
    let (listener, url) = listener().await;
    let (seen_tx, _seen_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, seen_tx, |mut ws| async move {
        let _ = ws.send(Message::binary(vec![1u8, 2, 3])).await;
        while let Some(Ok(_)) = ws.next().await {}
    }));
    let mut conn = connect(&url, 1024).await.unwrap();
    let item = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap();
    assert!(
        matches!(item, Some(Err(LinkError::Protocol(_)))),
        "{item:?}"
    );
    drop(conn);
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn server_close_ends_the_stream_as_transient() {
    let (listener, url) = listener().await;
    let (seen_tx, _seen_rx) = oneshot::channel();
    let server = tokio::spawn(serve_one(listener, seen_tx, |mut ws| async move {
        let _ = ws.close(None).await;
    }));
    let mut conn = connect(&url, 1024).await.unwrap();
    match tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap()
    {
        Some(Err(LinkError::Transient(_))) | None => {}
        Some(Ok(text)) => panic!("unexpected frame {text}"),
        Some(Err(e)) => panic!("expected a transient end, got {e:?}"),
    }
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn http_400_on_upgrade_is_fatal_connect_failed() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(refuse_upgrade(
        listener,
        StatusCode::BAD_REQUEST,
        "missing hello",
    ));
    let error = connect(&url, 1024).await.unwrap_err();
    assert_connect_failed(&error, "");
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn http_503_from_an_overloaded_proxy_is_transient_and_retried() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(refuse_upgrade(
        listener,
        StatusCode::SERVICE_UNAVAILABLE,
        "try later",
    ));
    let error = connect(&url, 1024).await.unwrap_err();
    assert!(matches!(error, LinkError::Transient(_)), "{error:?}");
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn http_404_from_a_plain_web_server_is_fatal_connect_failed() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(answer_raw(
        listener,
        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
    ));
    let error = connect(&url, 1024).await.unwrap_err();
    assert_connect_failed(&error, "");
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn connection_refused_is_transient() {
    let (listener, url) = listener().await;
    drop(listener);
    let error = connect(&url, 1024).await.unwrap_err();
    assert!(matches!(error, LinkError::Transient(_)), "{error:?}");
}

#[tokio::test]
async fn invalid_urls_are_fatal_connect_failed() {
    for url in ["http://127.0.0.1:1/v1/ws", "ws://", "not a url"] {
        let error = connect(url, 1024).await.unwrap_err();
        assert_connect_failed(&error, url);
    }
}

#[tokio::test]
async fn tls_failure_is_fatal_connect_failed() {
    // A server that answers the TLS ClientHello with plain HTTP: rustls rejects the bytes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "wss://localhost:{}{}",
        listener.local_addr().unwrap().port(),
        WS_PATH
    );
    let server = tokio::spawn(answer_raw(
        listener,
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
    ));
    let error = connect(&url, 1024).await.unwrap_err();
    assert_connect_failed(&error, "");
    tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
}
