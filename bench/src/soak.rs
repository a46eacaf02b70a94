//! Soak: thousands of sessions held for a long time with steady churn at fixed rates (logins,
//! logouts, publishes, unpublishes, link drops and resumes), the server's RSS and open files
//! printed every minute, and at the end the number of sessions whose user/stream lists differ
//! from the server's (`GET /admin/rooms/{room}`). Not in CI: `roomlink-bench soak --minutes 30`.
//!
//! Each session is one task keeping a mirror of its room (the `joined` snapshot, then every event
//! in sequence, as a real client applies them) and heartbeating like the engine (every 10 s).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roomlink::protocol::{ClientFrame, PublishedStream, Resume, RoomEvent, ServerFrame, Snapshot};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::member;
use crate::server::{ServeOptions, ServerProc};

/// Members per room: a call-sized room, so every change reaches a few peers.
const ROOM_SIZE: usize = 10;
/// The engine's default heartbeat interval.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Largest frame a mirror accepts (a 10-member room's snapshot is far below).
const MAX_FRAME: usize = 1 << 20;

/// Fixed churn rates, each in events per second over the whole population.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rates {
    /// A session logs out and its user logs in afresh on the same link (one logout + one login).
    pub relogins: u32,
    /// A session publishes a stream, or unpublishes the one it has (alternating).
    pub publishes: u32,
    /// A session's TCP link is cut without a close frame; it reconnects and resumes.
    pub drops: u32,
}

pub struct Options {
    pub sessions: usize,
    pub minutes: u64,
    pub rates: Rates,
    /// The server's replay buffer; `None`: its default.
    pub replay_buffer: Option<usize>,
}

/// What the driver asks a session to do.
enum Cmd {
    Relogin,
    TogglePublish,
    DropLink,
    /// Answer once a ping sent now has been answered (every frame before it has arrived).
    Barrier(oneshot::Sender<()>),
    /// Hand over the mirror: (other users, other streams, own streams).
    Report(oneshot::Sender<Mirror>),
}

