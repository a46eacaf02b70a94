//! The cluster backend: several `roomlink serve` nodes sharing rooms through Redis
//! (`--redis`, `docs/PROTOCOL.md` "Cluster").
//!
//! State-machine replication of the server's rules (docs/design/cluster.md): every change to a
//! room is a command appended to the room's Redis Stream by whichever node received it; every
//! node that serves the room applies the room's log in order to its own [`replica::Replica`]
//! (the same deterministic `roomlink-server-core`), and sends the resulting frames to its own
//! connections only. No room is homed on a node, so a node's death loses nothing the log holds:
//! its clients resume on another node, which reads the log and finds their sessions.
//!
//! Per node: one task per served room ([`room`]: appends, reads, ticks), one doorbell
//! subscriber and one liveness/reaper task ([`node`]). Heartbeats stay node-local: Redis is
//! written per room change and once per refresh interval per node, never per ping.

mod command;
mod keys;
mod node;
mod replica;
mod room;
mod scripts;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::{Login, ServerFrame};
use roomlink_server_core::{Authenticator, Counts, Gauges, IdSource, RoomInfo, Rules};
use tokio::sync::{mpsc, oneshot};

use crate::config::ServerConfig;
use crate::id::RandomIds;
use crate::registry::{AdminFuture, ConnEnd, ConnHandle, ConnId, RoomRegistry, Unavailable};
use crate::token::{self, TokenVerifier};
use command::{ClusterConn, Command, Verdict, cluster_conn, local_of, node_of};
use room::{Failure, Op};

/// How long a Redis command may take before the store counts as unreachable for it.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a node refreshes its liveness key, and how long the key lives: a node is found
/// dead within `ttl + refresh` of its last refresh, well inside the heartbeat timeout its
/// sessions get from then on.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    refresh: Duration,
    ttl: Duration,
}

impl Liveness {
    fn for_heartbeat(heartbeat_timeout: Duration) -> Self {
        Liveness {
            refresh: heartbeat_timeout / 6,
            ttl: heartbeat_timeout / 3,
        }
    }
}

/// What every task of the node shares.
struct Inner {
    /// For the doorbell's own connection (RESP3: its messages are handled as they are parsed).
    bell_client: redis::Client,
    redis: ConnectionManager,
    rules: Rules,
    verifier: TokenVerifier,
    liveness: Liveness,
    /// A room's replica is stored every this many entries, and its log trimmed.
    snapshot_every: u64,
    max_rooms_per_conn: usize,
    /// This node's number (from `rl:node:seq`); replaced if the node was reaped while cut off.
    node: AtomicU64,
    /// Tasks of the rooms this node serves.
    rooms: Mutex<HashMap<String, room::Handle>>,
    /// Connections of this node that sent a room frame, and the rooms they named.
    conns: Mutex<HashMap<ConnId, Local>>,
    /// What this node's replicas counted for its connections (see `metrics` in `room.rs`).
    counts: Mutex<Counted>,
    /// Set at shutdown: tasks end.
    stopped: AtomicBool,
    stop: tokio::sync::watch::Sender<bool>,
}

/// A node's counts: the sum over its replicas, and per room the last entry counted (a room
/// served again replays entries it applied before; they are not counted twice) and the room's
/// gauges now (dropped when the node stops serving it).
#[derive(Default)]
struct Counted {
    total: Counts,
    last_counted: HashMap<String, String>,
    gauges: HashMap<String, Gauges>,
}

struct Local {
    handle: ConnHandle,
    /// Room → the user this connection logged in as there (empty before a login): a renewal's
    /// token must name that user.
    rooms: BTreeMap<String, String>,
    /// Rooms where this connection holds a session or has a login in flight, for the room cap
    /// per connection. Kept from the frames this node sends it (a failed login, a kick or a
    /// moved session gives the room back), since the sessions live in the rooms' replicas.
    held: BTreeSet<String>,
    /// Its commands not yet handed to their rooms, oldest first; `busy` while one is in flight.
    /// One at a time, in order, so its answers come in the order it sent the frames.
    queue: VecDeque<(String, Command, Failure)>,
    busy: bool,
    /// The connection is gone: the entry goes once `queue` is drained.
    ended: bool,
}

