//! `roomlink-bench run`: every figure in order, then the table and the JSON file.
//!
//! A figure that fails is reported in its row and makes the run exit non-zero (something broke);
//! a figure that misses its target never does (CI does not judge the numbers).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::capacity::{self, Capacity};
use crate::child::{ChildProc, this_binary};
use crate::fanout::{self, Fanout};
use crate::rows::{ClientRates, EventRates, FanoutSummary, Latency, Measured, summary};
use crate::server::ServerProc;
use crate::socketio::SocketIo;
use crate::table;

pub struct Options {
    pub quick: bool,
    pub out: PathBuf,
    pub socketio_dir: PathBuf,
    /// Run only the parts whose key contains this (for profiling one figure).
    pub only: Option<String>,
    /// The unstripped cdylib to measure (figure 7's size).
    pub cdylib: Option<PathBuf>,
    pub c_client: FfiClient,
    pub kotlin_client: FfiClient,
}

/// An event-rate client of figure 8 that scripts/bench.sh built, or why it did not.
pub enum FfiClient {
    Run(PathBuf),
    Skipped(String),
}

impl FfiClient {
    pub fn from_args(path: Option<PathBuf>, skip: Option<String>) -> FfiClient {
        match (path, skip) {
            (Some(p), _) => FfiClient::Run(p),
            (None, Some(why)) => FfiClient::Skipped(why),
            (None, None) => FfiClient::Skipped("not built (scripts/bench.sh builds it)".into()),
        }
    }
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
    /// Figure 8: engines in the room, streams published, rounds of the three clients.
    rate_engines: usize,
    rate_streams: usize,
    rate_rounds: usize,
    /// The cluster's idle-commands figure: sessions, and each of its two windows.
    cluster_sessions: usize,
    cluster_idle: Duration,
    /// Node kill: engines on the node that is killed.
    kill_clients: usize,
    /// Fan-out over 4 nodes: members, trials.
    cluster_fanout_members: usize,
    cluster_fanout_trials: usize,
    /// Held sessions on a cluster (`None`: not in this mode, for the reason given).
    cluster_hold: Result<usize, &'static str>,
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
                rate_engines: 10,
                rate_streams: 2560,
                rate_rounds: 1,
                cluster_sessions: 20,
                cluster_idle: Duration::from_secs(5),
                kill_clients: 20,
                cluster_fanout_members: 200,
                cluster_fanout_trials: 2,
                cluster_hold: Err("full run only: 100 000 sessions take minutes to build"),
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
                rate_engines: 10,
                rate_streams: 10_000,
                rate_rounds: 3,
                cluster_sessions: 100,
                cluster_idle: Duration::from_secs(30),
                kill_clients: 1000,
                cluster_fanout_members: 10_000,
                cluster_fanout_trials: 10,
                cluster_hold: Ok(100_000),
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
    /// Whether `--only` lets the part with this key run.
    fn wants(&self, key: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| key.contains(only.as_str()))
    }

    /// Runs one part; records its raw JSON under `key` or its error.
    fn part<T: serde::Serialize>(
        &mut self,
        key: &str,
        f: impl FnOnce() -> Result<T, String>,
    ) -> Option<T> {
        if !self.wants(key) {
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

/// Figure 8: each client's runs, or why it was skipped (a failed run is an error in `r`).
fn event_rates(r: &mut Results, plan: &Plan, opts: &Options) -> EventRates {
    let (n, k) = (plan.rate_engines, plan.rate_streams);
    let client = |c: &FfiClient| match c {
        FfiClient::Run(p) => ClientRates::new(Some((p.clone(), Vec::new())), None),
        FfiClient::Skipped(why) => ClientRates::new(None, Some(why.clone())),
    };
    let mut rates = EventRates {
        engines: n,
        streams: k,
        rust: match this_binary() {
            Ok(me) => ClientRates::new(Some((me, vec!["event-rate".into()])), None),
            Err(e) => ClientRates::new(None, Some(e)),
        },
        c: client(&opts.c_client),
        kotlin: client(&opts.kotlin_client),
    };
    let key = |name: &str, round: usize| format!("event_rate_{name}_{round}");
    let wanted = (0..plan.rate_rounds).any(|round| {
        ["rust", "c", "kotlin"]
            .iter()
            .any(|name| r.wants(&key(name, round)))
    });
    if !wanted {
        return rates;
    }
    let server = match ServerProc::start() {
        Ok(s) => s,
        Err(e) => {
            r.errors.push(format!("roomlink server: {e}"));
            return rates;
        }
    };
    let url = server.ws_url();
    for round in 0..plan.rate_rounds {
        for (name, client) in rates.clients_mut() {
            let Some((program, args)) = &client.command else {
                continue;
            };
            let mut cmd = Command::new(program);
            cmd.args(args);
            let room = format!("rate-{name}-{round}");
            if let Some(rate) = r.part(&key(name, round), || {
                crate::event_rate::run_client(name, cmd, &url, &room, n, k)
            }) {
                client.runs.push(rate);
            }
        }
    }
    if let Err(e) = server.stop() {
        r.errors.push(e);
    }
    rates
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
    let wanted = |r: &Results, keys: &[&str]| keys.iter().any(|k| r.wants(k));
    let (login, peer) = if !wanted(&r, &["roomlink_login", "roomlink_peer"]) {
        (None, None)
    } else {
        match ServerProc::start() {
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
        }
    };
    let (sio_login, sio_peer) = if !wanted(&r, &["socketio_login", "socketio_peer"]) {
        (None, None)
    } else {
        match sio.start_server() {
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
        }
    };

    // 2 + 3 on a cluster of two nodes on one Redis, beside a fresh single server (its own
    // processes, so the figures above are not disturbed).
    let cluster = r.part("cluster", || {
        crate::cluster::run(n, plan.cluster_sessions, plan.cluster_idle)
    });
    let cluster_kill = r.part("cluster_node_kill", || {
        crate::cluster_kill::run(plan.kill_clients)
    });
    let cluster_fan = r.part("cluster_fanout", || {
        crate::cluster_fanout::run(plan.cluster_fanout_members, plan.cluster_fanout_trials)
    });
    let cluster_hold = match plan.cluster_hold {
        Ok(sessions) => r
            .part("cluster_hold", || {
                crate::cluster_hold::run(sessions, plan.hold)
            })
            .ok_or("failed or not run"),
        Err(why) => {
            if r.wants("cluster_hold") {
                eprintln!("bench: cluster_hold skipped: {why}");
            }
            Err(why)
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
    let (reconnect, footprint) = if !wanted(&r, &["roomlink_reconnect", "roomlink_footprint"]) {
        (None, None)
    } else {
        match ServerProc::start() {
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
                if let Err(e) = server.stop() {
                    r.errors.push(e);
                }
                (rec, fp)
            }
            Err(e) => {
                r.errors.push(format!("roomlink server: {e}"));
                (None, None)
            }
        }
    };

    let size = match &opts.cdylib {
        Some(lib) => r.part("client_cdylib_size", || {
            crate::cdylib::measure(lib, Path::new("Cargo.lock"), &std::env::temp_dir())
        }),
        None => None,
    };

    // 8. Events per second through each API, on a fresh server; the three clients take turns
    // (rounds), so drift over the run touches them alike.
    let rates = event_rates(&mut r, &plan, &opts);

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
