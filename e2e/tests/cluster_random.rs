//! Seeded random walks on a cluster: three nodes on one Redis, three clients each behind a
//! fault proxy to a node of its own and knowing the other two nodes' URLs, under random link
//! faults, node crashes and restarts, logouts and logins, publishes and waits below and above the
//! heartbeat timeout.
//!
//! Invariants:
//! - nothing is kicked or fails: a crashed node's clients resume elsewhere;
//! - no client is told anything twice: no Add of a user it lists, no Delete of one it does not;
//! - once every link and node is back and things settle, the cluster lists exactly the
//!   logged-in users (no ghost), and every logged-in client's list is that minus itself.
//!
//! Each seed is its own test; a failure prints the seed and the steps.

mod common;

use std::collections::BTreeSet;

use common::*;
use roomlink::{ConnectionState, Event, RoomStateChangedReason as R, UpdateType};
use roomlink_faultproxy::Fault;
use roomlink_testredis::Redis;

const ROOM: &str = "cluster-walk";
const STEPS: usize = 10;

struct Member {
    client: Client,
    logged_in: bool,
    link: Fault,
    publishing: bool,
}

struct Walk {
    _redis: Redis,
    nodes: Vec<Server>,
    up: Vec<bool>,
    members: Vec<Member>,
}

fn ws(s: &Server) -> String {
    format!("ws://{}{}", s.addr(), roomlink::protocol::WS_PATH)
}

impl Walk {
    async fn new() -> Walk {
        let redis = Redis::start();
        let url = redis.url();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let url = url.clone();
            nodes.push(
                Server::start_with(move |c| c.redis = Some(roomlink_server::StoreUrl(url))).await,
            );
        }
        let mut members = Vec::new();
        for (i, id) in ["alice", "bob", "carol"].into_iter().enumerate() {
            let others: Vec<String> = (1..3).map(|k| ws(&nodes[(i + k) % 3])).collect();
            let mut client =
                Client::with_config(&nodes[i], id, |c| c.more_server_urls = others).await;
            client.join(&nodes[i], ROOM).await;
            members.push(Member {
                client,
                logged_in: true,
                link: Fault::Pass,
                publishing: false,
            });
        }
        Walk {
            _redis: redis,
            nodes,
            up: vec![true; 3],
            members,
        }
    }

    async fn step(&mut self, rng: &mut Rng) {
        loop {
            let i = rng.below(self.members.len());
            let k = rng.below(self.nodes.len());
            let up = self.up.iter().filter(|u| **u).count();
            let m = &self.members[i];
            let name = m.client.name.clone();
            match rng.below(11) {
                0 if m.logged_in && m.link == Fault::Pass => {
                    println!("{name} logs out");
                    let m = &mut self.members[i];
                    m.client.leave(ROOM).await;
                    m.logged_in = false;
                    m.publishing = false;
                }
                1 if !m.logged_in && m.link == Fault::Pass => {
                    println!("{name} logs in");
                    let (m, node) = (&mut self.members[i], &self.nodes[0]);
                    m.client.login(node, ROOM);
                    m.logged_in = true;
                    m.client.expect(reason_is(R::Logined), "Logined").await;
                }
                2 if m.logged_in && !m.publishing => {
                    println!("{name} publishes");
                    let m = &mut self.members[i];
                    let stream = format!("{name}-cam");
                    m.client
                        .engine
                        .publish_stream(ROOM, &stream, "")
                        .expect("publish");
                    m.publishing = true;
                }
                3 | 4 if m.link != Fault::Blackhole => {
                    println!("{name}: blackhole");
                    self.members[i].client.proxy.set(Fault::Blackhole);
                    self.members[i].link = Fault::Blackhole;
                }
                5 if m.link != Fault::Pass => {
                    println!("{name}: restore + hint");
                    self.members[i].client.restore();
                    self.members[i].link = Fault::Pass;
                }
                // At most one node down at a time: every client knows two others.
                6 | 7 if self.up[k] && up == 3 => {
                    println!("node {k} crashes");
                    self.nodes[k].stop().await;
                    self.up[k] = false;
                }
                8 if !self.up[k] => {
                    println!("node {k} restarts");
                    self.nodes[k].restart().await;
                    self.up[k] = true;
                }
                9 => {
                    println!("wait (short)");
                    tokio::time::sleep(SHORT_OUTAGE).await;
                }
                10 => {
                    println!("wait (beyond the heartbeat timeout)");
                    tokio::time::sleep(HEARTBEAT_TIMEOUT + SHORT_OUTAGE).await;
                }
                _ => continue,
            }
            return;
        }
    }

    async fn settle(&mut self) {
        println!("settle");
        for (k, node) in self.nodes.iter_mut().enumerate() {
            if !self.up[k] {
                node.restart().await;
                self.up[k] = true;
            }
        }
        for m in &mut self.members {
            if m.link != Fault::Pass {
                m.client.restore();
                m.link = Fault::Pass;
            }
        }
        let mut expected = Vec::new();
        for m in &mut self.members {
            if m.logged_in {
                expected.push(m.client.id().to_string());
                let c = &m.client;
                wait_until(&format!("{} connected", c.name), || {
                    c.room_state(ROOM) == ConnectionState::Connected
                })
                .await;
            }
        }
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        // Any node's admin API answers for the whole cluster.
        self.nodes[1].wait_members(ROOM, &expected).await;
        for m in &mut self.members {
            if m.logged_in {
                m.client.converge(&self.nodes[2], ROOM).await;
            }
        }
    }

    /// Nothing fatal, and no user update twice: replays each client's history.
    fn check_histories(&self) {
        for m in &self.members {
            let name = &m.client.name;
            let mut listed: BTreeSet<String> = BTreeSet::new();
            for e in &m.client.history {
                match e {
                    Event::RoomStateChanged { reason, .. } => {
                        assert!(
                            !matches!(reason, R::KickOut | R::LoginFailed | R::ReconnectFailed),
                            "{name}: {}",
                            describe(e)
                        );
                        if matches!(reason, R::Logining | R::Logout) {
                            listed.clear();
                        }
                    }
                    Event::RoomUserUpdate {
                        update_type, users, ..
                    } => {
                        for u in users {
                            let fresh = match update_type {
                                UpdateType::Add => listed.insert(u.user_id.clone()),
                                UpdateType::Delete => listed.remove(&u.user_id),
                            };
                            assert!(fresh, "{name}: told twice: {}", describe(e));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

async fn walk(seed: u64) {
    init_log();
    let mut rng = Rng(seed);
    println!("seed {seed}");
    let mut w = Walk::new().await;
    for _ in 0..STEPS {
        w.step(&mut rng).await;
    }
    w.settle().await;
    for m in &mut w.members {
        m.client.drain();
    }
    w.check_histories();
    for n in &mut w.nodes {
        n.stop().await;
    }
}

macro_rules! seeds {
    ($($name:ident = $seed:literal;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                walk($seed).await;
            }
        )*
    };
}

seeds! {
    cluster_walk_seed_1 = 1;
    cluster_walk_seed_2 = 2;
    cluster_walk_seed_3 = 3;
    cluster_walk_seed_4 = 4;
    cluster_walk_seed_5 = 5;
    cluster_walk_seed_6 = 6;
    cluster_walk_seed_7 = 7;
    cluster_walk_seed_8 = 8;
}
