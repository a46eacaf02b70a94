//! The cluster figures: login and peer notification on a cluster of two nodes (separate
//! `roomlink-bench serve --redis` processes) on one Redis, against one in-memory server in the
//! same run; and the Redis commands a login, a logout and an idle session per minute cost
//! (target for the last 0: heartbeats stay on the node). The Redis is the bench's own (roomlink-testredis: free loopback port, stopped by
//! PID).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use roomlink::{EngineConfig, RoomStateChangedReason as R, UpdateType};
use roomlink_testredis::Redis;
use serde::Serialize;

use crate::engines::Stamped;
use crate::rows::{Latency, summary};
use crate::server::ServerProc;

/// Members per room in the idle-session figure (as the capacity figure's rooms).
const ROOM_SIZE: usize = 10;
/// The idle sessions' heartbeat: short, so that a write per ping would show at once.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(1);
/// The idle figure's nodes' heartbeat timeout: their liveness refresh (a sixth of it) then comes
/// every second, so each window holds many and the no-session baseline is steady.
const IDLE_NODE_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(6);
/// How long the idle figure's nodes run before its first window: a node starts reaping (a
/// command or two per refresh) only once it has been in touch with Redis for its liveness TTL
/// (a third of the heartbeat timeout) plus the 2 s store timeout; and one refresh more.
const IDLE_NODE_WARM_UP: Duration = Duration::from_secs(6);
/// Quiet time after nodes start or sessions settle, before a window opens: the last replies'
/// follow-ups (a room task's read after its append) land before it.
const SETTLE: Duration = Duration::from_secs(1);
/// Latency samples are taken in this many rounds, the three set-ups taking turns, so that drift
/// over the run (other processes on the machine) touches them alike.
const ROUNDS: usize = 4;

/// Everything the cluster part measured.
#[derive(Serialize)]
pub struct ClusterFigures {
    /// Login on the single in-memory server (the baseline) and on a cluster node.
    pub login_single: Latency,
    pub login_node: Latency,
    /// Peer notification: one server; both members on one node; on two different nodes.
    pub peer_single: Latency,
    pub peer_same_node: Latency,
    pub peer_cross_node: Latency,
    /// A Redis PING round trip from this process (each Redis command a figure waits for costs
    /// about one).
    pub redis_ping: Latency,
    pub idle: IdleCommands,
    /// Redis commands per login and per logout (the idle figure's sessions coming and going).
    pub churn: ChurnCommands,
}

/// Redis commands over the window in which the idle figure's sessions log in, and the one in
/// which they log out, each less the no-session baseline's rate over the same length.
#[derive(Serialize)]
pub struct ChurnCommands {
    pub sessions: usize,
    pub login_window_secs: f64,
    pub logout_window_secs: f64,
    pub login: BTreeMap<String, u64>,
    pub logout: BTreeMap<String, u64>,
    /// (window's commands − baseline rate × window) / sessions.
    pub per_login: f64,
    pub per_logout: f64,
    /// What one liveness cycle more or less in a window changes a per-operation figure by.
    pub resolution_per_op: f64,
}

/// Redis commands over an idle window, without and then with `sessions` logged in.
#[derive(Serialize)]
pub struct IdleCommands {
    pub sessions: usize,
    pub window_secs: f64,
    /// The nodes' heartbeat timeout (their liveness refresh is a sixth of it).
    pub node_heartbeat_timeout_secs: f64,
    /// Commands during the window with no session at all (the nodes' own liveness refresh).
    pub baseline: BTreeMap<String, u64>,
    /// Commands during the same length of window with every session logged in and idle.
    pub loaded: BTreeMap<String, u64>,
    /// (loaded − baseline) / sessions / minutes.
    pub per_session_per_minute: f64,
    /// baseline / nodes / minutes.
    pub per_node_per_minute: f64,
    /// What one liveness cycle (every node's refresh, once) more or less in a window changes
    /// `per_session_per_minute` by: the figure's resolution.
    pub resolution_per_session_per_minute: f64,
}

