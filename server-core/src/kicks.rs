//! Recently removed sessions, so a client that was kicked (or whose room closed) while its link was
//! down learns why when it tries to resume, instead of silently getting a fresh session.
//!
//! Bounded in time ([`KEEP_FOR`], longer than a client's default 20-minute retry window) and in
//! count ([`MAX_ENTRIES`], oldest dropped first), pruned on insert: no timer needed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use roomlink_proto::ErrorCode;

pub const KEEP_FOR: Duration = Duration::from_secs(30 * 60);
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KickRecord {
    pub room_id: String,
    pub code: ErrorCode,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct RecentKicks {
    by_session: HashMap<String, KickRecord>,
    order: VecDeque<(Instant, String)>,
}

impl RecentKicks {
    pub fn remember(&mut self, session_id: String, record: KickRecord, now: Instant) {
        while let Some((at, sid)) = self.order.front() {
            if self.order.len() < MAX_ENTRIES && now.duration_since(*at) < KEEP_FOR {
                break;
            }
            self.by_session.remove(sid);
            self.order.pop_front();
        }
        self.by_session.insert(session_id.clone(), record);
        self.order.push_back((now, session_id));
    }

    pub fn get(&self, session_id: &str) -> Option<&KickRecord> {
        self.by_session.get(session_id)
    }

    /// The pruning order and the records (for a snapshot).
    pub fn parts(
        &self,
    ) -> (
        impl Iterator<Item = (Instant, &str)>,
        impl Iterator<Item = (&str, &KickRecord)>,
    ) {
        (
            self.order.iter().map(|(t, s)| (*t, s.as_str())),
            self.by_session.iter().map(|(s, r)| (s.as_str(), r)),
        )
    }

    /// The inverse of [`RecentKicks::parts`].
    pub fn from_parts(
        order: impl IntoIterator<Item = (Instant, String)>,
        by_session: HashMap<String, KickRecord>,
    ) -> Self {
        RecentKicks {
            by_session,
            order: order.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_entries_are_pruned_on_insert() {
        let mut k = RecentKicks::default();
        let t0 = Instant::now();
        let rec = KickRecord {
            room_id: "r".into(),
            code: ErrorCode::KICKED_BY_SERVER,
            reason: "x".into(),
        };
        k.remember("a".into(), rec.clone(), t0);
        assert_eq!(k.get("a"), Some(&rec));
        k.remember("b".into(), rec.clone(), t0 + KEEP_FOR);
        assert_eq!(k.get("a"), None);
        assert!(k.get("b").is_some());
    }
}
