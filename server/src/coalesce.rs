//! Coalescing room events that wait in one connection's outbound queue, so that a burst of
//! events (a thousand members timing out at once, a hundred joining) costs each peer a handful of
//! frames, not one per event, and a peer that reads at a normal pace is never closed for a busy
//! room (the queue limit is then reached only by a peer that does not read).
//!
//! An `event` frame may stand for several consecutive events of the session: `first_seq..=seq`.
//! Two rules, each keeping "the client's lists after applying the frames = after the events":
//!
//! 1. **Same kind**: an event that directly follows (`seq`) the queue's last frame, for the same
//!    room and of the same kind (`user_add`, `user_delete`, `stream_add`, or `stream_delete` with
//!    the same reason), joins its list and extends its range.
//! 2. **Pairs**: a member leaving sends `stream_delete` then `user_delete`, one joining
//!    `user_add` then `stream_add`; many of them alternate. When the queue ends with such a pair
//!    (`X` then `Y`, consecutive, same room) and the next event is of `X`'s kind, it joins `X`'s
//!    list while `Y`'s range grows over it. `X` keeps its own range (the events before `Y`
//!    began), so a client that got `X` and lost the link before `Y` resumes from `X`'s `seq`: the
//!    replay repeats the moved event, which changes nothing the second time (a deleted stream is
//!    not deleted twice, a listed user not added twice), then brings the rest. Users still come
//!    before their streams on the way in and after them on the way out.
//!
//! Nothing is merged across any other frame (a pong, a kick, another room's event between two
//! events keeps them apart), so frames of different kinds never trade places. A merged frame
//! stays below [`MAX_MERGED_BYTES`] of list items, well under a client's frame limit (64 KiB by
//! default); the next event then starts a new frame. The replay ring is untouched: a resume is
//! still replayed event by event.

use std::collections::VecDeque;

use roomlink_proto::protocol::{RoomEvent, ServerFrame};
use roomlink_proto::{StreamInfo, User};

/// Estimated bytes of list items one merged frame may carry.
pub(crate) const MAX_MERGED_BYTES: usize = 32 * 1024;

/// One queued frame and the estimated size of its list (0 for anything not mergeable).
#[derive(Debug)]
pub(crate) struct Queued {
    pub frame: Box<ServerFrame>,
    bytes: usize,
}

impl Queued {
    pub(crate) fn new(frame: ServerFrame) -> Self {
        let bytes = match &frame {
            ServerFrame::Event { event, .. } => list_bytes(&event.event),
            _ => 0,
        };
        Queued {
            frame: Box::new(frame),
            bytes,
        }
    }
}

fn user_bytes(u: &User) -> usize {
    u.user_id.len() + u.user_name.len() + 32
}

fn stream_bytes(s: &StreamInfo) -> usize {
    s.stream_id.len() + s.extra_info.len() + user_bytes(&s.user) + 48
}

fn list_bytes(e: &RoomEvent) -> usize {
    match e {
        RoomEvent::UserAdd { users } | RoomEvent::UserDelete { users } => {
            users.iter().map(user_bytes).sum()
        }
        RoomEvent::StreamAdd { streams } | RoomEvent::StreamDelete { streams, .. } => {
            streams.iter().map(stream_bytes).sum()
        }
        RoomEvent::Unknown => usize::MAX,
    }
}

/// Whether `b`'s items can join `a`'s list.
fn same_kind(a: &RoomEvent, b: &RoomEvent) -> bool {
    match (a, b) {
        (RoomEvent::UserAdd { .. }, RoomEvent::UserAdd { .. })
        | (RoomEvent::UserDelete { .. }, RoomEvent::UserDelete { .. })
        | (RoomEvent::StreamAdd { .. }, RoomEvent::StreamAdd { .. }) => true,
        (
            RoomEvent::StreamDelete { reason: ra, .. },
            RoomEvent::StreamDelete { reason: rb, .. },
        ) => ra == rb,
        _ => false,
    }
}

/// Whether `x` then `y` is a leave (streams, then the user) or a join (the user, then streams).
fn is_pair(x: &RoomEvent, y: &RoomEvent) -> bool {
    matches!(
        (x, y),
        (RoomEvent::StreamDelete { .. }, RoomEvent::UserDelete { .. })
            | (RoomEvent::UserAdd { .. }, RoomEvent::StreamAdd { .. })
    )
}

/// Moves `from`'s items into `into` (of the same kind).
fn extend(into: &mut RoomEvent, from: RoomEvent) {
    match (into, from) {
        (RoomEvent::UserAdd { users: a }, RoomEvent::UserAdd { users: b })
        | (RoomEvent::UserDelete { users: a }, RoomEvent::UserDelete { users: b }) => a.extend(b),
        (RoomEvent::StreamAdd { streams: a }, RoomEvent::StreamAdd { streams: b })
        | (
            RoomEvent::StreamDelete { streams: a, .. },
            RoomEvent::StreamDelete { streams: b, .. },
        ) => a.extend(b),
        _ => {}
    }
}

