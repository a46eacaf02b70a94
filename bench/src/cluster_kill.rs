//! Node kill: `clients` full engines on node 1 of 3 (one Redis), each room of [`ROOM_SIZE`] with
//! an observer engine on node 2; node 1 is SIGKILLed → how long until every client is
//! Reconnected on another node (target: the engines' ping timeout + 1 s), how many user events
//! the observers saw (target 0: the rooms' members never left), and how many clients ended in
//! KickOut or ReconnectFailed (target 0).

use std::collections::BTreeSet;
use std::time::Duration;

use roomlink::{EngineConfig, Event, RoomStateChangedReason as R, UpdateType};
use roomlink_testredis::Redis;
use serde::Serialize;

use crate::engines::Stamped;
use crate::server::ServerProc;
use crate::sys::mono_ns;

/// Clients per room (one observer more, on another node).
const ROOM_SIZE: usize = 10;
/// The engines' heartbeat and ping timeout: short, so the bench is quick; the target is the
/// ping timeout + 1 s.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
pub const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// The nodes' heartbeat timeout: the dead node's liveness key lapses after a third of it, and the
/// survivors may reap its sessions from then on (each Delete an observer would see).
const NODE_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(6);
/// After the last client is back, how long the observers are watched for late events: past
/// the moment the dead node's liveness lapsed and its sessions became reapable (a third of the
/// nodes' heartbeat timeout + the 2 s store timeout), with a second more for the reaping itself.
pub const WATCH_AFTER_SECS: u64 = 5;
const WATCH_AFTER: Duration = Duration::from_secs(WATCH_AFTER_SECS);

#[derive(Debug, Serialize)]
pub struct NodeKill {
    pub clients: usize,
    pub observers: usize,
    pub ping_timeout_ms: u64,
    pub heartbeat_ms: u64,
    pub node_heartbeat_timeout_ms: u64,
    /// From the SIGKILL until each client's Reconnected (clients that reconnected).
    pub reconnected_ns: Vec<u64>,
    /// From the SIGKILL until the last client was Reconnected (`None`: not all were).
    pub all_reconnected_ns: Option<u64>,
    /// User events (Add/Delete/Update) the observers saw from the SIGKILL until the watch ended.
    pub observer_user_events: usize,
    pub kicked_out: usize,
    pub reconnect_failed: usize,
    /// Clients with none of Reconnected, KickOut or ReconnectFailed within the patience.
    pub silent: usize,
}

fn room(i: usize) -> String {
    format!("kill-{}", i / ROOM_SIZE)
}

fn user(i: usize) -> String {
    format!("kill-user-{i}")
}

/// Waits until `observer` saw an `Add` of every one of `missing` in `room_id` (the clients log in
/// at once, so their Adds come in any order, several to an event at times).
fn wait_added(
    observer: &Stamped,
    room_id: &str,
    mut missing: BTreeSet<String>,
) -> Result<(), String> {
    while !missing.is_empty() {
        let (_, e) = observer.wait_event(&format!("{} more Adds in {room_id}", missing.len()), |e| {
            matches!(e, Event::RoomUserUpdate { room_id: r, update_type: UpdateType::Add, .. } if r == room_id)
        })?;
        if let Event::RoomUserUpdate { users, .. } = e {
            for u in users {
                missing.remove(&u.user_id);
            }
        }
    }
    Ok(())
}

fn engine(urls: &[String]) -> Result<Stamped, String> {
    Stamped::new(EngineConfig {
        heartbeat_interval: HEARTBEAT,
        ping_timeout: PING_TIMEOUT,
        ..EngineConfig::with_urls(urls.iter().cloned())
    })
}

/// Runs the figure on three fresh nodes of a fresh Redis; stops every process it started.
pub fn run(clients: usize) -> Result<NodeKill, String> {
    let redis = std::panic::catch_unwind(Redis::start)
        .map_err(|_| "cannot start redis-server (scripts/setup.sh installs it)".to_string())?;
    let start = || ServerProc::start_on(Some(&redis.url()), Some(NODE_HEARTBEAT_TIMEOUT));
    let (victim, n2, n3) = (start()?, start()?, start()?);
    let (u1, u2, u3) = (victim.ws_url(), n2.ws_url(), n3.ws_url());
    let measured = measure(victim, &u1, &u2, &u3, clients);
    let stopped = [n2.stop(), n3.stop()];
    let m = measured?;
    stopped.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(m)
}