/// One session's view of its room, as a client builds it.
#[derive(Debug, Default, Clone)]
pub struct Mirror {
    users: BTreeSet<String>,
    streams: BTreeSet<String>,
    own_streams: BTreeSet<String>,
    /// A sequence gap, a kick or a refused login: the mirror can no longer be trusted.
    broken: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Tally {
    relogins: u64,
    publishes: u64,
    unpublishes: u64,
    drops: u64,
    resumed_replay: u64,
    resumed_snapshot: u64,
    resumed_fresh: u64,
}

/// `roomlink-bench soak`: runs the whole scenario and prints one line per minute and a summary.
pub fn run(opts: Options) -> Result<(), String> {
    crate::sys::raise_nofile()?;
    let server = ServerProc::start_with(&ServeOptions {
        replay_buffer: opts.replay_buffer,
        ..ServeOptions::default()
    })?;
    let pid = server.pid();
    let addr = server.addr;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let result = rt.block_on(soak(addr, pid, &opts));
    drop(rt);
    server.stop()?;
    result
}

fn fd_count(pid: u32) -> Result<usize, String> {
    let dir = format!("/proc/{pid}/fd");
    Ok(std::fs::read_dir(&dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .count())
}

async fn soak(addr: SocketAddr, pid: u32, opts: &Options) -> Result<(), String> {
    let ramp = Instant::now();
    let (tally_tx, mut tally_rx) = mpsc::unbounded_channel::<&'static str>();
    let started: Vec<Result<mpsc::UnboundedSender<Cmd>, String>> =
        futures_util::stream::iter(0..opts.sessions)
            .map(|i| {
                let tally = tally_tx.clone();
                async move {
                    let mut s = Session::new(addr, i);
                    s.connect(None).await?;
                    let (tx, rx) = mpsc::unbounded_channel();
                    let offset = HEARTBEAT.mul_f64(i as f64 / opts.sessions as f64);
                    tokio::spawn(s.run(rx, offset, tally));
                    Ok(tx)
                }
            })
            // In order: `sessions[i]` is user soak-i, as the comparison expects.
            .buffered(64)
            .collect()
            .await;
    let sessions: Vec<_> = started.into_iter().collect::<Result<_, _>>()?;
    drop(tally_tx);
    let rss0 = crate::sys::rss_kib(pid)?;
    println!(
        "{}",
        serde_json::json!({ "minute": 0, "sessions": sessions.len(), "ramp_secs": ramp.elapsed().as_secs_f64(),
            "rss_kib": rss0, "fds": fd_count(pid)? })
    );
    // Fixed rates: one tick per 100 ms, each tick sending a tenth of each per-second rate (the
    // remainders carried so the rate is exact over a second).
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut due = [0u32; 3];
    let mut tally = Tally::default();
    let end = tokio::time::Instant::now() + Duration::from_secs(opts.minutes * 60);
    let mut next_minute = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut minute = 0;
    let rates = [opts.rates.relogins, opts.rates.publishes, opts.rates.drops];
    let mut n = 0u64;
    while tokio::time::Instant::now() < end {
        tick.tick().await;
        n += 1;
        for (k, rate) in rates.iter().enumerate() {
            // Over ten ticks, exactly `rate` commands of kind k.
            let target = (*rate as u64 * n / 10) as u32;
            let count = target - due[k];
            due[k] = target;
            for _ in 0..count {
                let s = &sessions[rng.below(sessions.len())];
                let cmd = match k {
                    0 => Cmd::Relogin,
                    1 => Cmd::TogglePublish,
                    _ => Cmd::DropLink,
                };
                let _ = s.send(cmd);
            }
        }
        if n % 10 == 0 {
            due = [0; 3];
            n = 0;
        }
        while let Ok(what) = tally_rx.try_recv() {
            tally.count(what);
        }
        if tokio::time::Instant::now() >= next_minute {
            minute += 1;
            next_minute += Duration::from_secs(60);
            println!(
                "{}",
                serde_json::json!({ "minute": minute, "rss_kib": crate::sys::rss_kib(pid)?,
                    "fds": fd_count(pid)?, "churn": &tally })
            );
        }
    }
    // Quiesce: every session's own commands are answered (first barrier), then every event
    // caused before that has reached its receivers (second barrier: a ping is answered after
    // every frame queued to that link before it).
    for _ in 0..2 {
        barrier(&sessions).await?;
    }
    while let Ok(what) = tally_rx.try_recv() {
        tally.count(what);
    }
    let diverged = compare(addr, &sessions).await?;
    println!(
        "{}",
        serde_json::json!({ "end": true, "sessions": sessions.len(), "diverged": diverged.len(),
            "diverged_examples": diverged.iter().take(5).collect::<Vec<_>>(),
            "rss_kib_start": rss0, "rss_kib_end": crate::sys::rss_kib(pid)?, "fds": fd_count(pid)?,
            "churn": &tally, "rates_per_sec": opts.rates, "replay_buffer": opts.replay_buffer })
    );
    Ok(())
}

impl Tally {
    fn count(&mut self, what: &str) {
        match what {
            "relogin" => self.relogins += 1,
            "publish" => self.publishes += 1,
            "unpublish" => self.unpublishes += 1,
            "drop" => self.drops += 1,
            "replay" => self.resumed_replay += 1,
            "snapshot" => self.resumed_snapshot += 1,
            _ => self.resumed_fresh += 1,
        }
    }
}

async fn barrier(sessions: &[mpsc::UnboundedSender<Cmd>]) -> Result<(), String> {
    let mut waits = Vec::new();
    for s in sessions {
        let (tx, rx) = oneshot::channel();
        s.send(Cmd::Barrier(tx))
            .map_err(|_| "a session ended".to_string())?;
        waits.push(rx);
    }
    for w in waits {
        w.await.map_err(|_| "a session ended".to_string())?;
    }
    Ok(())
}

/// The sessions whose mirror differs from the server's room: "user-N: why" each.
async fn compare(
    addr: SocketAddr,
    sessions: &[mpsc::UnboundedSender<Cmd>],
) -> Result<Vec<String>, String> {
    let secret = crate::server::config(addr).admin_secret;
    let mut diverged = Vec::new();
    for (room_no, group) in sessions.chunks(ROOM_SIZE).enumerate() {
        let room = format!("soak-{room_no}");
        let (status, body) = roomlink_server::admin::request(
            addr,
            "GET",
            &format!("/admin/rooms/{room}"),
            Some(&secret),
            None,
        )
        .await
        .map_err(|e| format!("admin {room}: {e}"))?;
        let (users, streams) = if status == 404 {
            (BTreeMap::new(), BTreeMap::new())
        } else if status == 200 {
            room_lists(&body)?
        } else {
            return Err(format!("admin {room}: {status} {body}"));
        };
        for (k, s) in group.iter().enumerate() {
            let user = format!("soak-{}", room_no * ROOM_SIZE + k);
            let (tx, rx) = oneshot::channel();
            s.send(Cmd::Report(tx))
                .map_err(|_| "a session ended".to_string())?;
            let m = rx.await.map_err(|_| "a session ended".to_string())?;
            let others: BTreeSet<String> = users.keys().filter(|u| **u != user).cloned().collect();
            let other_streams: BTreeSet<String> = streams
                .iter()
                .filter(|(_, owner)| **owner != user)
                .map(|(id, _)| id.clone())
                .collect();
            let own: BTreeSet<String> = streams
                .iter()
                .filter(|(_, owner)| **owner == user)
                .map(|(id, _)| id.clone())
                .collect();
            if let Some(why) = m.broken {
                diverged.push(format!("{user}: {why}"));
            } else if !users.contains_key(&user) {
                diverged.push(format!("{user}: not in the server's room"));
            } else if m.users != others || m.streams != other_streams || m.own_streams != own {
                diverged.push(format!(
                    "{user}: users {:?} vs {:?}, streams {:?} vs {:?}, own {:?} vs {:?}",
                    m.users, others, m.streams, other_streams, m.own_streams, own
                ));
            }
        }
    }
    Ok(diverged)
}

/// (user → name, stream → publisher) of an admin room body.
type Lists = (BTreeMap<String, String>, BTreeMap<String, String>);

fn room_lists(body: &str) -> Result<Lists, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("admin body: {e}"))?;
    let users = v["users"]
        .as_array()
        .ok_or("admin body: no users")?
        .iter()
        .filter_map(|u| Some((u["user_id"].as_str()?.to_owned(), String::new())))
        .collect();
    let streams = v["streams"]
        .as_array()
        .ok_or("admin body: no streams")?
        .iter()
        .filter_map(|s| {
            Some((
                s["stream_id"].as_str()?.to_owned(),
                s["user"]["user_id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    Ok((users, streams))
}

struct Session {
    addr: SocketAddr,
    room: String,
    user: String,
    ws: Option<member::Ws>,
    session_id: String,
    seq: u64,
    mirror: Mirror,
    /// Publishes so far (names each new stream uniquely).
    published: u64,
    /// Pings not yet answered: a barrier is passed only when all are.
    pings_out: u64,
}

impl Session {
    fn new(addr: SocketAddr, i: usize) -> Session {
        Session {
            addr,
            room: format!("soak-{}", i / ROOM_SIZE),
            user: format!("soak-{i}"),
            ws: None,
            session_id: String::new(),
            seq: 0,
            mirror: Mirror::default(),
            published: 0,
            pings_out: 0,
        }
    }

    fn login(&self, resume: Option<Resume>) -> roomlink::protocol::Login {
        let mut login = member::login(&self.room, &self.user, true);
        login.resume = resume;
        login.streams = self
            .mirror
            .own_streams
            .iter()
            .map(|id| PublishedStream {
                stream_id: id.clone(),
                extra_info: String::new(),
            })
            .collect();
        login
    }

    /// A new link whose hello logs in (or resumes); returns how the server answered.
    async fn connect(&mut self, resume: Option<Resume>) -> Result<&'static str, String> {
        let login = self.login(resume);
        let mut ws = member::connect(self.addr, None, vec![login]).await?;
        let answer = loop {
            let frame = decode(&member::next_text(&mut ws).await?)?;
            if let Some(a) = self.answer(frame)? {
                break a;
            }
        };
        self.ws = Some(ws);
        self.pings_out = 0;
        Ok(answer)
    }

    /// Applies a login's answer (`Some`: "fresh", "replay" or "snapshot"); other frames before it
    /// belong to an earlier session and are skipped.
    fn answer(&mut self, frame: ServerFrame) -> Result<Option<&'static str>, String> {
        match frame {
            ServerFrame::Joined {
                session_id,
                seq,
                snapshot,
                ..
            } => {
                self.session_id = session_id;
                self.seq = seq;
                self.reset(snapshot);
                Ok(Some("fresh"))
            }
            ServerFrame::Resumed {
                events,
                snapshot,
                seq,
                ..
            } => {
                let how = if let Some(s) = snapshot {
                    // The snapshot replaces what was missed: the seq jumps to the server's.
                    self.reset(s);
                    "snapshot"
                } else {
                    for e in events {
                        self.apply(e.seq, e.seq, e.event);
                    }
                    // A replay must bring the mirror exactly to the server's seq.
                    if self.seq != seq {
                        self.mirror.broken =
                            Some(format!("replayed to {}, resumed at {seq}", self.seq));
                    }
                    "replay"
                };
                self.seq = seq;
                Ok(Some(how))
            }
            ServerFrame::LoginFailed { code, .. } => {
                Err(format!("{}: login failed {code:?}", self.user))
            }
            _ => Ok(None),
        }
    }

    fn reset(&mut self, s: Snapshot) {
        self.mirror.users = s.users.into_iter().map(|u| u.user_id).collect();
        self.mirror.streams = s.streams.into_iter().map(|s| s.stream_id).collect();
    }

    /// Applies events `first..=last` (one frame, maybe coalesced).
    fn apply(&mut self, first: u64, last: u64, event: RoomEvent) {
        if first <= self.seq {
            // Already applied (a replay overlapping what arrived before the drop).
            return;
        }
        if first != self.seq + 1 && self.mirror.broken.is_none() {
            self.mirror.broken = Some(format!("gap: at {}, got {first}", self.seq));
        }
        self.seq = last;
        let m = &mut self.mirror;
        match event {
            RoomEvent::UserAdd { users } => m.users.extend(users.into_iter().map(|u| u.user_id)),
            RoomEvent::UserDelete { users } => {
                for u in users {
                    m.users.remove(&u.user_id);
                }
            }
            RoomEvent::StreamAdd { streams } => {
                m.streams.extend(streams.into_iter().map(|s| s.stream_id))
            }
            RoomEvent::StreamDelete { streams, .. } => {
                for s in streams {
                    m.streams.remove(&s.stream_id);
                }
            }
            _ => {}
        }
    }

    /// Handles one frame of the open link; true once every ping sent has been answered.
    fn on_frame(&mut self, frame: ServerFrame) -> Result<bool, String> {
        match frame {
            ServerFrame::Event {
                first_seq, event, ..
            } => {
                self.apply(first_seq.unwrap_or(event.seq), event.seq, event.event);
                Ok(false)
            }
            ServerFrame::Pong => {
                self.pings_out = self.pings_out.saturating_sub(1);
                Ok(self.pings_out == 0)
            }
            ServerFrame::Kicked { code, .. } => {
                self.mirror.broken = Some(format!("kicked {code:?}"));
                Ok(false)
            }
            ServerFrame::Bye { code, .. } => Err(format!("bye {code:?}")),
            _ => Ok(false),
        }
    }

    async fn ping(&mut self) -> Result<(), String> {
        self.pings_out += 1;
        self.send(ClientFrame::Ping).await
    }

    async fn send(&mut self, frame: ClientFrame) -> Result<(), String> {
        let ws = self.ws.as_mut().ok_or("no link")?;
        ws.send(Message::text(frame.encode()))
            .await
            .map_err(|e| format!("send: {e}"))
    }

    /// Reads frames until one satisfies `done` (an answer to a login on this link, or a pong).
    async fn read_until(
        &mut self,
        mut done: impl FnMut(&mut Session, ServerFrame) -> Result<bool, String>,
    ) -> Result<(), String> {
        loop {
            let ws = self.ws.as_mut().ok_or("no link")?;
            let frame = decode(&member::next_text(ws).await?)?;
            if done(self, frame)? {
                return Ok(());
            }
        }
    }

    async fn resume(&mut self) -> Result<&'static str, String> {
        self.ws = None;
        let resume = Resume {
            session_id: self.session_id.clone(),
            last_seq: self.seq,
        };
        self.connect(Some(resume)).await
    }

    async fn command(
        &mut self,
        cmd: Cmd,
        tally: &mpsc::UnboundedSender<&'static str>,
    ) -> Result<(), String> {
        match cmd {
            Cmd::Relogin => {
                self.send(ClientFrame::Logout {
                    room_id: self.room.clone(),
                    session_id: None,
                    token: None,
                })
                .await?;
                self.mirror.own_streams.clear();
                let login = self.login(None);
                self.send(ClientFrame::Login(login)).await?;
                // Events of the old session still in flight are skipped until `joined`; pongs
                // still count (a barrier would otherwise wait for one that already came).
                self.read_until(|s, f| {
                    if f == ServerFrame::Pong {
                        s.pings_out = s.pings_out.saturating_sub(1);
                    }
                    Ok(s.answer(f)?.is_some())
                })
                .await?;
                let _ = tally.send("relogin");
            }
            Cmd::TogglePublish => {
                if let Some(id) = self.mirror.own_streams.pop_first() {
                    self.send(ClientFrame::UnpublishStream {
                        room_id: self.room.clone(),
                        stream_id: id,
                    })
                    .await?;
                    let _ = tally.send("unpublish");
                } else {
                    self.published += 1;
                    let id = format!("{}-s{}", self.user, self.published);
                    self.mirror.own_streams.insert(id.clone());
                    self.send(ClientFrame::PublishStream {
                        room_id: self.room.clone(),
                        stream_id: id,
                        extra_info: String::new(),
                    })
                    .await?;
                    let _ = tally.send("publish");
                }
            }
            Cmd::DropLink => {
                let _ = tally.send("drop");
                let how = self.resume().await?;
                let _ = tally.send(how);
            }
            Cmd::Barrier(done) => {
                // A link the server closes meanwhile is resumed and the barrier tried again.
                loop {
                    let r = match self.ping().await {
                        Ok(()) => self.read_until(|s, f| s.on_frame(f)).await,
                        Err(e) => Err(e),
                    };
                    match r {
                        Ok(()) => break,
                        Err(e) => {
                            log::warn!("{}: {e} in a barrier; resuming", self.user);
                            let how = self.resume().await?;
                            let _ = tally.send(how);
                        }
                    }
                }
                let _ = done.send(());
            }
            Cmd::Report(out) => {
                let _ = out.send(self.mirror.clone());
            }
        }
        Ok(())
    }

    /// Heartbeats, applies frames and carries out the driver's commands until the driver is gone.
    /// A link the server closes is resumed, as the engine would.
    async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        offset: Duration,
        tally: mpsc::UnboundedSender<&'static str>,
    ) {
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + offset, HEARTBEAT);
        loop {
            let step: Result<(), String> = tokio::select! {
                _ = beat.tick() => self.ping().await,
                cmd = cmds.recv() => match cmd {
                    Some(cmd) => self.command(cmd, &tally).await,
                    None => return,
                },
                text = async { member::next_text(self.ws.as_mut().expect("a link")).await } => {
                    match text.and_then(|t| decode(&t)) {
                        Ok(frame) => self.on_frame(frame).map(|_| ()),
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = step {
                log::warn!("{}: {e}; resuming", self.user);
                match self.resume().await {
                    Ok(how) => {
                        let _ = tally.send(how);
                    }
                    Err(e) => {
                        self.mirror.broken = Some(format!("could not resume: {e}"));
                        log::warn!("{}: {e}", self.user);
                        // Keep answering the driver (reports) without a link.
                        while let Some(cmd) = cmds.recv().await {
                            match cmd {
                                Cmd::Report(out) => {
                                    let _ = out.send(self.mirror.clone());
                                }
                                Cmd::Barrier(done) => {
                                    let _ = done.send(());
                                }
                                _ => {}
                            }
                        }
                        return;
                    }
                }
            }
        }
    }
}

fn decode(text: &str) -> Result<ServerFrame, String> {
    ServerFrame::decode(text, MAX_FRAME).map_err(|e| format!("decode: {e}"))
}

/// A small deterministic generator: which session gets each command (no crate needed for that).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
