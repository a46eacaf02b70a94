//! 100 000 held sessions on a cluster: as many node processes on one Redis as the open-file
//! limit needs, rooms of 10, each session pinging every 10 s (the engine's default), held; then
//! how many are alive, the nodes' RSS per session, Redis's memory per session (`INFO memory`),
//! and the CPU of the nodes and of Redis over the hold (/proc/PID/stat). Beside it, one in-memory
//! server holding as many sessions as one node did, for the same hold, in the same run.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::capacity::{self, Capacity};
use crate::server::ServerProc;
use crate::sys::{cpu_secs, rss_kib};

/// Sessions per load process (each under the open-file limit, each from its own 127.0.0.x, so
/// that no source address runs out of ephemeral ports towards one node).
const PER_LOAD: usize = 5000;
/// How long one load process may take to bring its sessions up.
const RAMP_PATIENCE: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize)]
pub struct ClusterHold {
    pub sessions: usize,
    pub nodes: usize,
    pub per_node_max: usize,
    pub load_processes: usize,
    pub ramp_secs: f64,
    pub hold_secs: f64,
    pub alive: usize,
    /// Σ over the nodes of (RSS at the hold's end − RSS before any session), per session.
    pub node_rss_per_session_bytes: f64,
    /// (`used_memory` at the hold's end − before any session) / sessions.
    pub redis_memory_per_session_bytes: f64,
    pub redis_used_memory_before: u64,
    pub redis_used_memory_after: u64,
    /// Each node's CPU over the hold, in % of one core.
    pub node_cpu_percent: Vec<f64>,
    pub redis_cpu_percent: f64,
    /// One in-memory server holding as many sessions as the busiest node, for the same hold.
    pub single: Capacity,
}

/// Sessions of each node: as even as may be, none above `per_node_max`.
pub fn split(sessions: usize, per_node_max: usize) -> Vec<usize> {
    let nodes = sessions.div_ceil(per_node_max.max(1)).max(1);
    (0..nodes)
        .map(|k| sessions / nodes + usize::from(k < sessions % nodes))
        .collect()
}

/// Load processes: (node index, count, source address), at most [`PER_LOAD`] each, every one
/// from its own source address.
pub fn loads(per_node: &[usize]) -> Vec<(usize, usize, Ipv4Addr)> {
    let mut out = Vec::new();
    for (node, &n) in per_node.iter().enumerate() {
        let mut left = n;
        while left > 0 {
            let c = left.min(PER_LOAD);
            // 127.0.0.2 on (.1 is the nodes' own address), 250 to a /24.
            let k = out.len();
            out.push((
                node,
                c,
                Ipv4Addr::new(127, 0, (k / 250) as u8, (k % 250 + 2) as u8),
            ));
            left -= c;
        }
    }
    out
}

fn used_memory(port: u16) -> Result<u64, String> {
    let text = crate::cluster::info(port, "memory").map_err(|e| format!("redis INFO: {e}"))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:")?.parse().ok())
        .ok_or_else(|| "redis INFO memory: no used_memory".to_string())
}

pub fn run(sessions: usize, hold: Duration) -> Result<ClusterHold, String> {
    let per_node_max = capacity::max_sessions()?;
    let per_node = split(sessions, per_node_max);
    let busiest = per_node.iter().copied().max().unwrap_or(0);

    // The baseline first, on its own server, so the two do not share the machine.
    let single = {
        let server = ServerProc::start()?;
        let addr = server.addr;
        let c = capacity::measure(server.pid(), busiest, hold, |count, src, prefix| {
            capacity::spawn_roomlink_load(addr, count, src, prefix)
        });
        server.stop()?;
        c?
    };

    let redis = crate::cluster::start_redis()?;
    let nodes: Vec<ServerProc> = (0..per_node.len())
        .map(|_| ServerProc::start_on(Some(&redis.url()), None))
        .collect::<Result<_, String>>()?;
    let measured = hold_on(&redis, &nodes, &per_node, hold, per_node_max, single);
    let stopped: Vec<Result<(), String>> = nodes.into_iter().map(ServerProc::stop).collect();
    let m = measured?;
    stopped.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(m)
}

