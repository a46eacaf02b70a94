//! Teardown is bounded offline: `destroy` returns at once even when a link is stuck in a send
//! (a dead TCP path whose send buffer is full: the write never completes, so the connection task
//! never reads its close command). The goodbye (logout frames, a close frame) is best effort;
//! destroy must not wait out the close grace for a link that cannot take it.

mod engine_support;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use engine_support::*;
use futures_util::Sink;
use roomlink::machine::LinkError;
use roomlink::protocol::Hello;
use roomlink::transport::{BoxFuture, Connection, MemoryTransport};
use roomlink::{Engine, ErrorCode, RoomConfig, RoomStateChangedReason as R, Transport, User};

/// A sink that never takes a frame: what a socket with a full send buffer on a dead path is.
/// It reports the first attempt to send.
struct StuckSink(Option<mpsc::Sender<()>>);

impl Sink<String> for StuckSink {
    type Error = LinkError;
    fn poll_ready(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
        Poll::Pending // never woken: the path is dead
    }
    fn start_send(self: Pin<&mut Self>, _: String) -> Result<(), LinkError> {
        unreachable!("never ready")
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Pending
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Pending
    }
}

/// The memory transport, with every connection's sending half stuck.
struct StuckSending {
    inner: MemoryTransport,
    first_send: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl Transport for StuckSending {
    fn connect(
        &self,
        url: &str,
        hello: &Hello,
        max_frame_bytes: usize,
    ) -> BoxFuture<Result<Connection, LinkError>> {
        let connect = self.inner.connect(url, hello, max_frame_bytes);
        let tx = self.first_send.lock().unwrap().take();
        Box::pin(async move {
            let conn = connect.await?;
            Ok(Connection {
                sink: Box::pin(StuckSink(tx)),
                stream: conn.stream,
            })
        })
    }
}

#[test]
fn destroy_does_not_wait_for_a_link_stuck_in_a_send() {
    let (inner, acceptor) = MemoryTransport::new();
    let (sent, first_send) = mpsc::channel();
    let transport = StuckSending {
        inner,
        first_send: std::sync::Mutex::new(Some(sent)),
    };
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    let _end = accept_and_answer(&acceptor);
    assert_eq!(next_state(&rx).1, R::Logining);
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    // The next frame (a publish) gets the connection task stuck in its send.
    engine.publish_stream("room1", "cam", "").unwrap();
    first_send
        .recv_timeout(LIMIT)
        .expect("the engine tried to send");

    let started = Instant::now();
    engine.destroy();
    let took = started.elapsed();
    // Before, destroy waited the 1 s close grace for this link; anything near it means waiting.
    assert!(
        took < Duration::from_millis(500),
        "destroy waited {took:?} for a link that cannot send"
    );
}
