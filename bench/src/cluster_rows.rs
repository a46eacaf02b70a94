//! The table's cluster rows: each cluster figure beside the single in-memory server's of the same
//! run, as ratios (target: cross-node peer notification ≤ 1.5× one server, p50 and p99).

use crate::cluster::ClusterFigures;
use crate::cluster_fanout::ClusterFanout;
use crate::cluster_hold::ClusterHold;
use crate::cluster_kill::{NodeKill, WATCH_AFTER_SECS};
use crate::fanout::Fanout;
use crate::rows::{Latency, summary};
use crate::stats::Summary;
use crate::table::{Row, latency, time_us};

/// The peer-notification target of issue 11: across nodes ≤ 1.5× one server.
const CROSS_NODE_TARGET: f64 = 1.5;

/// "p50 1.21× · p99 1.40× one server".
fn ratios(value: &Latency, base: &Latency) -> String {
    let r = |v: f64, b: f64| if b > 0.0 { v / b } else { f64::NAN };
    format!(
        "p50 {:.2}× · p99 {:.2}× one server",
        r(value.summary.p50_us, base.summary.p50_us),
        r(value.summary.p99_us, base.summary.p99_us)
    )
}

fn versus(figure: &str, value: &Latency, base: &Latency, target: Option<f64>) -> Row {
    let mut row = Row::new(figure);
    row.roomlink = latency(&value.summary);
    row.floor = format!("one in-memory server: {}", latency(&base.summary));
    row.ratio = ratios(value, base);
    if let Some(t) = target {
        row.ratio.push_str(&format!(" (target ≤ {t}×)"));
    }
    row
}

pub fn cluster_rows(cluster: &Option<ClusterFigures>) -> Vec<Row> {
    let Some(c) = cluster else {
        let mut row = Row::new("cluster (2 nodes on one Redis): login / peer notification / idle");
        row.roomlink = "n/a".into();
        return vec![row];
    };
    let mut rows = vec![
        versus(
            "cluster: login on a node of 2 (Redis) vs one server",
            &c.login_node,
            &c.login_single,
            None,
        ),
        versus(
            "cluster: peer notification, A and B on one node",
            &c.peer_same_node,
            &c.peer_single,
            None,
        ),
        versus(
            "cluster: peer notification, A and B on two nodes",
            &c.peer_cross_node,
            &c.peer_single,
            Some(CROSS_NODE_TARGET),
        ),
    ];
    let mut row = Row::new("cluster: Redis PING round trip (one command's floor)");
    row.floor = latency(&c.redis_ping.summary);
    rows.push(row);
    let idle = &c.idle;
    let mut row = Row::new(format!(
        "cluster: Redis commands per idle session per minute ({} sessions, 1 s heartbeat, {:.0} s counted)",
        idle.sessions, idle.window_secs
    ));
    row.roomlink = format!(
        "{:.2} (± {:.2}: one liveness cycle more or less in a window)",
        idle.per_session_per_minute, idle.resolution_per_session_per_minute
    );
    row.floor = format!(
        "no sessions: {:.1} per node per minute (liveness refresh, node heartbeat timeout {} s)",
        idle.per_node_per_minute, idle.node_heartbeat_timeout_secs
    );
    row.ratio = if idle.per_session_per_minute <= idle.resolution_per_session_per_minute {
        "0 within the resolution (target 0)".into()
    } else {
        "above 0 (target 0)".into()
    };
    rows.push(row);
    let churn = &c.churn;
    for (what, per_op, secs) in [
        ("login", churn.per_login, churn.login_window_secs),
        ("logout", churn.per_logout, churn.logout_window_secs),
    ] {
        let mut row = Row::new(format!(
            "cluster: Redis commands per {what} ({} sessions in rooms of 10, {secs:.1} s counted)",
            churn.sessions
        ));
        row.roomlink = format!(
            "{per_op:.1} (± {:.2}: one liveness cycle more or less in the window)",
            churn.resolution_per_op
        );
        row.floor = "one in-memory server: 0 (no Redis)".into();
        rows.push(row);
    }
    rows
}

