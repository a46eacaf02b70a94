//! Figure 4: one more member joins a room of N; how long until all N saw the Add.
//!
//! roomlink: N lightweight protocol clients in this process, the server in its own process, a
//! joiner that is already connected sends its `login` frame. Floor: a plain loop of N TCP writes
//! from this process to N readers in a `roomlink-bench tcp-readers` child (readings of
//! CLOCK_MONOTONIC compared across the two processes).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use roomlink::protocol::ClientFrame;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::child::{ChildProc, this_binary};
use crate::member::{self, Ws};
use crate::sys::mono_ns;

/// Handshakes (and big snapshots) in flight at once while the room is built.
const PARALLEL: usize = 64;
const PATIENCE: Duration = Duration::from_secs(120);

/// Per trial: the time until the last member had it; plus every member's own latency.
#[derive(Debug, Default, Serialize)]
pub struct Fanout {
    pub members: usize,
    pub all_ns: Vec<u64>,
    pub member_ns: Vec<u64>,
}

impl Fanout {
    pub fn add_trial(&mut self, t0: u64, recv: &[u64]) {
        let rel: Vec<u64> = recv.iter().map(|&t| t.saturating_sub(t0)).collect();
        self.all_ns.push(rel.iter().copied().max().unwrap_or(0));
        self.member_ns.extend(rel);
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

#[derive(Clone, Copy, PartialEq)]
enum Seen {
    Add,
    Delete,
}

/// How often a member pings: a third of the server's default heartbeat timeout (90 s), as the
/// reference client does. Building a room of 10 000 takes longer than the timeout on a small
/// machine; members that never pinged expired together there (issue 12, finding 4).
const PING_EVERY: Duration = Duration::from_secs(30);

/// One member, from its first `joined` on: pings like a real client, sends its re-login when
/// told (`relogin`, answering on `ready` when it is joined again), and reports when it sees the
/// joiner come or go. The frames are matched by text, as a thin client would, rather than fully
/// decoded.
async fn member_task(
    ws: Ws,
    mut relogin: oneshot::Receiver<ClientFrame>,
    mut ready: Option<oneshot::Sender<Result<(), String>>>,
    seen: mpsc::UnboundedSender<(Seen, u64)>,
) {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut sink, mut stream) = ws.split();
    let ping = Message::text(ClientFrame::Ping.encode());
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut relogin_sent = false;
    let fail = |ready: &mut Option<oneshot::Sender<Result<(), String>>>, e: String| {
        if let Some(r) = ready.take() {
            let _ = r.send(Err(e));
        }
    };
    loop {
        let text = tokio::select! {
            _ = tick.tick() => {
                if sink.send(ping.clone()).await.is_err() { break }
                continue;
            }
            f = &mut relogin, if !relogin_sent => {
                relogin_sent = true;
                let Ok(f) = f else { continue };
                if let Err(e) = sink.send(Message::text(f.encode())).await {
                    fail(&mut ready, format!("send: {e}"));
                    break;
                }
                continue;
            }
            m = stream.next() => match m {
                Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                Some(Ok(Message::Close(f))) => {
                    fail(&mut ready, format!("closed by server: {f:?}"));
                    break;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    fail(&mut ready, format!("read: {e}"));
                    break;
                }
                None => {
                    fail(&mut ready, "closed".into());
                    break;
                }
            },
        };
        let at = mono_ns();
        if relogin_sent && ready.is_some() && text.starts_with(r#"{"t":"joined""#) {
            if let Some(r) = ready.take() {
                let _ = r.send(Ok(()));
            }
            continue;
        }
        if !text.contains(r#""user_id":"joiner""#) {
            continue;
        }
        let kind = if text.contains(r#""e":"user_add""#) {
            Seen::Add
        } else if text.contains(r#""e":"user_delete""#) {
            Seen::Delete
        } else {
            continue;
        };
        if seen.send((kind, at)).is_err() {
            break;
        }
    }
}

async fn collect(
    rx: &mut mpsc::UnboundedReceiver<(Seen, u64)>,
    want: Seen,
    n: usize,
) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(n);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while out.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((kind, at))) if kind == want => out.push(at),
            Ok(Some(_)) => return Err("fan-out: a member saw events out of order".into()),
            Ok(None) => return Err("fan-out: members disconnected".into()),
            Err(_) => {
                return Err(format!(
                    "fan-out: only {} of {n} members saw it within {PATIENCE:?}",
                    out.len()
                ));
            }
        }
    }
    Ok(out)
}

/// roomlink: builds a room of `members`, then `trials` times joins and leaves it.
pub fn roomlink(server: SocketAddr, members: usize, trials: usize) -> Result<Fanout, String> {
    roomlink_on(&[server], members, trials)
}

