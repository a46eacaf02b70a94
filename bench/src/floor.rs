//! Figure 1, the floor: what loopback itself costs. Each runs in a `roomlink-bench floor` child so
//! the script can pin it (`taskset -c 0`) and nothing else in the process disturbs it.
//!
//! The echoing side runs on its own thread with its own single-thread runtime and the measuring
//! side on another, so "unpinned" really is two threads that the scheduler may put on two CPUs.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::sys::mono_ns;

/// Bytes per TCP ping: about a heartbeat frame with its WebSocket header.
const TCP_PING_BYTES: usize = 32;
/// A typical `user_add` event frame, the size the WebSocket echo and the write loop use.
pub const EVENT_FRAME: &str = r#"{"t":"event","room_id":"fan","seq":1,"e":"user_add","users":[{"user_id":"joiner","user_name":"joiner"}]}"#;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Floor {
    /// Raw TCP ping-pong round trip.
    Tcp,
    /// WebSocket text echo round trip.
    Ws,
    /// Fresh TCP connect + WebSocket upgrade.
    Connect,
}

fn current_thread() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// Starts the echo side on its own thread (pinned to `cpu` if given); returns where it listens.
fn spawn_echo(kind: Floor, cpu: Option<usize>) -> Result<SocketAddr, String> {
    let rt = current_thread()?;
    let listener = rt
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (pinned_tx, pinned) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = pinned_tx.send(cpu.map_or(Ok(()), crate::sys::pin_current_thread));
        rt.block_on(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    match kind {
                        Floor::Tcp => echo_tcp(stream).await,
                        Floor::Ws | Floor::Connect => echo_ws(stream).await,
                    }
                });
            }
        })
    });
    pinned
        .recv()
        .map_err(|_| "echo thread died".to_string())??;
    Ok(addr)
}

async fn echo_tcp(mut stream: TcpStream) {
    let mut buf = [0u8; TCP_PING_BYTES];
    while stream.read_exact(&mut buf).await.is_ok() {
        if stream.write_all(&buf).await.is_err() {
            break;
        }
    }
}

async fn echo_ws(stream: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_text() && ws.send(msg).await.is_err() {
            break;
        }
    }
}

/// Measures `samples` round trips (or connects) of `kind`, in nanoseconds. With `cpus` =
/// (measuring, echoing) the two threads are pinned there.
pub fn run(kind: Floor, samples: usize, cpus: Option<(usize, usize)>) -> Result<Vec<u64>, String> {
    let addr = spawn_echo(kind, cpus.map(|c| c.1))?;
    if let Some((cpu, _)) = cpus {
        crate::sys::pin_current_thread(cpu)?;
    }
    let rt = current_thread()?;
    rt.block_on(async move {
        let deadline = Duration::from_secs(120);
        tokio::time::timeout(deadline, measure(kind, addr, samples))
            .await
            .map_err(|_| format!("{kind:?} floor did not finish within {deadline:?}"))?
    })
}

async fn measure(kind: Floor, addr: SocketAddr, samples: usize) -> Result<Vec<u64>, String> {
    let mut out = Vec::with_capacity(samples);
    let err = |e: std::io::Error| e.to_string();
    match kind {
        Floor::Tcp => {
            let mut s = TcpStream::connect(addr).await.map_err(err)?;
            s.set_nodelay(true).map_err(err)?;
            let mut buf = [7u8; TCP_PING_BYTES];
            // Warm-up round trips are not counted (first-touch page faults, cold caches).
            for i in 0..samples + 50 {
                let t0 = mono_ns();
                s.write_all(&buf).await.map_err(err)?;
                s.read_exact(&mut buf).await.map_err(err)?;
                if i >= 50 {
                    out.push(mono_ns() - t0);
                }
            }
        }
        Floor::Ws => {
            let s = TcpStream::connect(addr).await.map_err(err)?;
            s.set_nodelay(true).map_err(err)?;
            let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), s)
                .await
                .map_err(|e| e.to_string())?;
            for i in 0..samples + 50 {
                let t0 = mono_ns();
                ws.send(Message::text(EVENT_FRAME))
                    .await
                    .map_err(|e| e.to_string())?;
                match ws.next().await {
                    Some(Ok(m)) if m.is_text() => {}
                    other => return Err(format!("ws echo: {other:?}")),
                }
                if i >= 50 {
                    out.push(mono_ns() - t0);
                }
            }
        }
        Floor::Connect => {
            for i in 0..samples + 20 {
                let t0 = mono_ns();
                let s = TcpStream::connect(addr).await.map_err(err)?;
                s.set_nodelay(true).map_err(err)?;
                let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), s)
                    .await
                    .map_err(|e| e.to_string())?;
                if i >= 20 {
                    out.push(mono_ns() - t0);
                }
                drop(ws);
            }
        }
    }
    Ok(out)
}
