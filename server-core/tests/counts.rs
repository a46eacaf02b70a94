//! What the rules count (`Rooms::counts`, `Rooms::gauges`): two replicas fed the same inputs,
//! each counting only its node's connections, add up to what one core counting all counts, and
//! every event lands on exactly one of them (on virtual time: expiries and token kicks too).

mod support;

use std::time::{Duration, Instant};

use roomlink_proto::protocol::{Login, Resume};
use roomlink_proto::{ErrorCode, User};
use roomlink_server_core::{ConnEnd, Counts, Owner, ResumeOutcome, Rooms, Rules};
use support::{Ids, Tokens, at, drain};

fn core(owner: Option<Owner>) -> Rooms {
    let rules = Rules {
        heartbeat_timeout: Duration::from_millis(500),
        ..Rules::default()
    };
    let mut r = Rooms::new(rules, Box::new(Tokens), Box::<Ids>::default());
    if let Some(o) = owner {
        r.count_only(o);
    }
    r
}

fn login(user: &str, token: &str) -> Login {
    Login {
        room_id: "r".into(),
        user: User::new(user, user),
        token: token.into(),
        user_update: true,
        resume: None,
        streams: vec![],
        fence: None,
    }
}

const SHIFT: u32 = 40;

fn conn(node: u64, n: u64) -> u64 {
    (node << SHIFT) | n
}

/// One scenario, fed to `r`: logins (one refused), a resume on the other node, an expiry, a
/// token-expiry kick and an admin kick.
fn feed(r: &mut Rooms, t0: Instant) {
    r.handle_login(at(t0, 0), conn(1, 1), login("alice", "t"));
    r.handle_login(at(t0, 0), conn(2, 1), login("bob", "t"));
    r.handle_login(at(t0, 0), conn(2, 2), login("mallory", "bad"));
    r.handle_login(at(t0, 0), conn(2, 3), login("carol", "exp=1000100"));
    r.handle_login(at(t0, 0), conn(1, 2), login("dave", "t"));
    drain(r);
    // bob's link drops on node 2; he resumes on node 1.
    r.handle_connection_ended(
        at(t0, 10),
        conn(2, 1),
        ConnEnd::Closed {
            last_heard: at(t0, 10).at,
        },
    );
    let mut again = login("bob", "t");
    again.resume = Some(Resume {
        session_id: "s2".into(),
        last_seq: 0,
    });
    r.handle_login(at(t0, 20), conn(1, 3), again);
    drain(r);
    // dave's link (node 1) drops and he never comes back: expires at 530. carol's token (node
    // 2) expires at 100 ms: kicked then.
    r.handle_connection_ended(
        at(t0, 30),
        conn(1, 2),
        ConnEnd::Closed {
            last_heard: at(t0, 30).at,
        },
    );
    r.handle_timeout(at(t0, 529));
    drain(r);
    let users = |r: &Rooms| r.room("r").map(|i| i.users.len());
    assert_eq!(users(r), Some(3), "carol kicked, dave not yet expired");
    r.handle_timeout(at(t0, 530));
    assert_eq!(users(r), Some(2), "dave expired");
    // alice is kicked by the admin.
    r.kick(
        at(t0, 600),
        "r",
        "alice",
        ErrorCode::KICKED_BY_SERVER,
        "test",
    );
    drain(r);
}

