//! Property: under random commands (two rooms in multi-room mode: logins with good and bad
//! tokens, logouts, switches, renewals the server accepts or refuses, publishes), admin kicks and
//! link faults (including attempts held in flight), (1) every Reconnecting is followed by exactly
//! one Reconnected / ReconnectFailed / KickOut / Logout before anything else, (2) the only kicks
//! are the admin's (a refused renewal or a re-login never gets the user kicked), and (3) once the
//! network is restored and time has passed, every logged-in client's user list (rebuilt from its
//! events alone) equals the server's member list minus itself.

mod sim;

use std::time::Duration;

use proptest::prelude::*;
use roomlink::ErrorCode;
use roomlink::RoomStateChangedReason as R;
use sim::{Fault, Sim};

const CLIENTS: usize = 3;
const ROOMS: [&str; 2] = ["r", "q"];

#[derive(Debug, Clone)]
enum Op {
    /// Client, room index, good token.
    Login(usize, usize, bool),
    Logout(usize, usize),
    /// Switch from room index to the other room.
    Switch(usize, usize),
    /// Client, room index, token the server accepts.
    Renew(usize, usize, bool),
    Kick(usize, usize),
    Publish(usize, usize, u8),
    Hold(usize),
    Blackhole(usize),
    Refuse(usize),
    Reset(usize),
    Restore(usize),
    Hint(usize, bool),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLIENTS;
    let r = 0..ROOMS.len();
    prop_oneof![
        4 => (c.clone(), r.clone(), prop::bool::weighted(0.9)).prop_map(|(i, k, g)| Op::Login(i, k, g)),
        1 => (c.clone(), r.clone()).prop_map(|(i, k)| Op::Logout(i, k)),
        1 => (c.clone(), r.clone()).prop_map(|(i, k)| Op::Switch(i, k)),
        2 => (c.clone(), r.clone(), any::<bool>()).prop_map(|(i, k, g)| Op::Renew(i, k, g)),
        1 => (c.clone(), r.clone()).prop_map(|(i, k)| Op::Kick(i, k)),
        1 => (c.clone(), r.clone(), 0u8..3).prop_map(|(i, k, s)| Op::Publish(i, k, s)),
        1 => c.clone().prop_map(Op::Hold),
        2 => c.clone().prop_map(Op::Blackhole),
        1 => c.clone().prop_map(Op::Refuse),
        2 => c.clone().prop_map(Op::Reset),
        2 => c.clone().prop_map(Op::Restore),
        1 => (c, any::<bool>()).prop_map(|(i, b)| Op::Hint(i, b)),
        5 => prop_oneof![1u64..5_000, 5_000u64..60_000, 60_000u64..200_000].prop_map(Op::Advance),
    ]
}

fn apply(sim: &mut Sim, op: &Op) {
    match *op {
        Op::Login(i, k, good) => {
            let _ = sim.login(i, ROOMS[k], if good { "t" } else { "bad" });
        }
        Op::Logout(i, k) => {
            let _ = sim.logout(i, ROOMS[k]);
        }
        Op::Switch(i, k) => {
            let to = ROOMS[(k + 1) % ROOMS.len()];
            let _ = sim.with(i, |m, now| m.switch_room(now, ROOMS[k], to, "t"));
        }
        Op::Renew(i, k, good) => {
            let token = if good { "t2" } else { "bad" };
            let _ = sim.with(i, |m, now| m.renew_token(now, ROOMS[k], token));
        }
        Op::Kick(i, k) => {
            let user = sim.clients[i].user.user_id.clone();
            sim.kick(ROOMS[k], &user, ErrorCode::KICKED_BY_SERVER, "admin");
        }
        Op::Publish(i, k, s) => {
            let _ = sim.with(i, |m, now| {
                m.publish_stream(now, ROOMS[k], &format!("s{i}-{s}"), "")
            });
        }
        Op::Hold(i) => sim.set_fault(i, Fault::Hold),
        Op::Blackhole(i) => sim.set_fault(i, Fault::Blackhole),
        Op::Refuse(i) => sim.set_fault(i, Fault::Refuse),
        Op::Reset(i) => sim.reset(i),
        Op::Restore(i) => sim.set_fault(i, Fault::None),
        Op::Hint(i, up) => sim.with(i, |m, now| m.on_network_changed(now, up)),
        Op::Advance(ms) => sim.run_for(Duration::from_millis(ms)),
    }
}

fn check_reconnecting_resolves_once(sim: &Sim, i: usize, room: &str) -> Result<(), TestCaseError> {
    let states = sim.states(i, room);
    for (reason, code) in &states {
        if *reason == R::KickOut {
            prop_assert_eq!(
                *code,
                ErrorCode::KICKED_BY_SERVER,
                "client {} in {}: only admin kicks happen\n{}",
                i,
                room,
                sim.dump(i)
            );
        }
    }
    for w in states.windows(2) {
        if w[0].0 == R::Reconnecting {
            prop_assert!(
                matches!(
                    w[1].0,
                    R::Reconnected | R::ReconnectFailed | R::KickOut | R::Logout
                ),
                "client {i}: {:?} after Reconnecting\n{}",
                w[1],
                sim.dump(i)
            );
        }
        if w[1].0 == R::Logined {
            prop_assert_eq!(
                w[0].0,
                R::Logining,
                "client {}: Logined not after Logining",
                i
            );
        }
        if w[1].0 == R::Reconnected {
            prop_assert_eq!(
                w[0].0,
                R::Reconnecting,
                "client {}: Reconnected not after Reconnecting",
                i
            );
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    // 64 cases keep the suite fast; PROPTEST_CASES=5000 for a deeper run.
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn reconnecting_resolves_once_and_user_lists_converge(ops in prop::collection::vec(op(), 1..40)) {
        let cfg = sim::multi();
        let mut sim = Sim::with_config(CLIENTS, cfg);
        for op in &ops {
            apply(&mut sim, op);
        }
        for i in 0..CLIENTS {
            sim.set_fault(i, Fault::None);
        }
        // Long enough for any backoff and hanging attempt to end and stale sessions to expire.
        sim.run_for(Duration::from_secs(200));
        for i in 0..CLIENTS {
            for room in ROOMS {
                check_reconnecting_resolves_once(&sim, i, room)?;
                check_user_list(&sim, i, room)?;
            }
        }
    }
}

fn check_user_list(sim: &Sim, i: usize, room: &str) -> Result<(), TestCaseError> {
    if sim.clients[i].m.room_state(room) == roomlink::ConnectionState::Connected {
        prop_assert_eq!(
            sim.user_list(i, room),
            sim.others_on_server(i, room),
            "client {} in {} at t={}\n{}",
            i,
            room,
            sim.t(),
            sim.dump(i)
        );
    } else {
        prop_assert!(
            !sim.server
                .members(room)
                .contains(&sim.clients[i].user.user_id),
            "client {} is {:?} in {} but still a member on the server\n{}",
            i,
            sim.clients[i].m.room_state(room),
            room,
            sim.dump(i)
        );
    }
    Ok(())
}
