//! The sans-IO room state machine.
//!
//! A pure type: the driver feeds it app commands, link events and timer expiries, each with an
//! explicit `now`, and drains what it wants done with [`Machine::poll_output`]. It never reads a
//! clock, never does I/O and never panics on app or network input.
//!
//! Methods come in four kinds (after quinn-proto):
//! - getters (`&self`): [`Machine::room_state`], [`Machine::room_reason`];
//! - app commands: `login_room`, `logout_room`, `switch_room`, `renew_token`, `publish_stream`,
//!   `unpublish_stream`, `on_network_changed`, `on_app_background`, `on_app_foreground` —
//!   validation errors are returned synchronously and change nothing;
//! - `handle_*`: input from the link and the clock;
//! - `poll_output`: after every call above, drain it until it returns [`Output::Timeout`].
//!   `Timeout(Some(t))` means "call `handle_timeout` at `t`"; `Timeout(None)` means no timer.
//!
//! # Event ordering (conformance tests depend on it)
//!
//! - After `Logined` / `Reconnected` come, each only if non-empty: `RoomUserUpdate` Delete (users
//!   sorted by ID), `RoomUserUpdate` Add (sorted), `RoomStreamUpdate` Delete (reason `Resync` for a
//!   snapshot diff), `RoomStreamUpdate` Add, then `RoomOnlineUserCountUpdate` (others + 1) if it
//!   differs from the last count reported for the room (always after `Logined`).
//! - A `Resumed` carrying missed events: `Reconnected`, then each replayed event's update in seq
//!   order, then one count update if the count changed.
//! - One live room event: its one update, then the count update if the count changed.
//! - `RoomUserUpdate` is only emitted when the room's `RoomConfig::user_update` is set; the lists
//!   are tracked regardless. The local user is never in them.
//! - Every `RoomStateChanged` reason/code comes from [`crate::transitions::TABLE`].
//!
//! # When the machine emits `Transmit::Close`
//!
//! Only when it gives a connection up itself: ping timeout, `Bye`, `on_network_changed(false)`,
//! a gap in a room's event seqs (the link lost frames), an attempt that did not connect within
//! `ping_timeout`, and when no active room remains (logout, kick, failure). Never after
//! `handle_link_down` (the driver already knows that connection is gone). After `Close` (or
//! `handle_link_down`) every input naming that `ConnId` is ignored.
//!
//! # What the driver does
//!
//! - `Connect { conn, url, hello }`: open the WebSocket to the config's URL number `url` (0 =
//!   `server_url`, then `more_server_urls`) with `hello` in the upgrade header, then call
//!   `handle_connected(conn)` before feeding its frames (a frame on a connecting `conn` is taken
//!   as connected anyway), and `handle_link_down(conn, ..)` when it fails or ends.
//! - At most one connection is current; a new `Connect` is only emitted after the previous one was
//!   closed or reported down.
//!
//! # Several server URLs
//!
//! A failed attempt (refused, reset, not connected within `ping_timeout`) dials the next URL at
//! once; when every URL has failed in a row, the next attempt waits out the backoff, as with one
//! URL. An open link that is lost retries the URL it was on (after the backoff). A fatal error
//! (TLS, not a roomlink server) still fails the rooms at once, whichever URL gave it.
//!
//! # Draining servers and retryable refusals
//!
//! - `Bye { code: SERVER_DRAINING }` (1900008): the link is lost as for any bye (`Reconnecting`
//!   once per outage), but the next attempt dials the next URL (with one URL: that URL again)
//!   at once and a new round starts there, so at most one immediate round follows before the
//!   backoff. A second drain bye within `backoff_cap` of the last hop waits out the backoff.
//! - `LoginFailed { code: SERVER_UNAVAILABLE }` (1900009, also 1900008): no transition; the room
//!   stays `Logining`/`Reconnecting` and its login goes out again on the same link after a
//!   full-jitter backoff of its own. The login timeout and the retry window still end it (1002053).
//!   A login refused with `RATE_LIMITED` (1900010) is handled the same way.
//! - The server's rate limits otherwise (see `rate`): `Error` 1900010 makes a joined room send its
//!   state again (a relogin with its streams, then a pending renewal) after a wait in
//!   `[backoff_cap / 2, backoff_cap]`; `Bye` 1900010 is a lost link whose next attempt waits that
//!   long at least.
//!
//! # What the server is told, and when
//!
//! - Each login goes out exactly once per connection: in the `Hello` (up to
//!   [`HELLO_BUDGET_BYTES`] of header; the rest as `Login` frames right after connecting) or as a
//!   `Login` frame. A room logged out (or logged out and in again) while an attempt carrying its
//!   login was under way gets a `Logout` right after connecting, before its new `Login`; the answer
//!   to the abandoned login is then ignored.
//! - A renewed token replaces the room's token only when the server confirms it (`TokenRenewed`);
//!   a refused one (`Error` 1002033/1002056 for the room) is dropped and the old token stays in
//!   use, also for resumes. A renewal made while the room is not joined on an open link is sent
//!   as `RenewToken` once `Joined`/`Resumed` arrives.
//! - `logout_room`/`switch_room` while there is no open link (reconnecting): the session is
//!   remembered and, if another room keeps the link wanted, logged out by ID
//!   (`Logout { session_id }`) on the next connection. If no room keeps the link wanted, the
//!   machine does not reconnect just to say goodbye: peers see the user leave when the server's
//!   heartbeat timeout (default 90 s) drops the session.
//! - A room publishes at most [`MAX_PUBLISHED_STREAMS`] streams, which bounds every Login.

