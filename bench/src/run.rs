//! `roomlink-bench run`: every figure in order, then the table and the JSON file.
//!
//! A figure that fails is reported in its row and makes the run exit non-zero (something broke);
//! a figure that misses its target never does (CI does not judge the numbers).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::capacity::{self, Capacity};
use crate::child::{ChildProc, this_binary};
use crate::fanout::{self, Fanout};
use crate::server::ServerProc;
use crate::socketio::SocketIo;
use crate::stats::Summary;
use crate::table::{self, Row, bytes, latency, of_target, time_us};

pub struct Options {
    pub quick: bool,
    pub out: PathBuf,
    pub socketio_dir: PathBuf,
    /// Run only the parts whose key contains this (for profiling one figure).
    pub only: Option<String>,
}

/// Sizes of the run: the full one, or `--quick` for CI.
struct Plan {
    samples: usize,
    fanout_members: usize,
    fanout_trials: usize,
    reconnect_samples: usize,
    idle: Duration,
    engines: usize,
    hold: Duration,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                samples: 200,
                fanout_members: 1000,
                fanout_trials: 3,
                reconnect_samples: 3,
                idle: Duration::from_secs(10),
                engines: 20,
                hold: Duration::from_secs(5),
            }
        } else {
            Plan {
                samples: 1000,
                fanout_members: 10_000,
                fanout_trials: 10,
                reconnect_samples: 10,
                idle: Duration::from_secs(60),
                engines: 100,
                hold: Duration::from_secs(60),
            }
        }
    }
}

/// Everything measured, by figure; `None` where that part failed.
#[derive(Default)]
struct Results {
    raw: serde_json::Map<String, Value>,
    errors: Vec<String>,
    only: Option<String>,
}

impl Results {
    /// Runs one part; records its raw JSON under `key` or its error.
    fn part<T: serde::Serialize>(
        &mut self,
        key: &str,
        f: impl FnOnce() -> Result<T, String>,
    ) -> Option<T> {
        if self
            .only
            .as_ref()
            .is_some_and(|only| !key.contains(only.as_str()))
        {
            return None;
        }
        let t0 = Instant::now();
        eprintln!("bench: {key} ...");
        match f() {
            Ok(v) => {
                self.raw
                    .insert(key.into(), serde_json::to_value(&v).unwrap_or(Value::Null));
                eprintln!("bench: {key} done in {:.1} s", t0.elapsed().as_secs_f64());
                Some(v)
            }
            Err(e) => {
                eprintln!("bench: {key} FAILED: {e}");
                self.errors.push(format!("{key}: {e}"));
                None
            }
        }
    }
}

/// Where the floor's two threads run.
#[derive(Clone, Copy)]
enum Cpus {
    /// Wherever the scheduler puts them.
    Unpinned,
    /// Both on CPU 0 (`taskset -c 0`): no cross-CPU wake-ups.
    Same,
    /// On CPU 0 and CPU 1: every round trip crosses CPUs.
    Split,
}

