//! The three reconnection cases from ZEGO's docs, and the once-per-outage rule, on virtual time.

mod sim;

use roomlink::machine::Transmit;
use roomlink::model::UpdateType;
use roomlink::{ErrorCode, Event, RoomStateChangedReason as R};
use sim::{Fault, Sim, secs};

fn two_in_room() -> Sim {
    Sim::two_in_room()
}

fn user_updates(events: &[Event]) -> Vec<(UpdateType, Vec<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RoomUserUpdate {
                update_type, users, ..
            } => Some((
                *update_type,
                users.iter().map(|u| u.user_id.clone()).collect(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn short_outage_resumes_silently_for_others_and_replays_missed_events() {
    let mut sim = two_in_room();
    let b_mark = sim.clients[1].events.len();
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(5));
    // While A is away, B publishes a stream; A must see it after the resume.
    sim.with(1, |m, now| m.publish_stream(now, "r", "cam-b", "hd"))
        .unwrap();
    sim.run_for(secs(35));
    assert_eq!(
        sim.clients[0].m.room_state("r"),
        roomlink::ConnectionState::Reconnecting
    );
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let a = sim.states(0, "r");
    assert_eq!(
        a[2..],
        [
            (R::Reconnecting, ErrorCode::RECONNECTING),
            (R::Reconnected, ErrorCode::OK)
        ],
        "{}",
        sim.dump(0)
    );
    // B saw no user update during the whole outage (A came back within the heartbeat timeout).
    assert!(
        user_updates(&sim.events_since(1, b_mark)).is_empty(),
        "{}",
        sim.dump(1)
    );
    // The stream published while A was away arrived after Reconnected.
    let after: Vec<Event> = sim.clients[0]
        .events
        .iter()
        .map(|(_, e)| e.clone())
        .collect();
    let reconnected = after
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::RoomStateChanged {
                    reason: R::Reconnected,
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        after[reconnected..].iter().any(|e| matches!(e,
            Event::RoomStreamUpdate { update_type: UpdateType::Add, streams, .. } if streams[0].stream_id == "cam-b")),
        "{}",
        sim.dump(0)
    );
    assert_eq!(sim.user_list(0, "r"), ["u1".to_string()].into());
}

#[test]
fn long_outage_shows_delete_then_add_and_a_diff_not_a_relogin() {
    let mut sim = Sim::new(3);
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.run_for(secs(1));
    let b_mark = sim.clients[1].events.len();
    let went_dark = sim.now;
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(20));
    // C joins while A is away.
    sim.login(2, "r", "t").unwrap();
    sim.run_for(secs(130));
    // B saw A leave at the server's heartbeat timeout (90 s after A's last frame).
    let b_updates: Vec<(std::time::Instant, Event)> = sim.clients[1].events[b_mark..]
        .iter()
        .filter(|(_, e)| matches!(e, Event::RoomUserUpdate { .. }))
        .cloned()
        .collect();
    let (t_del, del) = b_updates
        .iter()
        .find(|(_, e)| {
            matches!(
                e,
                Event::RoomUserUpdate {
                    update_type: UpdateType::Delete,
                    ..
                }
            )
        })
        .expect("B sees A deleted");
    assert!(matches!(del, Event::RoomUserUpdate { users, .. } if users[0].user_id == "u0"));
    let dark_for = *t_del - went_dark;
    assert!(
        dark_for <= secs(90) && dark_for >= secs(80),
        "delete after {dark_for:?}"
    );
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    let b_updates = user_updates(&sim.events_since(1, b_mark));
    assert_eq!(
        b_updates,
        vec![
            (UpdateType::Add, vec!["u2".to_string()]),
            (UpdateType::Delete, vec!["u0".to_string()]),
            (UpdateType::Add, vec!["u0".to_string()]),
        ]
    );
    let a = sim.states(0, "r");
    assert_eq!(
        a.last(),
        Some(&(R::Reconnected, ErrorCode::OK)),
        "{}",
        sim.dump(0)
    );
    assert!(
        !a[2..].contains(&(R::Logined, ErrorCode::OK)),
        "Reconnected, not Logined"
    );
    // A's diff brought C in.
    assert_eq!(
        sim.user_list(0, "r"),
        ["u1".to_string(), "u2".to_string()].into()
    );
    assert_eq!(
        sim.user_list(1, "r"),
        ["u0".to_string(), "u2".to_string()].into()
    );
}

#[test]
fn never_back_fails_after_the_retry_window_and_goes_quiet() {
    let mut sim = two_in_room();
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(30 * 60));
    let a = sim.states(0, "r");
    assert_eq!(
        a[2..],
        [
            (R::Reconnecting, ErrorCode::RECONNECTING),
            (R::ReconnectFailed, ErrorCode::NETWORK_TIMEOUT)
        ]
    );
    // It failed 20 min after Reconnecting was reported.
    let times: Vec<std::time::Instant> = sim.clients[0]
        .events
        .iter()
        .filter_map(|(t, e)| {
            matches!(
                e,
                Event::RoomStateChanged {
                    reason: R::Reconnecting | R::ReconnectFailed,
                    ..
                }
            )
            .then_some(*t)
        })
        .collect();
    assert_eq!(times[1] - times[0], secs(20 * 60));
    let last_connect = sim.connects(0).last().unwrap().0;
    assert!(last_connect <= times[1]);
    assert_eq!(
        sim.clients[0].timeout, None,
        "no timers once nothing is active"
    );
    assert_eq!(
        sim.clients[0].m.room_state("r"),
        roomlink::ConnectionState::Failed
    );
    let n = sim.connects(0).len();
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(3600));
    assert_eq!(
        sim.connects(0).len(),
        n,
        "nothing retries after ReconnectFailed"
    );
}

