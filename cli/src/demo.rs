//! `roomlink demo`: the whole story on an embedded server, with faults injected by a TCP proxy in
//! front of each client. Timeouts are shortened so it finishes in seconds; every expected callback
//! is checked and the command fails if one does not arrive.

use std::sync::Arc;
use std::time::{Duration, Instant};

use roomlink::{
    Engine, EngineConfig, ErrorCode, Event, RoomConfig, RoomMode, RoomStateChangedReason as R,
    UpdateType, User,
};
use roomlink_faultproxy::{Fault, FaultProxy};
use roomlink_server::{ServerConfig, ServerHandle};
use tokio::sync::mpsc;

use crate::join::describe;

#[derive(clap::Args)]
pub struct Args {
    /// Print only the narration and the checks, not every callback.
    #[arg(long)]
    quiet: bool,
    /// The cluster story instead: three nodes on one Redis (needs `redis-server` on the PATH),
    /// one crashing and one draining while the room notices nothing.
    #[arg(long)]
    cluster: bool,
}

const ROOM: &str = "demo-room";
/// The server forgets a silent user after this long (production: 90 s).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long any expected callback may take before the demo fails.
const PATIENCE: Duration = Duration::from_secs(10);

pub fn run(args: Args) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    if args.cluster {
        return rt.block_on(crate::cluster_demo::play(args.quiet));
    }
    rt.block_on(Story::new(args.quiet).play())
}

fn client_config(url: String) -> EngineConfig {
    EngineConfig {
        room_mode: RoomMode::SingleRoom,
        heartbeat_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(700),
        login_timeout: Duration::from_secs(5),
        retry_window: Duration::from_secs(60),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(400),
        ..EngineConfig::new(url)
    }
}

/// One demo client: an engine behind its own fault proxy, its events forwarded to the story.
struct Client {
    name: &'static str,
    user: User,
    engine: Engine,
    proxy: FaultProxy,
    events: mpsc::UnboundedReceiver<Event>,
}

struct Story {
    log: crate::checks::Checks,
    quiet: bool,
    server: Option<ServerHandle>,
    config: ServerConfig,
}

impl Story {
    fn new(quiet: bool) -> Self {
        let config = ServerConfig {
            bind: "127.0.0.1:0".parse().expect("literal address"),
            heartbeat_timeout: HEARTBEAT_TIMEOUT,
            ..ServerConfig::default()
        };
        Story {
            log: crate::checks::Checks::new(),
            quiet,
            server: None,
            config,
        }
    }

    fn say(&self, text: &str) {
        self.log.say(text);
    }

    fn server(&self) -> Result<&ServerHandle, String> {
        self.server
            .as_ref()
            .ok_or_else(|| "server not running".to_string())
    }

    fn token(&self, user: &str) -> String {
        let key = crate::key::TokenKey {
            app_id: self.config.app_id.clone(),
            token_secret: self.config.token_secret.clone(),
        };
        key.mint(user, ROOM, 3600)
    }

    async fn client(
        &self,
        name: &'static str,
        user_id: &str,
        user_name: &str,
    ) -> Result<Client, String> {
        let server = self.server()?;
        let proxy = FaultProxy::start(server.local_addr())
            .await
            .map_err(|e| format!("proxy: {e}"))?;
        let url = format!("ws://{}{}", proxy.local_addr(), roomlink::protocol::WS_PATH);
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
        let engine = Engine::new(client_config(url), Some(Arc::new(handler)))
            .map_err(|e| format!("engine: {e}"))?;
        Ok(Client {
            name,
            user: User::new(user_id, user_name),
            engine,
            proxy,
            events,
        })
    }

