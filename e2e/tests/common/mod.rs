//! Shared harness for the end-to-end tests: a real server, one [`FaultProxy`] per client, real
//! engines over loopback WebSockets.
//!
//! Every wait is for an event (or a condition) with a generous deadline, so a loaded machine makes
//! the suite slower, not flaky. Fixed sleeps appear only where the scenario itself is "hold the
//! outage for X" or "nothing may happen within X".
#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod tinyproxy;
pub mod tls_front;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use roomlink::event::extended_keys;
use roomlink::{
    ConnectionState, Engine, EngineConfig, ErrorCode, Event, RoomConfig, RoomMode,
    RoomStateChangedReason as R, Transport, UpdateType, User,
};
use roomlink_faultproxy::{Fault, FaultProxy};
use roomlink_server::token::{Claims, mint, now_unix_ms};
use roomlink_server::{ServerConfig, ServerHandle};
use tokio::sync::mpsc;

/// How long any expected event may take before the test fails (generous on purpose).
pub const PATIENCE: Duration = Duration::from_secs(10);
/// The server forgets a silent user after this long (production: 90 s).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);
/// An outage comfortably shorter than [`HEARTBEAT_TIMEOUT`].
pub const SHORT_OUTAGE: Duration = Duration::from_millis(300);
/// Window in which "nothing must happen" is checked.
pub const QUIET: Duration = Duration::from_millis(400);

/// Client settings scaled to the short server heartbeat timeout.
pub fn client_config(url: String) -> EngineConfig {
    EngineConfig {
        room_mode: RoomMode::SingleRoom,
        heartbeat_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(350),
        login_timeout: Duration::from_secs(5),
        retry_window: Duration::from_secs(30),
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        ..EngineConfig::new(url)
    }
}