#[test]
fn reconnecting_is_reported_once_per_outage_despite_many_failed_attempts() {
    let mut sim = two_in_room();
    sim.set_fault(0, Fault::Refuse);
    sim.reset(0);
    sim.run_for(secs(120));
    assert!(
        sim.connects(0).len() > 10,
        "many attempts: {}",
        sim.connects(0).len()
    );
    let reconnecting = sim
        .states(0, "r")
        .iter()
        .filter(|s| s.0 == R::Reconnecting)
        .count();
    assert_eq!(reconnecting, 1);
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(20));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnected, ErrorCode::OK))
    );
    // A second outage is a second Reconnecting.
    sim.reset(0);
    sim.run_for(secs(20));
    let s = sim.states(0, "r");
    assert_eq!(s.iter().filter(|s| s.0 == R::Reconnecting).count(), 2);
    assert_eq!(s.last(), Some(&(R::Reconnected, ErrorCode::OK)));
}

#[test]
fn network_hint_reconnects_immediately_instead_of_waiting_out_backoff() {
    let mut sim = two_in_room();
    sim.set_fault(0, Fault::Refuse);
    sim.reset(0);
    sim.run_for(secs(60));
    // Deep in backoff now: the next attempt is seconds away.
    let next = sim.clients[0].timeout.unwrap();
    assert!(next > sim.now);
    sim.set_fault(0, Fault::None);
    let before = sim.connects(0).len();
    sim.with(0, |m, now| m.on_network_changed(now, true));
    assert_eq!(sim.connects(0).len(), before + 1);
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnected, ErrorCode::OK))
    );
}

#[test]
fn network_hint_replaces_a_connect_attempt_stuck_on_the_old_network() {
    let mut sim = two_in_room();
    sim.set_fault(0, Fault::Blackhole);
    // Past the ping timeout (25 s) and the first backoff: an attempt is hanging now.
    sim.run_for(secs(40));
    let (_, last) = sim.clients[0].transmits.last().cloned().unwrap();
    assert!(
        matches!(last, Transmit::Connect { .. }),
        "expected a pending attempt, last transmit {last:?}"
    );
    sim.set_fault(0, Fault::None);
    let before = sim.connects(0).len();
    sim.with(0, |m, now| m.on_network_changed(now, true));
    assert_eq!(
        sim.connects(0).len(),
        before + 1,
        "the hint starts a fresh attempt at once"
    );
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnected, ErrorCode::OK))
    );
}

#[test]
fn network_gone_declares_the_open_link_lost_at_once() {
    let mut sim = two_in_room();
    let open = sim.clients[0].open.iter().next().copied().unwrap();
    sim.with(0, |m, now| m.on_network_changed(now, false));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnecting, ErrorCode::RECONNECTING))
    );
    assert!(
        sim.clients[0]
            .transmits
            .iter()
            .any(|(_, t)| *t == Transmit::Close { conn: open })
    );
    sim.run_for(secs(10));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnected, ErrorCode::OK))
    );
}