fn floor_child(kind: &str, samples: usize, cpus: Cpus) -> Result<Vec<u64>, String> {
    let me = this_binary()?;
    let mut cmd = if matches!(cpus, Cpus::Same) {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(me);
        c
    } else {
        Command::new(me)
    };
    cmd.args(["floor", "--kind", kind, "--samples", &samples.to_string()]);
    if matches!(cpus, Cpus::Split) {
        cmd.args(["--cpus", "0", "1"]);
    }
    let child = ChildProc::spawn(&format!("floor {kind}"), cmd)?;
    let line = child.next_json(Duration::from_secs(180))?;
    child.finish(Duration::from_secs(10))?;
    line["samples_ns"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        .ok_or_else(|| format!("floor {kind}: bad line {line}"))
}

fn summary(samples: &[u64]) -> Result<Summary, String> {
    Summary::of(samples).ok_or_else(|| "no samples".to_string())
}

#[derive(serde::Serialize)]
struct Latency {
    summary: Summary,
    samples_ns: Vec<u64>,
}

fn latency_part(samples: Vec<u64>) -> Result<Latency, String> {
    Ok(Latency {
        summary: summary(&samples)?,
        samples_ns: samples,
    })
}

#[derive(serde::Serialize)]
struct FanoutSummary {
    members: usize,
    trials: usize,
    /// Time until all members had it, over trials.
    all: Summary,
    /// Each member's own latency, over all trials.
    member: Summary,
    all_ns: Vec<u64>,
}

fn fanout_part(f: Fanout) -> Result<FanoutSummary, String> {
    Ok(FanoutSummary {
        members: f.members,
        trials: f.all_ns.len(),
        all: summary(&f.all_ns)?,
        member: summary(&f.member_ns)?,
        all_ns: f.all_ns,
    })
}

pub fn run(opts: Options) -> Result<(), String> {
    let started = Instant::now();
    let plan = Plan::new(opts.quick);
    let fd_limit = crate::sys::raise_nofile()?;
    let sio = SocketIo {
        dir: opts.socketio_dir.clone(),
    };
    let mut r = Results {
        only: opts.only.clone(),
        ..Results::default()
    };
    let n = plan.samples;

    // 1. Floor.
    let tcp = r.part("floor_tcp_unpinned", || {
        latency_part(floor_child("tcp", n, Cpus::Unpinned)?)
    });
    let tcp_pinned = r.part("floor_tcp_pinned_cpu0", || {
        latency_part(floor_child("tcp", n, Cpus::Same)?)
    });
    let tcp_split = r.part("floor_tcp_cpu0_cpu1", || {
        latency_part(floor_child("tcp", n, Cpus::Split)?)
    });
    let ws = r.part("floor_ws_echo", || {
        latency_part(floor_child("ws", n, Cpus::Unpinned)?)
    });
    let connect = r.part("floor_connect_upgrade", || {
        latency_part(floor_child("connect", n, Cpus::Unpinned)?)
    });

    // 2 + 3 on roomlink: the server process serves both.
    let (login, peer) = match ServerProc::start() {
        Ok(server) => {
            let url = server.ws_url();
            let login = r.part("roomlink_login", || {
                latency_part(crate::login::login(&url, n)?)
            });
            let peer = r.part("roomlink_peer", || {
                latency_part(crate::login::peer(&url, n)?)
            });
            if let Err(e) = server.stop() {
                r.errors.push(e);
            }
            (login, peer)
        }
        Err(e) => {
            r.errors.push(format!("roomlink server: {e}"));
            (None, None)
        }
    };
    let (sio_login, sio_peer) = match sio.start_server() {
        Ok(server) => {
            let login = r.part("socketio_login", || latency_part(sio.login(&server, n)?));
            let peer = r.part("socketio_peer", || latency_part(sio.peer(&server, n)?));
            if let Err(e) = server.proc.finish(Duration::from_secs(10)) {
                r.errors.push(e);
            }
            (login, peer)
        }
        Err(e) => {
            r.errors.push(format!("socket.io server: {e}"));
            (None, None)
        }
    };

    // 4. Fan-out, each on a fresh server (a 10 000-member room is not left behind).
    let (m, trials) = (plan.fanout_members, plan.fanout_trials);
    let fan = r.part("roomlink_fanout", || {
        let server = ServerProc::start()?;
        let f = fanout::roomlink(server.addr, m, trials);
        server.stop()?;
        fanout_part(f?)
    });
    let sio_fan = r.part("socketio_fanout", || {
        let server = sio.start_server()?;
        let f = sio.fanout(&server, m, trials);
        server.proc.finish(Duration::from_secs(10))?;
        fanout_part(f?)
    });
    let tcp_fan = r.part("floor_tcp_write_loop", || {
        fanout_part(fanout::tcp(m, trials)?)
    });

    // 6 + 7 on a fresh server.
    let (reconnect, footprint) = match ServerProc::start() {
        Ok(server) => {
            let rec = r.part("roomlink_reconnect", || {
                crate::reconnect::run(server.addr, plan.reconnect_samples)
            });
            let url = server.ws_url();
            let fp = r.part("roomlink_footprint", || {
                let mut cmd = Command::new(this_binary()?);
                cmd.args(["footprint", "--url", &url, "--engines"])
                    .arg(plan.engines.to_string())
                    .args(["--idle-secs", &plan.idle.as_secs().to_string()]);
                let child = ChildProc::spawn("footprint", cmd)?;
                let line = child.next_json(plan.idle + Duration::from_secs(120))?;
                child.finish(Duration::from_secs(30))?;
                Ok(line)
            });
            let size = r.part("client_size_proxy", || {
                let dir = this_binary()?
                    .parent()
                    .map(|p| p.to_path_buf())
                    .ok_or("no binary directory")?;
                let scratch = std::env::temp_dir();
                let engine_bin = dir.join("size-engine");
                crate::footprint::check_size_engine(&engine_bin, &url)?;
                let engine = crate::footprint::stripped_size(&engine_bin, &scratch)?;
                let hello = crate::footprint::stripped_size(&dir.join("size-hello"), &scratch)?;
                Ok(json!({
                    "engine_stripped_bytes": engine,
                    "hello_stripped_bytes": hello,
                    "delta_bytes": engine.saturating_sub(hello),
                }))
            });
            if let Err(e) = server.stop() {
                r.errors.push(e);
            }
            (rec, fp.map(|fp| (fp, size)))
        }
        Err(e) => {
            r.errors.push(format!("roomlink server: {e}"));
            (None, None)
        }
    };

    // 5. Capacity, each level on a fresh server process.
    let max = capacity::max_sessions()?;
    let levels: Vec<usize> = if opts.quick {
        vec![1000]
    } else {
        vec![10_000, max]
    };
    let mut caps: Vec<(usize, Option<Capacity>, Option<Capacity>)> = Vec::new();
    for &level in &levels {
        let rl = r.part(&format!("roomlink_capacity_{level}"), || {
            let server = ServerProc::start()?;
            let addr = server.addr;
            let c = capacity::measure(server.pid(), level, plan.hold, |count, src, prefix| {
                capacity::spawn_roomlink_load(addr, count, src, prefix)
            });
            server.stop()?;
            c
        });
        let s = r.part(&format!("socketio_capacity_{level}"), || {
            sio.capacity(level, plan.hold)
        });
        caps.push((level, rl, s));
    }

    // The table.
    let mut rows = Vec::new();
    let p50 = |l: &Option<Latency>| l.as_ref().map(|l| l.summary.p50_us);
    let cell = |l: &Option<Latency>| {
        l.as_ref()
            .map(|l| latency(&l.summary))
            .unwrap_or_else(|| "n/a".into())
    };
    let mut row = Row::new("TCP round trip, unpinned (tokio, loopback)");
    row.floor = cell(&tcp);
    row.ratio = "ref ≈ 130 µs".into();
    rows.push(row);
    let mut row = Row::new("TCP round trip, both ends on CPU 0");
    row.floor = cell(&tcp_pinned);
    row.ratio = "ref ≈ 25 µs".into();
    rows.push(row);
    let mut row = Row::new("TCP round trip, ends on CPU 0 and CPU 1");
    row.floor = cell(&tcp_split);
    rows.push(row);
    let mut row = Row::new("WebSocket echo round trip");
    row.floor = cell(&ws);
    rows.push(row);
    let mut row = Row::new("fresh TCP connect + WebSocket upgrade");
    row.floor = cell(&connect);
    row.ratio = "ref ≈ 145 µs".into();
    rows.push(row);

    let mut row = Row::new("login: call → Logined (fresh connection)");
    row.roomlink = cell(&login);
    row.socketio = cell(&sio_login);
    row.floor = p50(&tcp)
        .map(|t| format!("3× TCP p50 = {}", time_us(3.0 * t)))
        .unwrap_or_default();
    if let (Some(l), Some(t), Some(s)) = (p50(&login), p50(&tcp), p50(&sio_login)) {
        row.ratio = format!(
            "{} (≤ 3× TCP); Socket.IO/roomlink = {:.1}× (target ≥ 5×)",
            of_target(l, 3.0 * t),
            s / l
        );
    }
    rows.push(row);
    let mut row = Row::new("peer notification: A logs in → B's Add");
    row.roomlink = cell(&peer);
    row.socketio = cell(&sio_peer);
    row.floor = p50(&ws)
        .map(|w| format!("1.5× WS echo p50 = {}", time_us(1.5 * w)))
        .unwrap_or_default();
    if let (Some(p), Some(w)) = (p50(&peer), p50(&ws)) {
        row.ratio = format!("{} (≤ 1.5× WS echo)", of_target(p, 1.5 * w));
    }
    rows.push(row);

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
    row.roomlink = fan_cell(&fan);
    row.socketio = fan_cell(&sio_fan);
    row.floor = fan_cell(&tcp_fan);
    if let (Some(f), Some(t)) = (&fan, &tcp_fan) {
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
    row.roomlink = member_cell(&fan);
    row.socketio = member_cell(&sio_fan);
    row.floor = member_cell(&tcp_fan);
    rows.push(row);

    for (level, rl, s) in &caps {
        let label = if *level == max && !opts.quick {
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
        let hold = plan.hold.as_secs();
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

    rows.push({
        let mut row = Row::pending("client: cdylib size, stripped", "ffi crate not landed");
        row.ratio = "target ≤ 1.5 MiB".into();
        row
    });
    if let Some((fp, size)) = &footprint {
        let mut row = Row::new("client (proxy): engine+login binary − hello-world, stripped");
        if let Some(size) = size {
            let delta = size["delta_bytes"].as_f64().unwrap_or(0.0);
            row.roomlink = bytes(delta);
            row.ratio = format!(
                "{} (≤ 1.5 MiB; proxy, not the cdylib)",
                of_target(delta, 1.5 * 1024.0 * 1024.0)
            );
        } else {
            row.roomlink = "n/a".into();
        }
        rows.push(row);
        let threads = fp["threads_per_engine"].as_f64().unwrap_or(0.0);
        let mut row = Row::new("client: threads per engine (logged in)");
        row.roomlink = format!("{threads}");
        row.ratio = of_target(threads, 2.0);
        rows.push(row);
        let mut row = Row::new(format!(
            "client: RSS per engine ({} logged in)",
            plan.engines
        ));
        row.roomlink = bytes(fp["rss_per_engine_bytes"].as_f64().unwrap_or(0.0));
        rows.push(row);
        let wake = fp["wakeups_per_minute"].as_f64().unwrap_or(0.0);
        let hb = fp["heartbeat_secs"].as_f64().unwrap_or(10.0);
        // Each heartbeat is two wake-ups: the ping timer, and the pong's arrival.
        let target = 2.0 * 60.0 / hb;
        let mut row = Row::new(format!(
            "client: idle wake-ups per minute ({} s heartbeat{})",
            hb,
            if opts.quick {
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
    rows.push(Row::pending(
        "FFI: events/s through the C callback",
        "C ABI / UniFFI issues not landed",
    ));
    rows.push(Row::pending(
        "FFI: events/s through the Kotlin/JNA listener",
        "C ABI / UniFFI issues not landed",
    ));

    let wall = started.elapsed().as_secs_f64();
    println!("{}", table::render(&rows));
    println!(
        "mode: {}; samples per latency: {n}; wall time {wall:.1} s; open-file limit {fd_limit}",
        if opts.quick { "quick" } else { "full" }
    );
    let report = json!({
        "mode": if opts.quick { "quick" } else { "full" },
        "wall_secs": wall,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "open_file_limit": fd_limit,
        "figures": Value::Object(r.raw),
        "table": rows,
        "errors": r.errors,
    });
    if let Some(dir) = opts.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&opts.out, text).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    println!("raw results: {}", opts.out.display());
    let errors = report["errors"].as_array().map(|a| a.len()).unwrap_or(0);
    if errors > 0 {
        return Err(format!("{errors} part(s) failed (see above)"));
    }
    Ok(())
}
