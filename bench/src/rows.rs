//! The table's rows from what a run measured: each figure next to its Socket.IO counterpart, its
//! floor and its target.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::capacity::Capacity;
use crate::cdylib::CdylibSize;
use crate::cluster::ClusterFigures;
use crate::cluster_rows::cluster_rows;
use crate::event_rate::EventRate;
use crate::reconnect::Reconnect;
use crate::stats::Summary;
use crate::table::{Row, bytes, latency, of_target, time_us};

pub fn summary(samples: &[u64]) -> Result<Summary, String> {
    Summary::of(samples).ok_or_else(|| "no samples".to_string())
}

/// A latency figure: its summary and every sample.
#[derive(Serialize)]
pub struct Latency {
    pub summary: Summary,
    pub samples_ns: Vec<u64>,
}

/// A fan-out figure over its trials.
#[derive(Serialize)]
pub struct FanoutSummary {
    pub members: usize,
    pub trials: usize,
    /// Time until all members had it, over trials.
    pub all: Summary,
    /// Each member's own latency, over all trials.
    pub member: Summary,
    pub all_ns: Vec<u64>,
}

/// Everything one run measured; `None` where that part failed or was not run.
pub struct Measured {
    pub tcp: Option<Latency>,
    pub tcp_pinned: Option<Latency>,
    pub tcp_split: Option<Latency>,
    pub ws_split: Option<Latency>,
    pub ws: Option<Latency>,
    pub connect: Option<Latency>,
    pub login: Option<Latency>,
    pub peer: Option<Latency>,
    pub sio_login: Option<Latency>,
    pub sio_peer: Option<Latency>,
    /// Login and peer notification on a 2-node cluster beside one server; idle Redis commands.
    pub cluster: Option<ClusterFigures>,
    pub cluster_kill: Option<crate::cluster_kill::NodeKill>,
    pub cluster_fan: Option<crate::cluster_fanout::ClusterFanout>,
    /// Why it is missing: not run in this mode, or failed.
    pub cluster_hold: Result<crate::cluster_hold::ClusterHold, &'static str>,
    pub fan: Option<FanoutSummary>,
    pub sio_fan: Option<FanoutSummary>,
    pub tcp_fan: Option<FanoutSummary>,
    pub members: usize,
    /// Per level: sessions, roomlink, Socket.IO.
    pub caps: Vec<(usize, Option<Capacity>, Option<Capacity>)>,
    /// The most sessions one server process can hold here.
    pub max: usize,
    pub reconnect: Option<Reconnect>,
    /// The footprint child's report.
    pub footprint: Option<Value>,
    /// The stripped cdylib and where its bytes go.
    pub size: Option<CdylibSize>,
    pub rates: EventRates,
}

/// Figure 8: every client's runs on the same workload.
#[derive(Default)]
pub struct EventRates {
    pub engines: usize,
    pub streams: usize,
    /// The baseline: a Rust `EventHandler` closure.
    pub rust: ClientRates,
    pub c: ClientRates,
    pub kotlin: ClientRates,
}

impl EventRates {
    pub fn clients_mut(&mut self) -> [(&'static str, &mut ClientRates); 3] {
        [
            ("rust", &mut self.rust),
            ("c", &mut self.c),
            ("kotlin", &mut self.kotlin),
        ]
    }
}

/// One client: the program and arguments that run it, its runs, or why it was not run.
#[derive(Default)]
pub struct ClientRates {
    pub command: Option<(std::path::PathBuf, Vec<String>)>,
    pub skipped: Option<String>,
    pub runs: Vec<EventRate>,
}

impl ClientRates {
    pub fn new(
        command: Option<(std::path::PathBuf, Vec<String>)>,
        skipped: Option<String>,
    ) -> Self {
        ClientRates {
            command,
            skipped,
            runs: Vec::new(),
        }
    }

