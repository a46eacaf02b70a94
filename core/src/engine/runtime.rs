//! The runtime thread: one timer armed to the machine's deadline (see `deadline`), and one task
//! per connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::deadline::DeadlineTimer;
use super::shared::{Cmd, Shared};
use crate::machine::{ConnId, LinkError, Transmit};
use crate::protocol::{Hello, ServerFrame};
use crate::transport::{Connection, Transport};

/// How long a connection may take to say goodbye (flush, close frame) before it is cut.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The same at `destroy`, which the host waits for (on its UI thread, often while offline): long
/// enough for a healthy link to hand its logouts and close frame to the kernel (microseconds),
/// short enough that a link stuck in a send (a dead path with a full send buffer, which never
/// reads its close command) does not hold the caller. The goodbye is best effort; the server
/// drops a session it never hears from at its heartbeat timeout.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(50);

/// The smallest step the timer re-arms by when the machine hands back a deadline that is already
/// past: a guard against spinning, never hit by a correct machine.
const MIN_REARM: Duration = Duration::from_millis(1);

enum ConnCmd {
    Send(String),
    Close,
}

struct ConnHandle {
    cmds: mpsc::UnboundedSender<ConnCmd>,
    abort: AbortHandle,
}

/// Everything a connection task needs besides its own channel.
#[derive(Clone)]
pub(crate) struct LinkSetup {
    pub(crate) shared: Arc<Shared>,
    pub(crate) transport: Arc<dyn Transport>,
    /// The config's server URLs, in order (`Transmit::Connect` names one by index).
    pub(crate) urls: Arc<[Arc<str>]>,
    pub(crate) max_frame_bytes: usize,
}

/// The runtime thread's main task. Returns after `Cmd::Shutdown` once connections had their
/// grace period to close.
pub(crate) async fn run(setup: LinkSetup, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut conns: HashMap<ConnId, ConnHandle> = HashMap::new();
    let mut tasks: JoinSet<ConnId> = JoinSet::new();
    let mut timer = DeadlineTimer::new(setup.shared.clock);
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Transmit(t)) => transmit(&setup, t, &mut conns, &mut tasks),
                Some(Cmd::Rearm(d)) => timer.set(d),
                Some(Cmd::Shutdown) | None => break,
            },
            () = timer.wait() => {
                let fired = setup.shared.clock.now();
                timer.set(setup.shared.fire_timer().map(|d| if d <= fired { fired + MIN_REARM } else { d }));
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(conn) = done {
                    conns.remove(&conn);
                }
            }
        }
    }
    // The machine closed its connections in logout_all; close whatever is left, then give them
    // a moment to flush the logouts before the runtime (and every task) is dropped.
    for (_, handle) in conns.drain() {
        let _ = handle.cmds.send(ConnCmd::Close);
    }
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        log::debug!("connections did not close within {SHUTDOWN_GRACE:?}; cutting them");
    }
    tasks.shutdown().await;
}

fn transmit(
    setup: &LinkSetup,
    t: Transmit,
    conns: &mut HashMap<ConnId, ConnHandle>,
    tasks: &mut JoinSet<ConnId>,
) {
    match t {
        Transmit::Connect { conn, url, hello } => {
            let (tx, rx) = mpsc::unbounded_channel();
            // The machine only names URLs of the config; the first one is a safe fallback.
            let url = setup.urls.get(url).or(setup.urls.first()).cloned();
            let url = url.unwrap_or_else(|| Arc::from(""));
            let abort = tasks.spawn(connection(setup.clone(), conn, url, hello, rx));
            conns.insert(conn, ConnHandle { cmds: tx, abort });
        }
        Transmit::Send { conn, frame } => match conns.get(&conn) {
            Some(handle) => {
                let _ = handle.cmds.send(ConnCmd::Send(frame.encode()));
            }
            None => log::debug!("dropping a frame for closed connection {conn}"),
        },
        Transmit::Close { conn } => {
            if let Some(handle) = conns.remove(&conn) {
                let _ = handle.cmds.send(ConnCmd::Close);
                // A link stuck in a send (blackholed TCP) never reads the Close: cut it after the grace.
                let abort = handle.abort;
                tokio::spawn(async move {
                    tokio::time::sleep(CLOSE_GRACE).await;
                    abort.abort();
                });
            }
        }
    }
}

/// One connection: connect, report, then pump frames both ways until either side ends it.
async fn connection(
    setup: LinkSetup,
    conn: ConnId,
    url: Arc<str>,
    hello: Hello,
    mut cmds: mpsc::UnboundedReceiver<ConnCmd>,
) -> ConnId {
    let shared = &setup.shared;
    let mut connect = setup.transport.connect(&url, &hello, setup.max_frame_bytes);
    // Frames the machine sends before the link is up wait here (the machine normally waits for
    // `handle_connected`, but the order must not depend on it).
    let mut early = Vec::new();
    let result = loop {
        tokio::select! {
            r = &mut connect => break r,
            cmd = cmds.recv() => match cmd {
                Some(ConnCmd::Send(text)) => early.push(text),
                // Abandoned: the machine expects no report.
                Some(ConnCmd::Close) | None => return conn,
            }
        }
    };
    drop(connect);
    let Connection {
        mut sink,
        mut stream,
    } = match result {
        Ok(connection) => connection,
        Err(error) => {
            log::debug!("connection {conn} failed: {error:?}");
            shared.link_input(|m, now| m.handle_link_down(now, conn, error));
            return conn;
        }
    };
    shared.link_input(|m, now| m.handle_connected(now, conn));
    let mut error = None;
    for text in early {
        if let Err(e) = sink.send(text).await {
            error = Some(e);
            break;
        }
    }
    let error = match error {
        Some(e) => e,
        None => loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(ConnCmd::Send(text)) => {
                        if let Err(e) = sink.send(text).await {
                            break e;
                        }
                    }
                    Some(ConnCmd::Close) | None => {
                        let _ = sink.close().await;
                        return conn;
                    }
                },
                item = stream.next() => match item {
                    Some(Ok(text)) => match ServerFrame::decode(&text, setup.max_frame_bytes) {
                        Ok(frame) => shared.link_input(|m, now| m.handle_frame(now, conn, frame)),
                        Err(e) => break LinkError::Protocol(e.to_string()),
                    },
                    Some(Err(e)) => break e,
                    None => break LinkError::Transient("connection closed by peer".into()),
                },
            }
        },
    };
    log::debug!("connection {conn} lost: {error:?}");
    shared.link_input(|m, now| m.handle_link_down(now, conn, error));
    // Reported first so the machine can start over at once; the goodbye is best effort.
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
    conn
}
