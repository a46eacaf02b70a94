//! The WebSocket endpoint: upgrade checks, then one task per connection.
//!
//! The task owns the socket and multiplexes four things with `select!`: frames queued for it by
//! the registry, frames from the client, its deadline (a single `Sleep` pushed back on every
//! inbound frame, so no polling) and the server's lifecycle (drain, shutdown: `drain.rs`).
//! Until the connection is first
//! answered `joined` or `resumed`, the same `Sleep` also stands for the login deadline
//! (`login_timeout` after the upgrade): a connection that never gets a session is closed then,
//! so sockets without a session cannot pile up until the heartbeat timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{
    ClientFrame, HELLO_HEADER, Hello, PROTOCOL_VERSION, ServerFrame, VERSION_HEADER,
};

use crate::AppState;
use crate::config::deadline;
use crate::drain::Lifecycle;
use crate::flood::{FrameBudget, Verdict};
use crate::metrics::DriverStats;
use crate::registry::{ConnEnd, ConnHandle, Outbound, Outbox};

/// The WebSocket layer's own size limit is this much above `max_frame_bytes`, so a frame just over
/// the protocol limit reaches our check and gets a `Bye` rather than a bare transport error.
const WS_LIMIT_SLACK: usize = 4096;

/// Capacity of each connection's WebSocket read buffer. tungstenite's default (128 KiB) is
/// zero-filled on the first read, so it is resident for every idle connection; client frames are
/// small (a ping frame is 18 bytes on the wire) and a larger one still gets room reserved for its
/// full length, so this only bounds how much one read takes in. 1 KiB cost ~0.85 KiB of RSS per
/// idle session at 10 000.
const READ_BUFFER_BYTES: usize = 64;

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
        .on_upgrade(move |socket| {
            // A task of its own rather than axum's upgrade task: that task's future is sized for
            // the upgrade's states as well as ours and would stay resident for the connection's
            // whole life; this one holds just the connection loop. axum's task ends at once.
            tokio::spawn(run(socket, app, hello));
            std::future::ready(())
        })
}

