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
use crate::rows::{FanoutSummary, Latency, Measured, summary};
use crate::server::ServerProc;
use crate::socketio::SocketIo;
use crate::table;

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

fn latency_part(samples: Vec<u64>) -> Result<Latency, String> {
    Ok(Latency {
        summary: summary(&samples)?,
        samples_ns: samples,
    })
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
    let ws_split = r.part("floor_ws_echo_cpu0_cpu1", || {
        latency_part(floor_child("ws", n, Cpus::Split)?)
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

    let measured = Measured {
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
        fan,
        sio_fan,
        tcp_fan,
        members: m,
        caps,
        max,
        reconnect,
        footprint,
    };
    let rows = crate::rows::rows(&measured, opts.quick, plan.hold, plan.engines)?;

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