/// As [`roomlink`], the members spread round robin over `servers` (the nodes of a cluster); the
/// joiner is on the first.
pub fn roomlink_on(
    servers: &[SocketAddr],
    members: usize,
    trials: usize,
) -> Result<Fanout, String> {
    let server = *servers.first().ok_or("fan-out: no server")?;
    runtime()?.block_on(async move {
        // Built in two passes so that building costs O(N) events, not O(N²): members first join
        // without user updates (no events for anyone), then all log in again on their own
        // connection with updates on (a re-login of the same user: peers see nothing). Each
        // member runs as its own task from its first `joined` on, pinging like a real client, so
        // none is silent for the heartbeat timeout however long the building takes.
        let (tx, mut rx) = mpsc::unbounded_channel();
        type Member = (
            usize,
            oneshot::Sender<ClientFrame>,
            oneshot::Receiver<Result<(), String>>,
        );
        let joined: Vec<Result<Member, String>> = futures_util::stream::iter(0..members)
            .map(|i| {
                let tx = tx.clone();
                async move {
                    let mut ws = member::connect(
                        servers[i % servers.len()],
                        None,
                        vec![member::login("fan", &format!("m{i}"), false)],
                    )
                    .await?;
                    member::expect_joined(&mut ws).await?;
                    let (relogin, relogin_rx) = oneshot::channel();
                    let (ready_tx, ready) = oneshot::channel();
                    tokio::spawn(member_task(ws, relogin_rx, Some(ready_tx), tx));
                    Ok((i, relogin, ready))
                }
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        let joined: Vec<Member> = joined.into_iter().collect::<Result<_, _>>()?;
        drop(tx);
        let updated: Vec<Result<(), String>> = futures_util::stream::iter(joined)
            .map(|(i, relogin, ready)| async move {
                let login = ClientFrame::Login(member::login("fan", &format!("m{i}"), true));
                relogin
                    .send(login)
                    .map_err(|_| format!("member {i} ended before its re-login"))?;
                ready
                    .await
                    .map_err(|_| format!("member {i} ended before it was joined again"))?
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        updated.into_iter().collect::<Result<Vec<()>, String>>()?;
        let joiner = member::connect(server, None, Vec::new()).await?;
        let (mut sink, mut stream) = joiner.split();
        // The joiner's own frames (its `joined` with the 10 000-user snapshot) are read and dropped.
        tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
        let mut out = Fanout {
            members,
            ..Fanout::default()
        };
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        for _ in 0..trials {
            let login = ClientFrame::Login(member::login("fan", "joiner", true));
            let text = login.encode();
            let t0 = mono_ns();
            sink.send(Message::text(text))
                .await
                .map_err(|e| format!("joiner: {e}"))?;
            let recv = collect(&mut rx, Seen::Add, members).await?;
            out.add_trial(t0, &recv);
            let logout = ClientFrame::Logout {
                room_id: "fan".into(),
                session_id: None,
                token: None,
            };
            sink.send(Message::text(logout.encode()))
                .await
                .map_err(|e| format!("joiner: {e}"))?;
            collect(&mut rx, Seen::Delete, members).await?;
        }
        Ok(out)
    })
}

/// Floor: `members` reader sockets in a child process; each trial writes one event-sized frame to
/// each in a plain loop and takes the child's receive times.
pub fn tcp(members: usize, trials: usize) -> Result<Fanout, String> {
    let rt = runtime()?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let msg = crate::floor::EVENT_FRAME.as_bytes();
    let mut cmd = Command::new(this_binary()?);
    cmd.args(["tcp-readers", "--addr", &addr.to_string(), "--count"])
        .arg(members.to_string())
        .args(["--bytes", &msg.len().to_string()]);
    let readers = ChildProc::spawn("tcp readers", cmd)?;
    let mut socks = rt.block_on(async {
        let mut socks = Vec::with_capacity(members);
        while socks.len() < members {
            let (s, _) = tokio::time::timeout(PATIENCE, listener.accept())
                .await
                .map_err(|_| "tcp fan-out: readers did not connect".to_string())?
                .map_err(|e| format!("accept: {e}"))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            socks.push(s);
        }
        Ok::<_, String>(socks)
    })?;
    readers.next_json(PATIENCE)?; // {"ready": n}
    let mut out = Fanout {
        members,
        ..Fanout::default()
    };
    for _ in 0..trials {
        let t0 = mono_ns();
        rt.block_on(async {
            for s in socks.iter_mut() {
                s.write_all(msg).await.map_err(|e| format!("write: {e}"))?;
            }
            Ok::<_, String>(())
        })?;
        let line = readers.next_json(PATIENCE)?;
        let recv: Vec<u64> = line["recv_ns"]
            .as_array()
            .ok_or_else(|| format!("tcp readers: bad line {line}"))?
            .iter()
            .filter_map(|v| v.as_u64())
            .collect();
        if recv.len() != members {
            return Err(format!("tcp readers: {} of {members} received", recv.len()));
        }
        out.add_trial(t0, &recv);
    }
    drop(socks);
    readers.finish(Duration::from_secs(30))?;
    Ok(out)
}

/// `roomlink-bench tcp-readers`: connects `count` sockets to `addr`, then for every round prints
/// when each received its `bytes` (one JSON line per round), until the writer closes them.
pub fn tcp_readers(addr: SocketAddr, count: usize, bytes: usize) -> Result<(), String> {
    crate::sys::raise_nofile()?;
    runtime()?.block_on(async move {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        for _ in 0..count {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; bytes];
                while s.read_exact(&mut buf).await.is_ok() {
                    if tx.send(mono_ns()).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        println!("{}", serde_json::json!({ "ready": count }));
        loop {
            let mut round = Vec::with_capacity(count);
            while round.len() < count {
                match rx.recv().await {
                    Some(t) => round.push(t),
                    None => return Ok(()),
                }
            }
            println!("{}", serde_json::json!({ "recv_ns": round }));
        }
    })
}