fn lat(samples: Vec<u64>) -> Result<Latency, String> {
    Ok(Latency {
        summary: summary(&samples)?,
        samples_ns: samples,
    })
}

/// A Redis of the bench's own. `Redis::start` panics on a broken install: a failed figure, not
/// a failed run.
pub(crate) fn start_redis() -> Result<Redis, String> {
    std::panic::catch_unwind(Redis::start)
        .map_err(|_| "cannot start redis-server (scripts/setup.sh installs it)".to_string())
}

fn two_nodes(
    redis: &Redis,
    heartbeat_timeout: Option<Duration>,
) -> Result<[ServerProc; 2], String> {
    Ok([
        ServerProc::start_on(Some(&redis.url()), heartbeat_timeout)?,
        ServerProc::start_on(Some(&redis.url()), heartbeat_timeout)?,
    ])
}

/// Every process stopped (by PID, through [`ServerProc::stop`]); the first error, if any.
fn stop_all(procs: impl IntoIterator<Item = ServerProc>) -> Result<(), String> {
    // Every one is stopped before the first error is returned (no short cut).
    let results: Vec<Result<(), String>> = procs.into_iter().map(ServerProc::stop).collect();
    results.into_iter().collect()
}

/// Measures the latencies (two nodes and one in-memory server, on one Redis), then the idle
/// figure on two other nodes of another Redis, started first so that they are past their
/// warm-up by then; stops every process it started.
pub fn run(samples: usize, sessions: usize, idle: Duration) -> Result<ClusterFigures, String> {
    let idle_redis = start_redis()?;
    let idle_nodes = two_nodes(&idle_redis, Some(IDLE_NODE_HEARTBEAT_TIMEOUT))?;
    let warm_from = Instant::now() + IDLE_NODE_WARM_UP;
    let latencies = (|| {
        let redis = start_redis()?;
        let single = ServerProc::start()?;
        let nodes = two_nodes(&redis, None)?;
        let measured = latencies(&single, &nodes, samples)
            .and_then(|l| Ok((l, lat(pings(redis.port, samples)?)?)));
        let stopped = stop_all(std::iter::once(single).chain(nodes));
        let m = measured?;
        stopped?;
        Ok::<_, String>(m)
    })();
    let measured = latencies.and_then(|l| {
        std::thread::sleep(warm_from.saturating_duration_since(Instant::now()));
        let urls = [idle_nodes[0].ws_url(), idle_nodes[1].ws_url()];
        Ok((l, idle_commands(idle_redis.port, &urls, sessions, idle)?))
    });
    let stopped = stop_all(idle_nodes);
    let ((latencies, redis_ping), (idle, churn)) = measured?;
    stopped?;
    let [
        login_single,
        login_node,
        peer_single,
        peer_same_node,
        peer_cross_node,
    ] = latencies;
    Ok(ClusterFigures {
        login_single,
        login_node,
        peer_single,
        peer_same_node,
        peer_cross_node,
        redis_ping,
        idle,
        churn,
    })
}

/// Login on one server, on a node; peer notification on one server, on one node, across two.
fn latencies(
    single: &ServerProc,
    nodes: &[ServerProc; 2],
    samples: usize,
) -> Result<[Latency; 5], String> {
    let (one, n1, n2) = (single.ws_url(), nodes[0].ws_url(), nodes[1].ws_url());
    let per_round = samples.div_ceil(ROUNDS);
    let mut s: [Vec<u64>; 5] = Default::default();
    for _ in 0..ROUNDS {
        s[0].extend(crate::login::login(&one, per_round)?);
        s[1].extend(crate::login::login(&n1, per_round)?);
        s[2].extend(crate::login::peer(&one, per_round)?);
        s[3].extend(crate::login::peer_between(&n1, &n1, per_round)?);
        s[4].extend(crate::login::peer_between(&n1, &n2, per_round)?);
    }
    let [a, b, c, d, e] = s.map(lat);
    Ok([a?, b?, c?, d?, e?])
}

