//! One node's copy of one room: the rules' core, fed the room's log in order.
//!
//! Determinism is what makes the copies agree: every input comes from the log, the time of an
//! entry is its stream ID's (Redis's) milliseconds, mapped onto a fixed instant so deadlines
//! compare the same everywhere, and what the appending node settled (token verdicts, minted IDs)
//! is handed to the core through [`Slot`] instead of being computed again.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;
use roomlink_server_core::{
    AuthError, Authenticator, ConnEnd, Counts, Gauges, Grant, IdSource, Now, Output, Owner,
    RoomInfo, Rooms, Rules,
};

use super::command::{ClusterConn, Command, LOCAL_BITS, node_of};

/// What the appending node settled for the entry being applied.
#[derive(Debug, Default)]
struct Settled {
    verdict: Option<Result<Grant, AuthError>>,
    session_id: Option<String>,
    room_session_id: Option<String>,
    /// A logout's proof: the user its token names.
    logout_user: Option<String>,
}

/// Shared between the replica and the core's injected [`Authenticator`] and [`IdSource`].
#[derive(Debug, Default, Clone)]
struct Slot(Arc<Mutex<Settled>>);

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Settled> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Authenticator for Slot {
    fn verify(&self, _: &str, user_id: &str, _: &str, _: u64) -> Result<Grant, AuthError> {
        // The core asks at most once per login, renewal or logout by ID, and only those carry
        // a verdict (or, for a logout, the user its token names).
        let mut settled = self.lock();
        if let Some(user) = settled.logout_user.take() {
            return if user == user_id {
                Ok(Grant { expires_at_ms: 0 })
            } else {
                Err(AuthError::Invalid)
            };
        }
        settled.verdict.take().unwrap_or(Err(AuthError::Invalid))
    }
}

impl IdSource for Slot {
    fn session_id(&mut self) -> String {
        self.lock().session_id.take().unwrap_or_default()
    }

    fn room_session_id(&mut self) -> String {
        self.lock().room_session_id.take().unwrap_or_default()
    }
}

/// The instant every replica maps unix ms 0 onto: deadlines are compared as offsets from it.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_at(unix_ms: u64) -> Now {
    Now {
        at: epoch() + Duration::from_millis(unix_ms),
        unix_ms,
    }
}

/// A frame for one connection, decided by applying an entry.
pub type Send = (ClusterConn, ServerFrame);

pub struct Replica {
    room_id: String,
    core: Rooms,
    slot: Slot,
    /// Entries applied since the log began (a snapshot carries it on), and the time of the
    /// last one.
    applied: u64,
    last_ms: u64,
}

/// A replica as data: what `rl:{ROOM}:snap` holds beside the offset it was taken at.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplicaSnapshot {
    applied: u64,
    last_ms: u64,
    core: roomlink_server_core::CoreSnapshot,
}

impl Replica {
    pub fn new(room_id: &str, rules: Rules) -> Self {
        let slot = Slot::default();
        Replica {
            room_id: room_id.to_string(),
            core: Rooms::new(rules, Box::new(slot.clone()), Box::new(slot.clone())),
            slot,
            applied: 0,
            last_ms: 0,
        }
    }

    pub fn snapshot(&self) -> ReplicaSnapshot {
        ReplicaSnapshot {
            applied: self.applied,
            last_ms: self.last_ms,
            core: self.core.snapshot(now_at(self.last_ms)),
        }
    }

    /// A replica that goes on exactly as the one `snap` was taken of.
    pub fn restore(room_id: &str, rules: Rules, snap: ReplicaSnapshot) -> Self {
        let slot = Slot::default();
        let core = Rooms::restore(
            rules,
            Box::new(slot.clone()),
            Box::new(slot.clone()),
            snap.core,
            now_at(snap.last_ms),
        );
        Replica {
            room_id: room_id.to_string(),
            core,
            slot,
            applied: snap.applied,
            last_ms: snap.last_ms,
        }
    }