mod commands;
mod conn;
mod frames;
mod lifecycle;
mod link;
mod lists;
mod rate;
mod rng;
mod room;
mod timers;

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use crate::codes::ErrorCode;
use crate::config::{EngineConfig, RoomConfig};
use crate::event::Event;
use crate::model::User;
use crate::protocol::{ClientFrame, Hello, ServerFrame};
use crate::reason::{ConnectionState, RoomStateChangedReason};
use crate::transitions::{self, Phase, Trigger};

use link::Link;

/// The `log` target of every record the machine writes. Apps (and the bindings' loggers, which
/// name a record's logger after its target) filter on the `roomlink` namespace; the machine
/// lives in the `roomlink_proto` crate, so its records would otherwise leave that namespace.
const LOG_TARGET: &str = "roomlink::machine";
use rng::SplitMix64;
use room::{Room, Status};

/// The most encoded `Hello` header bytes one attempt carries; logins that do not fit are sent as
/// `Login` frames right after connecting. HTTP servers and proxies cap request headers (often at
/// 8–64 KiB for all of them together), and an upgrade refused for its size would fail every room.
pub const HELLO_BUDGET_BYTES: usize = 16 * 1024;

/// The most streams the local user may publish in one room; `publish_stream` beyond it fails
/// with `INVALID_ARGUMENT`. Every login re-sends them, so this bounds a Login's size.
pub const MAX_PUBLISHED_STREAMS: usize = 64;

/// Identifies one connection attempt. The machine mints a new one for every `Connect`, so late
/// events from a connection it already gave up on are recognised and ignored.
pub type ConnId = u64;

/// What the machine wants the driver to do on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a new connection to server URL number `url` of the config (0 = `server_url`, then
    /// `more_server_urls` in order), carrying `hello` in the upgrade request. Report the outcome
    /// with `handle_connected` or `handle_link_down`.
    Connect {
        conn: ConnId,
        url: usize,
        hello: Hello,
    },
    /// Send one frame on an open connection.
    Send { conn: ConnId, frame: ClientFrame },
    /// Close the connection (or abandon the attempt). No `handle_link_down` is expected for it,
    /// and any that arrives is ignored.
    Close { conn: ConnId },
}

/// One item of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver to the app, in order.
    Event(Event),
    Transmit(Transmit),
    /// Nothing more to do now; the next timer deadline, if any. Always the last item.
    Timeout(Option<Instant>),
}

/// Why a connection (or a connection attempt) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// Refused, unreachable, reset, timed out, closed by the peer: retrying may help.
    Transient(String),
    /// Retrying cannot help (bad URL, TLS failure, not a roomlink server). Carries the code the
    /// rooms fail with, normally `CONNECT_FAILED`.
    Fatal { code: ErrorCode, detail: String },
    /// The peer broke the protocol (malformed or oversized frame). Treated as transient: the
    /// next connection starts clean.
    Protocol(String),
}