impl Local {
    fn new(handle: &ConnHandle) -> Self {
        Local {
            handle: handle.clone(),
            rooms: BTreeMap::new(),
            held: BTreeSet::new(),
            queue: VecDeque::new(),
            busy: false,
            ended: false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn node(&self) -> u64 {
        self.node.load(Ordering::Acquire)
    }

    /// Hands the frames an entry decided to their connections, those that are this node's. One
    /// lock for the whole batch: a busy room's entry has a frame for every member.
    fn deliver(&self, frames: Vec<(ClusterConn, ServerFrame)>) {
        let me = self.node();
        let mut conns = lock(&self.conns);
        for (conn, frame) in frames {
            if node_of(conn) != me {
                continue;
            }
            let Some(l) = conns.get_mut(&local_of(conn)) else {
                continue;
            };
            match &frame {
                ServerFrame::LoginFailed { room_id, .. }
                | ServerFrame::Kicked { room_id, .. }
                | ServerFrame::SessionMoved { room_id } => {
                    l.held.remove(room_id);
                }
                _ => {}
            }
            l.handle.send(frame);
        }
    }

    /// The task of `room_id`, started if the node does not serve the room yet; `op` is queued
    /// under the same lock, so a task that is ending never drops it (see `room::Task::retire`).
    fn send_op(self: &Arc<Self>, room_id: &str, op: Op) {
        let mut rooms = lock(&self.rooms);
        let op = match rooms.get(room_id) {
            Some(h) => match h.ops.send(op) {
                Ok(()) => return,
                // The task ended without retiring (shutdown): start afresh.
                Err(mpsc::error::SendError(op)) => {
                    rooms.remove(room_id);
                    op
                }
            },
            None => op,
        };
        let _ = self.start_room(&mut rooms, room_id).ops.send(op);
    }

    fn start_room<'a>(
        self: &Arc<Self>,
        rooms: &'a mut HashMap<String, room::Handle>,
        room_id: &str,
    ) -> &'a room::Handle {
        let (handle, task) = room::Task::new(self.clone(), room_id);
        tokio::spawn(task.run());
        rooms.entry(room_id.to_string()).or_insert(handle)
    }

    /// Starts serving `room_id` if the node does not yet (a task that reads its log and fires
    /// its timers).
    fn serve(self: &Arc<Self>, room_id: &str) {
        let mut rooms = lock(&self.rooms);
        if !rooms.contains_key(room_id) {
            self.start_room(&mut rooms, room_id);
        }
    }

    /// Wakes every room task to read its log (after a missed doorbell).
    fn ring_all(&self) {
        for h in lock(&self.rooms).values() {
            h.bell.notify_one();
        }
    }

    /// A doorbell: `room` alone (read the log), or `room \n node \n prev \n id \n command ...`
    /// from an append by `node` (the entries themselves, which a room task at `prev` applies
    /// without a read). The appending node's own doorbell is dropped here: it applied its
    /// entries from the append's reply, or reads them (`room::Task::flush`), so waking its room
    /// task would only compete for the CPU with the other nodes' delivery.
    fn bell(&self, payload: &str) {
        let mut parts = payload.split('\n');
        let room_id = parts.next().unwrap_or_default();
        let from = parts.next();
        if from.and_then(|n| n.parse::<u64>().ok()) == Some(self.node()) {
            return;
        }
        let rooms = lock(&self.rooms);
        let Some(h) = rooms.get(room_id) else {
            return;
        };
        let Some(prev) = parts.next() else {
            h.bell.notify_one();
            return;
        };
        let mut entries = Vec::new();
        while let (Some(id), Some(cmd)) = (parts.next(), parts.next()) {
            entries.push((id.to_string(), cmd.to_string()));
        }
        let op = room::Op::Heard {
            prev: prev.to_string(),
            entries,
        };
        if h.ops.send(op).is_err() {
            h.bell.notify_one();
        }
    }

    /// Closes every local connection (the node was declared dead while cut off from Redis: its
    /// sessions were detached cluster-wide, so its clients must resume, here or elsewhere).
    fn close_all_connections(&self) {
        let conns = std::mem::take(&mut *lock(&self.conns));
        log::warn!(
            "this node was reaped while cut off from the cluster store; closing its {} connections so they resume",
            conns.len()
        );
        for l in conns.values() {
            l.handle.kill();
        }
    }
}

impl Inner {
    /// Queues a command of local connection `conn` for `room_id`: handed to the room's task
    /// at once if the connection has none in flight, else after the ones before it are applied.
    fn submit(self: &Arc<Self>, conn: ConnId, room_id: &str, cmd: Command, failure: Failure) {
        let mut conns = lock(&self.conns);
        let Some(l) = conns.get_mut(&conn) else {
            return;
        };
        l.queue.push_back((room_id.to_string(), cmd, failure));
        if !l.busy {
            self.dispatch_next(&mut conns, conn);
        }
    }