#[test]
fn each_event_is_counted_by_the_node_of_its_connection_and_the_nodes_sum_to_all() {
    let t0 = Instant::now();
    let mut all = core(None);
    let mut one = core(Some(Owner {
        shift: SHIFT,
        node: 1,
    }));
    let mut two = core(Some(Owner {
        shift: SHIFT,
        node: 2,
    }));
    for r in [&mut all, &mut one, &mut two] {
        feed(r, t0);
    }
    let c = all.counts().clone();
    // alice, bob, carol, dave, bob's resume.
    assert_eq!(c.logins_ok, 5);
    assert_eq!(c.logins_refused.get(&ErrorCode::AUTH_FAILED), Some(&1));
    assert_eq!(c.resumes.get(&ResumeOutcome::Replay), Some(&1));
    assert_eq!(c.expiries, 1);
    assert_eq!(c.kicks.get(&ErrorCode::KICKED_BY_SERVER), Some(&1));
    assert_eq!(c.kicks.get(&ErrorCode::KICKED_TOKEN_EXPIRED), Some(&1));
    let mut sum = Counts::default();
    sum.add(one.counts());
    sum.add(two.counts());
    assert_eq!(sum, c);
    // Under whose connection: dave's expiry and alice's kick on 1, carol's kick and the refused
    // login on 2, bob's resume on 1 (where he came back).
    assert_eq!(one.counts().expiries, 1);
    assert_eq!(
        one.counts().kicks.get(&ErrorCode::KICKED_BY_SERVER),
        Some(&1)
    );
    assert_eq!(
        two.counts().kicks.get(&ErrorCode::KICKED_TOKEN_EXPIRED),
        Some(&1)
    );
    assert_eq!(
        two.counts().logins_refused.get(&ErrorCode::AUTH_FAILED),
        Some(&1)
    );
    assert_eq!(one.counts().resumes.get(&ResumeOutcome::Replay), Some(&1));
    // bob is left, now on node 1: one session and the room, on node 1 only.
    let (g1, g2, g) = (one.gauges(), two.gauges(), all.gauges());
    assert_eq!((g.sessions, g.rooms), (1, 1));
    assert_eq!((g1.sessions, g1.rooms), (1, 1));
    assert_eq!((g2.sessions, g2.rooms), (0, 0));
    // Taking leaves zeros, for a driver that sums many cores.
    assert_eq!(one.take_counts().logins_ok, 3);
    assert!(one.counts().is_zero());
}

/// A replica builds frames only for its own node's connections (the other nodes send theirs:
/// building a 10 000-member snapshot for each of them is what made a big room slow to build on
/// several nodes), and decides the same as one core: its own connections get exactly what one
/// core sends them, in the same order.
#[test]
fn a_replica_builds_frames_only_for_its_own_connections() {
    let t0 = Instant::now();
    let (mut all, mut node2) = (
        core(None),
        core(Some(Owner {
            shift: SHIFT,
            node: 2,
        })),
    );
    let feed = |r: &mut Rooms| {
        let mut out = Vec::new();
        r.handle_login(at(t0, 0), conn(1, 1), login("alice", "t"));
        out.extend(drain(r));
        r.handle_login(at(t0, 1), conn(2, 1), login("bob", "t"));
        let bob = drain(r);
        let bob_session = bob
            .iter()
            .find_map(|(_, f)| match f {
                roomlink_proto::protocol::ServerFrame::Joined { session_id, .. } => {
                    Some(session_id.clone())
                }
                _ => None,
            })
            .expect("bob joined");
        out.extend(bob);
        r.handle_login(at(t0, 2), conn(1, 2), login("carol", "t"));
        out.extend(drain(r));
        let last_heard = at(t0, 3).at;
        r.handle_connection_ended(at(t0, 3), conn(2, 1), ConnEnd::Closed { last_heard });
        out.extend(drain(r));
        let resume = Login {
            resume: Some(Resume {
                session_id: bob_session,
                last_seq: 0,
            }),
            ..login("bob", "t")
        };
        r.handle_login(at(t0, 4), conn(2, 9), resume);
        out.extend(drain(r));
        out
    };
    let everything = feed(&mut all);
    let mine = feed(&mut node2);
    assert!(mine.iter().all(|(c, _)| c >> SHIFT == 2), "{mine:?}");
    let expected: Vec<_> = everything
        .into_iter()
        .filter(|(c, _)| c >> SHIFT == 2)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(mine, expected);
    assert_eq!(all.room("r"), node2.room("r"), "the same room on both");
}
