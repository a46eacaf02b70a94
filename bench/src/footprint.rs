//! Figure 7: what one engine costs the app. Runs in a `roomlink-bench footprint` child so its
//! thread count and RSS are not mixed with the rest of the bench.

use std::collections::BTreeSet;
use std::time::Duration;

use roomlink::{EngineConfig, RoomStateChangedReason as R};
use serde::Serialize;

use crate::engines::Stamped;
use crate::sys;

#[derive(Debug, Serialize)]
pub struct Footprint {
    pub threads_per_engine: usize,
    pub engines: usize,
    pub rss_per_engine_bytes: f64,
    pub idle_secs: f64,
    pub idle_context_switches: u64,
    pub wakeups_per_minute: f64,
    pub heartbeat_secs: f64,
}

/// `roomlink-bench footprint`: one engine (default config, so the 10 s heartbeat) logs in; its
/// threads are the ones that appeared; their wake-ups are counted over `idle`; then `engines` more
/// log in for the RSS per engine.
pub fn measure(url: &str, engines: usize, idle: Duration) -> Result<Footprint, String> {
    let config = EngineConfig::new(url);
    let heartbeat_secs = config.heartbeat_interval.as_secs_f64();
    let before = sys::own_tasks()?;
    let first = Stamped::new(config.clone())?;
    first.login("footprint-0", "idle")?;
    first.wait_reason("footprint-0", R::Logined)?;
    let threads: BTreeSet<u32> = sys::own_tasks()?.difference(&before).copied().collect();
    let switches = |tids: &BTreeSet<u32>| -> Result<u64, String> {
        tids.iter().map(|&t| sys::context_switches(t)).sum()
    };
    let c0 = switches(&threads)?;
    let t0 = std::time::Instant::now();
    // The idle period is the measurement itself: nothing happens but the engine's own timers.
    std::thread::sleep(idle);
    let c1 = switches(&threads)?;
    let idle_secs = t0.elapsed().as_secs_f64();

    let rss0 = sys::rss_kib(std::process::id())?;
    let mut many = Vec::with_capacity(engines);
    for i in 0..engines {
        let app = Stamped::new(config.clone())?;
        app.login(&format!("footprint-{}", i + 1), &format!("u{i}"))?;
        many.push(app);
    }
    for (i, app) in many.iter().enumerate() {
        app.wait_reason(&format!("footprint-{}", i + 1), R::Logined)?;
    }
    let rss1 = sys::rss_kib(std::process::id())?;
    Ok(Footprint {
        threads_per_engine: threads.len(),
        engines,
        rss_per_engine_bytes: (rss1.saturating_sub(rss0) * 1024) as f64 / engines as f64,
        idle_secs,
        idle_context_switches: c1 - c0,
        wakeups_per_minute: (c1 - c0) as f64 * 60.0 / idle_secs,
        heartbeat_secs,
    })
}
