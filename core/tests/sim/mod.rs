//! Deterministic test harness: several `Machine`s, one simulated server and a virtual network
//! with controllable faults, stepped on virtual time by always advancing to the earliest deadline
//! (after quinn-proto's `Pair` and str0m's `progress`). Delivery is instant; a 20-minute scenario
//! runs in milliseconds.

#![allow(dead_code)]

pub mod server;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use roomlink::machine::{ConnId, LinkError, Machine, Output, Transmit};
use roomlink::{
    EngineConfig, ErrorCode, Event, RoomConfig, RoomMode, RoomStateChangedReason, UpdateType, User,
};

pub use server::{ConnKey, SimServer};

/// What the network does to one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Frames flow.
    None,
    /// Everything silently dropped in both directions; connection attempts hang. A connection
    /// that lost a frame stays dead after the blackhole lifts (as a TCP connection whose
    /// retransmissions gave up): only new connections work again.
    Blackhole,
    /// Connection attempts are refused at once (the machine gets a transient link-down).
    Refuse,
    /// Connection attempts hang until the fault is lifted (`Fault::None`), then connect (unless
    /// the machine gave them up meanwhile): a slow network, with attempts in flight.
    Hold,
}

pub struct Client {
    pub m: Machine,
    pub user: User,
    /// Everything the machine emitted, with when.
    pub events: Vec<(Instant, Event)>,
    pub transmits: Vec<(Instant, Transmit)>,
    /// The last `Timeout` the machine reported.
    pub timeout: Option<Instant>,
    /// Connections the network considers up (connected and not closed).
    pub open: BTreeSet<ConnId>,
    /// Connections that lost a frame to a blackhole.
    pub broken: BTreeSet<ConnId>,
    pub fault: Fault,
    /// Attempts made under `Fault::Hold`, not yet connected or given up.
    pub held: Vec<(ConnId, roomlink::protocol::Hello)>,
    /// The client's process is suspended (see `Sim::suspend`): its machine gets no input.
    pub asleep: bool,
    /// What reached a suspended client, in order, as its kernel would keep it: a frame, or the
    /// server's close (`None`), per connection.
    pub pending: Vec<(ConnId, Option<roomlink::protocol::ServerFrame>)>,
}

impl Client {
    /// Whether a frame on `conn` gets through now; a frame lost breaks the connection for good.
    fn passes(&mut self, conn: ConnId) -> bool {
        if !self.open.contains(&conn) {
            return false;
        }
        if self.fault == Fault::Blackhole {
            self.broken.insert(conn);
        }
        !self.broken.contains(&conn)
    }
}

pub struct Sim {
    pub start: Instant,
    pub now: Instant,
    pub server: SimServer,
    pub clients: Vec<Client>,
    pub cfg: EngineConfig,
}

pub fn test_config() -> EngineConfig {
    EngineConfig::new("ws://sim")
}

/// `test_config()` in multi-room mode.
pub fn multi() -> EngineConfig {
    EngineConfig {
        room_mode: RoomMode::MultiRoom,
        ..test_config()
    }
}

impl Sim {
    pub fn new(n_clients: usize) -> Self {
        Self::with_config(n_clients, test_config())
    }

    pub fn with_config(n_clients: usize, cfg: EngineConfig) -> Self {
        let start = Instant::now();
        let clients = (0..n_clients)
            .map(|i| Client {
                m: Machine::new(cfg.clone(), 1000 + i as u64),
                user: User::new(format!("u{i}"), format!("User {i}")),
                events: Vec::new(),
                transmits: Vec::new(),
                timeout: None,
                open: BTreeSet::new(),
                broken: BTreeSet::new(),
                fault: Fault::None,
                held: Vec::new(),
                asleep: false,
                pending: Vec::new(),
            })
            .collect();
        Sim {
            start,
            now: start,
            server: SimServer::new(start),
            clients,
            cfg,
        }
    }

    /// A (client 0) and B (client 1) logged in to room "r" and settled at t = 1 s, each listing
    /// the other.
    pub fn two_in_room() -> Self {
        let mut sim = Sim::new(2);
        sim.login(0, "r", "t").unwrap();
        sim.login(1, "r", "t").unwrap();
        sim.run_for(secs(1));
        for i in 0..2 {
            assert_eq!(
                sim.states(i, "r"),
                vec![
                    (RoomStateChangedReason::Logining, ErrorCode::OK),
                    (RoomStateChangedReason::Logined, ErrorCode::OK)
                ]
            );
            assert_eq!(sim.user_list(i, "r"), [format!("u{}", 1 - i)].into());
        }
        sim
    }

    /// Seconds since the start (for messages).
    pub fn t(&self) -> f64 {
        (self.now - self.start).as_secs_f64()
    }

    // ---- commands (each pumps afterwards) ----

