//! Frames from the server.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::codes::ErrorCode;
use crate::event::{Event, extended_keys, reconnect_kind};
use crate::protocol::{ClientFrame, SeqEvent, ServerFrame, Snapshot};
use crate::reason::RoomStateChangedReason;
use crate::transitions::{self, Phase, Trigger};

use super::LOG_TARGET;
use super::link::{Link, backoff_ceiling};
use super::lists::{apply_event, count_update, diff_snapshot};
use super::room::Session;
use super::{ConnId, Machine};

/// `LoginFailed` codes that say "not now" rather than "no": the login is sent again later.
/// `SERVER_UNAVAILABLE` is what a cluster node answers while its shared store is away;
/// `SERVER_DRAINING` is normally a `bye`, but a login refused with it is no verdict either;
/// `RATE_LIMITED` says this user logged in (or published) too often lately, which a later login
/// fixes, so failing the room with it would make the app retry sooner than the backoff does.
fn is_retryable_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::SERVER_UNAVAILABLE | ErrorCode::SERVER_DRAINING | ErrorCode::RATE_LIMITED
    )
}

/// What a `Joined`/`Resumed` frame brings, in one shape.
struct Accepted {
    session_id: String,
    room_session_id: String,
    seq: u64,
    events: Vec<SeqEvent>,
    snapshot: Option<Snapshot>,
    token_expires_in_ms: Option<u64>,
}