/// The server under test, restartable on the same port.
pub struct Server {
    pub config: ServerConfig,
    handle: Option<ServerHandle>,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
        let mut config = ServerConfig {
            bind: "127.0.0.1:0".parse().expect("literal address"),
            heartbeat_timeout: HEARTBEAT_TIMEOUT,
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let handle = roomlink_server::start(config.clone())
            .await
            .expect("server starts");
        // Pin the port so a restart comes back where the proxies point.
        config.bind = handle.local_addr();
        Server {
            config,
            handle: Some(handle),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.config.bind
    }

    /// Shuts the server down (a crash, as far as clients can tell: all state is lost).
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await;
        }
    }

    /// Drains it (`ServerHandle::drain`): every connection is told `bye{1900008}` and closed;
    /// returns once they are gone or at `deadline`. The port stays closed until `restart`.
    pub async fn drain(&mut self, deadline: std::time::Instant) {
        if let Some(h) = self.handle.as_mut() {
            h.drain(deadline).await;
        }
    }

    /// Starts it again on the same port, with empty state.
    pub async fn restart(&mut self) {
        self.stop().await;
        let handle = roomlink_server::start(self.config.clone())
            .await
            .expect("server restarts on the same port");
        self.handle = Some(handle);
    }

    /// A token for `user_id` in `room_id` valid for an hour.
    pub fn token(&self, user_id: &str, room_id: &str) -> String {
        self.token_for(user_id, room_id, Duration::from_secs(3600))
    }

    /// A token valid for `lifetime` from now.
    pub fn token_for(&self, user_id: &str, room_id: &str, lifetime: Duration) -> String {
        self.token_expiring_at(
            user_id,
            room_id,
            now_unix_ms() + lifetime.as_millis() as u64,
        )
    }

    pub fn token_expiring_at(&self, user_id: &str, room_id: &str, expires_at_ms: u64) -> String {
        let claims = Claims {
            app_id: self.config.app_id.clone(),
            user_id: user_id.into(),
            room_id: room_id.into(),
            expires_at_ms,
        };
        mint(&self.config.token_secret, &claims)
    }

    async fn admin(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        roomlink_server::admin::request(
            self.addr(),
            method,
            path,
            Some(&self.config.admin_secret),
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("admin {method} {path}: {e}"))
    }

    /// The server's truth: user IDs in `room_id` (empty if the room does not exist).
    pub async fn members(&self, room_id: &str) -> BTreeSet<String> {
        let (status, body) = self
            .admin("GET", &format!("/admin/rooms/{room_id}"), None)
            .await;
        match status {
            404 => BTreeSet::new(),
            200 => {
                let v: serde_json::Value = serde_json::from_str(&body).expect("room JSON");
                v["users"]
                    .as_array()
                    .expect("users array")
                    .iter()
                    .map(|u| u["user_id"].as_str().expect("user_id").to_string())
                    .collect()
            }
            s => panic!("GET room {room_id}: HTTP {s}: {body}"),
        }
    }

    pub async fn kick(&self, room_id: &str, user_id: &str, reason: &str) {
        let body = serde_json::json!({ "user_id": user_id, "reason": reason }).to_string();
        let (status, reply) = self
            .admin("POST", &format!("/admin/rooms/{room_id}/kick"), Some(&body))
            .await;
        assert_eq!(status, 200, "kick {user_id}: {reply}");
    }

    pub async fn close(&self, room_id: &str, reason: &str) {
        let body = serde_json::json!({ "reason": reason }).to_string();
        let (status, reply) = self
            .admin(
                "POST",
                &format!("/admin/rooms/{room_id}/close"),
                Some(&body),
            )
            .await;
        assert_eq!(status, 200, "close {room_id}: {reply}");
    }

    /// Waits until the server lists exactly `expected` in `room_id`.
    pub async fn wait_members(&self, room_id: &str, expected: &[&str]) {
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let now = self.members(room_id).await;
            if now == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server members of {room_id}: {now:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One app: an engine behind its own fault proxy, with every event it received recorded.
pub struct Client {
    pub name: String,
    pub user: User,
    pub engine: Engine,
    pub proxy: FaultProxy,
    events: mpsc::UnboundedReceiver<Event>,
    /// Every event received so far, in order (also those `expect` skipped).
    pub history: Vec<Event>,
    /// Per room: the user IDs this client believes are there, built from `RoomUserUpdate`s only.
    users: BTreeMap<String, BTreeSet<String>>,
}

impl Client {
    pub async fn new(server: &Server, user_id: &str) -> Client {
        Self::with_config(server, user_id, |_| {}).await
    }

    pub async fn with_config(
        server: &Server,
        user_id: &str,
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> Client {
        let ws = |proxy: SocketAddr| (format!("ws://{proxy}{}", roomlink::protocol::WS_PATH), None);
        Self::with_transport(server, user_id, ws, tweak).await
    }

    /// A client whose server URL and transport `setup` makes from the fault proxy's address (e.g.
    /// a TLS front for it and a transport trusting its certificate; `None`: `Engine::new`'s).
    pub async fn with_transport(
        server: &Server,
        user_id: &str,
        setup: impl FnOnce(SocketAddr) -> (String, Option<Arc<dyn Transport>>),
        tweak: impl FnOnce(&mut EngineConfig),
    ) -> Client {
        watch_engine_panics();
        let proxy = FaultProxy::start(server.addr())
            .await
            .expect("proxy starts");
        let (url, transport) = setup(proxy.local_addr());
        let mut config = client_config(url);
        tweak(&mut config);
        let (tx, events) = mpsc::unbounded_channel();
        let handler = move |event: Event| {
            let _ = tx.send(event);
        };
        let handler: Arc<dyn roomlink::EventHandler> = Arc::new(handler);
        let engine = match transport {
            Some(transport) => Engine::with_transport(config, transport, Some(handler)),
            None => Engine::new(config, Some(handler)),
        }
        .expect("engine starts");
        Client {
            name: user_id.to_string(),
            user: User::new(user_id, user_id.to_uppercase()),
            engine,
            proxy,
            events,
            history: Vec::new(),
            users: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.user.user_id
    }

    /// Starts a login with a valid one-hour token.
    pub fn login(&self, server: &Server, room_id: &str) {
        self.login_with_token(room_id, &server.token(self.id(), room_id));
    }

    pub fn login_with_token(&self, room_id: &str, token: &str) {
        self.engine
            .login_room(room_id, self.user.clone(), token, RoomConfig::default())
            .unwrap_or_else(|e| panic!("{}: login_room({room_id}): {e}", self.name));
    }

    /// Logs in and waits for `Logined`.
    pub async fn join(&mut self, server: &Server, room_id: &str) {
        self.login(server, room_id);
        self.expect(state_in(room_id, R::Logined, ErrorCode::OK), "Logined")
            .await;
    }

    /// Logs out and waits for `Logout`.
    pub async fn leave(&mut self, room_id: &str) {
        self.engine
            .logout_room(room_id)
            .unwrap_or_else(|e| panic!("{}: logout_room({room_id}): {e}", self.name));
        self.expect(state_in(room_id, R::Logout, ErrorCode::OK), "Logout")
            .await;
    }

    /// Link down: silence both ways.
    pub fn blackhole(&self) {
        self.proxy.set(Fault::Blackhole);
    }

    /// Link back, and tell the engine (as the OS would) so it retries at once.
    pub fn restore(&self) {
        self.proxy.set(Fault::Pass);
        self.engine.on_network_changed(true);
    }

    fn record(&mut self, event: Event) {
        match &event {
            Event::RoomUserUpdate {
                room_id,
                update_type,
                users,
            } => {
                let list = self.users.entry(room_id.clone()).or_default();
                for u in users {
                    match update_type {
                        UpdateType::Add => list.insert(u.user_id.clone()),
                        UpdateType::Delete => list.remove(&u.user_id),
                    };
                }
            }
            // A fresh login starts from an empty list (its snapshot arrives as Adds); a room that
            // ended tells nothing more about its users.
            Event::RoomStateChanged {
                room_id, reason, ..
            } if *reason == R::Logining || reason.is_terminal() => {
                self.users.remove(room_id);
            }
            _ => {}
        }
        self.history.push(event);
    }

    /// The user list this client has reconstructed for `room_id` from the events seen so far.
    pub fn users(&self, room_id: &str) -> BTreeSet<String> {
        self.users.get(room_id).cloned().unwrap_or_default()
    }

    /// Records every event that has already arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(e) = self.events.try_recv() {
            self.record(e);
        }
    }

    fn recent(&self) -> String {
        let from = self.history.len().saturating_sub(12);
        self.history[from..]
            .iter()
            .map(describe)
            .collect::<Vec<_>>()
            .join("\n    ")
    }

    /// Waits for the next event matching `pred` (earlier ones are recorded and skipped). Panics
    /// after [`PATIENCE`], or if the room ends first with an event that does not match.
    pub async fn expect(&mut self, pred: impl Fn(&Event) -> bool, what: &str) -> Event {
        self.expect_within(PATIENCE, pred, what).await
    }

    pub async fn expect_within(
        &mut self,
        patience: Duration,
        pred: impl Fn(&Event) -> bool,
        what: &str,
    ) -> Event {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    let matched = pred(&event);
                    let ended = matches!(&event, Event::RoomStateChanged { reason, .. } if reason.is_terminal());
                    self.record(event.clone());
                    if matched {
                        return event;
                    }
                    if ended {
                        panic!(
                            "{}: the room ended while waiting for {what}; recent events:\n    {}",
                            self.name,
                            self.recent()
                        );
                    }
                }
                Ok(None) => panic!("{}: engine stopped before {what}", self.name),
                Err(_) => panic!(
                    "{}: no {what} within {patience:?}; recent events:\n    {}",
                    self.name,
                    self.recent()
                ),
            }
        }
    }

    /// Like [`Client::expect`], but also satisfied by an event already recorded in
    /// `history[since..]` (one that an earlier `expect` skipped over).
    pub async fn seen_or_expect(
        &mut self,
        since: usize,
        pred: impl Fn(&Event) -> bool,
        what: &str,
    ) -> Event {
        self.drain();
        if let Some(e) = self.history[since.min(self.history.len())..]
            .iter()
            .find(|e| pred(e))
        {
            return e.clone();
        }
        self.expect(pred, what).await
    }

    /// Checks that nothing received so far (not yet consumed) or within `window` matches `pred`.
    pub async fn expect_none(
        &mut self,
        window: Duration,
        pred: impl Fn(&Event) -> bool,
        what: &str,
    ) {
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            let bad = pred(&event);
            let text = describe(&event);
            self.record(event);
            assert!(!bad, "{}: unexpected {text} ({what})", self.name);
        }
    }

    /// Waits until this client's reconstructed list for `room_id` equals the server's member list
    /// minus itself. Returns the agreed list.
    pub async fn converge(&mut self, server: &Server, room_id: &str) -> BTreeSet<String> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.drain();
            let mut truth = server.members(room_id).await;
            truth.remove(self.id());
            let mine = self.users(room_id);
            if mine == truth {
                return mine;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "{}: user list of {room_id} is {mine:?}, server says {truth:?} (minus self); recent events:\n    {}",
                    self.name,
                    self.recent()
                );
            }
            // Wait for the next event (or re-ask the server: its truth may still be moving).
            if let Ok(Some(e)) =
                tokio::time::timeout(Duration::from_millis(50), self.events.recv()).await
            {
                self.record(e);
            }
        }
    }

    pub fn room_state(&self, room_id: &str) -> ConnectionState {
        self.engine.room_state(room_id)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Destroy joins the engine's threads and may wait for logouts to go out through the
        // proxy, which runs on the test's runtime: let the runtime keep going meanwhile.
        match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::block_in_place(|| self.engine.destroy()),
            Err(_) => self.engine.destroy(),
        }
        let panics = ENGINE_PANICS.load(Ordering::SeqCst);
        if panics > 0 && !std::thread::panicking() {
            panic!("{panics} panic(s) on engine threads (see stderr)");
        }
    }
}