    /// The median run's events per second (the upper median of an even count).
    pub fn median(&self) -> Option<u64> {
        let mut r: Vec<u64> = self.runs.iter().map(|r| r.events_per_s).collect();
        r.sort_unstable();
        r.get(r.len() / 2).copied()
    }
}

pub fn rows(
    measured: &Measured,
    quick: bool,
    hold: Duration,
    engines: usize,
) -> Result<Vec<Row>, String> {
    let Measured {
        tcp,
        tcp_pinned,
        tcp_split,
        ws_split,
        ws,
        connect,
        login,
        peer,
        sio_login,
        sio_peer,
        cluster,
        cluster_kill,
        cluster_fan,
        cluster_hold,
        fan,
        sio_fan,
        tcp_fan,
        members: m,
        caps,
        max,
        reconnect,
        footprint,
        size,
        rates,
    } = measured;
    let (m, max) = (*m, *max);
    let mut rows = Vec::new();
    let p50 = |l: &Option<Latency>| l.as_ref().map(|l| l.summary.p50_us);
    let cell = |l: &Option<Latency>| {
        l.as_ref()
            .map(|l| latency(&l.summary))
            .unwrap_or_else(|| "n/a".into())
    };
    let mut row = Row::new("TCP round trip, unpinned (tokio, loopback)");
    row.floor = cell(tcp);
    row.ratio = "ref ≈ 130 µs".into();
    rows.push(row);
    let mut row = Row::new("TCP round trip, both ends on CPU 0");
    row.floor = cell(tcp_pinned);
    row.ratio = "ref ≈ 25 µs".into();
    rows.push(row);
    let mut row = Row::new("TCP round trip, ends on CPU 0 and CPU 1");
    row.floor = cell(tcp_split);
    rows.push(row);
    let mut row = Row::new("WebSocket echo round trip, unpinned");
    row.floor = cell(ws);
    rows.push(row);
    let mut row = Row::new("WebSocket echo round trip, ends on CPU 0 and CPU 1");
    row.floor = cell(ws_split);
    rows.push(row);
    let mut row = Row::new("fresh TCP connect + WebSocket upgrade");
    row.floor = cell(connect);
    row.ratio = "ref ≈ 145 µs".into();
    rows.push(row);

    let mut row = Row::new("login: call → Logined (fresh connection)");
    row.roomlink = cell(login);
    row.socketio = cell(sio_login);
    // The targets' bases are the cross-CPU round trips: an unpinned pair of threads lands on one
    // vCPU or on two from run to run (5 µs or 50+ µs here), while a login or a notification always
    // crosses threads and processes; the issue's own "unpinned ≈ 130 µs" was a cross-CPU figure.
    row.floor = p50(tcp_split)
        .map(|t| format!("3× cross-CPU TCP p50 = {}", time_us(3.0 * t)))
        .unwrap_or_default();
    if let (Some(l), Some(t), Some(s)) = (p50(login), p50(tcp_split), p50(sio_login)) {
        row.ratio = format!(
            "{} (≤ 3× TCP); Socket.IO/roomlink = {:.1}× (target ≥ 5×)",
            of_target(l, 3.0 * t),
            s / l
        );
    }
    rows.push(row);
    let mut row = Row::new("peer notification: A logs in → B's Add");
    row.roomlink = cell(peer);
    row.socketio = cell(sio_peer);
    row.floor = p50(ws_split)
        .map(|w| format!("1.5× cross-CPU WS echo p50 = {}", time_us(1.5 * w)))
        .unwrap_or_default();
    if let (Some(p), Some(w)) = (p50(peer), p50(ws_split)) {
        row.ratio = format!("{} (≤ 1.5× WS echo)", of_target(p, 1.5 * w));
    }
    rows.push(row);
    rows.extend(cluster_rows(cluster));
    rows.extend(crate::cluster_rows::more_rows(
        cluster_kill,
        cluster_fan,
        cluster_hold,
    ));

    let fan_cell = |f: &Option<FanoutSummary>| {
        f.as_ref()
            .map(|f| {
                format!(
                    "p50 {} · max {} ({} trials)",
                    time_us(f.all.p50_us),
                    time_us(f.all.max_us),
                    f.trials
                )
            })
            .unwrap_or_else(|| "n/a".into())
    };
    let mut row = Row::new(format!("fan-out: 1 joins a room of {m} → all saw the Add"));
    row.roomlink = fan_cell(fan);
    row.socketio = fan_cell(sio_fan);
    row.floor = fan_cell(tcp_fan);
    if let (Some(f), Some(t)) = (fan, tcp_fan) {
        row.ratio = format!(
            "{} (≤ 1.3× write loop)",
            of_target(f.all.p50_us, 1.3 * t.all.p50_us)
        );
    }
    rows.push(row);
    let member_cell = |f: &Option<FanoutSummary>| {
        f.as_ref()
            .map(|f| latency(&f.member))
            .unwrap_or_else(|| "n/a".into())
    };
    let mut row = Row::new(format!("fan-out: each member's latency (n = {m} × trials)"));
    row.roomlink = member_cell(fan);
    row.socketio = member_cell(sio_fan);
    row.floor = member_cell(tcp_fan);
    rows.push(row);

    for (level, rl, s) in caps {
        let label = if *level == max && !quick {
            format!("{level} (max for one process)")
        } else {
            level.to_string()
        };
        let rss = |c: &Option<Capacity>| {
            c.as_ref()
                .map(|c| {
                    format!(
                        "{} ({} of {} alive)",
                        bytes(c.rss_per_session_bytes),
                        c.alive,
                        c.sessions
                    )
                })
                .unwrap_or_else(|| "n/a".into())
        };
        let cpu = |c: &Option<Capacity>| {
            c.as_ref()
                .map(|c| format!("{:.1} % of a core", c.cpu_percent))
                .unwrap_or_else(|| "n/a".into())
        };
        let hold = hold.as_secs();
        let mut row = Row::new(format!("capacity {label}: server RSS per session"));
        row.roomlink = rss(rl);
        row.socketio = rss(s);
        if let Some(c) = rl {
            row.ratio = format!("{} (≤ 4 KiB)", of_target(c.rss_per_session_bytes, 4096.0));
        }
        rows.push(row);
        let mut row = Row::new(format!("capacity {label}: server CPU over {hold} s"));
        row.roomlink = cpu(rl);
        row.socketio = cpu(s);
        rows.push(row);
    }

    let mut row = Row::new("reconnect: blackhole → Reconnecting");
    let mut row2 = Row::new("reconnect: restore + on_network_changed(true) → Reconnected");
    if let Some(rec) = &reconnect {
        let d = summary(&rec.detect_ns)?;
        let u = summary(&rec.recover_ns)?;
        row.roomlink = format!("{} (n = {})", latency(&d), d.n);
        row.floor = format!(
            "ping timeout {} ms, heartbeat {} ms",
            rec.ping_timeout_ms, rec.heartbeat_ms
        );
        row.ratio = format!(
            "p50 = {:.2}× the ping timeout",
            d.p50_us / 1000.0 / rec.ping_timeout_ms as f64
        );
        row2.roomlink = format!("{} (n = {})", latency(&u), u.n);
        row2.floor = connect
            .as_ref()
            .map(|c| format!("connect + upgrade p50 {}", time_us(c.summary.p50_us)))
            .unwrap_or_default();
    } else {
        row.roomlink = "n/a".into();
        row2.roomlink = "n/a".into();
    }
    rows.push(row);
    rows.push(row2);

    rows.extend(size_rows(size));
    if let Some(fp) = &footprint {
        let threads = fp["threads_per_engine"].as_f64().unwrap_or(0.0);
        let mut row = Row::new("client: threads per engine (logged in)");
        row.roomlink = format!("{threads}");
        row.ratio = of_target(threads, 2.0);
        rows.push(row);
        let mut row = Row::new(format!("client: RSS per engine ({} logged in)", engines));
        row.roomlink = bytes(fp["rss_per_engine_bytes"].as_f64().unwrap_or(0.0));
        rows.push(row);
        let wake = fp["wakeups_per_minute"].as_f64().unwrap_or(0.0);
        let hb = fp["heartbeat_secs"].as_f64().unwrap_or(10.0);
        // Each heartbeat is two wake-ups: the ping timer, and the pong's arrival.
        let target = 2.0 * 60.0 / hb;
        let mut row = Row::new(format!(
            "client: idle wake-ups per minute ({} s heartbeat{})",
            hb,
            if quick {
                ", 10 s counted, scaled"
            } else {
                ", 60 s counted"
            }
        ));
        row.roomlink = format!("{wake:.1}");
        row.floor = format!("2 per heartbeat = {target:.0}");
        row.ratio = of_target(wake, target);
        rows.push(row);
    } else {
        let mut row = Row::new("client: threads / RSS / wake-ups per engine");
        row.roomlink = "n/a".into();
        rows.push(row);
    }
    rows.extend(rate_rows(rates));

    Ok(rows)
}

const TARGET_CDYLIB_BYTES: f64 = 1.5 * 1024.0 * 1024.0;

fn size_rows(size: &Option<CdylibSize>) -> Vec<Row> {
    let Some(size) = size else {
        let mut row = Row::new("client: cdylib size, stripped");
        row.roomlink = "n/a (no --cdylib)".into();
        return vec![row];
    };
    // The profile is the directory cargo built it in (target/<profile>/libroomlink_ffi.so).
    let profile = std::path::Path::new(&size.library)
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| format!("{}, ", d.to_string_lossy()))
        .unwrap_or_default();
    let mut row = Row::new(format!("client: cdylib size ({profile}{})", size.strip));
    row.roomlink = format!(
        "{} (unstripped {})",
        bytes(size.stripped_bytes as f64),
        bytes(size.unstripped_bytes as f64)
    );
    row.ratio = format!(
        "{} (≤ 1.5 MiB)",
        of_target(size.stripped_bytes as f64, TARGET_CDYLIB_BYTES)
    );
    let mut top = Row::new("client: cdylib symbol bytes by crate (top 5)");
    let total = size.symbol_bytes.max(1) as f64;
    top.roomlink = size
        .by_crate
        .iter()
        .take(5)
        .map(|(c, b)| format!("{c} {:.0} %", 100.0 * *b as f64 / total))
        .collect::<Vec<_>>()
        .join(" · ");
    top.floor = format!("named symbols: {}", bytes(size.symbol_bytes as f64));
    vec![row, top]
}