impl Machine {
    pub(super) fn frame(&mut self, now: Instant, conn: ConnId, frame: ServerFrame) {
        // A frame proves the connection is up even if the driver reported it late.
        if matches!(self.link, Link::Connecting { conn: c, .. } if c == conn) {
            self.connected(now, conn);
        }
        let Link::Open {
            conn: open,
            silent_until,
            unanswered,
            probing,
            ..
        } = &mut self.link
        else {
            return;
        };
        if *open != conn {
            log::debug!(target: LOG_TARGET, "frame on stale conn {conn}: ignored");
            return;
        }
        if matches!(frame, ServerFrame::Pong) {
            *unanswered = unanswered.saturating_sub(1);
        }
        // A wake-up probe ends only with the pong to the probe itself (see `Link::Open`).
        if !*probing || *unanswered == 0 {
            *probing = false;
            *silent_until = super::later(now, self.cfg.ping_timeout);
        }
        match frame {
            ServerFrame::Joined {
                room_id,
                session_id,
                room_session_id,
                seq,
                snapshot,
                token_expires_in_ms,
            } => {
                let acc = Accepted {
                    session_id,
                    room_session_id,
                    seq,
                    events: Vec::new(),
                    snapshot: Some(snapshot),
                    token_expires_in_ms,
                };
                self.accepted(now, conn, &room_id, Trigger::Joined, acc);
            }
            ServerFrame::Resumed {
                room_id,
                session_id,
                room_session_id,
                events,
                snapshot,
                seq,
                token_expires_in_ms,
            } => {
                let acc = Accepted {
                    session_id,
                    room_session_id,
                    seq,
                    events,
                    snapshot,
                    token_expires_in_ms,
                };
                self.accepted(now, conn, &room_id, Trigger::Resumed, acc);
            }
            ServerFrame::LoginFailed {
                room_id,
                code,
                message,
            } => {
                log::info!(target: LOG_TARGET, "room {room_id}: login refused {code}: {message}");
                if self.take_stale_answer(conn, &room_id) {
                    return;
                }
                let phase = self.phase_of(&room_id);
                if phase.is_active() && is_retryable_refusal(code) {
                    if code == ErrorCode::RATE_LIMITED
                        && matches!(phase, Phase::Logined | Phase::Reconnected)
                    {
                        // The resync login of a joined room (see `rate`): its session stays.
                        self.resync_later(now, conn, Some(&room_id));
                    } else {
                        self.retry_login_later(now, conn, &room_id);
                    }
                    return;
                }
                let trigger = match phase {
                    Phase::Logining => Trigger::LoginRejected,
                    Phase::Reconnecting => Trigger::for_resume_rejection(code),
                    _ => return,
                };
                // Every KickOut carries the server's message, as for a `Kicked` frame: a kick
                // that happened during an outage is only learnt from the refused resume.
                let kick = transitions::lookup(phase, trigger)
                    .is_some_and(|t| t.to == RoomStateChangedReason::KickOut);
                let ext = if kick {
                    BTreeMap::from([(extended_keys::CUSTOM_KICKOUT_MESSAGE.to_string(), message)])
                } else {
                    BTreeMap::new()
                };
                self.transition(now, &room_id, trigger, code, ext);
                self.idle_if_unused();
            }
            ServerFrame::Event {
                room_id,
                first_seq,
                event,
            } => {
                let first_seq = first_seq.unwrap_or(event.seq);
                self.room_event(now, conn, &room_id, first_seq, event)
            }
            ServerFrame::Kicked {
                room_id,
                code,
                reason,
            } => {
                if self.phase_of(&room_id).is_active() {
                    let ext = BTreeMap::from([(
                        extended_keys::CUSTOM_KICKOUT_MESSAGE.to_string(),
                        reason,
                    )]);
                    self.transition(now, &room_id, Trigger::Kicked, code, ext);
                    self.idle_if_unused();
                }
            }
            ServerFrame::TokenRenewed {
                room_id,
                token_expires_in_ms,
            } => {
                if let Some(room) = self.rooms.get_mut(&room_id).filter(|r| r.is_active()) {
                    if let Some(token) = room.renewals.pop_front() {
                        room.token = token;
                    }
                    self.set_token_expiry(now, &room_id, token_expires_in_ms);
                }
            }
            ServerFrame::Error {
                room_id,
                code,
                message,
            } => {
                log::warn!(target: LOG_TARGET, "server error for {room_id:?}: {code}: {message}");
                if code == ErrorCode::RATE_LIMITED {
                    // Which request was dropped is not said (a publish is not answered when it
                    // works), so the room's whole state is sent again once the budget refilled.
                    self.resync_later(now, conn, room_id.as_deref());
                    return;
                }
                // A refused renewal: the server keeps the old token, and so does the room.
                if matches!(
                    code,
                    ErrorCode::AUTH_FAILED | ErrorCode::KICKED_TOKEN_EXPIRED
                ) && let Some(room) = room_id.and_then(|id| self.rooms.get_mut(&id))
                {
                    room.renewals.pop_front();
                }
            }
            ServerFrame::SessionMoved { room_id } => self.session_moved(now, conn, &room_id),
            ServerFrame::Pong | ServerFrame::Unknown => {}
            ServerFrame::Bye { code, message } => {
                log::info!(target: LOG_TARGET, "server said bye: {code}: {message}");
                if code == ErrorCode::SERVER_DRAINING {
                    self.drained(now, conn);
                } else if code == ErrorCode::RATE_LIMITED {
                    self.rate_closed(now, conn);
                } else {
                    self.link_lost(now, Some(conn));
                }
            }
        }
    }