/// `value / base` as "1.23×", NaN-safe.
fn times(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}×", value / base)
    } else {
        "n/a".into()
    }
}

fn fan_cell(f: &Fanout) -> Result<(Summary, Summary), String> {
    Ok((summary(&f.all_ns)?, summary(&f.member_ns)?))
}

/// Node kill, fan-out over 4 nodes, held sessions on a cluster: each beside one server's figure
/// (or its target) of the same run.
pub fn more_rows(
    kill: &Option<NodeKill>,
    fan: &Option<ClusterFanout>,
    hold: &Result<ClusterHold, &'static str>,
) -> Vec<Row> {
    let mut rows = kill_rows(kill);
    rows.extend(fanout_rows(fan));
    rows.extend(hold_rows(hold));
    rows
}

fn kill_rows(kill: &Option<NodeKill>) -> Vec<Row> {
    let Some(k) = kill else {
        let mut row = Row::new("cluster: node kill (SIGKILL a node of 3) → all Reconnected");
        row.roomlink = "n/a".into();
        return vec![row];
    };
    let target_us = (k.ping_timeout_ms + 1000) as f64 * 1000.0;
    let mut row = Row::new(format!(
        "cluster: node kill, {} engines on node 1 of 3 (SIGKILL) → all Reconnected on the others",
        k.clients
    ));
    row.roomlink = match (k.all_reconnected_ns, summary(&k.reconnected_ns)) {
        (Some(all), Ok(each)) => format!(
            "all {}: {} (each: p50 {})",
            k.clients,
            time_us(all as f64 / 1000.0),
            time_us(each.p50_us)
        ),
        _ => format!(
            "only {} of {} reconnected",
            k.reconnected_ns.len(),
            k.clients
        ),
    };
    row.floor = format!(
        "target: ping timeout {} s + 1 s = {}",
        k.ping_timeout_ms as f64 / 1000.0,
        time_us(target_us)
    );
    if let Some(all) = k.all_reconnected_ns {
        row.ratio = format!("{} of target", times(all as f64 / 1000.0, target_us));
    }
    let mut ends = Row::new(format!(
        "cluster: node kill, user events {} observers on node 2 saw · clients that ended KickOut / ReconnectFailed",
        k.observers
    ));
    ends.roomlink = format!(
        "{} user events · {} KickOut · {} ReconnectFailed{}",
        k.observer_user_events,
        k.kicked_out,
        k.reconnect_failed,
        if k.silent > 0 {
            format!(" · {} without an outcome", k.silent)
        } else {
            String::new()
        }
    );
    ends.floor = format!(
        "watched {} s more after the last Reconnected (node heartbeat timeout {} s)",
        WATCH_AFTER_SECS,
        k.node_heartbeat_timeout_ms as f64 / 1000.0
    );
    ends.ratio = "target 0 · 0 · 0".into();
    vec![row, ends]
}

