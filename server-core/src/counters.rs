//! What the rules count for operators (`GET /metrics`): plain numbers in the core's state,
//! incremented where the rules decide, read or drained by the driver that exports them.
//!
//! Every count is *attributed to a connection*: the one a login or resume came on, the one a
//! kicked or expired session was last attached to. A core can be told to count only the
//! connections of one node ([`Owner`]); the cluster applies every entry of a room on every node
//! that serves it, and with each node counting only its own connections, summing the nodes gives
//! the cluster's totals, each event counted once.

use std::collections::BTreeMap;

use roomlink_proto::ErrorCode;
use roomlink_proto::protocol::ServerFrame;

use crate::output::ConnId;

/// Which connections a core counts: those whose ID, shifted right by `shift`, is `node` (the
/// cluster's connection IDs carry the node's number in their high bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub shift: u32,
    pub node: u64,
}

/// How a resume (a login naming a session) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResumeOutcome {
    /// Resumed with the missed events replayed.
    Replay,
    /// Resumed with a snapshot (the replay ring no longer covered the gap).
    Snapshot,
    /// The session had expired (or was unknown): a fresh session was created.
    Fresh,
}

impl ResumeOutcome {
    pub fn label(self) -> &'static str {
        match self {
            ResumeOutcome::Replay => "replay",
            ResumeOutcome::Snapshot => "snapshot",
            ResumeOutcome::Fresh => "fresh",
        }
    }
}

/// The counts themselves. `Add` so a driver with many cores (a cluster node's rooms) sums them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Logins and resumes answered `joined` or `resumed`.
    pub logins_ok: u64,
    /// Logins and resumes answered `login_failed`, by code.
    pub logins_refused: BTreeMap<ErrorCode, u64>,
    pub resumes: BTreeMap<ResumeOutcome, u64>,
    /// Sessions ended with `kicked` (admin kick, duplicate login, token expiry, room closed), by
    /// code; counted whether or not the session was attached.
    pub kicks: BTreeMap<ErrorCode, u64>,
    /// Sessions that expired (detached too long, or their connection fell silent).
    pub expiries: u64,
    /// Room events refused with `RATE_LIMITED` (a member's budget spent).
    pub member_events_refused: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.logins_ok += other.logins_ok;
        for (k, v) in &other.logins_refused {
            *self.logins_refused.entry(*k).or_default() += v;
        }
        for (k, v) in &other.resumes {
            *self.resumes.entry(*k).or_default() += v;
        }
        for (k, v) in &other.kicks {
            *self.kicks.entry(*k).or_default() += v;
        }
        self.expiries += other.expiries;
        self.member_events_refused += other.member_events_refused;
    }

    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// What the core holds now (see [`crate::Rooms::gauges`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gauges {
    pub sessions: usize,
    pub rooms: usize,
}

/// [`Counts`] and whose connections they are of.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub owner: Option<Owner>,
    pub counts: Counts,
}

impl Owner {
    /// Whether `conn` is one of this node's connections.
    pub fn owns(self, conn: ConnId) -> bool {
        conn.checked_shr(self.shift).unwrap_or(0) == self.node
    }
}

/// Whether a core limited to `owner` (a cluster replica) serves `conn`: every connection when
/// it is not limited.
pub(crate) fn serves(owner: Option<Owner>, conn: ConnId) -> bool {
    owner.is_none_or(|o| o.owns(conn))
}

impl Counters {
    pub fn counts_conn(&self, conn: ConnId) -> bool {
        serves(self.owner, conn)
    }

    /// Counts what a frame sent to `conn` says: a login's answer, a refused room event.
    pub fn frame(&mut self, conn: ConnId, frame: &ServerFrame) {
        if !self.counts_conn(conn) {
            return;
        }
        let c = &mut self.counts;
        match frame {
            ServerFrame::Joined { .. } => c.logins_ok += 1,
            ServerFrame::Resumed { snapshot, .. } => {
                c.logins_ok += 1;
                let how = if snapshot.is_some() {
                    ResumeOutcome::Snapshot
                } else {
                    ResumeOutcome::Replay
                };
                *c.resumes.entry(how).or_default() += 1;
            }
            ServerFrame::LoginFailed { code, .. } => {
                *c.logins_refused.entry(*code).or_default() += 1;
                if *code == ErrorCode::RATE_LIMITED {
                    c.member_events_refused += 1;
                }
            }
            ServerFrame::Error { code, .. } if *code == ErrorCode::RATE_LIMITED => {
                c.member_events_refused += 1
            }
            _ => {}
        }
    }

    pub fn resumed_fresh(&mut self, conn: ConnId) {
        if self.counts_conn(conn) {
            *self.counts.resumes.entry(ResumeOutcome::Fresh).or_default() += 1;
        }
    }

    pub fn kick(&mut self, home: ConnId, code: ErrorCode) {
        if self.counts_conn(home) {
            *self.counts.kicks.entry(code).or_default() += 1;
        }
    }

    pub fn expiry(&mut self, home: ConnId) {
        if self.counts_conn(home) {
            self.counts.expiries += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_counts_only_its_nodes_connections() {
        let mut c = Counters {
            owner: Some(Owner { shift: 40, node: 2 }),
            ..Counters::default()
        };
        assert!(c.counts_conn((2 << 40) | 7));
        assert!(!c.counts_conn((1 << 40) | 7));
        c.expiry((1 << 40) | 7);
        c.expiry((2 << 40) | 7);
        assert_eq!(c.counts.expiries, 1);
    }

    #[test]
    fn counts_add_up() {
        let mut a = Counts::default();
        a.kicks.insert(ErrorCode::KICKED_BY_SERVER, 1);
        let mut b = a.clone();
        b.expiries = 2;
        a.add(&b);
        assert_eq!(a.kicks[&ErrorCode::KICKED_BY_SERVER], 2);
        assert_eq!(a.expiries, 2);
        assert!(!a.is_zero());
        assert!(Counts::default().is_zero());
    }
}
