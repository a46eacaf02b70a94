//! Per-room state.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use crate::config::RoomConfig;
use crate::model::{StreamInfo, User};
use crate::protocol::{Login, PublishedStream, Resume};
use crate::reason::RoomStateChangedReason;
use crate::transitions::Phase;

use super::ConnId;

/// The session the server gave this room, for resuming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) session_id: String,
    /// The last room event applied.
    pub(crate) last_seq: u64,
}

/// The last reason reported (never `LogoutFailed`, which does not change a room's state), with
/// the deadline of the two phases that end by one: it exists exactly while the phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// `Logining`: the login fails (`LoginTimeout`) at `login_by`.
    Logining { login_by: Instant },
    /// `Reconnecting`: the retry window ends (`RetryWindowEnded`) at `retry_until`.
    Reconnecting { retry_until: Instant },
    /// Every other reason.
    Other(RoomStateChangedReason),
}

impl Status {
    pub(crate) fn reason(self) -> RoomStateChangedReason {
        match self {
            Status::Logining { .. } => RoomStateChangedReason::Logining,
            Status::Reconnecting { .. } => RoomStateChangedReason::Reconnecting,
            Status::Other(reason) => reason,
        }
    }

    /// When the phase ends by itself, if it does.
    pub(crate) fn deadline(self) -> Option<Instant> {
        match self {
            Status::Logining { login_by } => Some(login_by),
            Status::Reconnecting { retry_until } => Some(retry_until),
            Status::Other(_) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Room {
    pub(crate) status: Status,
    pub(crate) user: User,
    /// The token the server holds for this room (the one logins and resumes carry).
    pub(crate) token: String,
    /// Renewals sent on the current connection, oldest first, each waiting for `TokenRenewed`
    /// (adopted into `token`) or a token `Error` (dropped). The server keeps the old token when
    /// it refuses one, so nothing replaces `token` before the server said yes.
    pub(crate) renewals: VecDeque<String>,
    /// A renewal made while the room was not joined on an open link: sent as `RenewToken` once
    /// `Joined`/`Resumed` arrives.
    pub(crate) unsent_token: Option<String>,
    /// Which login this is (minted by the machine per `login_room`), so a login that rode in a
    /// Hello can be told apart from a later login to the same room.
    pub(crate) login_id: u64,
    pub(crate) config: RoomConfig,
    pub(crate) session: Option<Session>,
    pub(crate) room_session_id: String,
    /// Other users, by user ID.
    pub(crate) users: BTreeMap<String, User>,
    /// Other users' streams, by stream ID.
    pub(crate) streams: BTreeMap<String, StreamInfo>,
    /// The local user's streams: stream ID → extra info.
    pub(crate) own_streams: BTreeMap<String, String>,
    /// Own streams as carried by the last Login sent, so publishes/unpublishes made while that
    /// login was in flight can be sent once it is accepted.
    pub(crate) login_streams: BTreeSet<String>,
    /// Own streams unpublished while not joined on the open link, to tell the server once joined.
    pub(crate) pending_unpublish: BTreeSet<String>,
    /// The last count reported with `RoomOnlineUserCountUpdate`.
    pub(crate) last_count: Option<u32>,
    pub(crate) token_expiry: Option<Instant>,
    pub(crate) token_warned: bool,
    /// The connection the last Login (Hello or frame) for this room went out on.
    pub(crate) sent_on: Option<ConnId>,
    /// Armed when the server refused the login on `sent_on` retryably (`SERVER_UNAVAILABLE`):
    /// when to send it again. Cleared whenever a login goes out.
    pub(crate) login_retry_at: Option<Instant>,
    /// Retryable refusals since the room was last accepted (the exponent of their backoff).
    pub(crate) login_retries: u32,
    /// Connections opened for this room since it went `Reconnecting` (reported with
    /// `Reconnected` as `reconnect_attempts`).
    pub(crate) reconnect_attempts: u32,
    /// Armed when the server dropped a request of this joined room for its rate limit
    /// (`Error` 1900010): when to send the room's state again (see `Machine::resync_later`).
    pub(crate) resync_at: Option<Instant>,
}

impl Room {
    pub(crate) fn new(user: User, token: String, config: RoomConfig) -> Self {
        Room {
            status: Status::Other(RoomStateChangedReason::Logout),
            user,
            token,
            renewals: VecDeque::new(),
            unsent_token: None,
            login_id: 0,
            config,
            session: None,
            room_session_id: String::new(),
            users: BTreeMap::new(),
            streams: BTreeMap::new(),
            own_streams: BTreeMap::new(),
            login_streams: BTreeSet::new(),
            pending_unpublish: BTreeSet::new(),
            last_count: None,
            token_expiry: None,
            token_warned: false,
            sent_on: None,
            login_retry_at: None,
            login_retries: 0,
            reconnect_attempts: 0,
            resync_at: None,
        }
    }

    pub(crate) fn reason(&self) -> RoomStateChangedReason {
        self.status.reason()
    }

    pub(crate) fn phase(&self) -> Phase {
        Phase::after(self.reason())
    }

    pub(crate) fn is_active(&self) -> bool {
        self.phase().is_active()
    }

    /// Logined or Reconnected: the server holds a live session for it.
    pub(crate) fn is_joined(&self) -> bool {
        matches!(self.phase(), Phase::Logined | Phase::Reconnected)
    }

    /// Refused retryably on `conn` and waiting to send the login again: no answer is due there.
    pub(crate) fn awaits_retry_on(&self, conn: ConnId) -> bool {
        self.login_retry_at.is_some() && self.sent_on == Some(conn)
    }

    /// Waiting for the server to accept a login or resume.
    pub(crate) fn wants_login(&self) -> bool {
        matches!(self.phase(), Phase::Logining | Phase::Reconnecting)
    }

    /// The Login to send for this room now (resuming when reconnecting with a session).
    pub(crate) fn login(&mut self, room_id: &str) -> Login {
        self.login_retry_at = None;
        self.login_streams = self.own_streams.keys().cloned().collect();
        let resume = match (self.phase(), &self.session) {
            (Phase::Reconnecting, Some(s)) => Some(Resume {
                session_id: s.session_id.clone(),
                last_seq: s.last_seq,
            }),
            _ => None,
        };
        Login {
            room_id: room_id.to_string(),
            user: self.user.clone(),
            token: self.token.clone(),
            user_update: self.config.user_update,
            resume,
            streams: self
                .own_streams
                .iter()
                .map(|(id, extra)| PublishedStream {
                    stream_id: id.clone(),
                    extra_info: extra.clone(),
                })
                .collect(),
            fence: None,
        }
    }

    /// The newest token the app asked for that the server has not confirmed, if any.
    pub(crate) fn wanted_token(&self) -> Option<&String> {
        self.unsent_token.as_ref().or(self.renewals.back())
    }

    /// Forget everything but the identity and the last reason (after a terminal reason).
    pub(crate) fn clear(&mut self) {
        let status = self.status;
        *self = Room::new(self.user.clone(), String::new(), self.config.clone());
        self.status = status;
    }

    /// The user count including the local user.
    pub(crate) fn count(&self) -> u32 {
        u32::try_from(self.users.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// When `RoomTokenWillExpire` is due, if it has not fired yet.
    pub(crate) fn token_warning_at(&self, warning: std::time::Duration) -> Option<Instant> {
        if self.token_warned {
            return None;
        }
        let expiry = self.token_expiry?;
        Some(expiry.checked_sub(warning).unwrap_or(expiry))
    }
}