enum End {
    Closed,
    Silent,
    /// No session `login_timeout` after the upgrade.
    Sessionless,
    /// The server drains: detach, say `bye{1900008}`, close with 1012 by the deadline.
    Drain(Instant),
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
            DriverStats::bump(&app.stats.decode_errors);
            return Inbound::ProtocolError("binary frames are not part of the protocol".into());
        }
        Message::Ping(_) | Message::Pong(_) => return Inbound::Continue,
        Message::Close(_) => return Inbound::Close,
    };
    let frame = match ClientFrame::decode(text.as_str(), app.config.max_frame_bytes) {
        Ok(f) => f,
        Err(e) => {
            DriverStats::bump(&app.stats.decode_errors);
            return Inbound::ProtocolError(e.to_string());
        }
    };
    let reg = &app.registry;
    match frame {
        ClientFrame::Login(login) => {
            conn.outbox().login_started(&login.room_id, Instant::now());
            reg.login(conn, login)
        }
        ClientFrame::Logout {
            room_id,
            session_id,
            token,
        } => reg.logout(conn, &room_id, session_id.as_deref(), token.as_deref()),
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

async fn send(socket: &mut WebSocket, frame: &ServerFrame, limit: Duration) -> bool {
    let msg = Message::Text(frame.encode().into());
    // A peer that stops reading must not wedge this task: a write stuck this long ends the link.
    matches!(
        tokio::time::timeout(limit, socket.send(msg)).await,
        Ok(Ok(()))
    )
}

/// Sends every queued frame, oldest first; `Some` when the connection must end. Sets
/// `has_session` once a frame grants one.
async fn flush(
    socket: &mut WebSocket,
    out: &Outbox,
    stats: &DriverStats,
    limit: Duration,
    has_session: &mut bool,
) -> Option<End> {
    loop {
        match out.take() {
            Outbound::Empty => return None,
            Outbound::Kill => return Some(killed(out, stats)),
            Outbound::Frame(frame) => {
                if let ServerFrame::Joined { room_id, .. }
                | ServerFrame::Resumed { room_id, .. }
                | ServerFrame::LoginFailed { room_id, .. } = &*frame
                    && let Some(at) = out.login_answered(room_id)
                {
                    stats.login_answered(at.elapsed());
                }
                if matches!(
                    *frame,
                    ServerFrame::Joined { .. } | ServerFrame::Resumed { .. }
                ) {
                    *has_session = true;
                }
                // A peer that does not read blocks this write while its queue overflows; the
                // kill ends the write rather than waiting out its timeout.
                let sent = tokio::select! {
                    sent = send(socket, &frame, limit) => sent,
                    () = out.killed() => return Some(killed(out, stats)),
                };
                if !sent {
                    return Some(End::Closed);
                }
            }
        }
    }
}

/// The connection was told to close; counted if for an overflowed queue.
fn killed(out: &Outbox, stats: &DriverStats) -> End {
    if out.overflowed() {
        DriverStats::bump(&stats.queue_overflows);
    }
    End::Closed
}

async fn say_bye(socket: &mut WebSocket, code: ErrorCode, message: String, limit: Duration) {
    let reason = if code == ErrorCode::RATE_LIMITED {
        "rate limited"
    } else {
        "protocol error"
    };
    let bye = ServerFrame::Bye { code, message };
    if send(socket, &bye, limit).await {
        let close = CloseFrame {
            code: 1008,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(limit, socket.send(Message::Close(Some(close)))).await;
    }
}

/// The handshake phase: registers the connection and performs the hello's logins. Synchronous on
/// purpose, so nothing of it (the hello's logins) lives on in the connection task's future.
fn open(app: &AppState, hello: Hello) -> ConnHandle {
    let id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let conn = ConnHandle::new(id, Arc::new(Outbox::default()));
    log::debug!("conn {id}: open with {} logins", hello.logins.len());
    for login in hello.logins {
        conn.outbox().login_started(&login.room_id, Instant::now());
        app.registry.login(&conn, login);
    }
    conn
}

/// Not an `async fn`: an async fn's arguments stay in its future next to the future it awaits,
/// so the socket would be held twice over. The handshake runs here, before the task's future
/// exists, and the future is the steady-state loop alone.
fn run(socket: WebSocket, app: Arc<AppState>, hello: Hello) -> impl Future<Output = ()> {
    let conn = match *app.lifecycle.borrow() {
        Lifecycle::Serving => Some(open(&app, hello)),
        // An upgrade that was under way when the drain began: its logins are not taken (it
        // would only hold sessions here to be detached at once); the loop says goodbye at once.
        Lifecycle::Draining { .. } => Some(open(&app, Hello { logins: Vec::new() })),
        Lifecycle::Stopped => None,
    };
    serve(socket, app, conn)
}

/// Re-arms the loop's one deadline timer for `(at, is_login_deadline)` (what `next_deadline`
/// chose); returns whether it is now the login deadline.
fn rearm(silence: std::pin::Pin<&mut tokio::time::Sleep>, (at, is_login): (Instant, bool)) -> bool {
    silence.reset(at.into());
    is_login
}

/// What woke the steady-state loop.
enum Wake {
    End(End),
    /// The silence deadline or the login deadline (`is_login_deadline`) passed.
    Deadline,
    /// The lifecycle changed (or its sender is gone, which is a shutdown).
    Lifecycle,
    Outbound,
    Inbound(Option<Result<Message, axum::Error>>),
}

/// The steady state. This future is resident for every idle connection, so it holds only what
/// waiting needs: every send and goodbye is awaited in a boxed future of its own, allocated only
/// while it runs, instead of widening this one by its largest state.
async fn serve(mut socket: WebSocket, app: Arc<AppState>, conn: Option<ConnHandle>) {
    // `None`: the server was shutting down as the upgrade completed.
    let Some(conn) = conn else { return };
    let conn = &conn;
    let app = &*app;
    let id = conn.id;
    let out = conn.outbox();
    // A clone of the state's receiver has seen only the initial `Serving`: if a drain began
    // before this loop started, the first `changed()` fires at once.
    let mut lifecycle = app.lifecycle.clone();
    let timeout = app.config.heartbeat_timeout;
    let mut last_heard = Instant::now();
    // `Some` until the connection holds a session: when it must have one by.
    let mut login_by = Some(deadline(last_heard, app.config.login_timeout));
    let mut has_session = false;
    // The login deadline passed while a login was in flight (a cluster node waiting on Redis,
    // or a server busy with a mass login): the client did its part, so the connection is
    // closed only once its logins are answered and none gave it a session. Bounded by a
    // heartbeat timeout from then, so an answer that never comes cannot hold it for ever.
    let mut login_overdue = false;
    let mut budget = FrameBudget::default();
    // The earlier of the silence deadline and the login deadline, and whether it is the latter.
    let next_deadline = |last_heard: Instant, login_by: Option<Instant>| {
        let silent_at = deadline(last_heard, timeout);
        match login_by {
            Some(at) if at <= silent_at => (at, true),
            _ => (silent_at, false),
        }
    };
    let (at, mut is_login_deadline) = next_deadline(last_heard, login_by);
    let silence = tokio::time::sleep_until(at.into());
    tokio::pin!(silence);

    let end = loop {
        let wake = tokio::select! {
            biased;
            r = lifecycle.changed() => if r.is_ok() { Wake::Lifecycle } else { Wake::End(End::Shutdown) },
            _ = out.changed() => Wake::Outbound,
            msg = socket.recv() => Wake::Inbound(msg),
            _ = &mut silence => Wake::Deadline,
        };
        let msg = match wake {
            Wake::End(end) => break end,
            Wake::Deadline if !is_login_deadline => break End::Silent,
            Wake::Deadline if login_overdue || !out.login_in_flight() => break End::Sessionless,
            Wake::Deadline => {
                login_overdue = true;
                login_by = Some(deadline(Instant::now(), timeout));
                is_login_deadline = rearm(silence.as_mut(), next_deadline(last_heard, login_by));
                continue;
            }
            Wake::Lifecycle => match *lifecycle.borrow_and_update() {
                Lifecycle::Serving => continue,
                Lifecycle::Draining { deadline } => break End::Drain(deadline),
                Lifecycle::Stopped => break End::Shutdown,
            },
            Wake::Outbound => {
                let end = Box::pin(flush(
                    &mut socket,
                    out,
                    &app.stats,
                    timeout,
                    &mut has_session,
                ))
                .await;
                if has_session && login_by.take().is_some() {
                    is_login_deadline =
                        rearm(silence.as_mut(), next_deadline(last_heard, login_by));
                }
                match end {
                    Some(end) => break end,
                    // The overdue logins are answered and none gave a session.
                    None if login_overdue && !has_session && !out.login_in_flight() => {
                        break End::Sessionless;
                    }
                    None => continue,
                }
            }
            Wake::Inbound(None) => break End::Closed,
            Wake::Inbound(Some(Err(e))) => {
                log::info!("conn {id}: read error: {e}");
                let bye = say_bye(
                    &mut socket,
                    ErrorCode::PROTOCOL_ERROR,
                    format!("read error: {e}"),
                    timeout,
                );
                Box::pin(bye).await;
                break End::Closed;
            }
            Wake::Inbound(Some(Ok(m))) => m,
        };
        last_heard = Instant::now();
        is_login_deadline = rearm(silence.as_mut(), next_deadline(last_heard, login_by));
        if !matches!(msg, Message::Close(_)) {
            match budget.on_frame(last_heard, app.config.rates.frames) {
                Verdict::Serve => {}
                Verdict::Refuse => {
                    DriverStats::bump(&app.stats.frames_refused);
                    log::debug!("conn {id}: over its frame rate; frames dropped");
                    conn.send(ServerFrame::Error {
                        room_id: None,
                        code: ErrorCode::RATE_LIMITED,
                        message: "too many frames; dropped until the rate falls".into(),
                    });
                    continue;
                }
                Verdict::Drop => {
                    DriverStats::bump(&app.stats.frames_refused);
                    continue;
                }
                Verdict::Close => {
                    DriverStats::bump(&app.stats.frames_refused);
                    log::info!("conn {id}: went on sending over its frame rate, closing");
                    let message = "too many frames".to_string();
                    let bye = say_bye(&mut socket, ErrorCode::RATE_LIMITED, message, timeout);
                    Box::pin(bye).await;
                    break End::Closed;
                }
            }
        }
        match handle_message(app, conn, msg) {
            Inbound::Continue => {}
            Inbound::Close => break End::Closed,
            Inbound::ProtocolError(e) => {
                log::info!("conn {id}: protocol error: {e}");
                Box::pin(say_bye(&mut socket, ErrorCode::PROTOCOL_ERROR, e, timeout)).await;
                break End::Closed;
            }
        }
    };
    out.close();
    match end {
        End::Closed => app
            .registry
            .connection_ended(id, ConnEnd::Closed { last_heard }),
        End::Silent => {
            log::info!("conn {id}: silent for {timeout:?}, closing");
            app.registry.connection_ended(id, ConnEnd::Silent);
            let close = tokio::time::timeout(timeout, socket.send(Message::Close(None)));
            let _ = Box::pin(close).await;
        }
        End::Sessionless => {
            app.edge.sessionless_closed(app.config.login_timeout);
            app.registry
                .connection_ended(id, ConnEnd::Closed { last_heard });
            let close = CloseFrame {
                code: 1008,
                reason: "no session".into(),
            };
            // Short: a client that holds no session is owed no patience.
            let limit = app.config.request_timeout;
            let close = tokio::time::timeout(limit, socket.send(Message::Close(Some(close))));
            let _ = Box::pin(close).await;
        }
        End::Drain(deadline) => {
            // Detached before the goodbye, exactly as for a closed connection, so the client's
            // resume elsewhere finds them (and events from here on wait in the replay ring).
            app.registry
                .connection_ended(id, ConnEnd::Closed { last_heard });
            Box::pin(crate::drain::goodbye(&mut socket, deadline)).await;
        }
        // The registry was cleared; just drop the socket, as a crashed or restarted server would.
        End::Shutdown => {}
    }
    log::debug!("conn {id}: closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the future `f` returns, without having to build its arguments (a WebSocket
    /// only comes out of a real upgrade).
    fn future_size<A, B, C, F: Future>(_: impl FnOnce(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// Every idle connection keeps its task's future resident, so its size is a per-session cost
    /// (the capacity benchmark's RSS per session). This prints it and keeps it from regrowing.
    #[test]
    fn connection_future_stays_small() {
        let run_size = future_size(run);
        let socket = std::mem::size_of::<WebSocket>();
        println!(
            "run future {run_size} B (WebSocket {socket} B, Sleep {} B, Notified {} B)",
            std::mem::size_of::<tokio::time::Sleep>(),
            std::mem::size_of::<tokio::sync::futures::Notified<'_>>(),
        );
        // The socket is held inline; the rest is the loop's waiting state. Generous headroom
        // over the measured figure so only a real regression (a big future held across an
        // await again) trips it.
        assert!(run_size < socket + 1024, "run future is {run_size} B");
    }
}