/// `sessions` engines in rooms of [`ROOM_SIZE`], spread over the nodes; the commands Redis
/// executed during `idle` with them all logged in, less those of an idle window without them;
/// and those of the windows in which they logged in and out, less the same baseline's rate.
fn idle_commands(
    port: u16,
    urls: &[String],
    sessions: usize,
    idle: Duration,
) -> Result<(IdleCommands, ChurnCommands), String> {
    std::thread::sleep(SETTLE);
    let before = commandstats(port)?;
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let baseline = delta(&before, &commandstats(port)?);
    let baseline_secs = t0.elapsed().as_secs_f64();

    let before = commandstats(port)?;
    let t0 = Instant::now();
    let engines = log_in(urls, sessions)?;
    std::thread::sleep(SETTLE);
    let login = delta(&before, &commandstats(port)?);
    let login_secs = t0.elapsed().as_secs_f64();

    let before = commandstats(port)?;
    let t0 = Instant::now();
    std::thread::sleep(idle);
    let loaded = delta(&before, &commandstats(port)?);
    let window = t0.elapsed().as_secs_f64();

    let before = commandstats(port)?;
    let t0 = Instant::now();
    let logged_out = log_out(&engines);
    std::thread::sleep(SETTLE);
    let logout = delta(&before, &commandstats(port)?);
    let logout_secs = t0.elapsed().as_secs_f64();
    for app in engines {
        app.engine.destroy();
    }
    logged_out?;

    let minutes = window / 60.0;
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>() as f64;
    // A node refreshes every sixth of its heartbeat timeout.
    let refresh = IDLE_NODE_HEARTBEAT_TIMEOUT.as_secs_f64() / 6.0;
    let cycle = total(&baseline) / (baseline_secs / refresh).max(1.0);
    let rate = total(&baseline) / baseline_secs;
    let n = sessions.max(1) as f64;
    let per_op = |m: &BTreeMap<String, u64>, secs: f64| (total(m) - rate * secs).max(0.0) / n;
    let churn = ChurnCommands {
        sessions,
        login_window_secs: login_secs,
        logout_window_secs: logout_secs,
        per_login: per_op(&login, login_secs),
        per_logout: per_op(&logout, logout_secs),
        resolution_per_op: cycle / n,
        login,
        logout,
    };
    let idle = IdleCommands {
        sessions,
        node_heartbeat_timeout_secs: IDLE_NODE_HEARTBEAT_TIMEOUT.as_secs_f64(),
        window_secs: window,
        per_session_per_minute: (total(&loaded) - rate * window).max(0.0) / n / minutes,
        per_node_per_minute: total(&baseline) / urls.len() as f64 / minutes,
        resolution_per_session_per_minute: cycle / n / minutes,
        baseline,
        loaded,
    };
    Ok((idle, churn))
}

/// `sessions` engines logged in, in rooms of [`ROOM_SIZE`], round robin over `urls`; each
/// returned once every earlier member of its room saw it (no login traffic is left behind).
fn log_in(urls: &[String], sessions: usize) -> Result<Vec<Stamped>, String> {
    let mut engines: Vec<Stamped> = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let (room, user) = (idle_room(i), idle_user(i));
        let app = Stamped::new(EngineConfig {
            heartbeat_interval: IDLE_HEARTBEAT,
            ..EngineConfig::new(&urls[i % urls.len()])
        })?;
        app.login(&room, &user)?;
        app.wait_reason(&room, R::Logined)?;
        for earlier in &engines[i - i % ROOM_SIZE..i] {
            earlier.wait_user(&room, UpdateType::Add, &user)?;
        }
        engines.push(app);
    }
    Ok(engines)
}