    fn login(&self, c: &Client) -> Result<(), String> {
        c.engine
            .login_room(
                ROOM,
                c.user.clone(),
                &self.token(&c.user.user_id),
                RoomConfig::default(),
            )
            .map_err(|e| format!("{}: login_room: {e}", c.name))
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

    /// Checks that nothing `c` received so far, or receives within `window`, matches `pred`.
    async fn expect_none(
        &mut self,
        c: &mut Client,
        what: &str,
        window: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Result<(), String> {
        self.log
            .expect_none(c.name, &mut c.events, what, window, pred)
            .await
    }

    async fn admin(&self, path: &str, body: &str) -> Result<(), String> {
        let server = self.server()?;
        let (status, reply) = roomlink_server::admin::request(
            server.local_addr(),
            "POST",
            path,
            Some(&self.config.admin_secret),
            Some(body),
        )
        .await
        .map_err(|e| format!("admin {path}: {e}"))?;
        if status != 200 {
            return Err(format!("admin {path}: HTTP {status}: {reply}"));
        }
        Ok(())
    }

    async fn play(mut self) -> Result<(), String> {
        self.server = Some(
            roomlink_server::start(self.config.clone())
                .await
                .map_err(|e| format!("server: {e}"))?,
        );
        self.say(&format!(
            "server on {} (heartbeat timeout {HEARTBEAT_TIMEOUT:?}); clients ping every 200 ms, declare the link lost after 700 ms",
            self.server()?.local_addr()
        ));
        let mut a = self.client("A", "alice", "Alice").await?;
        let mut b = self.client("B", "bob", "Bob").await?;

        self.say("A and B log in");
        self.login(&a)?;
        self.expect(&mut a, "Logining", state(R::Logining, ErrorCode::OK))
            .await?;
        self.expect(&mut a, "Logined", state(R::Logined, ErrorCode::OK))
            .await?;
        self.login(&b)?;
        self.expect(&mut b, "Logined", state(R::Logined, ErrorCode::OK))
            .await?;
        self.expect(
            &mut b,
            "sees A in the room (Add alice)",
            users(UpdateType::Add, "alice"),
        )
        .await?;
        self.expect(
            &mut a,
            "sees B join (Add bob)",
            users(UpdateType::Add, "bob"),
        )
        .await?;

        self.say("short outage: A's link is blackholed for 1 s, less than the heartbeat timeout");
        a.proxy.set(Fault::Blackhole);
        let lost = Instant::now();
        self.expect(
            &mut a,
            "Reconnecting 1002051",
            state(R::Reconnecting, ErrorCode::RECONNECTING),
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(lost.elapsed())).await;
        a.proxy.set(Fault::Pass);
        a.engine.on_network_changed(true);
        self.expect(
            &mut a,
            "Reconnected 0 (session resumed)",
            state(R::Reconnected, ErrorCode::OK),
        )
        .await?;
        self.expect_none(
            &mut b,
            "saw nothing of A's short outage",
            Duration::from_millis(300),
            any_user_update,
        )
        .await?;

        self.say("long outage: A's link is blackholed for longer than the heartbeat timeout");
        a.proxy.set(Fault::Blackhole);
        self.expect(
            &mut a,
            "Reconnecting 1002051",
            state(R::Reconnecting, ErrorCode::RECONNECTING),
        )
        .await?;
        self.expect(
            &mut b,
            "sees A leave at the heartbeat timeout (Delete alice)",
            users(UpdateType::Delete, "alice"),
        )
        .await?;
        a.proxy.set(Fault::Pass);
        a.engine.on_network_changed(true);
        self.expect(
            &mut a,
            "Reconnected 0 (not a fresh Logined)",
            state(R::Reconnected, ErrorCode::OK),
        )
        .await?;
        self.expect(
            &mut b,
            "sees A come back (Add alice)",
            users(UpdateType::Add, "alice"),
        )
        .await?;

        self.say("admin kick: the server's admin API removes A with a reason");
        self.admin(
            &format!("/admin/rooms/{ROOM}/kick"),
            r#"{"user_id":"alice","reason":"demo: kicked by admin"}"#,
        )
        .await?;
        let kicked = self
            .expect(
                &mut a,
                "KickOut 1002055",
                state(R::KickOut, ErrorCode::KICKED_BY_SERVER),
            )
            .await?;
        if let Event::RoomStateChanged { extended_data, .. } = &kicked {
            let reason = extended_data.get(roomlink::event::extended_keys::CUSTOM_KICKOUT_MESSAGE);
            if reason.map(String::as_str) != Some("demo: kicked by admin") {
                return Err(format!(
                    "A: KickOut without the admin's reason: {extended_data:?}"
                ));
            }
        }
        self.expect(
            &mut b,
            "sees A removed (Delete alice)",
            users(UpdateType::Delete, "alice"),
        )
        .await?;

        self.say("duplicate login: A logs in again, then the same user ID logs in from another device A2");
        self.login(&a)?;
        self.expect(&mut a, "Logined", state(R::Logined, ErrorCode::OK))
            .await?;
        self.expect(
            &mut b,
            "sees A back (Add alice)",
            users(UpdateType::Add, "alice"),
        )
        .await?;
        let mut a2 = self.client("A2", "alice", "Alice (tablet)").await?;
        self.login(&a2)?;
        self.expect(&mut a2, "Logined", state(R::Logined, ErrorCode::OK))
            .await?;
        self.expect(
            &mut a,
            "KickOut 1002050 (same user logged in elsewhere)",
            state(R::KickOut, ErrorCode::KICKED_DUPLICATE_LOGIN),
        )
        .await?;

        self.say("logout: B leaves");
        b.engine
            .logout_room(ROOM)
            .map_err(|e| format!("B: logout_room: {e}"))?;
        self.expect(&mut b, "Logout 0", state(R::Logout, ErrorCode::OK))
            .await?;
        self.expect(
            &mut a2,
            "sees B leave (Delete bob)",
            users(UpdateType::Delete, "bob"),
        )
        .await?;

        for c in [&a, &a2, &b] {
            c.engine.destroy();
        }
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.say(&format!(
            "done: all {} expected callbacks arrived",
            self.log.passed
        ));
        Ok(())
    }
}

fn state(reason: R, code: ErrorCode) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::RoomStateChanged { reason: r, error_code, .. } if *r == reason && *error_code == code)
}

fn users(kind: UpdateType, user_id: &'static str) -> impl Fn(&Event) -> bool {
    move |e| {
        matches!(e, Event::RoomUserUpdate { update_type, users, .. }
            if *update_type == kind && users.iter().any(|u| u.user_id == user_id))
    }
}

fn any_user_update(e: &Event) -> bool {
    matches!(e, Event::RoomUserUpdate { .. })
}
