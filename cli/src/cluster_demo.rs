//! `roomlink demo --cluster`: three nodes on one Redis (a `redis-server` from the PATH, started
//! on a free loopback port and stopped when the demo ends), and a node that crashes and one that
//! drains without the room noticing. Every expected callback is checked; the command fails if
//! one does not arrive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roomlink::{
    Engine, EngineConfig, ErrorCode, Event, RoomConfig, RoomMode, RoomStateChangedReason as R,
    UpdateType, User,
};
use roomlink_server::{ServerConfig, ServerHandle, StoreUrl};
use roomlink_testredis::Redis;
use tokio::sync::mpsc;

use crate::join::describe;

const ROOM: &str = "cluster-demo";
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long any expected callback may take before the demo fails.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(1500);

struct Client {
    name: &'static str,
    engine: Engine,
    events: mpsc::UnboundedReceiver<Event>,
}

struct Story {
    log: crate::checks::Checks,
    quiet: bool,
    config: ServerConfig,
}

fn is_user_update(e: &Event) -> bool {
    matches!(e, Event::RoomUserUpdate { .. })
}

fn state(reason: R) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::RoomStateChanged { reason: r, .. } if *r == reason)
}

impl Story {
    fn stamp(&self) -> String {
        self.log.stamp()
    }

    fn say(&self, text: &str) {
        self.log.say(text);
    }

    fn client(&self, name: &'static str, user: &str, urls: &[String]) -> Result<Client, String> {
        let (tx, events) = mpsc::unbounded_channel();
        let (start, quiet) = (self.log.start, self.quiet);
        let handler = move |event: Event| {
            if !quiet {
                println!(
                    "{:>7.3}s {name:<3} {}",
                    start.elapsed().as_secs_f64(),
                    describe(&event)
                );
            }
            let _ = tx.send(event);
        };
        let config = EngineConfig {
            room_mode: RoomMode::SingleRoom,
            heartbeat_interval: Duration::from_millis(200),
            ping_timeout: Duration::from_millis(700),
            retry_window: Duration::from_secs(60),
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_millis(400),
            ..EngineConfig::with_urls(urls.iter().cloned())
        };
        let engine =
            Engine::new(config, Some(Arc::new(handler))).map_err(|e| format!("engine: {e}"))?;
        let key = crate::key::TokenKey {
            app_id: self.config.app_id.clone(),
            token_secret: self.config.token_secret.clone(),
        };
        engine
            .login_room(
                ROOM,
                User::new(user, user),
                &key.mint(user, ROOM, 3600),
                RoomConfig::default(),
            )
            .map_err(|e| format!("{name}: login_room: {e}"))?;
        Ok(Client {
            name,
            engine,
            events,
        })
    }

    /// Waits for the first event of `c` matching `pred` (earlier ones are skipped; all are printed).
    async fn expect(
        &mut self,
        c: &mut Client,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> Result<Event, String> {
        self.log
            .expect(c.name, &mut c.events, what, PATIENCE, pred)
            .await
    }

    async fn expect_none(
        &mut self,
        c: &mut Client,
        what: &str,
        pred: impl Fn(&Event) -> bool,
    ) -> Result<(), String> {
        self.log
            .expect_none(c.name, &mut c.events, what, QUIET, pred)
            .await
    }
}

fn ws(n: &ServerHandle) -> String {
    n.ws_url()
}

pub async fn play(quiet: bool) -> Result<(), String> {
    let redis = Redis::try_start().map_err(|e| format!("redis: {e}"))?;
    let config = ServerConfig {
        bind: "127.0.0.1:0".parse().expect("literal address"),
        heartbeat_timeout: HEARTBEAT_TIMEOUT,
        redis: Some(StoreUrl(redis.url())),
        ..ServerConfig::default()
    };
    let mut s = Story {
        log: crate::checks::Checks::new(),
        quiet,
        config: config.clone(),
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            roomlink_server::start(config.clone())
                .await
                .map_err(|e| format!("node: {e}"))?,
        );
    }
    s.say(&format!(
        "three nodes on one Redis (port {}): {}, {}, {}",
        redis.port,
        ws(&nodes[0]),
        ws(&nodes[1]),
        ws(&nodes[2])
    ));
    let urls: Vec<String> = nodes.iter().map(ws).collect();
    // A knows every node, first node 1; B starts on node 2, C on node 3.
    let mut a = s.client("A", "alice", &urls)?;
    s.expect(&mut a, "Logined on node 1", state(R::Logined))
        .await?;
    let mut b = s.client("B", "bob", &[urls[1].clone(), urls[2].clone()])?;
    s.expect(&mut b, "Logined on node 2", state(R::Logined))
        .await?;
    let mut c = s.client("C", "carol", &[urls[2].clone()])?;
    s.expect(&mut c, "Logined on node 3", state(R::Logined))
        .await?;
    s.expect(&mut c, "sees alice and bob, who are on other nodes", |e| {
        matches!(e, Event::RoomUserUpdate { update_type: UpdateType::Add, users, .. } if users.len() == 2)
    })
    .await?;
    s.expect(&mut b, "sees carol join through another node", |e| {
        matches!(e, Event::RoomUserUpdate { update_type: UpdateType::Add, users, .. } if users[0].user_id == "carol")
    })
    .await?;

    s.say("node 1 crashes (dropped without a word): A resumes on node 2");
    let crashed = nodes.remove(0);
    crashed.shutdown().await;
    s.expect(&mut a, "Reconnecting", state(R::Reconnecting))
        .await?;
    s.expect(&mut a, "Reconnected 0 (session resumed on another node)", |e| {
        matches!(e, Event::RoomStateChanged { reason: R::Reconnected, error_code, .. } if *error_code == ErrorCode::OK)
    })
    .await?;
    s.expect_none(&mut b, "saw nothing of A's node crashing", is_user_update)
        .await?;
    s.expect_none(&mut c, "saw nothing of A's node crashing", is_user_update)
        .await?;

    s.say("node 2 drains (rolling restart): A and B move to node 3 at once");
    let mut draining = nodes.remove(0);
    draining
        .drain(Instant::now() + Duration::from_secs(5))
        .await;
    draining.shutdown().await;
    for cl in [&mut a, &mut b] {
        s.expect(cl, "Reconnected on node 3", state(R::Reconnected))
            .await?;
    }
    s.expect_none(&mut c, "saw nothing of the drain", is_user_update)
        .await?;

    s.say("admin kick through node 3's API");
    let (status, reply) = roomlink_server::admin::request(
        nodes[0].local_addr(),
        "POST",
        &format!("/admin/rooms/{ROOM}/kick"),
        Some(&config.admin_secret),
        Some(r#"{"user_id":"carol","reason":"demo"}"#),
    )
    .await
    .map_err(|e| format!("admin: {e}"))?;
    if status != 200 {
        return Err(format!("admin kick: HTTP {status}: {reply}"));
    }
    s.expect(&mut c, "KickOut 1002055", |e| {
        matches!(e, Event::RoomStateChanged { reason: R::KickOut, error_code, .. } if *error_code == ErrorCode::KICKED_BY_SERVER)
    })
    .await?;
    s.expect(&mut a, "sees carol leave", |e| {
        matches!(
            e,
            Event::RoomUserUpdate {
                update_type: UpdateType::Delete,
                ..
            }
        )
    })
    .await?;
    for cl in [&a, &b, &c] {
        cl.engine.destroy();
    }
    for n in nodes {
        n.shutdown().await;
    }
    println!(
        "{} done: all {} expected callbacks arrived",
        s.stamp(),
        s.log.passed
    );
    Ok(())
}