fn hold_on(
    redis: &roomlink_testredis::Redis,
    nodes: &[ServerProc],
    per_node: &[usize],
    hold: Duration,
    per_node_max: usize,
    single: Capacity,
) -> Result<ClusterHold, String> {
    let sessions: usize = per_node.iter().sum();
    let rss0: Vec<u64> = nodes
        .iter()
        .map(|n| rss_kib(n.pid()))
        .collect::<Result<_, _>>()?;
    let mem0 = used_memory(redis.port)?;
    let ramp = Instant::now();
    let plan = loads(per_node);
    let mut procs = Vec::with_capacity(plan.len());
    for (i, &(node, count, source)) in plan.iter().enumerate() {
        // Prefixes differ per load process: its rooms of 10 are its own.
        procs.push(capacity::spawn_roomlink_load(
            nodes[node].addr,
            count,
            source,
            &format!("h{i}"),
        )?);
    }
    for p in &procs {
        p.next_json(RAMP_PATIENCE)?; // {"ready": n}
    }
    let ramp_secs = ramp.elapsed().as_secs_f64();
    let pids: Vec<u32> = nodes.iter().map(ServerProc::pid).collect();
    let cpu = |pid: u32| cpu_secs(pid);
    let node_cpu0: Vec<f64> = pids.iter().map(|&p| cpu(p)).collect::<Result<_, _>>()?;
    let redis_cpu0 = cpu(redis.pid())?;
    let t0 = Instant::now();
    // The hold itself is the scenario: sessions idle with heartbeats for this long.
    std::thread::sleep(hold);
    let held = t0.elapsed().as_secs_f64();
    let node_cpu1: Vec<f64> = pids.iter().map(|&p| cpu(p)).collect::<Result<_, _>>()?;
    let redis_cpu1 = cpu(redis.pid())?;
    let rss1: Vec<u64> = pids.iter().map(|&p| rss_kib(p)).collect::<Result<_, _>>()?;
    let mem1 = used_memory(redis.port)?;
    for p in &mut procs {
        p.close_stdin();
    }
    let mut alive = 0;
    for p in procs {
        let line = p.next_json(Duration::from_secs(60))?;
        alive += line["alive"].as_u64().unwrap_or(0) as usize;
        p.finish(Duration::from_secs(30))?;
    }
    let grown: u64 = rss1
        .iter()
        .zip(&rss0)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let n = sessions.max(1) as f64;
    Ok(ClusterHold {
        sessions,
        nodes: nodes.len(),
        per_node_max,
        load_processes: plan.len(),
        ramp_secs,
        hold_secs: held,
        alive,
        node_rss_per_session_bytes: (grown * 1024) as f64 / n,
        redis_memory_per_session_bytes: mem1.saturating_sub(mem0) as f64 / n,
        redis_used_memory_before: mem0,
        redis_used_memory_after: mem1,
        node_cpu_percent: node_cpu1
            .iter()
            .zip(&node_cpu0)
            .map(|(a, b)| (a - b) / held * 100.0)
            .collect(),
        redis_cpu_percent: (redis_cpu1 - redis_cpu0) / held * 100.0,
        single,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_split_evenly_under_the_limit_and_loads_have_distinct_sources() {
        let per_node = split(100_000, 19_900);
        assert_eq!(
            per_node,
            vec![16_667, 16_667, 16_667, 16_667, 16_666, 16_666]
        );
        assert_eq!(split(20, 19_900), vec![20]);
        let l = loads(&per_node);
        assert!(l.iter().all(|&(_, c, _)| c <= PER_LOAD));
        assert_eq!(l.iter().map(|&(_, c, _)| c).sum::<usize>(), 100_000);
        let mut sources: Vec<_> = l.iter().map(|&(_, _, s)| s).collect();
        sources.sort();
        sources.dedup();
        assert_eq!(sources.len(), l.len());
        assert!(!sources.contains(&Ipv4Addr::new(127, 0, 0, 1)));
    }
}