static ENGINE_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Engine tasks run on the engine's own threads, where tokio catches a panicking task: the test
/// would not notice. Count them (process-wide) so every client's teardown fails the test.
fn watch_engine_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let on_engine = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("roomlink-"));
            if on_engine {
                ENGINE_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// A `RoomStateChanged` with this reason and code, in any room.
pub fn state(reason: R, code: ErrorCode) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::RoomStateChanged { reason: r, error_code, .. } if *r == reason && *error_code == code)
}

/// A `RoomStateChanged` with this reason and code in `room`.
pub fn state_in(room: &str, reason: R, code: ErrorCode) -> impl Fn(&Event) -> bool + use<> {
    let room = room.to_string();
    move |e| matches!(e, Event::RoomStateChanged { room_id, reason: r, error_code, .. } if *room_id == room && *r == reason && *error_code == code)
}

/// Any `RoomStateChanged` with this reason (whatever the code).
pub fn reason_is(reason: R) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::RoomStateChanged { reason: r, .. } if *r == reason)
}

/// A user update of `kind` that names `user_id`.
pub fn user_update(kind: UpdateType, user_id: &str) -> impl Fn(&Event) -> bool + use<> {
    let user_id = user_id.to_string();
    move |e| {
        matches!(e, Event::RoomUserUpdate { update_type, users, .. }
            if *update_type == kind && users.iter().any(|u| u.user_id == user_id))
    }
}

