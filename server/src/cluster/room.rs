//! One task per room a node serves: it appends the node's commands to the room's log, reads the
//! log from its own offset and applies it to the node's replica, and fires the room's timers by
//! appending ticks.
//!
//! One task per room keeps one connection's commands in the order they were sent, and a room's
//! entries applied in log order, without a lock held across Redis I/O. A missed doorbell costs
//! nothing but latency: every wake-up reads from the offset, whatever woke it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use redis::Value;
use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;
use roomlink_server_core::RoomInfo;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

use super::command::Command;
use super::replica::{Replica, ReplicaSnapshot};
use super::{Inner, keys, lock, scripts};
use crate::registry::ConnHandle;

/// Entries read per `XRANGE`.
const READ_BATCH: usize = 512;
/// Commands appended per script call.
const APPEND_BATCH: usize = 256;
/// Backoff while Redis is unreachable.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// A deadline that a tick did not clear (the log vanished under the replica) is tried again
/// after this long instead of at once.
const TICK_AGAIN: Duration = Duration::from_secs(1);

/// What the node asks of a room's task.
pub enum Op {
    Append {
        cmd: Command,
        failure: Failure,
        done: Done,
    },
    /// The room as the replica has it once caught up (`None`: the store was unreachable).
    Info(oneshot::Sender<Option<Option<RoomInfo>>>),
    /// Entries a doorbell carried: `entries` follow the entry `prev`.
    Heard {
        prev: String,
        entries: Vec<(String, String)>,
    },
}

/// Who waits for a command to be applied.
pub enum Done {
    /// An admin caller: the result of applying it (`None`: the store was unreachable, or the
    /// result was lost with a replaced replica).
    Admin(oneshot::Sender<Option<bool>>),
    /// The connection's next command waits for this one (`Inner::command_done`): one
    /// connection's commands are applied one at a time, in the order it sent them, whatever
    /// rooms they are for, so its answers come in that order, as from one server.
    Conn(crate::registry::ConnId),
}

impl Done {
    /// The command was applied (with an admin command's `result`), or will never be (`None`).
    fn complete(self, node: &Arc<Inner>, result: Option<bool>) {
        match self {
            Done::Admin(tx) => {
                let _ = tx.send(result);
            }
            Done::Conn(conn) => node.command_done(conn),
        }
    }
}

/// What to do with a command that could not be appended because Redis is unreachable.
pub enum Failure {
    /// A login: answer `LoginFailed{SERVER_UNAVAILABLE}` (the client retries).
    LoginFailed(ConnHandle),
    /// A room frame: answer `Error{SERVER_UNAVAILABLE}`; nothing changed.
    Error(ConnHandle),
    /// Must happen eventually (a logout, a closed connection): kept and appended once Redis is
    /// back, in order.
    Retry,
    /// An admin command: its caller is told.
    Admin,
}

/// How the node reaches a room's task.
pub struct Handle {
    pub ops: mpsc::UnboundedSender<Op>,
    /// Rung by the doorbell: read the log.
    pub bell: Arc<Notify>,
}

struct Pending {
    cmd: Command,
    failure: Failure,
    done: Done,
}

pub struct Task {
    node: Arc<Inner>,
    room_id: String,
    log_key: String,
    snap_key: String,
    /// `applied` of the replica when a snapshot was last stored or loaded.
    snapped: u64,
    ops: mpsc::UnboundedReceiver<Op>,
    bell: Arc<Notify>,
    replica: Replica,
    /// The ID of the last entry applied ("0-0" before any).
    offset: String,
    /// Commands not yet appended, oldest first.
    pending: VecDeque<Pending>,
    /// Entries this node appended that someone waits to see applied, by entry ID.
    waiters: HashMap<String, Done>,
    /// Doorbells with entries, not yet looked at.
    heard: Vec<(String, Vec<(String, String)>)>,
    /// Admin reads waiting for the replica to catch up.
    infos: Vec<oneshot::Sender<Option<Option<RoomInfo>>>>,
    /// `Some` while Redis is unreachable: when to try again, and the next backoff.
    retry: Option<(Instant, Duration)>,
    /// The timer deadline (unix ms) a tick is armed for, and when to try it.
    tick: Option<(u64, Instant)>,
    /// The last deadline a tick was appended for (to notice one that did not clear).
    ticked: Option<u64>,
}

fn unavailable_message() -> String {
    "the cluster store is unreachable; retry".to_string()
}

