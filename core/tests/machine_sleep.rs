//! A suspended process (a phone that put the app to sleep), on virtual time against the real
//! server rules. The machine is fed a suspend-inclusive clock (the engine's `clock`), so a
//! suspension is a jump of `now`; on its first input after one, the engine tells the machine it
//! woke (`on_app_foreground`, which the app may also call itself), and `Sim::wake` does the same.

mod sim;

use std::time::{Duration, Instant};

use roomlink::machine::Transmit;
use roomlink::protocol::ClientFrame;
use roomlink::{ErrorCode, Event, RoomStateChangedReason as R, UpdateType};
use sim::{Fault, Sim, secs};

/// A and B in room "r" (`Sim::two_in_room`), on the defaults: heartbeat every 10 s, ping
/// timeout 25 s, retry window 20 min; the server's heartbeat timeout is 90 s.
fn two_in_room() -> Sim {
    Sim::two_in_room()
}

/// Every state client `i` reported after `since`, with when.
fn states_after(sim: &Sim, i: usize, since: Instant) -> Vec<(Duration, R, ErrorCode)> {
    sim.clients[i]
        .events
        .iter()
        .filter(|(t, _)| *t > since)
        .filter_map(|(t, e)| match e {
            Event::RoomStateChanged {
                reason, error_code, ..
            } => Some((*t - since, *reason, *error_code)),
            _ => None,
        })
        .collect()
}

/// How many times client `i` saw `user` deleted from room "r".
fn deletes_of(sim: &Sim, i: usize, user: &str) -> usize {
    sim.clients[i]
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(e, Event::RoomUserUpdate { update_type: UpdateType::Delete, users, .. }
                if users.iter().any(|u| u.user_id == user))
        })
        .count()
}

fn connects_after(sim: &Sim, i: usize, since: Instant) -> usize {
    sim.connects(i).iter().filter(|(t, _)| *t > since).count()
}

#[test]
fn a_sleep_past_the_retry_window_fails_the_room_on_waking_without_another_attempt() {
    let mut sim = two_in_room();
    sim.set_fault(1, Fault::Blackhole);
    sim.run_for(secs(40));
    assert_eq!(
        sim.states(1, "r").last(),
        Some(&(R::Reconnecting, ErrorCode::RECONNECTING))
    );
    let slept_at = sim.now;
    sim.suspend(1);
    sim.set_fault(1, Fault::None);
    // 21 minutes asleep: the 20-minute retry window (counted from the Reconnecting) ended.
    sim.run_for(secs(21 * 60));
    let woke = sim.now;
    sim.wake(1);
    sim.run_for(secs(60));
    assert_eq!(
        states_after(&sim, 1, woke - Duration::from_nanos(1)),
        vec![(
            Duration::from_nanos(1),
            R::ReconnectFailed,
            ErrorCode::NETWORK_TIMEOUT
        )],
        "{}",
        sim.dump(1)
    );
    assert_eq!(
        connects_after(&sim, 1, slept_at),
        0,
        "no attempt for a room already given up"
    );
    // The peer saw B leave once, at the server's heartbeat timeout long ago.
    assert_eq!(deletes_of(&sim, 0, "u1"), 1);
}

#[test]
fn a_sleep_past_the_heartbeat_timeout_is_probed_at_once_and_comes_back_rejoined() {
    let mut sim = two_in_room();
    sim.suspend(1);
    // The phone's radio is off while it sleeps: the server's close never reaches B, whose
    // socket still looks connected when it wakes (a zombie link).
    sim.set_fault(1, Fault::Blackhole);
    sim.run_for(secs(100));
    assert_eq!(
        deletes_of(&sim, 0, "u1"),
        1,
        "the server expired B at its heartbeat timeout"
    );
    sim.set_fault(1, Fault::None);
    let woke = sim.now;
    sim.wake(1);
    // The wake-up sent a probe on the old link at once.
    let probed = sim.clients[1].transmits.iter().any(|(t, tx)| {
        *t == woke
            && matches!(
                tx,
                Transmit::Send {
                    frame: ClientFrame::Ping,
                    ..
                }
            )
    });
    assert!(probed, "{:?}", sim.clients[1].transmits.last());
    sim.run_for(secs(60));
    let states = states_after(&sim, 1, woke);
    // Unanswered within the probe window (one heartbeat interval, 10 s) rather than the 25 s
    // ping timeout: the link is given up, and the expired session comes back as a new one.
    assert_eq!(
        states[0],
        (secs(10), R::Reconnecting, ErrorCode::RECONNECTING),
        "{}",
        sim.dump(1)
    );
    assert_eq!(states[1].1, R::Reconnected, "{}", sim.dump(1));
    assert_eq!(states.len(), 2, "{}", sim.dump(1));
    let back = sim.clients[1]
        .events
        .iter()
        .rev()
        .find_map(|(_, e)| match e {
            Event::RoomStateChanged {
                reason: R::Reconnected,
                extended_data,
                ..
            } => Some(extended_data.clone()),
            _ => None,
        });
    let kind = back.unwrap()[roomlink::event::extended_keys::RECONNECT_KIND].clone();
    assert_eq!(kind, roomlink::event::reconnect_kind::REJOINED);
    assert_eq!(sim.user_list(1, "r"), sim.others_on_server(1, "r"));
    assert_eq!(sim.user_list(0, "r"), sim.others_on_server(0, "r"));
}