    /// A `LoginFailed` that is no answer about the login itself (the server cannot decide it
    /// now): the room stays `Logining`/`Reconnecting`, reports nothing, and its login goes out
    /// again on this link after a full-jitter backoff of its own (`Room::login_retries` is the
    /// exponent, reset when the room is accepted). The login timeout (at first login) and the
    /// retry window (while reconnecting) keep running and end it with 1002053 as for an outage.
    /// If the link is lost meanwhile, the next connection carries the login anyway.
    fn retry_login_later(&mut self, now: Instant, conn: ConnId, room_id: &str) {
        let (base, cap) = (self.cfg.backoff_base, self.cfg.backoff_cap);
        let Some(room) = self.rooms.get(room_id).filter(|r| r.wants_login()) else {
            return;
        };
        if room.sent_on != Some(conn) {
            return;
        }
        let ceiling = backoff_ceiling(base, cap, room.login_retries);
        let max_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        let wait = Duration::from_nanos(self.rng.below_inclusive(max_nanos));
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.login_retries = room.login_retries.saturating_add(1);
            room.login_retry_at = Some(super::later(now, wait));
        }
        log::info!(target: LOG_TARGET, "room {room_id}: server unavailable for now; login again in {wait:?}");
    }

    /// The server moved a room's session off the current connection (a resume on another
    /// connection took it; with the login fence that is never one of this engine's own stale
    /// attempts). Not a kick: the session lives on, so take it back with a resume on this link,
    /// reported as an outage (`Reconnecting`, then `Reconnected`). The same frame on a connection
    /// the machine gave up on never gets here (stale connections are ignored above).
    fn session_moved(&mut self, now: Instant, conn: ConnId, room_id: &str) {
        if !self.rooms.get(room_id).is_some_and(|r| r.is_joined()) {
            log::debug!(target: LOG_TARGET, "room {room_id}: session_moved while not joined; ignored");
            return;
        }
        log::info!(target: LOG_TARGET, "room {room_id}: session moved to another connection; resuming it again");
        self.transition(
            now,
            room_id,
            Trigger::LinkLost,
            ErrorCode::RECONNECTING,
            BTreeMap::new(),
        );
        if self.phase_of(room_id) == Phase::Reconnecting {
            self.send_login(conn, room_id);
        }
    }

    /// `Joined` or `Resumed`.
    fn accepted(
        &mut self,
        now: Instant,
        conn: ConnId,
        room_id: &str,
        trigger: Trigger,
        acc: Accepted,
    ) {
        if self.take_stale_answer(conn, room_id) {
            // The answer to a login ended since; its Logout already went out.
            return;
        }
        let phase = self.phase_of(room_id);
        if !phase.is_active() {
            // Logged out or timed out meanwhile: make the server drop the session.
            self.send(
                conn,
                ClientFrame::Logout {
                    room_id: room_id.to_string(),
                    session_id: None,
                    token: None,
                },
            );
            return;
        }
        self.attempts = 0;
        self.failed_in_round = 0;
        let mut ext = BTreeMap::from([(
            extended_keys::ROOM_SESSION_ID.to_string(),
            acc.room_session_id.clone(),
        )]);
        if phase == Phase::Reconnecting {
            // The server's answer says which case it was: `joined` is a fresh session (the old
            // one expired), `resumed` replays or, past its replay ring, sends a snapshot.
            let kind = match (trigger, &acc.snapshot) {
                (Trigger::Joined, _) => reconnect_kind::REJOINED,
                (_, Some(_)) => reconnect_kind::RESYNCED,
                (_, None) => reconnect_kind::RESUMED,
            };
            let attempts = self.rooms.get(room_id).map_or(0, |r| r.reconnect_attempts);
            ext.insert(extended_keys::RECONNECT_KIND.to_string(), kind.to_string());
            ext.insert(
                extended_keys::RECONNECT_ATTEMPTS.to_string(),
                attempts.to_string(),
            );
        }
        // Logining/Reconnecting report a state change; an already joined room just resyncs.
        if matches!(phase, Phase::Logining | Phase::Reconnecting)
            && !self.transition(now, room_id, trigger, ErrorCode::OK, ext)
        {
            return;
        }
        let fresh_login = phase == Phase::Logining;
        let mut events = Vec::new();
        let mut frames = Vec::new();
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.login_retries = 0;
            room.login_retry_at = None;
            room.sent_on = Some(conn);
            room.room_session_id = acc.room_session_id;
            let last_seq = room.session.as_ref().map_or(0, |s| s.last_seq);
            if fresh_login {
                room.users.clear();
                room.streams.clear();
                room.last_count = None;
            }
            let user_update = room.config.user_update;
            if let Some(snapshot) = &acc.snapshot {
                diff_snapshot(room, snapshot).into_events(room_id, user_update, &mut events);
            } else {
                let mut replay: Vec<&SeqEvent> =
                    acc.events.iter().filter(|e| e.seq > last_seq).collect();
                replay.sort_by_key(|e| e.seq);
                for e in replay {
                    apply_event(room, &e.event).into_events(room_id, user_update, &mut events);
                }
            }
            count_update(room_id, room, &mut events);
            room.session = Some(Session {
                session_id: acc.session_id,
                last_seq: acc.seq,
            });
            // Publishes/unpublishes made while this login was in flight.
            for (id, extra) in &room.own_streams {
                if !room.login_streams.contains(id) {
                    frames.push(ClientFrame::PublishStream {
                        room_id: room_id.to_string(),
                        stream_id: id.clone(),
                        extra_info: extra.clone(),
                    });
                }
            }
            for id in std::mem::take(&mut room.pending_unpublish) {
                frames.push(ClientFrame::UnpublishStream {
                    room_id: room_id.to_string(),
                    stream_id: id,
                });
            }
            room.login_streams = room.own_streams.keys().cloned().collect();
            // A renewal made while this login was in flight (or left unanswered on a lost
            // link): the login carried the old token, so renew now.
            if matches!(phase, Phase::Logining | Phase::Reconnecting) {
                if let Some(token) = room.wanted_token().cloned() {
                    room.unsent_token = None;
                    room.renewals = VecDeque::from([token.clone()]);
                    frames.push(ClientFrame::RenewToken {
                        room_id: room_id.to_string(),
                        token,
                    });
                }
            }
        }
        for e in events {
            self.emit(e);
        }
        for f in frames {
            self.send(conn, f);
        }
        self.set_token_expiry(now, room_id, acc.token_expires_in_ms);
    }

    /// One `event` frame, standing for the session's events `first_seq..=event.seq` (one event
    /// unless the server coalesced several of one kind into its list).
    fn room_event(
        &mut self,
        now: Instant,
        conn: ConnId,
        room_id: &str,
        first_seq: u64,
        event: SeqEvent,
    ) {
        let mut events = Vec::new();
        let Some(room) = self.rooms.get_mut(room_id).filter(|r| r.is_joined()) else {
            return;
        };
        let Some(session) = room.session.as_mut() else {
            return;
        };
        if event.seq <= session.last_seq {
            log::debug!(target: LOG_TARGET, "room {room_id}: duplicate event seq {}", event.seq);
            return;
        }
        // A frame that overlaps what was applied (only possible if a server sent it twice) is
        // applied whole: a coalesced list holds each user or stream once, and applying a known
        // one again reports nothing.
        if first_seq > session.last_seq.saturating_add(1) || first_seq > event.seq {
            // The link lost frames (it should not; it is reliable): start over on a new one and
            // let the resume replay from the last event applied.
            log::warn!(target: LOG_TARGET,
                "room {room_id}: event seqs {first_seq}..={} after {}; link lost",
                event.seq,
                session.last_seq
            );
            self.link_lost(now, Some(conn));
            return;
        }
        session.last_seq = event.seq;
        let user_update = room.config.user_update;
        apply_event(room, &event.event).into_events(room_id, user_update, &mut events);
        count_update(room_id, room, &mut events);
        for e in events {
            self.emit(e);
        }
    }

    /// Sets (or clears) a room's token expiry and fires the warning at once if already due.
    pub(super) fn set_token_expiry(
        &mut self,
        now: Instant,
        room_id: &str,
        expires_in_ms: Option<u64>,
    ) {
        let Some(room) = self.rooms.get_mut(room_id) else {
            return;
        };
        room.token_expiry = expires_in_ms.and_then(|ms| now.checked_add(Duration::from_millis(ms)));
        room.token_warned = false;
        self.token_warning_if_due(now, room_id);
    }

    pub(super) fn token_warning_if_due(&mut self, now: Instant, room_id: &str) {
        let warning = self.cfg.token_warning;
        let Some(room) = self.rooms.get_mut(room_id).filter(|r| r.is_active()) else {
            return;
        };
        let (Some(at), Some(expiry)) = (room.token_warning_at(warning), room.token_expiry) else {
            return;
        };
        if now < at {
            return;
        }
        room.token_warned = true;
        let remaining = expiry.saturating_duration_since(now);
        let secs = remaining.as_secs() + u64::from(remaining.subsec_nanos() > 0);
        let remaining_seconds = u32::try_from(secs).unwrap_or(u32::MAX);
        self.emit(Event::RoomTokenWillExpire {
            room_id: room_id.to_string(),
            remaining_seconds,
        });
    }
}