    /// The connection's command in flight was applied (or never will be): hand over the next.
    fn command_done(self: &Arc<Self>, conn: ConnId) {
        let mut conns = lock(&self.conns);
        self.dispatch_next(&mut conns, conn);
    }

    /// Forgets an ended connection that has nothing queued or in flight.
    fn command_done_if_idle(self: &Arc<Self>, conn: ConnId) {
        let mut conns = lock(&self.conns);
        if conns
            .get(&conn)
            .is_some_and(|l| !l.busy && l.queue.is_empty() && l.ended)
        {
            conns.remove(&conn);
        }
    }

    fn dispatch_next(self: &Arc<Self>, conns: &mut HashMap<ConnId, Local>, conn: ConnId) {
        let Some(l) = conns.get_mut(&conn) else {
            return;
        };
        match l.queue.pop_front() {
            Some((room_id, cmd, failure)) => {
                l.busy = true;
                let op = Op::Append {
                    cmd,
                    failure,
                    done: room::Done::Conn(conn),
                };
                // Lock order: `conns`, then `rooms` (nothing takes them the other way round).
                self.send_op(&room_id, op);
            }
            None => {
                l.busy = false;
                if l.ended {
                    conns.remove(&conn);
                }
            }
        }
    }

    /// A login of `conn` in `room_id` failed: the room no longer counts toward its cap.
    fn release_room(&self, conn: ConnId, room_id: &str) {
        if let Some(l) = lock(&self.conns).get_mut(&conn) {
            l.held.remove(room_id);
        }
    }

    /// Closes this node's connections that named `room_id` (see `room::Task::log_lost`). They
    /// stay registered until their tasks report the end, so their other rooms hear of it too.
    fn close_connections_in(&self, room_id: &str) {
        for l in lock(&self.conns).values() {
            if l.rooms.contains_key(room_id) {
                l.handle.kill();
            }
        }
    }
}

/// The cluster [`RoomRegistry`]. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct ClusterRegistry {
    inner: Arc<Inner>,
}

impl ClusterRegistry {
    /// Connects to Redis at `url`, joins the cluster as a new node and starts its background
    /// tasks (on the current tokio runtime).
    pub async fn connect(url: &str, config: &ServerConfig) -> Result<Self, redis::RedisError> {
        let (client, bell_client) = clients(url, config.redis_ca_pem.as_deref())?;
        let cm_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(STORE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let mut redis = client.get_connection_manager_with_config(cm_config).await?;
        let liveness = Liveness::for_heartbeat(config.heartbeat_timeout);
        let node = node::register(&mut redis, liveness).await?;
        log::info!("joined the cluster as node {node}");
        let (stop, _) = tokio::sync::watch::channel(false);
        let inner = Arc::new(Inner {
            bell_client,
            redis,
            rules: crate::memory::rules(config),
            verifier: TokenVerifier::new(&config.token_secret, &config.app_id),
            liveness,
            snapshot_every: config.snapshot_every,
            max_rooms_per_conn: config.rates.max_rooms_per_conn,
            node: AtomicU64::new(node),
            rooms: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            counts: Mutex::new(Counted::default()),
            stopped: AtomicBool::new(false),
            stop,
        });
        tokio::spawn(node::doorbell(inner.clone()));
        tokio::spawn(node::liveness(inner.clone()));
        Ok(ClusterRegistry { inner })
    }

    /// This node's number in the cluster.
    pub fn node(&self) -> u64 {
        self.inner.node()
    }

    /// Registers `conn` as one of this node's and notes that it named `room_id` (logging in as
    /// `user`, for a login). Returns its cluster-wide ID and the user it logged in as there.
    fn local(&self, conn: &ConnHandle, room_id: &str, user: Option<&str>) -> (ClusterConn, String) {
        let mut conns = lock(&self.inner.conns);
        let l = conns.entry(conn.id).or_insert_with(|| Local::new(conn));
        let known = l.rooms.entry(room_id.to_string()).or_default();
        if let Some(u) = user.filter(|_| known.is_empty()) {
            *known = u.to_string();
        }
        (cluster_conn(self.inner.node(), conn.id), known.clone())
    }

    /// The room cap per connection: a login for one room more than the connection holds (or is
    /// logging in to) is refused with `TOO_MANY_ROOMS`, before anything is appended.
    fn admit_room(&self, conn: &ConnHandle, room_id: &str) -> bool {
        let mut conns = lock(&self.inner.conns);
        let l = conns.entry(conn.id).or_insert_with(|| Local::new(conn));
        if l.held.contains(room_id) {
            return true;
        }
        if l.held.len() >= self.inner.max_rooms_per_conn {
            let held = l.held.len();
            drop(conns);
            conn.send(ServerFrame::LoginFailed {
                room_id: room_id.to_string(),
                code: ErrorCode::TOO_MANY_ROOMS,
                message: format!(
                    "this connection holds sessions in {held} rooms, the most allowed"
                ),
            });
            return false;
        }
        l.held.insert(room_id.to_string());
        true
    }

    /// Queues a command of connection `conn` (see [`Inner::submit`]).
    fn append(&self, conn: ConnId, room_id: &str, cmd: Command, failure: Failure) {
        self.inner.submit(conn, room_id, cmd, failure);
    }

    fn admin(&self, room_id: &str, cmd: Command) -> AdminFuture<bool> {
        let (tx, rx) = oneshot::channel();
        self.inner.send_op(
            room_id,
            Op::Append {
                cmd,
                failure: Failure::Admin,
                done: room::Done::Admin(tx),
            },
        );
        Box::pin(async move { rx.await.ok().flatten().ok_or(Unavailable) })
    }

    fn info(&self, room_id: &str) -> oneshot::Receiver<Option<Option<RoomInfo>>> {
        let (tx, rx) = oneshot::channel();
        self.inner.send_op(room_id, Op::Info(tx));
        rx
    }
}

/// The clients for `url`: commands (RESP2, what the scripts' replies are parsed as), and the
/// doorbell (RESP3, so a subscription shares a multiplexed connection whose driver hands each
/// message on as it parses it, one task hop less than redis-rs's `PubSub`). Both with
/// `TCP_NODELAY`: a notification waits on every small write to Redis, and Nagle's algorithm
/// would hold one back behind an unacknowledged other (redis-rs leaves it off by default).
///
/// A `rediss://` Redis is verified against the system trust store, or only against `ca_pem`
/// when given (validate() made sure the URL is `rediss://` then).
fn clients(
    url: &str,
    ca_pem: Option<&[u8]>,
) -> Result<(redis::Client, redis::Client), redis::RedisError> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info()?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    let info = info.set_tcp_settings(tcp);
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(redis::ProtocolVersion::RESP3);
    let bell = info.clone().set_redis_settings(resp3);
    let open = |info: redis::ConnectionInfo| match ca_pem {
        Some(pem) => redis::Client::build_with_tls(
            info,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            },
        ),
        None => redis::Client::open(info),
    };
    Ok((open(info)?, open(bell)?))
}

