//! `GET /metrics`: the Prometheus (OpenMetrics) text exposition, behind the admin bearer.
//!
//! Two sources: what the rules counted in the core (logins, resumes, kicks, expiries, refused
//! room events, sessions and rooms; see `roomlink_server_core::Counts`), taken from the registry
//! at each scrape, and what only this driver sees (connections, refusals before the upgrade,
//! outbound-queue overflows, refused frames, undecodable frames, login latency), counted in
//! [`DriverStats`]. Both are this node's alone, so summing a cluster's nodes gives its totals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::edge::EdgeStats;
use roomlink_server_core::{Counts, Gauges};

/// The content type of the exposition (OpenMetrics text, which Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the connection tasks count; shared by every connection of one server.
#[derive(Debug)]
pub struct DriverStats {
    /// Connections closed because their outbound queue overflowed (a peer not reading).
    pub queue_overflows: AtomicU64,
    /// Frames refused or dropped for going over the connection's frame rate.
    pub frames_refused: AtomicU64,
    /// Frames that could not be decoded (malformed JSON, over the size limit, binary).
    pub decode_errors: AtomicU64,
    /// Seconds from a login's arrival (hello or `login` frame) to its answer leaving the queue.
    pub login_latency: Histogram,
}

impl Default for DriverStats {
    fn default() -> Self {
        DriverStats {
            queue_overflows: AtomicU64::new(0),
            frames_refused: AtomicU64::new(0),
            decode_errors: AtomicU64::new(0),
            // 50 µs … ~1.6 s: an in-memory login is tens of µs, a cluster's a Redis round trip.
            login_latency: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
        }
    }
}

impl DriverStats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn login_answered(&self, took: Duration) {
        self.login_latency.observe(took.as_secs_f64());
    }
}

fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

fn gauge(v: usize) -> Gauge {
    let g = Gauge::default();
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
    g
}

type Labels = Vec<(&'static str, String)>;

/// The whole exposition, built afresh per scrape from the current numbers.
pub fn render(counts: &Counts, gauges: Gauges, edge: EdgeStats, driver: &DriverStats) -> String {
    let mut reg = Registry::with_prefix("roomlink");
    reg.register(
        "connections",
        "TCP connections held now, in any phase",
        gauge(edge.connections),
    );
    reg.register(
        "sessions",
        "Sessions now (attached or detached), under the connection they were last on",
        gauge(gauges.sessions),
    );
    reg.register(
        "rooms",
        "Rooms with members now, under their first member's connection",
        gauge(gauges.rooms),
    );
    let logins = Family::<Labels, Counter>::default();
    logins
        .get_or_create(&vec![("outcome", "ok".into())])
        .inc_by(counts.logins_ok);
    for (code, n) in &counts.logins_refused {
        logins
            .get_or_create(&vec![
                ("outcome", "refused".into()),
                ("code", code.0.to_string()),
            ])
            .inc_by(*n);
    }
    reg.register("logins", "Logins and resumes answered, by outcome", logins);
    let resumes = Family::<Labels, Counter>::default();
    for (how, n) in &counts.resumes {
        resumes
            .get_or_create(&vec![("outcome", how.label().into())])
            .inc_by(*n);
    }
    reg.register(
        "resumes",
        "Resumes: replay, snapshot, or fresh (the session had expired)",
        resumes,
    );
    let kicks = Family::<Labels, Counter>::default();
    for (code, n) in &counts.kicks {
        kicks
            .get_or_create(&vec![("code", code.0.to_string())])
            .inc_by(*n);
    }
    reg.register("kicks", "Sessions ended with kicked, by code", kicks);
    reg.register(
        "expiries",
        "Sessions that expired (detached too long, or a silent connection)",
        counter(counts.expiries),
    );
    reg.register(
        "outbound_queue_overflows",
        "Connections closed because their outbound queue overflowed",
        counter(driver.queue_overflows.load(Ordering::Relaxed)),
    );
    let limited = Family::<Labels, Counter>::default();
    limited
        .get_or_create(&vec![("kind", "frames".into())])
        .inc_by(driver.frames_refused.load(Ordering::Relaxed));
    limited
        .get_or_create(&vec![("kind", "member_events".into())])
        .inc_by(counts.member_events_refused);
    reg.register(
        "rate_limited",
        "Refused for a rate: frames of a connection, room events of a member",
        limited,
    );
    let refused = Family::<Labels, Counter>::default();
    for (kind, n) in [
        ("max_connections", edge.refused_connections),
        ("max_pending", edge.refused_pending),
        ("max_per_ip", edge.refused_per_ip),
        ("request_timeout", edge.request_timeouts),
        ("sessionless", edge.sessionless_closed),
    ] {
        refused
            .get_or_create(&vec![("kind", kind.into())])
            .inc_by(n);
    }
    reg.register(
        "edge_refusals",
        "Connections refused at accept or closed before holding a session, by kind",
        refused,
    );
    reg.register(
        "decode_errors",
        "Client frames that could not be decoded",
        counter(driver.decode_errors.load(Ordering::Relaxed)),
    );
    reg.register(
        "login_latency_seconds",
        "From a login's arrival to its answer leaving the connection's queue",
        driver.login_latency.clone(),
    );
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &reg);
    text
}