/// Any user update that names `user_id`.
pub fn any_update_of(user_id: &str) -> impl Fn(&Event) -> bool + use<> {
    let user_id = user_id.to_string();
    move |e| matches!(e, Event::RoomUserUpdate { users, .. } if users.iter().any(|u| u.user_id == user_id))
}

pub fn any_user_update(e: &Event) -> bool {
    matches!(e, Event::RoomUserUpdate { .. })
}

/// The admin's kick reason carried by a `KickOut`.
pub fn kickout_message(e: &Event) -> Option<&str> {
    match e {
        Event::RoomStateChanged { extended_data, .. } => extended_data
            .get(extended_keys::CUSTOM_KICKOUT_MESSAGE)
            .map(String::as_str),
        _ => None,
    }
}

pub fn describe(e: &Event) -> String {
    match e {
        Event::RoomStateChanged {
            room_id,
            reason,
            error_code,
            extended_data,
        } => format!(
            "[{room_id}] {reason:?} {} {extended_data:?}",
            error_code.value()
        ),
        Event::RoomUserUpdate {
            room_id,
            update_type,
            users,
        } => format!(
            "[{room_id}] users {update_type:?} {:?}",
            users.iter().map(|u| u.user_id.as_str()).collect::<Vec<_>>()
        ),
        other => format!("{other:?}"),
    }
}

/// Waits until `cond` holds, polling every 10 ms, or panics after [`PATIENCE`].
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Installs a logger once if `RUST_LOG` is set (no third-party logger crate: a tiny stderr one).
pub fn init_log() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, r: &log::Record) {
            eprintln!("{:<5} {}: {}", r.level(), r.target(), r.args());
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if let Ok(level) = std::env::var("RUST_LOG")
        && log::set_logger(&LOGGER).is_ok()
    {
        log::set_max_level(level.parse().unwrap_or(log::LevelFilter::Debug));
    }
}

/// splitmix64: tiny, deterministic, good enough to pick steps.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