fn now_unix_ms() -> u64 {
    token::now_unix_ms()
}

impl RoomRegistry for ClusterRegistry {
    fn login(&self, conn: &ConnHandle, mut login: Login) {
        let room_id = login.room_id.clone();
        if roomlink_proto::validate::room_id(&room_id).is_err() {
            // Not a key we would store; the core's answer needs no replica.
            conn.send(ServerFrame::LoginFailed {
                room_id,
                code: ErrorCode::ROOM_ID_INVALID,
                message: "invalid room ID".into(),
            });
            return;
        }
        if !self.admit_room(conn, &room_id) {
            return;
        }
        let (cc, _) = self.local(conn, &room_id, Some(&login.user.user_id));
        let verdict = Verdict::of(self.inner.verifier.verify(
            &login.token,
            &login.user.user_id,
            &room_id,
            now_unix_ms(),
        ));
        // The token has done its work; the log never stores it.
        login.token = String::new();
        let mut ids = RandomIds;
        let cmd = Command::Login {
            conn: cc,
            login: Box::new(login),
            auth: verdict,
            session_id: ids.session_id(),
            room_session_id: ids.room_session_id(),
        };
        self.append(conn.id, &room_id, cmd, Failure::LoginFailed(conn.clone()));
    }

    fn logout(
        &self,
        conn: &ConnHandle,
        room_id: &str,
        session_id: Option<&str>,
        token: Option<&str>,
    ) {
        let (cc, _) = self.local(conn, room_id, None);
        if session_id.is_none()
            && let Some(l) = lock(&self.inner.conns).get_mut(&conn.id)
        {
            l.held.remove(room_id);
        }
        // Only a logout by ID needs the proof; replicas compare its user with the session's.
        let proof = session_id
            .and(token)
            .and_then(|t| self.inner.verifier.user_for_room(t, room_id));
        let cmd = Command::Logout {
            conn: cc,
            session_id: session_id.map(str::to_string),
            proof,
        };
        self.append(conn.id, room_id, cmd, Failure::Retry);
    }