/// `now + d`, saturating far in the future instead of panicking on overflow (huge configured
/// durations must not crash the machine).
fn later(now: Instant, d: std::time::Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The state machine for all rooms of one engine.
pub struct Machine {
    cfg: EngineConfig,
    rng: SplitMix64,
    /// This engine's instance ID for the login fence (see `Fence`): derived from the seed, which
    /// the engine draws at random, so two engines never share it.
    instance: String,
    /// Every room ever named in a login; inactive ones keep their last reason for `room_state`.
    rooms: BTreeMap<String, Room>,
    link: Link,
    next_conn: ConnId,
    /// Backoff waits since the last `Joined`/`Resumed` (the backoff exponent).
    attempts: u32,
    /// The server URL the next attempt dials (an index into `EngineConfig::urls`).
    url: usize,
    /// Attempts that failed in a row since the last backoff or success: when it reaches the
    /// number of URLs, a full round has failed and the next attempt waits out the backoff.
    failed_in_round: usize,
    out: VecDeque<Output>,
    /// When a drain `bye` last made the machine dial the next URL at once (see `drained`).
    last_drain_hop: Option<Instant>,
    /// The last `Room::login_id` minted.
    next_login: u64,
    /// Sessions logged out while there was no open link, to log out by ID on the next
    /// connection.
    abandoned: Vec<Abandoned>,
}

/// A session the server may still hold for a room the app has left.
#[derive(Debug, Clone)]
struct Abandoned {
    room_id: String,
    session_id: String,
    /// The room's token, the proof a logout by session ID must carry (the server accepts it
    /// expired: the outage that made the session abandoned may have outlasted it).
    token: String,
}

impl Abandoned {
    fn logout(self) -> ClientFrame {
        ClientFrame::Logout {
            room_id: self.room_id,
            session_id: Some(self.session_id),
            token: Some(self.token),
        }
    }
}

impl Machine {
    /// `config` must have passed [`EngineConfig::validate`]. `seed` feeds the backoff jitter; the
    /// engine passes a random one, tests a fixed one.
    pub fn new(config: EngineConfig, seed: u64) -> Self {
        // A stream of its own, so the backoff jitter a seed gives is unchanged.
        let instance = format!("{:016x}", SplitMix64::new(!seed).next_u64());
        Machine {
            cfg: config,
            rng: SplitMix64::new(seed),
            instance,
            rooms: BTreeMap::new(),
            link: Link::Idle,
            next_conn: 1,
            attempts: 0,
            url: 0,
            failed_in_round: 0,
            last_drain_hop: None,
            out: VecDeque::new(),
            next_login: 0,
            abandoned: Vec::new(),
        }
    }

    /// The coarse state of a room; `Disconnected` for rooms this machine does not know.
    pub fn room_state(&self, room_id: &str) -> ConnectionState {
        self.rooms
            .get(room_id)
            .and_then(|r| r.reason().connection_state())
            .unwrap_or(ConnectionState::Disconnected)
    }

    /// The last reason reported for a room, if any.
    pub fn room_reason(&self, room_id: &str) -> Option<RoomStateChangedReason> {
        self.rooms.get(room_id).map(Room::reason)
    }

    pub fn login_room(
        &mut self,
        now: Instant,
        room_id: &str,
        user: User,
        token: &str,
        config: RoomConfig,
    ) -> Result<(), ErrorCode> {
        self.cmd_login(now, room_id, user, token, config)
    }

    pub fn logout_room(&mut self, now: Instant, room_id: &str) -> Result<(), ErrorCode> {
        self.cmd_logout(now, room_id)
    }

    /// Logs out of every room (used when the engine is destroyed).
    pub fn logout_all(&mut self, now: Instant) {
        for id in self.room_ids(Room::is_active) {
            let _ = self.cmd_logout(now, &id);
        }
    }

    pub fn switch_room(
        &mut self,
        now: Instant,
        from_room_id: &str,
        to_room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        self.cmd_switch(now, from_room_id, to_room_id, token)
    }

    pub fn renew_token(
        &mut self,
        now: Instant,
        room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        self.cmd_renew(now, room_id, token)
    }

    pub fn publish_stream(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
        extra_info: &str,
    ) -> Result<(), ErrorCode> {
        self.cmd_publish(now, room_id, stream_id, extra_info)
    }

    pub fn unpublish_stream(
        &mut self,
        now: Instant,
        room_id: &str,
        stream_id: &str,
    ) -> Result<(), ErrorCode> {
        self.cmd_unpublish(now, room_id, stream_id)
    }

    /// A hint from the host OS: `true` retries at once instead of waiting out the backoff;
    /// `false` declares an open link lost without waiting for the ping timeout.
    pub fn on_network_changed(&mut self, now: Instant, available: bool) {
        self.network_changed(now, available)
    }

    /// A hint from the host app: it is going to the background and may be suspended soon. An
    /// open link pings at once, so the server's heartbeat timeout runs from now (see `lifecycle`).
    pub fn on_app_background(&mut self, now: Instant) {
        self.app_background(now)
    }

    /// A hint from the host app: it is back in the foreground (the engine also calls this itself
    /// when it notices the process was suspended). Deadlines that passed meanwhile fire, an open
    /// link is probed (lost if no answer within the probe window), and a link waiting to
    /// reconnect retries at once (see `lifecycle`).
    pub fn on_app_foreground(&mut self, now: Instant) {
        self.app_foreground(now)
    }

    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        self.connected(now, conn)
    }

    pub fn handle_frame(&mut self, now: Instant, conn: ConnId, frame: ServerFrame) {
        self.frame(now, conn, frame)
    }

    pub fn handle_link_down(&mut self, now: Instant, conn: ConnId, error: LinkError) {
        self.link_down(now, conn, error)
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.timeout(now)
    }

    pub fn poll_output(&mut self) -> Output {
        match self.out.pop_front() {
            Some(o) => o,
            None => Output::Timeout(self.next_deadline()),
        }
    }

    // ---- shared helpers ----

    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Event(event));
    }

    fn send(&mut self, conn: ConnId, frame: ClientFrame) {
        self.out
            .push_back(Output::Transmit(Transmit::Send { conn, frame }));
    }

    fn phase_of(&self, room_id: &str) -> Phase {
        self.rooms
            .get(room_id)
            .map_or(Phase::NotInRoom, Room::phase)
    }

    /// The IDs of the rooms matching `pred` (collected, so the caller may mutate rooms).
    fn room_ids(&self, pred: impl Fn(&Room) -> bool) -> Vec<String> {
        self.rooms
            .iter()
            .filter(|(_, r)| pred(r))
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn any_active(&self) -> bool {
        self.rooms.values().any(Room::is_active)
    }

    /// Reports a room state change, deciding reason and code from the transition table. Returns
    /// false (and emits nothing) when the table has no such transition.
    fn transition(
        &mut self,
        now: Instant,
        room_id: &str,
        trigger: Trigger,
        trigger_code: ErrorCode,
        extended_data: BTreeMap<String, String>,
    ) -> bool {
        let from = self.phase_of(room_id);
        let Some(row) = transitions::lookup(from, trigger) else {
            log::debug!(target: LOG_TARGET, "room {room_id}: no transition for {trigger:?} in {from:?}; ignored");
            return false;
        };
        let reason = row.to;
        let error_code = row.code.resolve(trigger_code);
        if let Some(room) = self.rooms.get_mut(room_id) {
            // The two phases that end by a deadline are entered with it.
            room.status = match reason {
                // Does not change a room's state.
                RoomStateChangedReason::LogoutFailed => room.status,
                RoomStateChangedReason::Logining => Status::Logining {
                    login_by: later(now, self.cfg.login_timeout),
                },
                RoomStateChangedReason::Reconnecting => Status::Reconnecting {
                    retry_until: later(now, self.cfg.retry_window),
                },
                other => Status::Other(other),
            };
            if reason == RoomStateChangedReason::Reconnecting && from != Phase::Reconnecting {
                // A new outage: count its attempts from zero.
                room.reconnect_attempts = 0;
            }
            if reason.is_terminal() {
                room.clear();
            }
        }
        log::info!(target: LOG_TARGET, "room {room_id}: {from:?} --{trigger:?}--> {reason} ({error_code})");
        self.emit(Event::RoomStateChanged {
            room_id: room_id.to_string(),
            reason,
            error_code,
            extended_data,
        });
        true
    }

    /// When no active room remains: close the link or attempt and disarm every timer.
    fn idle_if_unused(&mut self) {
        if self.any_active() {
            return;
        }
        if let Some(conn) = self.link.conn() {
            self.out
                .push_back(Output::Transmit(Transmit::Close { conn }));
        }
        self.link = Link::Idle;
        self.attempts = 0;
        self.failed_in_round = 0;
        // No reconnect just to say goodbye: the server's heartbeat timeout drops these sessions.
        self.abandoned.clear();
    }
}