fn measure(
    victim: ServerProc,
    u1: &str,
    u2: &str,
    u3: &str,
    clients: usize,
) -> Result<NodeKill, String> {
    let rooms = clients.div_ceil(ROOM_SIZE);
    let observers: Vec<Stamped> = (0..rooms)
        .map(|r| {
            let o = engine(&[u2.to_string()])?;
            o.login(&room(r * ROOM_SIZE), &format!("observer-{r}"))?;
            Ok(o)
        })
        .collect::<Result<_, String>>()?;
    for (r, o) in observers.iter().enumerate() {
        o.wait_reason(&room(r * ROOM_SIZE), R::Logined)?;
    }
    // Every client tries node 1 first; once it is gone, the survivors in turns (half of them
    // start with node 2, half with node 3), as an app given the cluster's URLs would.
    let apps: Vec<Stamped> = (0..clients)
        .map(|i| {
            let rest = if i % 2 == 0 { [u2, u3] } else { [u3, u2] };
            let urls = [u1.to_string(), rest[0].to_string(), rest[1].to_string()];
            let app = engine(&urls)?;
            app.login(&room(i), &user(i))?;
            Ok(app)
        })
        .collect::<Result<_, String>>()?;
    for (i, app) in apps.iter().enumerate() {
        app.wait_reason(&room(i), R::Logined)?;
    }
    for (r, o) in observers.iter().enumerate() {
        let members = r * ROOM_SIZE..((r + 1) * ROOM_SIZE).min(clients);
        wait_added(o, &room(r * ROOM_SIZE), members.map(user).collect())?;
    }
    // Whatever arrived before the kill (the clients' own list updates) is not counted.
    for s in observers.iter().chain(&apps) {
        s.drain();
    }

    let t0 = mono_ns();
    drop(victim); // ChildProc's drop: SIGKILL, then reaps it.
    let mut out = NodeKill {
        clients,
        observers: rooms,
        ping_timeout_ms: PING_TIMEOUT.as_millis() as u64,
        heartbeat_ms: HEARTBEAT.as_millis() as u64,
        node_heartbeat_timeout_ms: NODE_HEARTBEAT_TIMEOUT.as_millis() as u64,
        reconnected_ns: Vec::with_capacity(clients),
        all_reconnected_ns: None,
        observer_user_events: 0,
        kicked_out: 0,
        reconnect_failed: 0,
        silent: 0,
    };
    for (i, app) in apps.iter().enumerate() {
        let r = room(i);
        let ended = app.wait_event(&format!("the end of {r}'s outage"), |e| {
            matches!(e, Event::RoomStateChanged { room_id, reason, .. }
                if *room_id == r && matches!(reason, R::Reconnected | R::KickOut | R::ReconnectFailed))
        });
        match ended {
            Ok((
                at,
                Event::RoomStateChanged {
                    reason: R::Reconnected,
                    ..
                },
            )) => out.reconnected_ns.push(at - t0),
            Ok((
                _,
                Event::RoomStateChanged {
                    reason: R::KickOut, ..
                },
            )) => out.kicked_out += 1,
            Ok(_) => out.reconnect_failed += 1,
            Err(_) => out.silent += 1,
        }
    }
    if out.reconnected_ns.len() == clients {
        out.all_reconnected_ns = out.reconnected_ns.iter().copied().max();
    }
    // The watch: late endings (a stale attempt's KickOut) and the observers' user events.
    std::thread::sleep(WATCH_AFTER);
    for (i, app) in apps.iter().enumerate() {
        let r = room(i);
        for (_, e) in app.drain() {
            if let Event::RoomStateChanged {
                room_id, reason, ..
            } = e
            {
                if room_id == r && reason == R::KickOut {
                    out.kicked_out += 1;
                } else if room_id == r && reason == R::ReconnectFailed {
                    out.reconnect_failed += 1;
                }
            }
        }
    }
    for o in &observers {
        out.observer_user_events += o
            .drain()
            .iter()
            .filter(|(_, e)| matches!(e, Event::RoomUserUpdate { .. }))
            .count();
    }
    for s in observers.into_iter().chain(apps) {
        s.engine.destroy();
    }
    Ok(out)
}
