//! `Reconnected` says how the room came back (`reconnect_kind`: resumed, resynced, rejoined) and
//! how many connections the outage took (`reconnect_attempts`), on virtual time against the real
//! server rules.

mod sim;

use std::collections::BTreeMap;
use std::time::Instant;

use roomlink::event::{extended_keys, reconnect_kind};
use roomlink::{ErrorCode, Event, RoomStateChangedReason as R};
use roomlink_server_core::Rules;
use sim::server::SimServer;
use sim::{Fault, Sim, secs};

/// A and B logged in to room "r" and settled, on a server with `rules`.
fn two_in_room(rules: Rules) -> Sim {
    let mut sim = Sim::new(2);
    sim.server = SimServer::with_rules(sim.start, rules);
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.run_for(secs(1));
    assert_eq!(
        sim.states(0, "r"),
        vec![(R::Logining, ErrorCode::OK), (R::Logined, ErrorCode::OK)]
    );
    sim
}

/// When client `i` last reported `reason`, and that event's extended data.
fn last_state(sim: &Sim, i: usize, reason: R) -> (Instant, BTreeMap<String, String>) {
    sim.clients[i]
        .events
        .iter()
        .rev()
        .find_map(|(t, e)| match e {
            Event::RoomStateChanged {
                reason: r,
                extended_data,
                ..
            } if *r == reason => Some((*t, extended_data.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {reason:?}:\n{}", sim.dump(i)))
}

/// Connections client `i` opened from `since` on (inclusive).
fn connects_since(sim: &Sim, i: usize, since: Instant) -> usize {
    sim.connects(i).iter().filter(|(t, _)| *t >= since).count()
}

fn kind(ext: &BTreeMap<String, String>) -> &str {
    ext.get(extended_keys::RECONNECT_KIND)
        .map_or("", String::as_str)
}

fn attempts(ext: &BTreeMap<String, String>) -> u32 {
    ext[extended_keys::RECONNECT_ATTEMPTS].parse().unwrap()
}

#[test]
fn a_short_outage_is_resumed_and_counts_every_connection_it_took() {
    let mut sim = two_in_room(Rules::default());
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(40));
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let (lost_at, lost) = last_state(&sim, 0, R::Reconnecting);
    let (_, back) = last_state(&sim, 0, R::Reconnected);
    assert_eq!(kind(&back), reconnect_kind::RESUMED, "{}", sim.dump(0));
    // The blackhole ate several attempts (each waits out the ping timeout): all are counted.
    let opened = connects_since(&sim, 0, lost_at);
    assert!(opened > 1, "{}", sim.dump(0));
    assert_eq!(attempts(&back) as usize, opened);
    // Only Reconnected carries the keys.
    assert!(!lost.contains_key(extended_keys::RECONNECT_KIND));
    let (_, logined) = last_state(&sim, 0, R::Logined);
    assert!(!logined.contains_key(extended_keys::RECONNECT_KIND));
    assert!(!logined.contains_key(extended_keys::RECONNECT_ATTEMPTS));
    assert!(back.contains_key(extended_keys::ROOM_SESSION_ID));
}

#[test]
fn each_outage_counts_from_zero() {
    let mut sim = two_in_room(Rules::default());
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(40));
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    assert!(attempts(&last_state(&sim, 0, R::Reconnected).1) > 1);
    // A reset with the network fine: the first new connection brings it back.
    sim.reset(0);
    sim.run_for(secs(10));
    let (_, back) = last_state(&sim, 0, R::Reconnected);
    assert_eq!(sim.states(0, "r").len(), 6, "{}", sim.dump(0));
    assert_eq!(kind(&back), reconnect_kind::RESUMED);
    assert_eq!(attempts(&back), 1, "{}", sim.dump(0));
}

#[test]
fn a_resume_past_the_replay_ring_is_resynced() {
    let mut sim = two_in_room(Rules {
        replay_buffer: 1,
        ..Rules::default()
    });
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(5));
    // Two room events while A is away: more than the server keeps for A's session.
    for id in ["cam", "mic"] {
        sim.with(1, |m, now| m.publish_stream(now, "r", id, ""))
            .unwrap();
    }
    sim.run_for(secs(30));
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let (_, back) = last_state(&sim, 0, R::Reconnected);
    assert_eq!(kind(&back), reconnect_kind::RESYNCED, "{}", sim.dump(0));
    // B saw nothing of A's outage.
    assert_eq!(sim.others_on_server(1, "r"), ["u0".to_string()].into());
    assert_eq!(
        sim.states(1, "r"),
        vec![(R::Logining, ErrorCode::OK), (R::Logined, ErrorCode::OK)]
    );
}

#[test]
fn a_resume_within_the_replay_ring_is_resumed() {
    // The same outage with one event missed: the ring holds it, so it is replayed.
    let mut sim = two_in_room(Rules {
        replay_buffer: 1,
        ..Rules::default()
    });
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(5));
    sim.with(1, |m, now| m.publish_stream(now, "r", "cam", ""))
        .unwrap();
    sim.run_for(secs(30));
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let (_, back) = last_state(&sim, 0, R::Reconnected);
    assert_eq!(kind(&back), reconnect_kind::RESUMED, "{}", sim.dump(0));
}

#[test]
fn an_outage_past_the_heartbeat_timeout_is_rejoined() {
    let mut sim = two_in_room(Rules::default());
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(130));
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let (lost_at, _) = last_state(&sim, 0, R::Reconnecting);
    let (_, back) = last_state(&sim, 0, R::Reconnected);
    assert_eq!(kind(&back), reconnect_kind::REJOINED, "{}", sim.dump(0));
    assert_eq!(attempts(&back) as usize, connects_since(&sim, 0, lost_at));
}