/// `XRANGE` replies as `[[id, [field, value, ...]], ...]`.
fn parse_entries(v: Value) -> Vec<(String, Option<String>)> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(mut pair) = item else {
            continue;
        };
        if pair.len() != 2 {
            continue;
        }
        let fields = pair.pop();
        let id = match pair.pop() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
            Some(Value::SimpleString(s)) => s,
            _ => continue,
        };
        let mut cmd = None;
        if let Some(Value::Array(f)) = fields {
            let mut it = f.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let (Value::BulkString(k), Value::BulkString(v)) = (k, v)
                    && k == b"c"
                {
                    cmd = Some(String::from_utf8_lossy(&v).into_owned());
                }
            }
        }
        out.push((id, cmd));
    }
    out
}

/// What the `READ` script found.
enum Read {
    Entries(Vec<(String, Option<String>)>),
    /// The offset's entry was trimmed below a newer snapshot.
    Trimmed,
    /// The offset's entry is gone and no newer snapshot explains it.
    Lost,
}

fn parse_read(v: Value) -> Read {
    let Value::Array(mut parts) = v else {
        return Read::Entries(Vec::new());
    };
    match parts.first() {
        Some(Value::Int(1)) => Read::Lost,
        Some(Value::Int(2)) => Read::Trimmed,
        _ => Read::Entries(parts.pop().map(parse_entries).unwrap_or_default()),
    }
}

/// Orders two stream IDs (`ms-seq`); "0-0" is before every entry.
fn id_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    parse(a).cmp(&parse(b))
}

