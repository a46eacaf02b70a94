//! Figure 6: an engine behind a roomlink-faultproxy. Blackhole → how long until `Reconnecting`
//! (the configured ping timeout bounds it); restore + `on_network_changed(true)` → how long until
//! `Reconnected`.

use std::net::SocketAddr;
use std::time::Duration;

use roomlink::{EngineConfig, RoomStateChangedReason as R};
use roomlink_faultproxy::{Fault, FaultProxy};
use serde::Serialize;

use crate::engines::Stamped;
use crate::sys::mono_ns;

/// Heartbeat and ping timeout for this figure: short, so many outages fit in the run.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
pub const PING_TIMEOUT: Duration = Duration::from_millis(1500);

#[derive(Debug, Default, Serialize)]
pub struct Reconnect {
    pub heartbeat_ms: u64,
    pub ping_timeout_ms: u64,
    pub detect_ns: Vec<u64>,
    pub recover_ns: Vec<u64>,
}

pub fn run(server: SocketAddr, samples: usize) -> Result<Reconnect, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let proxy = rt
        .block_on(FaultProxy::start(server))
        .map_err(|e| format!("fault proxy: {e}"))?;
    let url = format!("ws://{}{}", proxy.local_addr(), roomlink::protocol::WS_PATH);
    let app = Stamped::new(EngineConfig {
        heartbeat_interval: HEARTBEAT,
        ping_timeout: PING_TIMEOUT,
        ..EngineConfig::new(url)
    })?;
    app.login("outage", "alice")?;
    app.wait_reason("outage", R::Logined)?;
    let mut out = Reconnect {
        heartbeat_ms: HEARTBEAT.as_millis() as u64,
        ping_timeout_ms: PING_TIMEOUT.as_millis() as u64,
        ..Reconnect::default()
    };
    for _ in 0..samples {
        let t0 = mono_ns();
        proxy.set(Fault::Blackhole);
        let t1 = app.wait_reason("outage", R::Reconnecting)?;
        out.detect_ns.push(t1 - t0);
        let t2 = mono_ns();
        proxy.set(Fault::Pass);
        app.engine.on_network_changed(true);
        let t3 = app.wait_reason("outage", R::Reconnected)?;
        out.recover_ns.push(t3 - t2);
    }
    app.engine.destroy();
    drop(proxy);
    Ok(out)
}
