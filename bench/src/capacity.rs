//! Figure 5: concurrent sessions kept alive with heartbeats; the server's RSS per session and CPU.
//!
//! Clients are spread over several load processes (each under the per-process open-file limit),
//! each binding its sockets to its own 127.0.0.x source address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roomlink::protocol::ClientFrame;
use serde::Serialize;
use tokio_tungstenite::tungstenite::Message;

use crate::child::{ChildProc, this_binary};
use crate::member;

/// Members per room (an ordinary call-sized room; joins notify the room's other members).
pub const ROOM_SIZE: usize = 10;
/// Sessions per load process.
const PER_PROCESS: usize = 5000;
/// How long all sessions may take to come up.
const RAMP_PATIENCE: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub sessions: usize,
    pub hold_secs: f64,
    pub rss_idle_kib: u64,
    pub rss_loaded_kib: u64,
    pub rss_per_session_bytes: f64,
    /// Server CPU over the hold, in % of one core.
    pub cpu_percent: f64,
    /// Sessions still connected when the hold ended.
    pub alive: usize,
    pub ramp_secs: f64,
}

/// How many sessions one server process accepts here at its default caps: the connection cap
/// it derives from the open-file limit (which keeps a tenth of the descriptors in reserve, so
/// `/healthz` and the admin API keep working at the cap), less a few for the bench's own
/// requests. Every session past it would be refused with 503 at accept.
pub fn max_sessions() -> Result<usize, String> {
    let hard = crate::sys::raise_nofile()?;
    let cap = roomlink_server::ConnectionLimits::default()
        .resolve(hard)
        .max_connections;
    Ok(cap.saturating_sub(10).max(1))
}

/// Splits `sessions` over load processes: (count, source address) each.
pub fn plan(sessions: usize) -> Vec<(usize, Ipv4Addr)> {
    let mut out = Vec::new();
    let mut left = sessions;
    let mut k = 2u8;
    while left > 0 {
        let n = left.min(PER_PROCESS);
        out.push((n, Ipv4Addr::new(127, 0, 0, k)));
        left -= n;
        k = k.saturating_add(1);
    }
    out
}

/// Runs one capacity level: `loads` are started with (count, source, prefix) once the server
/// (pid `server_pid`) is up, each prints `{"ready":n}` and on stdin EOF `{"alive":n}`.
pub fn measure(
    server_pid: u32,
    sessions: usize,
    hold: Duration,
    spawn_load: impl Fn(usize, Ipv4Addr, &str) -> Result<ChildProc, String>,
) -> Result<Capacity, String> {
    let rss_idle_kib = crate::sys::rss_kib(server_pid)?;
    let ramp = Instant::now();
    let mut loads = Vec::new();
    for (i, (count, source)) in plan(sessions).into_iter().enumerate() {
        loads.push(spawn_load(count, source, &format!("l{i}"))?);
    }
    for load in &loads {
        load.next_json(RAMP_PATIENCE)?;
    }
    let ramp_secs = ramp.elapsed().as_secs_f64();
    let cpu0 = crate::sys::cpu_secs(server_pid)?;
    let t0 = Instant::now();
    // The hold itself is the scenario: sessions idle with heartbeats for this long.
    std::thread::sleep(hold);
    let cpu1 = crate::sys::cpu_secs(server_pid)?;
    let held = t0.elapsed().as_secs_f64();
    let rss_loaded_kib = crate::sys::rss_kib(server_pid)?;
    let mut alive = 0;
    for load in &mut loads {
        load.close_stdin();
    }
    for load in loads {
        let line = load.next_json(Duration::from_secs(60))?;
        alive += line["alive"].as_u64().unwrap_or(0) as usize;
        load.finish(Duration::from_secs(30))?;
    }
    Ok(Capacity {
        sessions,
        hold_secs: held,
        rss_idle_kib,
        rss_loaded_kib,
        rss_per_session_bytes: (rss_loaded_kib.saturating_sub(rss_idle_kib) * 1024) as f64
            / sessions as f64,
        cpu_percent: (cpu1 - cpu0) / held * 100.0,
        alive,
        ramp_secs,
    })
}

/// A roomlink load process (`roomlink-bench load`).
pub fn spawn_roomlink_load(
    server: SocketAddr,
    count: usize,
    source: Ipv4Addr,
    prefix: &str,
) -> Result<ChildProc, String> {
    let mut cmd = Command::new(this_binary()?);
    cmd.args(["load", "--server", &server.to_string(), "--source"])
        .arg(source.to_string())
        .args(["--count", &count.to_string(), "--prefix", prefix]);
    ChildProc::spawn("roomlink load", cmd)
}

/// `roomlink-bench load`: `count` sessions in rooms of [`ROOM_SIZE`], each pinging every
/// `heartbeat` (the engine's default 10 s), until stdin closes.
pub fn load(
    server: SocketAddr,
    source: IpAddr,
    count: usize,
    prefix: &str,
    heartbeat: Duration,
) -> Result<(), String> {
    crate::sys::raise_nofile()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        // Each session pings from its own `joined` on, not once the whole ramp is done: a ramp
        // longer than the server's heartbeat timeout (many load processes on a cluster) would
        // otherwise have its first sessions expire before they ever pinged.
        let alive = Arc::new(AtomicUsize::new(0));
        let opened: Vec<Result<(), String>> = futures_util::stream::iter(0..count)
            .map(|i| {
                let alive = alive.clone();
                async move {
                    let room = format!("{prefix}-{}", i / ROOM_SIZE);
                    let user = format!("{prefix}-{i}");
                    let mut ws = member::connect(
                        server,
                        Some(source),
                        vec![member::login(&room, &user, true)],
                    )
                    .await?;
                    member::expect_joined(&mut ws).await?;
                    alive.fetch_add(1, Ordering::Relaxed);
                    // Spread the first pings over one interval, as independent clients would be.
                    let offset = heartbeat.mul_f64(i as f64 / count as f64);
                    tokio::spawn(session(ws, heartbeat, offset, alive));
                    Ok(())
                }
            })
            .buffer_unordered(64)
            .collect()
            .await;
        opened.into_iter().collect::<Result<Vec<()>, String>>()?;
        println!("{}", serde_json::json!({ "ready": count }));
        let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut tokio::io::sink()).await;
        println!(
            "{}",
            serde_json::json!({ "alive": alive.load(Ordering::Relaxed) })
        );
        Ok(())
    })
}

async fn session(ws: member::Ws, heartbeat: Duration, offset: Duration, alive: Arc<AtomicUsize>) {
    let (mut sink, mut stream) = ws.split();
    let ping = Message::text(ClientFrame::Ping.encode());
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, heartbeat);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if sink.send(ping.clone()).await.is_err() {
                    break;
                }
            }
            msg = stream.next() => match msg {
                Some(Ok(_)) => {}
                _ => break,
            },
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}