/// The millisecond part of a stream ID: the entry's time.
fn id_ms(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

fn now_unix_ms() -> u64 {
    crate::token::now_unix_ms()
}

impl Task {
    pub fn new(node: Arc<Inner>, room_id: &str) -> (Handle, Task) {
        let (tx, rx) = mpsc::unbounded_channel();
        let bell = Arc::new(Notify::new());
        let replica = Replica::new(room_id, node.rules.clone());
        let task = Task {
            node,
            room_id: room_id.to_string(),
            log_key: keys::log(room_id),
            snap_key: keys::snapshot(room_id),
            snapped: 0,
            ops: rx,
            bell: bell.clone(),
            replica,
            offset: "0-0".to_string(),
            pending: VecDeque::new(),
            waiters: HashMap::new(),
            infos: Vec::new(),
            heard: Vec::new(),
            retry: None,
            tick: None,
            ticked: None,
        };
        (Handle { ops: tx, bell }, task)
    }

    pub async fn run(mut self) {
        let mut stop = self.node.stop.subscribe();
        // The replica starts from the room's snapshot, if any, then reads the log after it.
        if let Err(e) = self.load_snapshot().await {
            self.store_down("snapshot", &e);
        }
        self.catch_up().await;
        loop {
            if *stop.borrow() {
                return;
            }
            let retry_at = self.retry.map(|(at, _)| at);
            let tick_at = self.tick.map(|(_, at)| at);
            tokio::select! {
                _ = stop.changed() => return,
                op = self.ops.recv() => match op {
                    Some(op) => {
                        self.take(op);
                        while let Ok(op) = self.ops.try_recv() {
                            self.take(op);
                        }
                        if self.retry.is_none() {
                            // Entries heard of come before ours in the log: apply them first,
                            // so the append's reply usually follows on from the offset.
                            let heard = self.apply_heard();
                            let appended = self.flush().await;
                            if appended && heard && self.infos.is_empty() {
                                self.after_apply().await;
                            } else {
                                self.catch_up().await;
                            }
                        } else {
                            self.heard.clear();
                            self.fail_fast();
                        }
                    }
                    // The node dropped the handle (shutdown).
                    None => return,
                },
                _ = self.bell.notified() => self.catch_up().await,
                _ = sleep_until(retry_at) => {
                    self.retry_now();
                    self.flush().await;
                    self.heard.clear();
                    self.catch_up().await;
                }
                _ = sleep_until(tick_at) => self.fire_tick().await,
            }
            if self.retire().await {
                return;
            }
        }
    }

    fn take(&mut self, op: Op) {
        match op {
            // An admin command for a room that does not exist appends nothing (it would create
            // a log and list the room).
            Op::Append {
                failure: Failure::Admin,
                done,
                ..
            } if self.retry.is_none() && self.replica.info().is_none() => {
                done.complete(&self.node, Some(false));
            }
            Op::Append { cmd, failure, done } => {
                self.pending.push_back(Pending { cmd, failure, done })
            }
            Op::Info(tx) => self.infos.push(tx),
            Op::Heard { prev, entries } => self.heard.push((prev, entries)),
        }
    }

    /// Marks the store reachable again for one attempt (the backoff grows if it fails).
    fn retry_now(&mut self) {
        if let Some((at, backoff)) = self.retry.as_mut() {
            *at = Instant::now() + *backoff;
        }
    }

    fn store_down(&mut self, what: &str, e: &redis::RedisError) {
        let backoff = match self.retry {
            Some((_, b)) => (b * 2).min(RETRY_MAX),
            None => {
                // A node that is shutting down may lose its store first; that is no news.
                if !self.node.stopped.load(std::sync::atomic::Ordering::Acquire) {
                    log::warn!(
                        "room {}: cluster store unreachable ({what}): {e}",
                        self.room_id
                    );
                }
                RETRY_MIN
            }
        };
        self.retry = Some((Instant::now() + backoff, backoff));
        self.fail_fast();
    }

    fn store_up(&mut self) {
        if self.retry.take().is_some() {
            log::info!("room {}: cluster store reachable again", self.room_id);
        }
    }

    /// While the store is unreachable: everything that can be refused is refused now, so no
    /// client waits on it; what must happen eventually stays queued.
    fn fail_fast(&mut self) {
        let room_id = self.room_id.clone();
        let node = self.node.clone();
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            match &p.failure {
                Failure::Retry => {
                    self.pending.push_back(p);
                    continue;
                }
                Failure::LoginFailed(conn) => {
                    node.release_room(conn.id, &room_id);
                    conn.send(ServerFrame::LoginFailed {
                        room_id: room_id.clone(),
                        code: ErrorCode::SERVER_UNAVAILABLE,
                        message: unavailable_message(),
                    });
                }
                Failure::Error(conn) => conn.send(ServerFrame::Error {
                    room_id: Some(room_id.clone()),
                    code: ErrorCode::SERVER_UNAVAILABLE,
                    message: unavailable_message(),
                }),
                Failure::Admin => {}
            }
            p.done.complete(&node, None);
        }
        for tx in self.infos.drain(..) {
            let _ = tx.send(None);
        }
    }

    /// Appends every pending command, in order, in batches. True when the replica applied them
    /// right away (it was at the entry before them), so no read is needed for them.
    async fn flush(&mut self) -> bool {
        let mut caught_up = true;
        while !self.pending.is_empty() {
            let n = self.pending.len().min(APPEND_BATCH);
            let mut script = scripts::APPEND.prepare_invoke();
            script
                .key(&self.log_key)
                .key(keys::ROOMS)
                .key(keys::node_rooms(self.node.node()))
                .arg(&self.room_id)
                .arg(self.node.node());
            for p in self.pending.iter().take(n) {
                script.arg(p.cmd.encode());
            }
            let mut redis = self.node.redis.clone();
            match script
                .invoke_async::<(String, Vec<String>)>(&mut redis)
                .await
            {
                Ok((prev, ids)) => {
                    self.store_up();
                    let batch: Vec<Pending> = self.pending.drain(..n).collect();
                    if caught_up && prev == self.offset && ids.len() == batch.len() {
                        for (p, id) in batch.into_iter().zip(ids) {
                            self.waiters.insert(id.clone(), p.done);
                            self.apply_entry(id, Some(p.cmd));
                        }
                    } else {
                        caught_up = false;
                        for (p, id) in batch.into_iter().zip(ids) {
                            self.waiters.insert(id, p.done);
                        }
                    }
                }
                Err(e) => {
                    self.store_down("append", &e);
                    return false;
                }
            }
        }
        caught_up
    }

    /// Applies the entries doorbells carried, where they follow on from the offset. True when
    /// nothing is left that only a read can fill in.
    fn apply_heard(&mut self) -> bool {
        let mut complete = true;
        for (prev, entries) in std::mem::take(&mut self.heard) {
            let Some(last) = entries.last().map(|(id, _)| id.clone()) else {
                continue;
            };
            if id_cmp(&last, &self.offset) != std::cmp::Ordering::Greater {
                continue; // applied already (our own, or read)
            }
            if prev != self.offset {
                complete = false; // a gap: a doorbell was missed, or the log was read past it
                continue;
            }
            for (id, raw) in entries {
                let cmd = Command::decode(&raw).ok();
                self.apply_entry(id, cmd);
            }
        }
        complete
    }

    /// Applies one entry (`None`: unreadable, skipped), delivers its frames, then tells whoever
    /// waits for it, and moves the offset.
    fn apply_entry(&mut self, id: String, cmd: Option<Command>) {
        let mut out = Vec::new();
        self.replica.count_for(self.node.node());
        let result = match cmd {
            Some(cmd) => self.replica.apply(id_ms(&id), cmd, &mut out),
            None => {
                log::warn!("room {}: unreadable log entry {id} skipped", self.room_id);
                None
            }
        };
        self.count(&id);
        // The entry's frames go out before whoever waits for it is told (a connection's next
        // command must not overtake its answer).
        self.node.deliver(out);
        if let Some(done) = self.waiters.remove(&id) {
            done.complete(&self.node, Some(result.unwrap_or(false)));
        }
        self.offset = id;
    }

    /// Adds what entry `id` counted to the node's counts, unless the node counted it before (a
    /// room served again re-applies the entries after its snapshot).
    fn count(&mut self, id: &str) {
        let counts = self.replica.take_counts();
        if counts.is_zero() {
            return;
        }
        let mut c = lock(&self.node.counts);
        let done = c
            .last_counted
            .get(&self.room_id)
            .is_some_and(|last| id_cmp(id, last) != std::cmp::Ordering::Greater);
        if !done {
            c.total.add(&counts);
            c.last_counted.insert(self.room_id.clone(), id.to_string());
        }
    }

    /// What follows applying entries: a snapshot if one is due, admin reads answered, the next
    /// timer armed, the room's gauges for `/metrics` updated (one pass over its sessions per
    /// batch of entries).
    async fn after_apply(&mut self) {
        let gauges = self.replica.gauges();
        lock(&self.node.counts)
            .gauges
            .insert(self.room_id.clone(), gauges);
        self.maybe_snapshot().await;
        // Built only for a waiting admin read: it copies every member of the room.
        if !self.infos.is_empty() {
            let info = self.replica.info();
            for tx in self.infos.drain(..) {
                let _ = tx.send(Some(info.clone()));
            }
        }
        self.arm_tick();
    }

    /// Reads and applies every entry after the offset.
    async fn catch_up(&mut self) {
        loop {
            let mut redis = self.node.redis.clone();
            let reply = scripts::READ
                .key(&self.log_key)
                .key(&self.snap_key)
                .arg(&self.offset)
                .arg(READ_BATCH)
                .invoke_async::<Value>(&mut redis)
                .await;
            let entries = match reply.map(parse_read) {
                Ok(Read::Entries(entries)) => entries,
                Ok(Read::Trimmed) => {
                    // This node fell a whole snapshot interval behind: what its connections
                    // missed is in their sessions' rings, which the snapshot holds; a resume
                    // replays it.
                    log::info!(
                        "room {}: fell behind the trimmed log; loading the snapshot",
                        self.room_id
                    );
                    match self.load_snapshot().await {
                        Ok(true) => self.node.close_connections_in(&self.room_id),
                        Ok(false) => self.log_lost(),
                        Err(e) => return self.store_down("snapshot", &e),
                    }
                    continue;
                }
                Ok(Read::Lost) => {
                    self.log_lost();
                    continue;
                }
                Err(e) => return self.store_down("read", &e),
            };
            self.store_up();
            let full = entries.len() == READ_BATCH;
            for (id, raw) in entries {
                let cmd = raw.as_deref().and_then(|r| Command::decode(r).ok());
                self.apply_entry(id, cmd);
            }
            if !full {
                break;
            }
        }
        self.after_apply().await;
    }

    /// Replaces the replica with the room's stored snapshot, if there is one newer than the
    /// offset. Ok(false): none.
    async fn load_snapshot(&mut self) -> Result<bool, redis::RedisError> {
        let mut redis = self.node.redis.clone();
        let (offset, data): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(&self.snap_key)
            .arg("offset")
            .arg("data")
            .query_async(&mut redis)
            .await?;
        let (Some(offset), Some(data)) = (offset, data) else {
            return Ok(false);
        };
        let snap = match serde_json::from_str::<ReplicaSnapshot>(&data) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("room {}: unreadable snapshot ignored: {e}", self.room_id);
                return Ok(false);
            }
        };
        self.replica = Replica::restore(&self.room_id, self.node.rules.clone(), snap);
        self.snapped = self.replica.applied();
        self.offset = offset;
        self.ticked = None;
        // Results of our own entries inside the snapshot are unknown now.
        for (_, done) in self.waiters.drain() {
            done.complete(&self.node, None);
        }
        Ok(true)
    }

    /// Every `snapshot_every` entries: store the replica, so the log can be trimmed.
    async fn maybe_snapshot(&mut self) {
        let every = self.node.snapshot_every.max(1);
        if self.replica.applied() / every <= self.snapped / every {
            return;
        }
        let data = match serde_json::to_string(&self.replica.snapshot()) {
            Ok(d) => d,
            Err(_) => return,
        };
        let mut redis = self.node.redis.clone();
        let stored = scripts::SNAPSHOT
            .key(&self.snap_key)
            .key(&self.log_key)
            .arg(&self.offset)
            .arg(data)
            .invoke_async::<i64>(&mut redis)
            .await;
        match stored {
            Ok(_) => self.snapped = self.replica.applied(),
            Err(e) => self.store_down("snapshot", &e),
        }
    }

    /// The log no longer holds what the replica was built from: Redis lost its data. Start over
    /// from what the log holds now, and close this node's connections in the room so their
    /// clients log in again: their resumes find no session in the new log and are answered
    /// with a fresh session and a new room incarnation (`room_session_id`), so they resync from
    /// a snapshot instead of trusting sequence numbers of a log that is gone.
    fn log_lost(&mut self) {
        log::warn!(
            "room {}: the cluster store lost this room's log; its members here resync",
            self.room_id
        );
        self.replica = Replica::new(&self.room_id, self.node.rules.clone());
        self.snapped = 0;
        self.offset = "0-0".to_string();
        self.tick = None;
        self.ticked = None;
        for (_, done) in self.waiters.drain() {
            done.complete(&self.node, None);
        }
        self.node.close_connections_in(&self.room_id);
    }

    /// Arms the wake-up for the replica's next timer (by this node's clock; the tick script
    /// checks Redis's).
    fn arm_tick(&mut self) {
        self.tick = self.replica.next_deadline_ms().map(|due| {
            let wait = if self.ticked == Some(due) {
                TICK_AGAIN
            } else {
                Duration::from_millis(due.saturating_sub(now_unix_ms()))
            };
            (due, Instant::now() + wait)
        });
    }

    async fn fire_tick(&mut self) {
        let Some((due, _)) = self.tick.take() else {
            return;
        };
        let mut redis = self.node.redis.clone();
        let wait = scripts::TICK
            .key(&self.log_key)
            .arg(due)
            .arg(&self.room_id)
            .invoke_async::<u64>(&mut redis)
            .await;
        match wait {
            // Redis's clock is behind ours: wait for it.
            Ok(ms) if ms > 0 => {
                self.tick = Some((due, Instant::now() + Duration::from_millis(ms)));
            }
            Ok(_) => {
                self.store_up();
                self.ticked = Some(due);
                self.catch_up().await;
            }
            Err(e) => {
                // Timers wait for the store: nobody can expire anyone while it is away.
                self.store_down("tick", &e);
                self.tick = Some((due, Instant::now() + RETRY_MAX));
            }
        }
    }

    /// Ends the task when the room is empty and nothing is queued: the node stops serving it.
    /// Returns whether the task ended.
    async fn retire(&mut self) -> bool {
        if !self.replica.is_empty()
            || !self.pending.is_empty()
            || !self.waiters.is_empty()
            || !self.infos.is_empty()
        {
            return false;
        }
        // Forget the room in the node's set first: if an op arrives meanwhile, this task stays
        // and its next append adds the room back.
        let mut redis = self.node.redis.clone();
        let srem: Result<i64, _> = redis::cmd("SREM")
            .arg(keys::node_rooms(self.node.node()))
            .arg(&self.room_id)
            .query_async(&mut redis)
            .await;
        if srem.is_err() {
            return false;
        }
        let mut rooms = lock(&self.node.rooms);
        if !self.ops.is_empty() {
            return false;
        }
        rooms.remove(&self.room_id);
        lock(&self.node.counts).gauges.remove(&self.room_id);
        true
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_order_by_time_then_sequence() {
        use std::cmp::Ordering::*;
        assert_eq!(id_cmp("10-2", "9-5"), Greater);
        assert_eq!(id_cmp("10-2", "10-10"), Less);
        assert_eq!(id_cmp("0-0", "1-0"), Less);
        assert_eq!(id_cmp("7-1", "7-1"), Equal);
    }

    #[test]
    fn stream_ids_carry_their_time() {
        assert_eq!(id_ms("1700000000123-4"), 1_700_000_000_123);
        assert_eq!(id_ms("garbage"), 0);
    }

    #[test]
    fn xrange_replies_parse() {
        let v = Value::Array(vec![Value::Array(vec![
            Value::BulkString(b"5-0".to_vec()),
            Value::Array(vec![
                Value::BulkString(b"c".to_vec()),
                Value::BulkString(br#"{"t":"tick"}"#.to_vec()),
            ]),
        ])]);
        assert_eq!(
            parse_entries(v),
            vec![("5-0".to_string(), Some(r#"{"t":"tick"}"#.to_string()))]
        );
    }
}