/// Every engine logged out in turn, each once the later members of its room saw the one before
/// leave (the Delete is the cluster's work done); a room's last member has no one left to see
/// it, the caller's settle time covers it.
fn log_out(engines: &[Stamped]) -> Result<(), String> {
    for (i, app) in engines.iter().enumerate() {
        let room = idle_room(i);
        app.engine
            .logout_room(&room)
            .map_err(|e| format!("logout_room({room}): {e}"))?;
        let room_end = (i - i % ROOM_SIZE + ROOM_SIZE).min(engines.len());
        for later in &engines[i + 1..room_end] {
            later.wait_user(&room, UpdateType::Delete, &idle_user(i))?;
        }
    }
    Ok(())
}

fn idle_room(i: usize) -> String {
    format!("idle-{}", i / ROOM_SIZE)
}

fn idle_user(i: usize) -> String {
    format!("idle-user-{i}")
}

/// `samples` PING round trips to the Redis on `port` over one connection (after 10 not counted).
fn pings(port: u16, samples: usize) -> Result<Vec<u64>, String> {
    let conn = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("redis: {e}"))?;
    let io = |e: std::io::Error| format!("redis PING: {e}");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    conn.set_nodelay(true).map_err(io)?;
    let mut writer = conn.try_clone().map_err(io)?;
    let mut reader = BufReader::new(conn);
    let mut out = Vec::with_capacity(samples);
    let mut line = String::new();
    for i in 0..samples + 10 {
        let t0 = crate::sys::mono_ns();
        writer.write_all(b"PING\r\n").map_err(io)?;
        line.clear();
        reader.read_line(&mut line).map_err(io)?;
        let t1 = crate::sys::mono_ns();
        if line != "+PONG\r\n" {
            return Err(format!("redis PING: got {line:?}"));
        }
        if i >= 10 {
            out.push(t1 - t0);
        }
    }
    Ok(out)
}

/// `after − before` per command (commands that ran in between).
fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(cmd, &n)| {
            let d = n.saturating_sub(before.get(cmd).copied().unwrap_or(0));
            (d > 0).then(|| (cmd.clone(), d))
        })
        .collect()
}

/// `INFO commandstats` of the Redis on `port`: calls per command, without `info` itself (this
/// function's own calls).
fn commandstats(port: u16) -> Result<BTreeMap<String, u64>, String> {
    let text = info(port, "commandstats").map_err(|e| format!("redis INFO: {e}"))?;
    Ok(parse_commandstats(&text))
}

fn parse_commandstats(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| {
            let (name, fields) = line.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = fields
                .split(',')
                .find_map(|f| f.strip_prefix("calls="))?
                .parse()
                .ok()?;
            (name != "info").then(|| (name.to_string(), calls))
        })
        .collect()
}

/// One `INFO section` over RESP (a bulk string reply), without a client library.
pub(crate) fn info(port: u16, section: &str) -> std::io::Result<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        conn,
        "*2\r\n$4\r\nINFO\r\n${}\r\n{section}\r\n",
        section.len()
    )?;
    let mut reader = BufReader::new(conn);
    let mut header = String::new();
    reader.read_line(&mut header)?;
    let bad = || std::io::Error::other(format!("unexpected reply {header:?}"));
    let len: usize = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    String::from_utf8(body).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commandstats_are_parsed_without_info_itself() {
        let text = "# Commandstats\r\ncmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\ncmdstat_info:calls=3,usec=1\r\ncmdstat_xread:calls=7,usec=9\r\n";
        let m = parse_commandstats(text);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![("evalsha".to_string(), 12), ("xread".to_string(), 7)]
        );
    }

    #[test]
    fn the_delta_keeps_only_commands_that_ran() {
        let before = BTreeMap::from([("get".to_string(), 5), ("set".to_string(), 2)]);
        let after = BTreeMap::from([
            ("get".to_string(), 5),
            ("set".to_string(), 4),
            ("xadd".to_string(), 1),
        ]);
        assert_eq!(
            delta(&before, &after),
            BTreeMap::from([("set".to_string(), 2), ("xadd".to_string(), 1)])
        );
    }
}