/// An event frame's room, range and event.
fn parts(q: &Queued) -> Option<(&str, u64, u64, &RoomEvent)> {
    match &*q.frame {
        ServerFrame::Event {
            room_id,
            first_seq,
            event,
        } => Some((
            room_id,
            first_seq.unwrap_or(event.seq),
            event.seq,
            &event.event,
        )),
        _ => None,
    }
}

/// Sets a queued event frame's range to `first..=last`.
fn set_range(q: &mut Queued, first: u64, last: u64) {
    if let ServerFrame::Event {
        first_seq, event, ..
    } = &mut *q.frame
    {
        event.seq = last;
        *first_seq = (first != last).then_some(first);
    }
}

fn event_mut(q: &mut Queued) -> Option<&mut RoomEvent> {
    match &mut *q.frame {
        ServerFrame::Event { event, .. } => Some(&mut event.event),
        _ => None,
    }
}

/// Appends `frame` to `queue`, merged into a waiting frame when the rules above allow. Returns
/// whether the queue grew by a frame.
pub(crate) fn push(queue: &mut VecDeque<Queued>, frame: ServerFrame) -> bool {
    let incoming = Queued::new(frame);
    let Some((room, first, last, event)) = parts(&incoming) else {
        queue.push_back(incoming);
        return true;
    };
    let n = queue.len();
    // Rule 1: the same kind, directly after the queue's last frame.
    let tail = queue.back().and_then(parts);
    if let Some((t_room, t_first, t_last, t_event)) = tail {
        let fits = queue[n - 1].bytes.saturating_add(incoming.bytes) <= MAX_MERGED_BYTES;
        if t_room == room && t_last.checked_add(1) == Some(first) && same_kind(t_event, event) {
            if fits {
                let back = &mut queue[n - 1];
                back.bytes += incoming.bytes;
                set_range(back, t_first, last);
                merge_into(back, incoming);
                return false;
            }
        } else if n >= 2 && t_room == room && t_last.checked_add(1) == Some(first) {
            // Rule 2: the queue ends with a pair X, Y and this event is of X's kind.
            let x = parts(&queue[n - 2]);
            if let Some((x_room, _, x_last, x_event)) = x {
                let pair = x_room == room
                    && x_last.checked_add(1) == Some(t_first)
                    && is_pair(x_event, t_event)
                    && same_kind(x_event, event);
                if pair && queue[n - 2].bytes.saturating_add(incoming.bytes) <= MAX_MERGED_BYTES {
                    set_range(&mut queue[n - 1], t_first, last);
                    let x = &mut queue[n - 2];
                    x.bytes += incoming.bytes;
                    merge_into(x, incoming);
                    return false;
                }
            }
        }
    }
    queue.push_back(incoming);
    true
}

fn merge_into(into: &mut Queued, from: Queued) {
    if let (Some(e), ServerFrame::Event { event, .. }) = (event_mut(into), *from.frame) {
        extend(e, event.event);
    }
}

#[cfg(test)]
mod tests {
    use roomlink_proto::StreamDeleteReason;
    use roomlink_proto::protocol::SeqEvent;

    use super::*;

    fn ev(room: &str, seq: u64, event: RoomEvent) -> ServerFrame {
        ServerFrame::Event {
            room_id: room.into(),
            first_seq: None,
            event: SeqEvent { seq, event },
        }
    }

    fn u(id: &str) -> User {
        User::new(id, id)
    }

    fn s(id: &str) -> StreamInfo {
        StreamInfo {
            stream_id: format!("{id}-cam"),
            user: u(id),
            extra_info: String::new(),
        }
    }

    fn ud(id: &str) -> RoomEvent {
        RoomEvent::UserDelete { users: vec![u(id)] }
    }

    fn ua(id: &str) -> RoomEvent {
        RoomEvent::UserAdd { users: vec![u(id)] }
    }

    fn sd(id: &str, reason: StreamDeleteReason) -> RoomEvent {
        RoomEvent::StreamDelete {
            streams: vec![s(id)],
            reason,
        }
    }

    fn sa(id: &str) -> RoomEvent {
        RoomEvent::StreamAdd {
            streams: vec![s(id)],
        }
    }

    /// (first_seq, seq, event) of every queued frame.
    fn ranges(q: &VecDeque<Queued>) -> Vec<(u64, u64, RoomEvent)> {
        q.iter()
            .filter_map(parts)
            .map(|(_, f, l, e)| (f, l, e.clone()))
            .collect()
    }