    /// Entries applied since the log began.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies one entry at `unix_ms` (its stream ID's time). Frames go to `out`; the result is
    /// an admin command's (kicked or closed anything).
    pub fn apply(&mut self, unix_ms: u64, cmd: Command, out: &mut Vec<Send>) -> Option<bool> {
        // Stream IDs never go backwards; a replica must not either.
        let unix_ms = unix_ms.max(self.last_ms);
        self.applied += 1;
        self.last_ms = unix_ms;
        let now = now_at(unix_ms);
        // Whatever was due by this entry's time happens before it, on every replica alike.
        self.core.handle_timeout(now);
        self.drain(out);
        let room = self.room_id.as_str();
        let mut result = None;
        match cmd {
            Command::Login {
                conn,
                login,
                auth,
                session_id,
                room_session_id,
            } => {
                if login.room_id != room {
                    log::warn!("room {room}: log entry for another room ignored");
                } else {
                    *self.slot.lock() = Settled {
                        verdict: Some(auth.result()),
                        session_id: Some(session_id),
                        room_session_id: Some(room_session_id),
                        ..Settled::default()
                    };
                    self.core.handle_login(now, conn, *login);
                    *self.slot.lock() = Settled::default();
                }
            }
            Command::Logout {
                conn,
                session_id,
                proof,
            } => {
                // The core verifies the token against the session's user; the slot answers
                // from the settled proof (any non-empty token stands for it).
                let token = proof.is_some().then_some("proof");
                self.slot.lock().logout_user = proof;
                self.core
                    .handle_logout(now, conn, room, session_id.as_deref(), token);
                *self.slot.lock() = Settled::default();
            }
            Command::Renew { conn, auth } => {
                self.slot.lock().verdict = Some(auth.result());
                self.core.handle_renew_token(now, conn, room, "");
                *self.slot.lock() = Settled::default();
            }
            Command::Publish {
                conn,
                stream_id,
                extra_info,
            } => self
                .core
                .handle_publish_stream(now, conn, room, &stream_id, &extra_info),
            Command::Unpublish { conn, stream_id } => self
                .core
                .handle_unpublish_stream(now, conn, room, &stream_id),
            Command::ConnEnded {
                conn,
                silent_for_ms,
            } => {
                let end = match silent_for_ms {
                    Some(ms) => ConnEnd::Closed {
                        last_heard: now
                            .at
                            .checked_sub(Duration::from_millis(ms))
                            .unwrap_or(now.at),
                    },
                    None => ConnEnd::Silent,
                };
                self.core.handle_connection_ended(now, conn, end);
            }
            Command::Tick => {}
            Command::Kick { user_id, reason } => {
                result =
                    Some(
                        self.core
                            .kick(now, room, &user_id, ErrorCode::KICKED_BY_SERVER, &reason),
                    )
            }
            Command::Close { reason } => result = Some(self.core.close_room(now, room, &reason)),
            Command::NodeLost {
                node,
                last_heard_ms,
            } => {
                let last_heard = now_at(last_heard_ms.min(unix_ms)).at;
                for conn in self.core.connections() {
                    if node_of(conn) == node {
                        self.core.handle_connection_ended(
                            now,
                            conn,
                            ConnEnd::Closed { last_heard },
                        );
                    }
                }
            }
        }
        // And whatever the entry itself armed in the past (a lost node's sessions, reaped after
        // their deadline): after an entry, nothing due by its time is left armed, which is what
        // lets the tick script skip a tick when an entry at or after the deadline exists.
        self.core.handle_timeout(now);
        self.drain(out);
        result
    }

    fn drain(&mut self, out: &mut Vec<Send>) {
        while let Output::Send { conn, frame } = self.core.poll_output() {
            out.push((conn, frame));
        }
    }

