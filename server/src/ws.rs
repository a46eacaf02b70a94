//! The WebSocket endpoint: upgrade checks, then one task per connection.
//!
//! The task owns the socket and multiplexes four things with `select!`: frames queued for it by
//! the registry, frames from the client, its silence deadline (a single `Sleep` pushed back on
//! every inbound frame, so no polling) and the server's shutdown signal.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roomlink::ErrorCode;
use roomlink::protocol::{
    ClientFrame, HELLO_HEADER, Hello, PROTOCOL_VERSION, ServerFrame, VERSION_HEADER,
};
use tokio::sync::{Notify, mpsc};

use crate::AppState;
use crate::config::deadline;
use crate::registry::{ConnEnd, ConnHandle};

/// Frames queued for one connection before it counts as not keeping up (see [`ConnHandle::send`]).
const OUTBOUND_QUEUE: usize = 1024;
/// The WebSocket layer's own size limit is this much above `max_frame_bytes`, so a frame just over
/// the protocol limit reaches our check and gets a `Bye` rather than a bare transport error.
const WS_LIMIT_SLACK: usize = 4096;

/// Capacity of each connection's WebSocket read buffer. tungstenite's default (128 KiB) is
/// zero-filled on the first read, so it is resident for every idle connection; client frames are
/// small (a ping is 12 bytes) and a larger one still gets room reserved for its full length.
const READ_BUFFER_BYTES: usize = 1024;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

fn bad_request(msg: String) -> Response {
    log::info!("upgrade refused: {msg}");
    (StatusCode::BAD_REQUEST, msg).into_response()
}

/// `GET /v1/ws`: checks the version and hello headers before upgrading.
pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let version = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if version != Some(PROTOCOL_VERSION.to_string().as_str()) {
        return bad_request(format!(
            "missing or unsupported {VERSION_HEADER} header (got {version:?}); this server speaks {PROTOCOL_VERSION}"
        ));
    }
    let max = app.config.max_frame_bytes;
    let hello = match headers.get(HELLO_HEADER) {
        None => Hello { logins: Vec::new() },
        Some(v) => match v
            .to_str()
            .map_err(|e| e.to_string())
            .and_then(|s| Hello::from_header(s, max).map_err(|e| e.to_string()))
        {
            Ok(h) => h,
            Err(e) => return bad_request(format!("malformed {HELLO_HEADER} header: {e}")),
        },
    };
    let ws_limit = max.saturating_add(WS_LIMIT_SLACK);
    ws.max_message_size(ws_limit)
        .max_frame_size(ws_limit)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| run(socket, app, hello))
}

enum End {
    Closed,
    Silent,
    Shutdown,
}

/// What to do after an inbound message.
enum Inbound {
    Continue,
    Close,
    ProtocolError(String),
}

fn handle_message(app: &AppState, conn: &ConnHandle, msg: Message) -> Inbound {
    let text = match msg {
        Message::Text(t) => t,
        Message::Binary(_) => {
            return Inbound::ProtocolError("binary frames are not part of the protocol".into());
        }
        Message::Ping(_) | Message::Pong(_) => return Inbound::Continue,
        Message::Close(_) => return Inbound::Close,
    };
    let frame = match ClientFrame::decode(text.as_str(), app.config.max_frame_bytes) {
        Ok(f) => f,
        Err(e) => return Inbound::ProtocolError(e.to_string()),
    };
    let reg = &app.registry;
    match frame {
        ClientFrame::Login(login) => reg.login(conn, login),
        ClientFrame::Logout {
            room_id,
            session_id,
        } => reg.logout(conn, &room_id, session_id.as_deref()),
        ClientFrame::Ping => conn.send(ServerFrame::Pong),
        ClientFrame::RenewToken { room_id, token } => reg.renew_token(conn, &room_id, &token),
        ClientFrame::PublishStream {
            room_id,
            stream_id,
            extra_info,
        } => reg.publish_stream(conn, &room_id, &stream_id, &extra_info),
        ClientFrame::UnpublishStream { room_id, stream_id } => {
            reg.unpublish_stream(conn, &room_id, &stream_id)
        }
        // Newer clients may send frames this server does not know; ignoring them keeps both working.
        ClientFrame::Unknown => log::debug!("conn {}: unknown frame ignored", conn.id),
    }
    Inbound::Continue
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame, limit: std::time::Duration) -> bool {
    let msg = Message::Text(frame.encode().into());
    // A peer that stops reading must not wedge this task: a write stuck this long ends the link.
    matches!(
        tokio::time::timeout(limit, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

async fn say_bye(socket: &mut WebSocket, message: String, limit: std::time::Duration) {
    let bye = ServerFrame::Bye {
        code: ErrorCode::PROTOCOL_ERROR,
        message: message.clone(),
    };
    if send(socket, &bye, limit).await {
        let close = CloseFrame {
            code: 1008,
            reason: "protocol error".into(),
        };
        let _ = tokio::time::timeout(limit, socket.send(Message::Close(Some(close)))).await;
    }
}

async fn run(mut socket: WebSocket, app: Arc<AppState>, hello: Hello) {
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel(OUTBOUND_QUEUE);
    let kill = Arc::new(Notify::new());
    let conn = ConnHandle::new(id, tx, kill.clone());
    let mut shutdown = app.shutdown.clone();
    if *shutdown.borrow() {
        return;
    }
    let timeout = app.config.heartbeat_timeout;
    log::debug!("conn {id}: open with {} logins", hello.logins.len());
    for login in hello.logins {
        app.registry.login(&conn, login);
    }
    let mut last_heard = Instant::now();
    let silence = tokio::time::sleep_until(deadline(last_heard, timeout).into());
    tokio::pin!(silence);

    let end = loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break End::Shutdown,
            _ = kill.notified() => break End::Closed,
            Some(frame) = rx.recv() => {
                if !send(&mut socket, &frame, timeout).await {
                    break End::Closed;
                }
            }
            msg = socket.recv() => {
                let msg = match msg {
                    None => break End::Closed,
                    Some(Err(e)) => {
                        log::info!("conn {id}: read error: {e}");
                        say_bye(&mut socket, format!("read error: {e}"), timeout).await;
                        break End::Closed;
                    }
                    Some(Ok(m)) => m,
                };
                last_heard = Instant::now();
                silence.as_mut().reset(deadline(last_heard, timeout).into());
                match handle_message(&app, &conn, msg) {
                    Inbound::Continue => {}
                    Inbound::Close => break End::Closed,
                    Inbound::ProtocolError(e) => {
                        log::info!("conn {id}: protocol error: {e}");
                        say_bye(&mut socket, e, timeout).await;
                        break End::Closed;
                    }
                }
            }
            _ = &mut silence => break End::Silent,
        }
    };
    match end {
        End::Closed => app
            .registry
            .connection_ended(id, ConnEnd::Closed { last_heard }),
        End::Silent => {
            log::info!("conn {id}: silent for {timeout:?}, closing");
            app.registry.connection_ended(id, ConnEnd::Silent);
            let _ = tokio::time::timeout(timeout, socket.send(Message::Close(None))).await;
        }
        // The registry was cleared; just drop the socket, as a crashed or restarted server would.
        End::Shutdown => {}
    }
    log::debug!("conn {id}: closed");
}
