//! The server's lifecycle (serving, draining, stopped) and the graceful drain.
//!
//! One `watch` channel carries the lifecycle to every task: the accept loop stops accepting (and
//! drops the listener, so the port is closed) as soon as it leaves `Serving`; each WebSocket
//! task, on `Draining`, detaches its sessions as for a closed connection, sends
//! `bye{1900008 SERVER_DRAINING}` and a close `1012` ("service restart"), and waits for the
//! client's close until the drain deadline; on `Stopped` everything is dropped at once (as a
//! crash would). A drain is started by [`crate::ServerHandle::drain`] or `POST /admin/drain`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;
use tokio::sync::watch;

use crate::AppState;

/// WebSocket close code 1012, "service restart" (RFC 6455 registry): the server is going away
/// and the client should reconnect, elsewhere if it can.
pub(crate) const CLOSE_SERVICE_RESTART: u16 = 1012;

/// Where the server is in its life. It only ever moves forward: Serving → Draining → Stopped
/// (or straight to Stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Serving,
    /// Not accepting; connections are told to go elsewhere and closed, each given until
    /// `deadline` for its close handshake.
    Draining {
        deadline: Instant,
    },
    /// Shut down: connections are dropped without a goodbye.
    Stopped,
}

/// The sending side of the lifecycle, shared by the handle and the admin API.
#[derive(Debug)]
pub(crate) struct Control {
    tx: watch::Sender<Lifecycle>,
}

impl Control {
    pub(crate) fn new() -> (Arc<Control>, watch::Receiver<Lifecycle>) {
        let (tx, rx) = watch::channel(Lifecycle::Serving);
        (Arc::new(Control { tx }), rx)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Lifecycle> {
        self.tx.subscribe()
    }

    /// Starts draining with `deadline` if still serving, and returns the deadline in force: a
    /// drain already under way keeps its own (a second request does not move it).
    pub(crate) fn begin(&self, deadline: Instant) -> Option<Instant> {
        self.tx.send_if_modified(|state| match state {
            Lifecycle::Serving => {
                *state = Lifecycle::Draining { deadline };
                true
            }
            _ => false,
        });
        match *self.tx.borrow() {
            Lifecycle::Draining { deadline } => Some(deadline),
            Lifecycle::Serving | Lifecycle::Stopped => None,
        }
    }

    pub(crate) fn stop(&self) {
        self.tx.send_replace(Lifecycle::Stopped);
    }

    /// Resolves once a drain has begun (or the server stopped), with the drain's deadline.
    pub(crate) async fn began(&self) -> Option<Instant> {
        let mut rx = self.subscribe();
        let state = match rx.wait_for(|s| *s != Lifecycle::Serving).await {
            Ok(s) => *s,
            Err(_) => Lifecycle::Stopped,
        };
        match state {
            Lifecycle::Draining { deadline } => Some(deadline),
            Lifecycle::Serving | Lifecycle::Stopped => None,
        }
    }
}

/// What a WebSocket task sends a connection when the server drains, then waits (until the
/// deadline at most) for the client's close so the close handshake completes; the caller drops
/// the socket after. A client that never answers the close is cut off at the deadline.
pub(crate) async fn goodbye(socket: &mut WebSocket, deadline: Instant) {
    let exchange = async {
        let bye = ServerFrame::Bye {
            code: ErrorCode::SERVER_DRAINING,
            message: "server draining: reconnect, to another node if you can".into(),
        };
        if socket
            .send(Message::Text(bye.encode().into()))
            .await
            .is_err()
        {
            return;
        }
        let close = CloseFrame {
            code: CLOSE_SERVICE_RESTART,
            reason: "service restart".into(),
        };
        if socket.send(Message::Close(Some(close))).await.is_err() {
            return;
        }
        // Whatever the client still sends before its close is not acted on: its sessions are
        // detached already.
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline.into(), exchange).await;
}

/// `GET /healthz`: 200 `ok` while serving, 503 `draining` once a drain began (a load balancer
/// that still reaches the node through a connection accepted before takes it out of rotation).
pub(crate) async fn healthz(State(app): State<Arc<AppState>>) -> Response {
    match *app.lifecycle.borrow() {
        Lifecycle::Serving => (StatusCode::OK, "ok").into_response(),
        Lifecycle::Draining { .. } | Lifecycle::Stopped => {
            (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
        }
    }
}

/// How long from now until `deadline`, for the admin API's answer.
pub(crate) fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