    /// When the room's next timer is due (unix ms), if one is armed.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.core
            .poll_timeout()
            .map(|at| at.saturating_duration_since(epoch()).as_millis() as u64)
    }

    pub fn info(&self) -> Option<RoomInfo> {
        self.core.room(&self.room_id)
    }

    /// Count only what concerns node `node`'s connections (its number may change, see
    /// `Inner::node`): every node applies every entry of the room, each counts its own.
    pub fn count_for(&mut self, node: u64) {
        self.core.count_only(Owner {
            shift: LOCAL_BITS,
            node,
        });
    }

    /// What the entries applied since the last call counted.
    pub fn take_counts(&mut self) -> Counts {
        self.core.take_counts()
    }

    /// The room's sessions (and the room itself) counted under this node.
    pub fn gauges(&self) -> Gauges {
        self.core.gauges()
    }

    /// Nothing left in the room: the node may stop serving it.
    pub fn is_empty(&self) -> bool {
        self.core.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use roomlink_proto::User;
    use roomlink_proto::protocol::{Login, PublishedStream, Resume};

    use super::*;
    use crate::cluster::command::{Verdict, cluster_conn};

    /// A small deterministic generator (no dependency needed for a test's dice).
    struct Dice(u64);

    impl Dice {
        fn roll(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn rules() -> Rules {
        Rules {
            heartbeat_timeout: Duration::from_millis(900),
            room_capacity: 4,
            replay_buffer: 3,
            // Small enough that the logs run into the budget too (5/s with a burst of 4 never
            // did: entries are ~200 ms apart across four users), so agreeing covers refusals.
            member_events: roomlink_server_core::Rate {
                per_sec: 1,
                burst: 1,
            },
        }
    }

    /// A random log: logins (some resuming, some duplicates on another node), publishes,
    /// unpublishes, closed and silent connections, renewals, kicks, lost nodes and ticks, at
    /// increasing times.
    fn log(seed: u64, len: usize) -> Vec<(u64, Command)> {
        let mut d = Dice(seed);
        let mut t = 1_700_000_000_000u64;
        let mut sessions: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for i in 0..len {
            t += d.roll(400);
            let conn = cluster_conn(1 + d.roll(3), 1 + d.roll(6));
            let user = format!("u{}", d.roll(6));
            let cmd = match d.roll(10) {
                0..=2 => {
                    let resume = (!sessions.is_empty() && d.roll(2) == 0).then(|| Resume {
                        session_id: sessions[d.roll(sessions.len() as u64) as usize].clone(),
                        last_seq: d.roll(5),
                    });
                    let sid = format!("s{i}");
                    sessions.push(sid.clone());
                    Command::Login {
                        conn,
                        login: Box::new(Login {
                            room_id: "r".into(),
                            user: User::new(&user, format!("n{}", d.roll(2))),
                            token: String::new(),
                            user_update: d.roll(4) != 0,
                            resume,
                            streams: (0..d.roll(2))
                                .map(|k| PublishedStream {
                                    stream_id: format!("{user}-{k}"),
                                    extra_info: String::new(),
                                })
                                .collect(),
                            fence: None,
                        }),
                        auth: match d.roll(8) {
                            0 => Verdict::Invalid,
                            1 => Verdict::Expired,
                            _ => Verdict::Granted {
                                expires_at_ms: if d.roll(3) == 0 { t + d.roll(3000) } else { 0 },
                            },
                        },
                        session_id: sid,
                        room_session_id: format!("rs{i}"),
                    }
                }
                3 => Command::Publish {
                    conn,
                    stream_id: format!("{user}-{}", d.roll(3)),
                    extra_info: "x".into(),
                },
                4 => Command::Unpublish {
                    conn,
                    stream_id: format!("{user}-{}", d.roll(3)),
                },
                5 => Command::ConnEnded {
                    conn,
                    silent_for_ms: (d.roll(3) != 0).then(|| d.roll(500)),
                },
                6 => Command::Logout {
                    conn,
                    session_id: None,
                    proof: None,
                },
                7 => Command::NodeLost {
                    node: 1 + d.roll(3),
                    last_heard_ms: t - d.roll(800),
                },
                8 => Command::Kick {
                    user_id: user,
                    reason: "r".into(),
                },
                _ => Command::Tick,
            };
            out.push((t, cmd));
        }
        out
    }

    fn run(log: &[(u64, Command)]) -> (Vec<Vec<Send>>, Option<RoomInfo>, Option<u64>) {
        let mut r = Replica::new("r", rules());
        let outs = log
            .iter()
            .map(|(t, c)| {
                let mut out = Vec::new();
                r.apply(*t, c.clone(), &mut out);
                out
            })
            .collect();
        (outs, r.info(), r.next_deadline_ms())
    }

    /// The property the cluster rests on: two replicas fed one log decide the same frames, in
    /// the same order, and end in the same state. Each replica's maps have their own hash seeds,
    /// so anything that depended on a map's iteration order would show here.
    #[test]
    fn replicas_fed_one_log_agree_on_every_frame() {
        let mut frames = 0;
        let mut refused = 0;
        for seed in 0..200 {
            let log = log(seed, 120);
            let (a, b) = (run(&log), run(&log));
            assert_eq!(a, b, "seed {seed}");
            frames += a.0.iter().map(Vec::len).sum::<usize>();
            refused += a.0.iter().flatten().filter(|(_, f)| {
                matches!(f, ServerFrame::Error { code, .. } | ServerFrame::LoginFailed { code, .. }
                    if *code == ErrorCode::RATE_LIMITED)
            }).count();
        }
        assert!(
            frames > 10_000,
            "the logs exercise the rules ({frames} frames)"
        );
        assert!(refused > 0, "the logs reach the member budget");
    }

    /// A replica restored from a snapshot (through its JSON form, as stored) goes on exactly as
    /// the one it was taken of, at any point of any log.
    #[test]
    fn a_restored_replica_goes_on_exactly_as_the_original() {
        for seed in 0..200 {
            let log = log(seed, 120);
            let cut = (seed as usize * 37) % log.len();
            let mut a = Replica::new("r", rules());
            let mut out = Vec::new();
            for (t, c) in &log[..cut] {
                a.apply(*t, c.clone(), &mut out);
            }
            let json = serde_json::to_string(&a.snapshot()).unwrap();
            let mut b = Replica::restore("r", rules(), serde_json::from_str(&json).unwrap());
            assert_eq!(
                b.snapshot(),
                a.snapshot(),
                "seed {seed}: the snapshot round-trips"
            );
            for (i, (t, c)) in log[cut..].iter().enumerate() {
                let (mut oa, mut ob) = (Vec::new(), Vec::new());
                let ra = a.apply(*t, c.clone(), &mut oa);
                let rb = b.apply(*t, c.clone(), &mut ob);
                assert_eq!((ra, oa), (rb, ob), "seed {seed}, entry {} after the cut", i);
            }
            assert_eq!(a.info(), b.info());
            assert_eq!(a.next_deadline_ms(), b.next_deadline_ms());
            assert_eq!(a.applied(), b.applied());
        }
    }

    #[test]
    fn a_lost_node_detaches_only_its_own_connections() {
        let mut r = Replica::new("r", rules());
        let mut out = Vec::new();
        let t = 1_700_000_000_000;
        for (i, node) in [1u64, 2].into_iter().enumerate() {
            let cmd = Command::Login {
                conn: cluster_conn(node, 1),
                login: Box::new(Login {
                    room_id: "r".into(),
                    user: User::new(format!("u{node}"), "n"),
                    token: String::new(),
                    user_update: true,
                    resume: None,
                    streams: vec![],
                    fence: None,
                }),
                auth: Verdict::Granted { expires_at_ms: 0 },
                session_id: format!("s{i}"),
                room_session_id: "rs".into(),
            };
            r.apply(t, cmd, &mut out);
        }
        assert_eq!(r.next_deadline_ms(), None, "both attached");
        let lost = Command::NodeLost {
            node: 1,
            last_heard_ms: t + 100,
        };
        r.apply(t + 500, lost, &mut out);
        assert_eq!(
            r.next_deadline_ms(),
            Some(t + 100 + 900),
            "last heard + heartbeat timeout"
        );
        out.clear();
        r.apply(t + 1000, Command::Tick, &mut out);
        let users: Vec<_> = r
            .info()
            .unwrap()
            .users
            .into_iter()
            .map(|u| u.user_id)
            .collect();
        assert_eq!(users, vec!["u2"]);
        assert!(
            out.iter().all(|(c, _)| node_of(*c) == 2),
            "the expiry is told to the survivor: {out:?}"
        );
    }
}