    pub fn login(&mut self, i: usize, room: &str, token: &str) -> Result<(), ErrorCode> {
        let now = self.now;
        let user = self.clients[i].user.clone();
        let r = self.clients[i]
            .m
            .login_room(now, room, user, token, RoomConfig::default());
        self.pump();
        r
    }

    pub fn logout(&mut self, i: usize, room: &str) -> Result<(), ErrorCode> {
        let now = self.now;
        let r = self.clients[i].m.logout_room(now, room);
        self.pump();
        r
    }

    /// Runs `f` on client `i`'s machine at the current time, then pumps.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut Machine, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.clients[i].m, now);
        self.pump();
        r
    }

    /// Admin kick of client `user`'s session in `room` with `code`, then pumps.
    pub fn kick(&mut self, room: &str, user_id: &str, code: ErrorCode, reason: &str) {
        let now = self.now;
        self.server.kick(now, room, user_id, code, reason);
        self.pump();
    }

    /// Admin close of `room`, then pumps.
    pub fn close_room(&mut self, room: &str) {
        let now = self.now;
        self.server.close_room(now, room);
        self.pump();
    }

    // ---- faults ----

    pub fn set_fault(&mut self, i: usize, fault: Fault) {
        self.clients[i].fault = fault;
        if fault == Fault::None {
            let now = self.now;
            for (conn, hello) in std::mem::take(&mut self.clients[i].held) {
                self.clients[i].open.insert(conn);
                self.clients[i].m.handle_connected(now, conn);
                self.server.accept(now, ConnKey { client: i, conn }, hello);
            }
            self.pump();
        }
    }

    /// Link down on both sides for every connection of client `i`.
    pub fn reset(&mut self, i: usize) {
        let now = self.now;
        let conns: Vec<ConnId> = std::mem::take(&mut self.clients[i].open)
            .into_iter()
            .collect();
        for conn in conns {
            self.server.on_close(now, ConnKey { client: i, conn });
            self.clients[i]
                .m
                .handle_link_down(now, conn, LinkError::Transient("reset".into()));
        }
        self.pump();
    }

    // ---- suspension ----

    /// Suspends client `i`'s process: from now on its machine gets no input and its timers do
    /// not fire; what the server sends it waits (or is lost, under a fault) until `wake`.
    pub fn suspend(&mut self, i: usize) {
        self.pump();
        self.clients[i].asleep = true;
    }

    /// Runs `f` on client `i`'s machine, sends what it wants sent, and suspends the process
    /// before anything comes back (the answers wait in its socket).
    pub fn suspend_after<R>(&mut self, i: usize, f: impl FnOnce(&mut Machine, Instant) -> R) -> R {
        self.pump();
        let now = self.now;
        let r = f(&mut self.clients[i].m, now);
        self.drain(i);
        self.clients[i].asleep = true;
        self.pump();
        r
    }

    /// Resumes client `i` as its engine does on the first input after a suspension: the machine
    /// is told it woke (`on_app_foreground`, at the suspend-inclusive now), then gets what
    /// arrived meanwhile, then runs as usual.
    pub fn wake(&mut self, i: usize) {
        let now = self.now;
        let c = &mut self.clients[i];
        c.asleep = false;
        c.m.on_app_foreground(now);
        for (conn, item) in std::mem::take(&mut c.pending) {
            match item {
                Some(frame) => c.m.handle_frame(now, conn, frame),
                None => {
                    c.open.remove(&conn);
                    let error = LinkError::Transient("closed by server".into());
                    c.m.handle_link_down(now, conn, error);
                }
            }
        }
        self.pump();
    }

    // ---- stepping ----

    /// Drains every machine and the server until nothing moves.
    pub fn pump(&mut self) {
        for _round in 0..100_000 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                moved |= self.drain(i);
            }
            let outbox = std::mem::take(&mut self.server.outbox);
            for (key, frame) in outbox {
                let c = &mut self.clients[key.client];
                if !c.passes(key.conn) {
                    continue;
                }
                if c.asleep {
                    c.pending.push((key.conn, Some(frame)));
                    continue;
                }
                c.m.handle_frame(self.now, key.conn, frame);
                moved = true;
            }
            let closes = std::mem::take(&mut self.server.closes);
            for key in closes {
                let c = &mut self.clients[key.client];
                if !c.passes(key.conn) {
                    continue;
                }
                if c.asleep {
                    c.pending.push((key.conn, None));
                    continue;
                }
                c.open.remove(&key.conn);
                c.m.handle_link_down(
                    self.now,
                    key.conn,
                    LinkError::Transient("closed by server".into()),
                );
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("pump did not settle at t={}: busy loop", self.t());
    }

    fn drain(&mut self, i: usize) -> bool {
        if self.clients[i].asleep {
            return false;
        }
        let now = self.now;
        let mut moved = false;
        loop {
            let out = self.clients[i].m.poll_output();
            match out {
                Output::Timeout(t) => {
                    self.clients[i].timeout = t;
                    return moved;
                }
                Output::Event(e) => self.clients[i].events.push((now, e)),
                Output::Transmit(t) => {
                    moved = true;
                    self.clients[i].transmits.push((now, t.clone()));
                    self.transmit(i, t);
                }
            }
        }
    }

    fn transmit(&mut self, i: usize, t: Transmit) {
        let now = self.now;
        let fault = self.clients[i].fault;
        match t {
            Transmit::Connect { conn, hello, .. } => match fault {
                Fault::None => {
                    self.clients[i].open.insert(conn);
                    self.clients[i].m.handle_connected(now, conn);
                    self.server.accept(now, ConnKey { client: i, conn }, hello);
                }
                Fault::Blackhole => {}
                Fault::Hold => self.clients[i].held.push((conn, hello)),
                Fault::Refuse => self.clients[i].m.handle_link_down(
                    now,
                    conn,
                    LinkError::Transient("refused".into()),
                ),
            },
            Transmit::Send { conn, frame } => {
                if self.clients[i].passes(conn) {
                    self.server
                        .on_frame(now, ConnKey { client: i, conn }, frame);
                }
            }
            Transmit::Close { conn } => {
                self.clients[i].held.retain(|(c, _)| *c != conn);
                let reaches_server = self.clients[i].passes(conn);
                self.clients[i].open.remove(&conn);
                if reaches_server {
                    self.server.on_close(now, ConnKey { client: i, conn });
                }
            }
        }
    }

    /// Advances virtual time to `until`, firing every deadline on the way in order.
    pub fn run_until(&mut self, until: Instant) {
        self.pump();
        let mut same_instant = 0u32;
        loop {
            let next = self
                .clients
                .iter()
                .filter(|c| !c.asleep)
                .filter_map(|c| c.timeout)
                .chain(self.server.deadline())
                .min();
            match next {
                Some(d) if d <= until => {
                    if d <= self.now {
                        same_instant += 1;
                        assert!(
                            same_instant < 10_000,
                            "deadline {d:?} keeps firing at t={}: busy loop",
                            self.t()
                        );
                    } else {
                        same_instant = 0;
                        self.now = d;
                    }
                    self.fire();
                }
                _ => {
                    self.now = self.now.max(until);
                    self.fire();
                    return;
                }
            }
        }
    }

    fn fire(&mut self) {
        let now = self.now;
        self.server.tick(now);
        for c in &mut self.clients {
            if !c.asleep && c.timeout.is_some_and(|t| t <= now) {
                c.m.handle_timeout(now);
            }
        }
        self.pump();
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    // ---- observations ----

    /// The (reason, code) of every RoomStateChanged for `room` on client `i`.
    pub fn states(&self, i: usize, room: &str) -> Vec<(RoomStateChangedReason, ErrorCode)> {
        self.clients[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::RoomStateChanged {
                    room_id,
                    reason,
                    error_code,
                    ..
                } if room_id == room => Some((*reason, *error_code)),
                _ => None,
            })
            .collect()
    }

    /// The user list of `room` as reconstructed from client `i`'s events.
    pub fn user_list(&self, i: usize, room: &str) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for (_, e) in &self.clients[i].events {
            match e {
                Event::RoomStateChanged {
                    room_id, reason, ..
                } if room_id == room
                    && (*reason == RoomStateChangedReason::Logining || reason.is_terminal()) =>
                {
                    set.clear();
                }
                Event::RoomUserUpdate {
                    room_id,
                    update_type,
                    users,
                } if room_id == room => {
                    for u in users {
                        match update_type {
                            UpdateType::Add => set.insert(u.user_id.clone()),
                            UpdateType::Delete => set.remove(&u.user_id),
                        };
                    }
                }
                _ => {}
            }
        }
        set
    }

    /// Client `i`'s events since index `from`.
    pub fn events_since(&self, i: usize, from: usize) -> Vec<Event> {
        self.clients[i].events[from..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    pub fn connects(&self, i: usize) -> Vec<(Instant, Transmit)> {
        self.clients[i]
            .transmits
            .iter()
            .filter(|(_, t)| matches!(t, Transmit::Connect { .. }))
            .cloned()
            .collect()
    }

    /// Server's member list minus client `i`'s own user.
    pub fn others_on_server(&self, i: usize, room: &str) -> BTreeSet<String> {
        let me = &self.clients[i].user.user_id;
        self.server
            .members(room)
            .into_iter()
            .filter(|u| u != me)
            .collect()
    }

    /// Counts of events per room, handy in messages.
    pub fn dump(&self, i: usize) -> String {
        let mut s = String::new();
        for (t, e) in &self.clients[i].events {
            s.push_str(&format!(
                "{:>8.3}s {:?}\n",
                (*t - self.start).as_secs_f64(),
                e
            ));
        }
        s
    }
}

/// Shorthand used in tests.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
