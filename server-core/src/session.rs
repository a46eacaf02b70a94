//! One user's presence in one room: its sequence counter, replay ring and timers.

use std::collections::VecDeque;
use std::sync::Arc;

use roomlink_proto::User;
use roomlink_proto::protocol::{Fence, RoomEvent, SeqEvent, ServerFrame};

use crate::output::ConnId;
use crate::timers::{TimerKey, Timers};

/// Frames the core has decided to send, oldest first (drained by `Rooms::poll_output`).
pub type Sends = VecDeque<(ConnId, ServerFrame)>;

/// A session, attached to a connection or detached (waiting to be resumed or to expire).
#[derive(Debug)]
pub struct Session {
    pub session_id: Arc<str>,
    pub room_id: Arc<str>,
    pub user: User,
    /// Whether the client wants user join/leave events.
    pub user_update: bool,
    /// The connection frames go to; `None` while detached.
    pub conn: Option<ConnId>,
    /// The connection the session was last attached to: what its kick or expiry is counted
    /// under (see `crate::counters`).
    pub home: ConnId,
    /// Seq of the last event given to this session (0 before any).
    pub seq: u64,
    /// The last `capacity` events with their seqs, oldest first, for replay on resume. One
    /// broadcast's event is shared by every member's ring rather than copied into each.
    ring: VecDeque<(u64, Arc<RoomEvent>)>,
    capacity: usize,
    /// Token expiry, unix ms (0 = never).
    pub token_expires_at_ms: u64,
    /// The detached-session expiry, armed in the core's [`Timers`].
    pub detach_timer: Option<TimerKey>,
    /// The token-expiry kick, likewise.
    pub token_timer: Option<TimerKey>,
    /// The newest login fence accepted for this session (see [`crate::fence`]).
    pub fence: Option<Fence>,
}

impl Session {
    pub fn new(
        session_id: Arc<str>,
        room_id: Arc<str>,
        user: User,
        user_update: bool,
        capacity: usize,
    ) -> Self {
        Session {
            session_id,
            room_id,
            user,
            user_update,
            conn: None,
            home: 0,
            seq: 0,
            ring: VecDeque::new(),
            capacity,
            token_expires_at_ms: 0,
            detach_timer: None,
            token_timer: None,
            fence: None,
        }
    }

    /// Gives the session `event`: numbers it, keeps it for replay and, if attached and `send`
    /// (its connection is served here), sends it. Sessions that opted out of user updates never
    /// see user events (and use no seq for them).
    pub fn deliver(&mut self, event: &Arc<RoomEvent>, out: &mut Sends, send: bool) {
        if !self.user_update
            && matches!(
                **event,
                RoomEvent::UserAdd { .. } | RoomEvent::UserDelete { .. }
            )
        {
            return;
        }
        self.seq += 1;
        if let Some(conn) = self.conn.filter(|_| send) {
            out.push_back((
                conn,
                ServerFrame::Event {
                    room_id: self.room_id.to_string(),
                    first_seq: None,
                    event: SeqEvent {
                        seq: self.seq,
                        event: RoomEvent::clone(event),
                    },
                },
            ));
        }
        if self.capacity > 0 {
            if self.ring.len() == self.capacity {
                self.ring.pop_front();
            }
            self.ring.push_back((self.seq, event.clone()));
        }
    }

    /// The events after `last_seq`, or `None` when the ring no longer holds all of them (or the
    /// client claims a seq this session never reached) and a snapshot must be sent instead.
    pub fn replay_after(&self, last_seq: u64) -> Option<Vec<SeqEvent>> {
        if last_seq > self.seq {
            return None;
        }
        if last_seq == self.seq {
            return Some(Vec::new());
        }
        let first = self.ring.front()?.0;
        if first > last_seq.saturating_add(1) {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|(seq, _)| *seq > last_seq)
                .map(|(seq, event)| SeqEvent {
                    seq: *seq,
                    event: RoomEvent::clone(event),
                })
                .collect(),
        )
    }

    /// The replay ring, oldest first (for a snapshot).
    pub fn ring(&self) -> impl Iterator<Item = (u64, &Arc<RoomEvent>)> {
        self.ring.iter().map(|(seq, ev)| (*seq, ev))
    }

    /// Replaces the replay ring (restoring a snapshot); keeps at most `capacity`, the newest.
    pub fn set_ring(&mut self, ring: impl IntoIterator<Item = (u64, Arc<RoomEvent>)>) {
        self.ring = ring.into_iter().collect();
        while self.ring.len() > self.capacity {
            self.ring.pop_front();
        }
    }

    /// Cancels both timers (the session is going away).
    pub fn cancel_timers(&mut self, timers: &mut Timers) {
        self.cancel_detach_timer(timers);
        self.cancel_token_timer(timers);
    }

    pub fn cancel_detach_timer(&mut self, timers: &mut Timers) {
        if let Some(k) = self.detach_timer.take() {
            timers.cancel(k);
        }
    }

    pub fn cancel_token_timer(&mut self, timers: &mut Timers) {
        if let Some(k) = self.token_timer.take() {
            timers.cancel(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(n: &str) -> Arc<RoomEvent> {
        Arc::new(RoomEvent::UserAdd {
            users: vec![User::new(n, n)],
        })
    }

    #[test]
    fn replay_covers_only_what_the_ring_holds() {
        let mut s = Session::new("s".into(), "r".into(), User::new("u", "u"), true, 3);
        let mut out = Sends::new();
        for i in 0..5 {
            s.deliver(&add(&i.to_string()), &mut out, true);
        }
        assert!(out.is_empty(), "a detached session sends nothing");
        assert_eq!(s.seq, 5);
        assert_eq!(s.replay_after(5), Some(vec![]));
        let seqs: Vec<u64> = s.replay_after(2).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5]);
        assert_eq!(s.replay_after(1), None);
        assert_eq!(s.replay_after(9), None);
    }

    #[test]
    fn user_events_skipped_without_user_update() {
        let mut s = Session::new("s".into(), "r".into(), User::new("u", "u"), false, 3);
        s.conn = Some(7);
        let mut out = Sends::new();
        s.deliver(&add("a"), &mut out, true);
        assert_eq!(s.seq, 0);
        assert!(out.is_empty());
        s.deliver(
            &Arc::new(RoomEvent::StreamAdd { streams: vec![] }),
            &mut out,
            true,
        );
        assert_eq!(s.seq, 1);
        assert!(matches!(
            out.pop_front(),
            Some((7, ServerFrame::Event { event, .. })) if event.seq == 1
        ));
    }
}