    fn renew_token(&self, conn: &ConnHandle, room_id: &str, tok: &str) {
        // The token must name the user this connection logged in as (one per room and
        // connection); without a login here the core answers ROOM_NOT_LOGGED_IN anyway.
        let (cc, uid) = self.local(conn, room_id, None);
        let verdict = if uid.is_empty() {
            Verdict::Invalid
        } else {
            Verdict::of(
                self.inner
                    .verifier
                    .verify(tok, &uid, room_id, now_unix_ms()),
            )
        };
        let cmd = Command::Renew {
            conn: cc,
            auth: verdict,
        };
        self.append(conn.id, room_id, cmd, Failure::Error(conn.clone()));
    }

    fn publish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str, extra_info: &str) {
        let (cc, _) = self.local(conn, room_id, None);
        let cmd = Command::Publish {
            conn: cc,
            stream_id: stream_id.to_string(),
            extra_info: extra_info.to_string(),
        };
        self.append(conn.id, room_id, cmd, Failure::Error(conn.clone()));
    }

    fn unpublish_stream(&self, conn: &ConnHandle, room_id: &str, stream_id: &str) {
        let (cc, _) = self.local(conn, room_id, None);
        let cmd = Command::Unpublish {
            conn: cc,
            stream_id: stream_id.to_string(),
        };
        self.append(conn.id, room_id, cmd, Failure::Error(conn.clone()));
    }

    fn connection_ended(&self, conn: ConnId, end: ConnEnd) {
        // The connection's entry stays until its queued commands are applied (the end goes in
        // behind them: a login still queued must not land after the end, on a dead connection).
        let rooms: Vec<String> = match lock(&self.inner.conns).get_mut(&conn) {
            Some(l) => {
                l.ended = true;
                l.rooms.keys().cloned().collect()
            }
            None => return,
        };
        let cc = cluster_conn(self.inner.node(), conn);
        let silent_for_ms = match end {
            ConnEnd::Closed { last_heard } => Some(
                Instant::now()
                    .saturating_duration_since(last_heard)
                    .as_millis() as u64,
            ),
            ConnEnd::Silent => None,
        };
        for room_id in rooms {
            let cmd = Command::ConnEnded {
                conn: cc,
                silent_for_ms,
            };
            self.append(conn, &room_id, cmd, Failure::Retry);
        }
        // No room named: nothing queued either; forget it now.
        self.inner.command_done_if_idle(conn);
    }

    fn kick(&self, room_id: &str, user_id: &str, reason: &str) -> AdminFuture<bool> {
        let cmd = Command::Kick {
            user_id: user_id.to_string(),
            reason: reason.to_string(),
        };
        self.admin(room_id, cmd)
    }

    fn close_room(&self, room_id: &str, reason: &str) -> AdminFuture<bool> {
        let cmd = Command::Close {
            reason: reason.to_string(),
        };
        self.admin(room_id, cmd)
    }

    fn rooms(&self) -> AdminFuture<Vec<RoomInfo>> {
        let this = self.clone();
        Box::pin(async move {
            let mut redis = this.inner.redis.clone();
            let ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(keys::ROOMS)
                .query_async(&mut redis)
                .await
                .map_err(|e| {
                    log::warn!("admin room list: cluster store unreachable: {e}");
                    Unavailable
                })?;
            let waits: Vec<_> = ids.iter().map(|id| this.info(id)).collect();
            let mut out = Vec::new();
            for w in waits {
                match w.await.ok().flatten() {
                    Some(Some(info)) => out.push(info),
                    Some(None) => {}
                    None => return Err(Unavailable),
                }
            }
            out.sort_by(|a, b| a.room_id.cmp(&b.room_id));
            Ok(out)
        })
    }

    fn room(&self, room_id: &str) -> AdminFuture<Option<RoomInfo>> {
        let rx = self.info(room_id);
        Box::pin(async move { rx.await.ok().flatten().ok_or(Unavailable) })
    }

    fn counts(&self) -> (Counts, Gauges) {
        let c = lock(&self.inner.counts);
        let gauges = c.gauges.values().fold(Gauges::default(), |a, g| Gauges {
            sessions: a.sessions + g.sessions,
            rooms: a.rooms + g.rooms,
        });
        (c.total.clone(), gauges)
    }

    fn clear(&self) {
        // Shutdown: the node stops; what it held stays in the cluster (its sessions detach when
        // a reaper finds the node gone, as for a crash). Graceful hand-over is the drain's job.
        self.inner.stopped.store(true, Ordering::Release);
        let _ = self.inner.stop.send(true);
        lock(&self.inner.conns).clear();
        lock(&self.inner.rooms).clear();
    }
}
