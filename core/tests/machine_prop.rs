//! Property: under random commands, membership changes and link faults, (1) every Reconnecting
//! is followed by exactly one Reconnected / ReconnectFailed / KickOut / Logout before anything
//! else, and (2) once the network is restored and time has passed, every logged-in client's user
//! list (rebuilt from its events alone) equals the server's member list minus itself.

mod sim;

use std::time::Duration;

use proptest::prelude::*;
use roomlink::RoomStateChangedReason as R;
use sim::{Fault, Sim};

const CLIENTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Login(usize),
    Logout(usize),
    Publish(usize, u8),
    Blackhole(usize),
    Refuse(usize),
    Reset(usize),
    Restore(usize),
    Hint(usize, bool),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..CLIENTS;
    prop_oneof![
        4 => c.clone().prop_map(Op::Login),
        1 => c.clone().prop_map(Op::Logout),
        1 => (c.clone(), 0u8..3).prop_map(|(i, k)| Op::Publish(i, k)),
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
        Op::Login(i) => {
            let _ = sim.login(i, "r", "t");
        }
        Op::Logout(i) => {
            let _ = sim.logout(i, "r");
        }
        Op::Publish(i, k) => {
            let _ = sim.with(i, |m, now| {
                m.publish_stream(now, "r", &format!("s{i}-{k}"), "")
            });
        }
        Op::Blackhole(i) => sim.set_fault(i, Fault::Blackhole),
        Op::Refuse(i) => sim.set_fault(i, Fault::Refuse),
        Op::Reset(i) => sim.reset(i),
        Op::Restore(i) => sim.set_fault(i, Fault::None),
        Op::Hint(i, up) => sim.with(i, |m, now| m.on_network_changed(now, up)),
        Op::Advance(ms) => sim.run_for(Duration::from_millis(ms)),
    }
}

fn check_reconnecting_resolves_once(sim: &Sim, i: usize) -> Result<(), TestCaseError> {
    let states = sim.states(i, "r");
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
    fn reconnecting_resolves_once_and_user_lists_converge(ops in prop::collection::vec(op(), 1..30)) {
        let mut sim = Sim::new(CLIENTS);
        for op in &ops {
            apply(&mut sim, op);
        }
        for i in 0..CLIENTS {
            sim.set_fault(i, Fault::None);
        }
        // Long enough for any backoff and hanging attempt to end and stale sessions to expire.
        sim.run_for(Duration::from_secs(200));
        for i in 0..CLIENTS {
            check_reconnecting_resolves_once(&sim, i)?;
            if sim.clients[i].m.room_state("r") == roomlink::ConnectionState::Connected {
                prop_assert_eq!(
                    sim.user_list(i, "r"),
                    sim.others_on_server(i, "r"),
                    "client {} at t={}\n{}",
                    i,
                    sim.t(),
                    sim.dump(i)
                );
            } else {
                prop_assert!(
                    !sim.server.members("r").contains(&sim.clients[i].user.user_id),
                    "client {} is {:?} but still a member on the server\n{}",
                    i,
                    sim.clients[i].m.room_state("r"),
                    sim.dump(i)
                );
            }
        }
    }
}
