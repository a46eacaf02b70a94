//! MemoryTransport: the acceptor decides each connection's fate.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomlink::ErrorCode;
use roomlink::machine::LinkError;
use roomlink::model::User;
use roomlink::protocol::{ClientFrame, Hello, Login, ServerFrame};
use roomlink::transport::{MemoryTransport, Transport};

const LIMIT: Duration = Duration::from_secs(5);

fn hello() -> Hello {
    Hello {
        logins: vec![Login {
            room_id: "r".into(),
            user: User::new("u", "U"),
            token: "t".into(),
            user_update: true,
            resume: None,
            streams: vec![],
            fence: None,
        }],
    }
}

/// Runs the acceptor side on a blocking thread so the async test can keep polling the client.
async fn server<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn accepted_connection_carries_hello_and_frames_both_ways() {
    let (transport, acceptor) = MemoryTransport::new();
    let connect = tokio::spawn(transport.connect("mem://x", &hello(), 1024));
    let end = server(move || {
        let pending = acceptor.accept_timeout(LIMIT).expect("attempt");
        assert_eq!(pending.url(), "mem://x");
        assert_eq!(pending.hello(), &hello());
        pending.accept()
    })
    .await;
    let mut conn = connect.await.unwrap().unwrap();
    assert!(end.send(&ServerFrame::Pong));
    let got = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(ServerFrame::decode(&got, 1024).unwrap(), ServerFrame::Pong);
    conn.sink.send(ClientFrame::Ping.encode()).await.unwrap();
    let end = server(move || {
        assert_eq!(end.recv(LIMIT), Some(ClientFrame::Ping));
        end
    })
    .await;
    // The server dropping the link ends the client's stream.
    end.close();
    assert!(
        tokio::time::timeout(LIMIT, conn.stream.next())
            .await
            .unwrap()
            .is_none()
    );
    // ...and sending fails as transient.
    let result = conn.sink.send("x".into()).await;
    assert!(matches!(result, Err(LinkError::Transient(_))), "{result:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_and_dropped_attempts_fail() {
    let (transport, acceptor) = MemoryTransport::new();
    let first = tokio::spawn(transport.connect("mem://x", &hello(), 1024));
    let second = tokio::spawn(transport.connect("mem://x", &hello(), 1024));
    server(move || {
        let fatal = LinkError::Fatal {
            code: ErrorCode::CONNECT_FAILED,
            detail: "no".into(),
        };
        acceptor.accept_timeout(LIMIT).unwrap().refuse(fatal);
        drop(acceptor.accept_timeout(LIMIT).unwrap());
    })
    .await;
    let first = first.await.unwrap().unwrap_err();
    assert!(matches!(
        first,
        LinkError::Fatal {
            code: ErrorCode::CONNECT_FAILED,
            ..
        }
    ));
    let second = second.await.unwrap().unwrap_err();
    assert!(matches!(second, LinkError::Transient(_)));
}

#[tokio::test(flavor = "multi_thread")]
async fn held_attempt_is_a_blackhole_and_no_acceptor_refuses() {
    let (transport, acceptor) = MemoryTransport::new();
    let attempt = transport.connect("mem://x", &hello(), 1024);
    let held = server(move || (acceptor.accept_timeout(LIMIT).unwrap(), acceptor)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), attempt)
            .await
            .is_err(),
        "must hang"
    );
    drop(held);
    let error = transport
        .connect("mem://x", &hello(), 1024)
        .await
        .unwrap_err();
    assert!(matches!(error, LinkError::Transient(_)));
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_frames_and_injected_errors_reach_the_client() {
    let (transport, acceptor) = MemoryTransport::new();
    let connect = tokio::spawn(transport.connect("mem://x", &hello(), 1024));
    let end = server(move || acceptor.accept_timeout(LIMIT).unwrap().accept()).await;
    let mut conn = connect.await.unwrap().unwrap();
    assert!(end.send_text("z".repeat(2000)));
    let item = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap();
    assert!(
        matches!(item, Some(Err(LinkError::Protocol(_)))),
        "{item:?}"
    );
    let result = conn.sink.send("z".repeat(2000)).await;
    assert!(matches!(result, Err(LinkError::Protocol(_))), "{result:?}");
    end.fail(LinkError::Transient("reset".into()));
    let item = tokio::time::timeout(LIMIT, conn.stream.next())
        .await
        .unwrap();
    assert_eq!(item, Some(Err(LinkError::Transient("reset".into()))));
}