fn fanout_rows(fan: &Option<ClusterFanout>) -> Vec<Row> {
    let cells = fan
        .as_ref()
        .map(|f| Ok::<_, String>((f, fan_cell(&f.cluster)?, fan_cell(&f.single)?)));
    let Some(Ok((f, (c_all, c_member), (s_all, s_member)))) = cells else {
        let mut row = Row::new("cluster: fan-out over 4 nodes");
        row.roomlink = "n/a".into();
        return vec![row];
    };
    let mut all = Row::new(format!(
        "cluster: fan-out, 1 joins a room of {} spread over {} nodes → all saw the Add",
        f.cluster.members, f.nodes
    ));
    let cell = |s: &Summary, trials: usize| {
        format!(
            "p50 {} · max {} ({trials} trials)",
            time_us(s.p50_us),
            time_us(s.max_us)
        )
    };
    all.roomlink = cell(&c_all, f.cluster.all_ns.len());
    all.floor = format!(
        "one in-memory server: {}",
        cell(&s_all, f.single.all_ns.len())
    );
    all.ratio = format!(
        "p50 {} · max {} one server",
        times(c_all.p50_us, s_all.p50_us),
        times(c_all.max_us, s_all.max_us)
    );
    let mut member = Row::new(format!(
        "cluster: fan-out over {} nodes, each member's latency",
        f.nodes
    ));
    member.roomlink = latency(&c_member);
    member.floor = format!("one in-memory server: {}", latency(&s_member));
    member.ratio = format!(
        "p50 {} · p99 {} one server",
        times(c_member.p50_us, s_member.p50_us),
        times(c_member.p99_us, s_member.p99_us)
    );
    vec![all, member]
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

fn hold_rows(hold: &Result<ClusterHold, &'static str>) -> Vec<Row> {
    let h = match hold {
        Ok(h) => h,
        Err(why) => {
            let mut row = Row::new("cluster: 100 000 held sessions on nodes of one Redis");
            row.roomlink = format!("n/a ({why})");
            return vec![row];
        }
    };
    let one = &h.single;
    let mut row = Row::new(format!(
        "cluster: {} sessions held {:.0} s on {} nodes + 1 Redis (rooms of 10, ramp {:.0} s)",
        h.sessions, h.hold_secs, h.nodes, h.ramp_secs
    ));
    row.roomlink = format!(
        "{} alive · nodes' RSS {} per session · Redis {} per session",
        h.alive,
        kib(h.node_rss_per_session_bytes),
        kib(h.redis_memory_per_session_bytes)
    );
    row.floor = format!(
        "one in-memory server, {} sessions: {} alive · RSS {} per session",
        one.sessions,
        one.alive,
        kib(one.rss_per_session_bytes)
    );
    row.ratio = format!(
        "node RSS {} one server (target: all alive)",
        times(h.node_rss_per_session_bytes, one.rss_per_session_bytes)
    );
    let total: f64 = h.node_cpu_percent.iter().sum();
    let max = h.node_cpu_percent.iter().copied().fold(0.0, f64::max);
    let mut cpu = Row::new(format!(
        "cluster: CPU over the hold ({} sessions, 10 s heartbeat; % of one core)",
        h.sessions
    ));
    cpu.roomlink = format!(
        "{} nodes: {total:.1} % in all (busiest {max:.1} %) · Redis {:.1} %",
        h.nodes, h.redis_cpu_percent
    );
    cpu.floor = format!(
        "one in-memory server, {} sessions: {:.1} %",
        one.sessions, one.cpu_percent
    );
    cpu.ratio = format!("busiest node {} one server", times(max, one.cpu_percent));
    vec![row, cpu]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{ChurnCommands, IdleCommands};
    use crate::rows::summary;

    fn lat(us: &[u64]) -> Latency {
        let ns: Vec<u64> = us.iter().map(|u| u * 1000).collect();
        Latency {
            summary: summary(&ns).unwrap(),
            samples_ns: ns,
        }
    }

    #[test]
    fn cross_node_is_divided_by_the_single_server_and_named_with_its_target() {
        let figures = ClusterFigures {
            login_single: lat(&[100]),
            login_node: lat(&[300]),
            peer_single: lat(&[100, 200]),
            peer_same_node: lat(&[110, 220]),
            peer_cross_node: lat(&[150, 400]),
            redis_ping: lat(&[30]),
            idle: IdleCommands {
                sessions: 20,
                node_heartbeat_timeout_secs: 6.0,
                window_secs: 30.0,
                baseline: Default::default(),
                loaded: Default::default(),
                per_session_per_minute: 0.0,
                per_node_per_minute: 4.0,
                resolution_per_session_per_minute: 0.4,
            },
            churn: ChurnCommands {
                sessions: 20,
                login_window_secs: 2.0,
                logout_window_secs: 1.5,
                login: Default::default(),
                logout: Default::default(),
                per_login: 7.31,
                per_logout: 4.0,
                resolution_per_op: 0.1,
            },
        };
        let rows = cluster_rows(&Some(figures));
        assert_eq!(rows.len(), 7);
        assert_eq!(rows[0].ratio, "p50 3.00× · p99 3.00× one server");
        assert_eq!(
            rows[2].ratio,
            "p50 1.50× · p99 2.00× one server (target ≤ 1.5×)"
        );
        assert!(
            rows[4].roomlink.starts_with("0.00 (± 0.40"),
            "{}",
            rows[4].roomlink
        );
        assert_eq!(rows[4].ratio, "0 within the resolution (target 0)");
        assert!(
            rows[5].figure.contains("per login (20 sessions"),
            "{}",
            rows[5].figure
        );
        assert!(
            rows[5].roomlink.starts_with("7.3 (± 0.10"),
            "{}",
            rows[5].roomlink
        );
        assert!(rows[6].figure.contains("per logout"), "{}", rows[6].figure);
        assert!(rows[6].roomlink.starts_with("4.0 "), "{}", rows[6].roomlink);
        assert!(cluster_rows(&None)[0].roomlink.starts_with("n/a"));
    }

    fn node_kill(reconnected_ms: &[u64], kicked_out: usize) -> NodeKill {
        let ns: Vec<u64> = reconnected_ms.iter().map(|m| m * 1_000_000).collect();
        NodeKill {
            clients: 3,
            observers: 1,
            ping_timeout_ms: 3000,
            heartbeat_ms: 1000,
            node_heartbeat_timeout_ms: 6000,
            all_reconnected_ns: (ns.len() == 3).then(|| ns.iter().copied().max().unwrap()),
            reconnected_ns: ns,
            observer_user_events: 2,
            kicked_out,
            reconnect_failed: 0,
            silent: 0,
        }
    }

    #[test]
    fn node_kill_is_divided_by_its_target_and_counts_every_bad_ending() {
        let rows = more_rows(&Some(node_kill(&[100, 200, 2000], 0)), &None, &Err("why"));
        assert_eq!(rows[0].floor, "target: ping timeout 3 s + 1 s = 4000.0 ms");
        assert_eq!(rows[0].ratio, "0.50× of target");
        assert!(
            rows[0].roomlink.starts_with("all 3: 2000.0 ms"),
            "{}",
            rows[0].roomlink
        );
        assert_eq!(
            rows[1].roomlink,
            "2 user events · 0 KickOut · 0 ReconnectFailed"
        );
        let rows = more_rows(&Some(node_kill(&[100, 200], 1)), &None, &Err("why"));
        assert_eq!(rows[0].roomlink, "only 2 of 3 reconnected");
        assert!(!rows[0].ratio.contains("of target"), "{}", rows[0].ratio);
        assert!(
            rows[1].roomlink.contains("1 KickOut"),
            "{}",
            rows[1].roomlink
        );
        // No fan-out figures; the hold row says why it is missing.
        assert_eq!(rows[2].roomlink, "n/a");
        assert_eq!(rows[3].roomlink, "n/a (why)");
    }

    #[test]
    fn cluster_fanout_is_divided_by_the_same_room_on_one_server() {
        let fan = |all_us: &[u64]| Fanout {
            members: 2,
            all_ns: all_us.iter().map(|u| u * 1000).collect(),
            member_ns: all_us.iter().flat_map(|u| [u * 500, u * 1000]).collect(),
        };
        let f = ClusterFanout {
            nodes: 4,
            single: fan(&[1000, 2000]),
            cluster: fan(&[3000, 4000]),
        };
        let rows = more_rows(&None, &Some(f), &Err("why"));
        // rows[0]: the node kill's n/a row.
        assert!(
            rows[1].figure.contains("room of 2 spread over 4 nodes"),
            "{}",
            rows[1].figure
        );
        assert_eq!(rows[1].ratio, "p50 3.00× · max 2.00× one server");
        assert!(rows[2].ratio.starts_with("p50 "), "{}", rows[2].ratio);
    }
}
