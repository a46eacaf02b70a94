//! The table's cluster rows: each cluster figure beside the single in-memory server's of the same
//! run, as ratios (target: cross-node peer notification ≤ 1.5× one server, p50 and p99).

use crate::cluster::ClusterFigures;
use crate::rows::Latency;
use crate::table::{Row, latency};

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
}
