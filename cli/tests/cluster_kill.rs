//! The cluster's promise with real processes: two `roomlink serve --redis` nodes, SIGKILL one,
//! and its clients that know another node resume there while their peers see nothing; a client
//! that never comes back leaves its peers' lists exactly once, at the heartbeat timeout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roomlink::{
    Engine, EngineConfig, Event, RoomConfig, RoomMode, RoomStateChangedReason, UpdateType, User,
};
use roomlink_server::token::{Claims, mint, now_unix_ms};
use roomlink_testredis::Redis;

const ROOM: &str = "kill-room";
const HEARTBEAT_MS: u64 = 3_000;
/// Bounds a broken build; every wait below ends on an event.
const PATIENCE: Duration = Duration::from_secs(20);

/// A `roomlink serve` process; SIGKILLed when dropped.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(redis: &Redis) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roomlink"))
            .args(["serve", "--bind", "127.0.0.1:0", "--redis", &redis.url()])
            .args(["--heartbeat-timeout-ms", &HEARTBEAT_MS.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("roomlink serve runs");
        // The node prints its address once it listens.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .unwrap_or_else(|| panic!("no websocket URL in {line:?}"))
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        Node { child, url }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Client {
    engine: Engine,
    events: mpsc::Receiver<Event>,
}

impl Client {
    fn join(user: &str, urls: &[&str]) -> Client {
        let (tx, events) = mpsc::channel();
        let config = EngineConfig {
            room_mode: RoomMode::SingleRoom,
            heartbeat_interval: Duration::from_millis(200),
            ping_timeout: Duration::from_millis(700),
            retry_window: Duration::from_secs(60),
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_millis(400),
            ..EngineConfig::with_urls(urls.iter().copied())
        };
        let handler = move |e: Event| {
            let _ = tx.send(e);
        };
        let engine = Engine::new(config, Some(Arc::new(handler))).expect("engine");
        let token = mint(
            "dev-secret",
            &Claims {
                app_id: "roomlink-dev".into(),
                user_id: user.into(),
                room_id: ROOM.into(),
                expires_at_ms: now_unix_ms() + 3_600_000,
            },
        );
        engine
            .login_room(ROOM, User::new(user, user), &token, RoomConfig::default())
            .expect("login starts");
        let mut c = Client { engine, events };
        c.until_state(RoomStateChangedReason::Logined);
        c
    }

    fn next(&mut self) -> Event {
        self.events
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no event within {PATIENCE:?}"))
    }

    /// Waits for the room state `reason`, returning every event before it.
    fn until_state(&mut self, reason: RoomStateChangedReason) -> Vec<Event> {
        let mut before = Vec::new();
        loop {
            match self.next() {
                Event::RoomStateChanged { reason: r, .. } if r == reason => return before,
                e => before.push(e),
            }
        }
    }

    /// Waits for a user update, returning it and every event before it.
    fn until_users(&mut self) -> (UpdateType, Vec<String>, Vec<Event>) {
        let mut before = Vec::new();
        loop {
            match self.next() {
                Event::RoomUserUpdate {
                    update_type, users, ..
                } => {
                    return (
                        update_type,
                        users.into_iter().map(|u| u.user_id).collect(),
                        before,
                    );
                }
                e => before.push(e),
            }
        }
    }

    fn user_updates_within(&mut self, d: Duration) -> Vec<Event> {
        let until = Instant::now() + d;
        let mut seen = Vec::new();
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(e @ Event::RoomUserUpdate { .. }) => seen.push(e),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        seen
    }
}

#[test]
fn a_killed_node_is_invisible_to_the_room() {
    let redis = Redis::start();
    let mut a = Node::start(&redis);
    let b = Node::start(&redis);
    // alice knows both nodes; carol only the one that dies; bob is on the survivor.
    let mut alice = Client::join("alice", &[&a.url, &b.url]);
    let _carol = Client::join("carol", &[&a.url]);
    let mut bob = Client::join("bob", &[&b.url]);
    let (kind, users, _) = bob.until_users();
    assert_eq!(
        (kind, users),
        (UpdateType::Add, vec!["alice".into(), "carol".into()])
    );
    for joined in ["carol", "bob"] {
        let (kind, users, _) = alice.until_users();
        assert_eq!((kind, users), (UpdateType::Add, vec![joined.to_string()]));
    }

    let killed_at = Instant::now();
    a.kill();
    // alice: an outage of her own, over as soon as the other node resumes her session.
    alice.until_state(RoomStateChangedReason::Reconnecting);
    let before = alice.until_state(RoomStateChangedReason::Reconnected);
    assert!(
        !before
            .iter()
            .any(|e| matches!(e, Event::RoomUserUpdate { .. })),
        "alice's list did not change: {before:?}"
    );
    // bob: carol leaves once, at her last heard + the heartbeat timeout; alice never did.
    let (kind, users, _) = bob.until_users();
    assert_eq!(
        (kind, users),
        (UpdateType::Delete, vec!["carol".to_string()])
    );
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_millis(HEARTBEAT_MS) * 3,
        "carol expired {took:?} after the kill"
    );
    let more = bob.user_updates_within(Duration::from_millis(HEARTBEAT_MS));
    assert!(
        more.is_empty(),
        "exactly once, and nothing of alice: {more:?}"
    );
    let (kind, users, _) = alice.until_users();
    assert_eq!(
        (kind, users),
        (UpdateType::Delete, vec!["carol".to_string()])
    );
    alice.engine.destroy();
    bob.engine.destroy();
}