fn rate_rows(rates: &EventRates) -> Vec<Row> {
    let shape = format!(
        "{} listeners × {} streams added + removed",
        rates.engines.saturating_sub(1),
        rates.streams
    );
    let cell = |c: &ClientRates| match (c.median(), &c.skipped) {
        (Some(m), _) => format!(
            "{:.0} k events/s ({}{})",
            m as f64 / 1000.0,
            if c.runs.len() > 1 { "median of " } else { "" },
            if c.runs.len() > 1 {
                format!("{} runs", c.runs.len())
            } else {
                "1 run".into()
            }
        ),
        (None, Some(why)) => format!("skipped: {why}"),
        (None, None) => "n/a".into(),
    };
    let base = rates.rust.median();
    let mut rows = Vec::new();
    let mut row = Row::new(format!(
        "FFI baseline: events/s through a Rust handler ({shape})"
    ));
    row.roomlink = cell(&rates.rust);
    rows.push(row);
    for (figure, client) in [
        ("FFI: events/s through the C callback", &rates.c),
        (
            "FFI: events/s through the Kotlin/JNA listener",
            &rates.kotlin,
        ),
    ] {
        let mut row = Row::new(figure);
        row.roomlink = cell(client);
        row.floor = base
            .map(|b| format!("Rust handler {:.0} k/s", b as f64 / 1000.0))
            .unwrap_or_default();
        if let (Some(m), Some(b)) = (client.median(), base) {
            row.ratio = format!("{:.2}× the Rust handler", m as f64 / b.max(1) as f64);
        }
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(events_per_s: u64) -> EventRate {
        EventRate {
            engines: 10,
            streams: 100,
            events: 1800,
            elapsed_us: 1,
            events_per_s,
        }
    }

    #[test]
    fn ffi_rows_compare_medians_with_the_rust_baseline_and_say_why_one_was_skipped() {
        let rates = EventRates {
            engines: 10,
            streams: 100,
            rust: ClientRates {
                runs: vec![rate(300_000), rate(200_000), rate(250_000)],
                ..ClientRates::default()
            },
            c: ClientRates {
                runs: vec![rate(100_000), rate(125_000)],
                ..ClientRates::default()
            },
            kotlin: ClientRates::new(None, Some("kotlinc is not installed".into())),
        };
        let rows = rate_rows(&rates);
        assert_eq!(rows.len(), 3);
        assert!(rows[0].figure.contains("9 listeners × 100 streams"));
        assert_eq!(rows[0].roomlink, "250 k events/s (median of 3 runs)");
        // Upper median of two runs: 125k; 125k / 250k.
        assert_eq!(rows[1].roomlink, "125 k events/s (median of 2 runs)");
        assert_eq!(rows[1].ratio, "0.50× the Rust handler");
        assert_eq!(rows[2].roomlink, "skipped: kotlinc is not installed");
        assert_eq!(rows[2].ratio, "—");
    }

    #[test]
    fn size_rows_compare_the_stripped_library_with_the_target_and_name_the_profile() {
        let size = CdylibSize {
            library: "/t/release-ffi/libroomlink_ffi.so".into(),
            unstripped_bytes: 3 * 1024 * 1024,
            stripped_bytes: 2 * 1024 * 1024,
            strip: "strip --strip-unneeded".into(),
            sections: vec![],
            by_crate: vec![("rustls".into(), 750), ("ring".into(), 250)],
            symbol_bytes: 1000,
        };
        let rows = size_rows(&Some(size));
        assert_eq!(
            rows[0].figure,
            "client: cdylib size (release-ffi, strip --strip-unneeded)"
        );
        assert_eq!(rows[0].roomlink, "2.00 MiB (unstripped 3.00 MiB)");
        assert_eq!(rows[0].ratio, "1.33× of target (≤ 1.5 MiB)");
        assert_eq!(rows[1].roomlink, "rustls 75 % · ring 25 %");
        assert!(size_rows(&None)[0].roomlink.starts_with("n/a"));
    }
}