#[test]
fn a_sleep_longer_than_the_ping_timeout_on_a_live_link_is_no_outage() {
    let mut sim = two_in_room();
    sim.suspend(1);
    sim.run_for(secs(10));
    // Published while B sleeps: B's kernel keeps the frame until B reads it.
    sim.with(0, |m, now| m.publish_stream(now, "r", "cam", ""))
        .unwrap();
    // 40 s in all: past the 25 s ping timeout, within the server's 90 s heartbeat timeout.
    sim.run_for(secs(30));
    let woke = sim.now;
    sim.wake(1);
    sim.run_for(secs(60));
    // The probe was answered: the link is kept, nothing was lost, nobody saw anything.
    assert_eq!(
        states_after(&sim, 1, woke - Duration::from_nanos(1)),
        vec![],
        "{}",
        sim.dump(1)
    );
    assert_eq!(connects_after(&sim, 1, sim.start + secs(1)), 0);
    let got_stream = sim.clients[1].events.iter().any(|(t, e)| {
        *t == woke
            && matches!(
                e,
                Event::RoomStreamUpdate {
                    update_type: UpdateType::Add,
                    ..
                }
            )
    });
    assert!(got_stream, "{}", sim.dump(1));
    assert_eq!(deletes_of(&sim, 0, "u1"), 0);
}

/// B's last regular ping goes out at t = 10 s (10 s after it connected, the next is due at 20 s);
/// B goes to the background at t = 19 s and sleeps 85 s. Returns how often A saw B leave.
fn background_then_sleep(hint: bool) -> usize {
    let mut sim = two_in_room();
    sim.run_for(secs(18));
    if hint {
        sim.with(1, |m, now| m.on_app_background(now));
    }
    sim.suspend(1);
    sim.run_for(secs(85));
    sim.wake(1);
    sim.run_for(secs(60));
    assert_eq!(sim.user_list(0, "r"), sim.others_on_server(0, "r"));
    assert_eq!(sim.user_list(1, "r"), sim.others_on_server(1, "r"));
    deletes_of(&sim, 0, "u1")
}

#[test]
fn going_to_the_background_pings_so_the_heartbeat_timeout_runs_from_then() {
    // The server's heartbeat timeout counts from the background ping (t = 19 s + 90 s): B wakes
    // at 104 s, in time, and the peer sees nothing.
    assert_eq!(background_then_sleep(true), 0);
    // Without the hint it counts from the last regular ping (10 s + 90 s = 100 s): too late.
    assert_eq!(background_then_sleep(false), 1);
}

#[test]
fn coming_to_the_foreground_while_waiting_to_reconnect_retries_at_once() {
    let mut sim = two_in_room();
    sim.set_fault(1, Fault::Blackhole);
    sim.run_for(secs(26));
    assert_eq!(
        sim.states(1, "r").last(),
        Some(&(R::Reconnecting, ErrorCode::RECONNECTING))
    );
    sim.set_fault(1, Fault::Refuse);
    // Refused attempts back off (up to 8 s apart); the network is fine again in between.
    sim.run_for(secs(30));
    sim.set_fault(1, Fault::None);
    let at = sim.now;
    sim.with(1, |m, now| m.on_app_foreground(now));
    let states = states_after(&sim, 1, at - Duration::from_nanos(1));
    assert_eq!(states.len(), 1, "{}", sim.dump(1));
    assert_eq!(states[0].0, Duration::from_nanos(1), "{}", sim.dump(1));
    assert_eq!(states[0].1, R::Reconnected);
}

#[test]
fn a_pong_that_waited_in_the_socket_through_the_sleep_does_not_answer_the_probe() {
    let mut sim = two_in_room();
    // The background ping's pong reaches B's kernel, but B is suspended before reading it; then
    // the path dies (the phone's radio goes off), so the probe on waking gets no answer.
    sim.suspend_after(1, |m, now| m.on_app_background(now));
    sim.run_for(secs(1));
    assert!(
        sim.clients[1]
            .pending
            .iter()
            .any(|(_, f)| matches!(f, Some(roomlink::protocol::ServerFrame::Pong))),
        "the pong waits in B's socket"
    );
    sim.set_fault(1, Fault::Blackhole);
    sim.run_for(secs(30));
    let woke = sim.now;
    sim.wake(1);
    sim.run_for(secs(30));
    let states = states_after(&sim, 1, woke);
    // The stale pong is read after the probe went out, but it answers an earlier ping: the link
    // is still given up at the end of the probe window, not trusted for another ping timeout.
    assert_eq!(
        states[0],
        (secs(10), R::Reconnecting, ErrorCode::RECONNECTING),
        "{}",
        sim.dump(1)
    );
}