    #[test]
    fn consecutive_events_of_one_kind_become_one_frame() {
        let mut q = VecDeque::new();
        assert!(push(&mut q, ev("r", 1, ud("a"))));
        assert!(!push(&mut q, ev("r", 2, ud("b"))));
        assert!(!push(&mut q, ev("r", 3, ud("c"))));
        let RoomEvent::UserDelete { users } = &ranges(&q)[0].2 else {
            panic!("{q:?}")
        };
        assert_eq!(users, &vec![u("a"), u("b"), u("c")]);
        assert_eq!((ranges(&q)[0].0, ranges(&q)[0].1), (1, 3));
        // The wire form names the range.
        let text = q[0].frame.encode();
        assert!(
            text.contains(r#""first_seq":1"#) && text.contains(r#""seq":3"#),
            "{text}"
        );
    }

    #[test]
    fn a_single_event_keeps_the_plain_form() {
        let mut q = VecDeque::new();
        push(&mut q, ev("r", 5, ua("a")));
        assert!(!q[0].frame.encode().contains("first_seq"));
    }

    #[test]
    fn nothing_merges_across_kinds_rooms_gaps_reasons_or_other_frames() {
        let timed_out = StreamDeleteReason::UserTimedOut;
        let left = StreamDeleteReason::UserLeft;
        for (a, b) in [
            (ev("r", 1, ud("a")), ev("r", 2, ua("b"))),
            (ev("r", 1, ud("a")), ev("other", 2, ud("b"))),
            (ev("r", 1, ud("a")), ev("r", 3, ud("b"))),
            (ev("r", 1, sd("a", timed_out)), ev("r", 2, sd("b", left))),
            (ev("r", 1, sa("a")), ev("r", 2, RoomEvent::Unknown)),
        ] {
            let mut q = VecDeque::new();
            push(&mut q, a.clone());
            assert!(push(&mut q, b.clone()), "{a:?} then {b:?} merged");
        }
        let mut q = VecDeque::new();
        push(&mut q, ev("r", 1, ud("a")));
        push(&mut q, ServerFrame::Pong);
        assert!(push(&mut q, ev("r", 2, ud("b"))), "merged across a pong");
    }

    #[test]
    fn a_mass_departure_with_streams_is_two_frames() {
        let r = StreamDeleteReason::UserTimedOut;
        let mut q = VecDeque::new();
        let mut seq = 0;
        for i in 0..100 {
            let id = format!("u{i:03}");
            seq += 1;
            push(&mut q, ev("r", seq, sd(&id, r)));
            seq += 1;
            push(&mut q, ev("r", seq, ud(&id)));
        }
        let got = ranges(&q);
        assert_eq!(got.len(), 2, "{got:?}");
        // The streams' frame keeps its own range (the one event before the users' began); the
        // users' frame covers the rest, the moved stream deletes included.
        assert_eq!((got[0].0, got[0].1), (1, 1));
        assert_eq!((got[1].0, got[1].1), (2, 200));
        let (RoomEvent::StreamDelete { streams, .. }, RoomEvent::UserDelete { users }) =
            (&got[0].2, &got[1].2)
        else {
            panic!("{got:?}")
        };
        assert_eq!((streams.len(), users.len()), (100, 100));
    }

    #[test]
    fn a_mass_arrival_with_streams_is_two_frames_users_first() {
        let mut q = VecDeque::new();
        let mut seq = 10;
        for i in 0..50 {
            let id = format!("u{i:03}");
            seq += 1;
            push(&mut q, ev("r", seq, ua(&id)));
            seq += 1;
            push(&mut q, ev("r", seq, sa(&id)));
        }
        let got = ranges(&q);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(&got[0].2, RoomEvent::UserAdd { users } if users.len() == 50));
        assert!(matches!(&got[1].2, RoomEvent::StreamAdd { streams } if streams.len() == 50));
        assert_eq!((got[0].0, got[0].1, got[1].0, got[1].1), (11, 11, 12, 110));
    }

    #[test]
    fn a_frame_stops_growing_at_the_size_cap() {
        let mut q = VecDeque::new();
        let mut frames = 0;
        let n = 5000u64;
        for i in 0..n {
            if push(&mut q, ev("r", i + 1, ud(&format!("user-{i:05}")))) {
                frames += 1;
            }
        }
        assert!(frames > 1, "one frame of {n} users");
        assert!(frames < 20, "{frames} frames");
        for f in &q {
            assert!(f.frame.encode().len() < 48 * 1024, "a merged frame too big");
        }
        // Together the frames still cover every seq once, in order.
        let got = ranges(&q);
        assert_eq!(got[0].0, 1);
        assert_eq!(got.last().unwrap().1, n);
        assert!(
            got.windows(2).all(|w| w[0].1 + 1 == w[1].0),
            "{:?}",
            got.len()
        );
    }
}
