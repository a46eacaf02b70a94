//! The room state transitions, as data.
//!
//! Every `RoomStateChanged` the machine emits is looked up here ([`lookup`]), so this table, the
//! generated `docs/STATE_DIAGRAM.md` and the behaviour cannot drift apart: a transition that is not
//! in the table is not emitted at all.

use crate::codes::ErrorCode;
use crate::reason::RoomStateChangedReason;

/// Where a room is before a transition: the four active reasons, or not in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Never logged in, logged out, or after a terminal reason (the room may be logged in again).
    NotInRoom,
    Logining,
    Logined,
    Reconnecting,
    Reconnected,
}

impl Phase {
    /// The phase a room is in after `reason` was reported.
    pub const fn after(reason: RoomStateChangedReason) -> Phase {
        use RoomStateChangedReason as R;
        match reason {
            R::Logining => Phase::Logining,
            R::Logined => Phase::Logined,
            R::Reconnecting => Phase::Reconnecting,
            R::Reconnected => Phase::Reconnected,
            R::LoginFailed | R::ReconnectFailed | R::KickOut | R::Logout | R::LogoutFailed => {
                Phase::NotInRoom
            }
        }
    }

    pub const fn is_active(self) -> bool {
        !matches!(self, Phase::NotInRoom)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::NotInRoom => "NotInRoom",
            Phase::Logining => "Logining",
            Phase::Logined => "Logined",
            Phase::Reconnecting => "Reconnecting",
            Phase::Reconnected => "Reconnected",
        }
    }
}

/// What happened to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Trigger {
    /// `login_room`, or the second half of `switch_room`.
    Login,
    /// The server sent `Joined` (a new session).
    Joined,
    /// The server continued the session (`Resumed`).
    Resumed,
    /// The server refused a fresh login (`LoginFailed`).
    LoginRejected,
    /// The login timeout ended before `Joined`.
    LoginTimeout,
    /// The link was lost (ping timeout, reset, `Bye`, network gone). A `Bye` 1900008 (the
    /// server drains) is this trigger too; only the next attempt differs (next URL at once).
    LinkLost,
    /// A resume was refused with AUTH_FAILED or KICKED_TOKEN_EXPIRED: the token is no good.
    ResumeRejectedToken,
    /// A resume was refused with ROOM_CLOSED.
    ResumeRejectedRoomClosed,
    /// A resume was refused with KICKED_DUPLICATE_LOGIN, KICKED_BY_SERVER or
    /// KICKED_LOGGED_OUT_ELSEWHERE.
    ResumeRejectedKicked,
    /// A resume was refused with any other code (e.g. ROOM_FULL).
    ResumeRejectedOther,
    /// The retry window ended while reconnecting.
    RetryWindowEnded,
    /// The server sent `Kicked`.
    Kicked,
    /// `logout_room` (or the first half of `switch_room`) for an active room.
    Logout,
    /// `logout_room` for a room that is not logged in.
    LogoutUnknown,
    /// The link failed in a way retrying cannot help (`LinkError::Fatal`).
    Fatal,
}

impl Trigger {
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Login => "Login",
            Trigger::Joined => "Joined",
            Trigger::Resumed => "Resumed",
            Trigger::LoginRejected => "LoginRejected",
            Trigger::LoginTimeout => "LoginTimeout",
            Trigger::LinkLost => "LinkLost",
            Trigger::ResumeRejectedToken => "ResumeRejectedToken",
            Trigger::ResumeRejectedRoomClosed => "ResumeRejectedRoomClosed",
            Trigger::ResumeRejectedKicked => "ResumeRejectedKicked",
            Trigger::ResumeRejectedOther => "ResumeRejectedOther",
            Trigger::RetryWindowEnded => "RetryWindowEnded",
            Trigger::Kicked => "Kicked",
            Trigger::Logout => "Logout",
            Trigger::LogoutUnknown => "LogoutUnknown",
            Trigger::Fatal => "Fatal",
        }
    }

    /// Which resume-rejection trigger a server `LoginFailed` code for a reconnecting room maps to.
    pub fn for_resume_rejection(code: ErrorCode) -> Trigger {
        match code {
            ErrorCode::AUTH_FAILED | ErrorCode::KICKED_TOKEN_EXPIRED => {
                Trigger::ResumeRejectedToken
            }
            ErrorCode::ROOM_CLOSED => Trigger::ResumeRejectedRoomClosed,
            ErrorCode::KICKED_DUPLICATE_LOGIN
            | ErrorCode::KICKED_BY_SERVER
            | ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE => Trigger::ResumeRejectedKicked,
            _ => Trigger::ResumeRejectedOther,
        }
    }
}

/// The error code a transition reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Fixed(ErrorCode),
    /// The code that came with the trigger (the server's, or a fatal link error's).
    FromTrigger,
}

impl Code {
    pub fn resolve(self, trigger_code: ErrorCode) -> ErrorCode {
        match self {
            Code::Fixed(c) => c,
            Code::FromTrigger => trigger_code,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub from: Phase,
    pub trigger: Trigger,
    pub to: RoomStateChangedReason,
    pub code: Code,
    pub note: &'static str,
}

use Code::{Fixed, FromTrigger};
use Phase as P;
use RoomStateChangedReason as R;
use Trigger as T;

const fn row(
    from: Phase,
    trigger: Trigger,
    to: RoomStateChangedReason,
    code: Code,
    note: &'static str,
) -> Transition {
    Transition {
        from,
        trigger,
        to,
        code,
        note,
    }
}

/// The whole table. (from, trigger) pairs are unique; a test checks it.
pub const TABLE: &[Transition] = &[
    row(
        P::NotInRoom,
        T::Login,
        R::Logining,
        Fixed(ErrorCode::OK),
        "login_room / switch_room; connects now if the link is not up",
    ),
    row(
        P::Logining,
        T::Joined,
        R::Logined,
        Fixed(ErrorCode::OK),
        "then the snapshot as user/stream Add updates and the user count",
    ),
    row(
        P::Logining,
        T::LoginRejected,
        R::LoginFailed,
        FromTrigger,
        "the server's code: 1002033 bad token, 1002034 room full, ...; never 1900009 or 1900010 (server unavailable, rate limited: no transition, the login is sent again after the backoff)",
    ),
    row(
        P::Logining,
        T::LoginTimeout,
        R::LoginFailed,
        Fixed(ErrorCode::NETWORK_TIMEOUT),
        "no Joined within login_timeout; a Logout is sent if the Login went out",
    ),
    row(
        P::Logining,
        T::Kicked,
        R::KickOut,
        FromTrigger,
        "extended_data carries custom_kickout_message",
    ),
    row(
        P::Logining,
        T::Logout,
        R::Logout,
        Fixed(ErrorCode::OK),
        "logout_room while logging in",
    ),
    row(
        P::Logining,
        T::Fatal,
        R::LoginFailed,
        FromTrigger,
        "the link cannot work (normally 1002030)",
    ),
    row(
        P::Logined,
        T::LinkLost,
        R::Reconnecting,
        Fixed(ErrorCode::RECONNECTING),
        "once per outage; the retry window starts (after a bye 1900008, server draining: the next URL at once)",
    ),
    row(
        P::Logined,
        T::Kicked,
        R::KickOut,
        FromTrigger,
        "1002050 duplicate login, 1002055 admin, 1002056 token expired, 1900001 room closed",
    ),
    row(
        P::Logined,
        T::Logout,
        R::Logout,
        Fixed(ErrorCode::OK),
        "logout_room",
    ),
    row(
        P::Logined,
        T::Fatal,
        R::ReconnectFailed,
        FromTrigger,
        "the link cannot work (normally 1002030)",
    ),
    row(
        P::Reconnecting,
        T::Resumed,
        R::Reconnected,
        Fixed(ErrorCode::OK),
        "then the missed events in order (or a snapshot diff)",
    ),
    row(
        P::Reconnecting,
        T::Joined,
        R::Reconnected,
        Fixed(ErrorCode::OK),
        "the session had expired server-side: then the snapshot diff",
    ),
    row(
        P::Reconnecting,
        T::ResumeRejectedToken,
        R::KickOut,
        Fixed(ErrorCode::KICKED_TOKEN_EXPIRED),
        "resume refused with 1002033 or 1002056",
    ),
    row(
        P::Reconnecting,
        T::ResumeRejectedRoomClosed,
        R::KickOut,
        Fixed(ErrorCode::ROOM_CLOSED),
        "resume refused: the room was closed",
    ),
    row(
        P::Reconnecting,
        T::ResumeRejectedKicked,
        R::KickOut,
        FromTrigger,
        "resume refused with 1002050, 1002055 or 1900012",
    ),
    row(
        P::Reconnecting,
        T::ResumeRejectedOther,
        R::ReconnectFailed,
        FromTrigger,
        "resume refused with another code (e.g. 1002034 room full); never 1900009 or 1900010 (server unavailable, rate limited: stays Reconnecting, resent after the backoff)",
    ),
    row(
        P::Reconnecting,
        T::RetryWindowEnded,
        R::ReconnectFailed,
        Fixed(ErrorCode::NETWORK_TIMEOUT),
        "retry_window passed without a resume; nothing retries after",
    ),
    row(
        P::Reconnecting,
        T::Kicked,
        R::KickOut,
        FromTrigger,
        "extended_data carries custom_kickout_message",
    ),
    row(
        P::Reconnecting,
        T::Logout,
        R::Logout,
        Fixed(ErrorCode::OK),
        "logout_room while reconnecting",
    ),
    row(
        P::Reconnecting,
        T::Fatal,
        R::ReconnectFailed,
        FromTrigger,
        "the link cannot work (normally 1002030)",
    ),
    row(
        P::Reconnected,
        T::LinkLost,
        R::Reconnecting,
        Fixed(ErrorCode::RECONNECTING),
        "once per outage; the retry window starts (after a bye 1900008, server draining: the next URL at once)",
    ),
    row(
        P::Reconnected,
        T::Kicked,
        R::KickOut,
        FromTrigger,
        "1002050 duplicate login, 1002055 admin, 1002056 token expired, 1900001 room closed",
    ),
    row(
        P::Reconnected,
        T::Logout,
        R::Logout,
        Fixed(ErrorCode::OK),
        "logout_room",
    ),
    row(
        P::Reconnected,
        T::Fatal,
        R::ReconnectFailed,
        FromTrigger,
        "the link cannot work (normally 1002030)",
    ),
    row(
        P::NotInRoom,
        T::LogoutUnknown,
        R::LogoutFailed,
        Fixed(ErrorCode::ROOM_NOT_LOGGED_IN),
        "logout_room of a room not logged in; also returns Err(1002002)",
    ),
];

/// The row for `(from, trigger)`, if that transition exists.
pub fn lookup(from: Phase, trigger: Trigger) -> Option<&'static Transition> {
    TABLE
        .iter()
        .find(|t| t.from == from && t.trigger == trigger)
}

fn code_text(code: Code) -> String {
    match code {
        Fixed(c) => c.value().to_string(),
        FromTrigger => "server code".to_string(),
    }
}

/// A Mermaid `stateDiagram-v2` of the table. Terminal reasons are drawn as their own states that
/// lead back to `NotInRoom`.
pub fn mermaid() -> String {
    let mut out = String::from("stateDiagram-v2\n    [*] --> NotInRoom\n");
    let mut terminals: Vec<RoomStateChangedReason> = Vec::new();
    for t in TABLE {
        let target = match Phase::after(t.to) {
            Phase::NotInRoom if t.to == R::LogoutFailed => "NotInRoom".to_string(),
            Phase::NotInRoom => {
                if !terminals.contains(&t.to) {
                    terminals.push(t.to);
                }
                t.to.as_str().to_string()
            }
            p => p.as_str().to_string(),
        };
        let label = if Phase::after(t.to).as_str() == t.to.as_str() {
            format!("{} / {}", t.trigger.as_str(), code_text(t.code))
        } else {
            format!(
                "{} / {} {}",
                t.trigger.as_str(),
                t.to.as_str(),
                code_text(t.code)
            )
        };
        out.push_str(&format!(
            "    {} --> {} : {}\n",
            t.from.as_str(),
            target,
            label
        ));
    }
    terminals.sort();
    for r in terminals {
        out.push_str(&format!("    {} --> NotInRoom : terminal\n", r.as_str()));
    }
    out
}

/// The table as Markdown.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| from | trigger | reason emitted | error code | note |\n|---|---|---|---|---|\n",
    );
    for t in TABLE {
        let code = match t.code {
            Fixed(c) => format!("{} (`{}`)", c.value(), c.name()),
            FromTrigger => "the server's / link error's code".to_string(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            t.from.as_str(),
            t.trigger.as_str(),
            t.to.as_str(),
            code,
            t.note.replace('|', "\\|")
        ));
    }
    out
}

/// The whole of `docs/STATE_DIAGRAM.md`.
pub fn state_diagram_doc() -> String {
    format!(
        "# Room state diagram\n\n\
         Generated from `proto/src/transitions.rs` (the table the state machine looks every \
         `RoomStateChanged` up in). Do not edit by hand: run `ROOMLINK_BLESS=1 cargo test -p roomlink \
         --test docs_current` to regenerate.\n\n\
         ```mermaid\n{}```\n\n## Transitions\n\n{}",
        mermaid(),
        markdown_table()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_trigger_pairs_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert!(
                    !(a.from == b.from && a.trigger == b.trigger),
                    "{:?} {:?}",
                    a.from,
                    a.trigger
                );
            }
        }
    }

    #[test]
    fn resume_rejections_map_as_documented() {
        assert_eq!(
            Trigger::for_resume_rejection(ErrorCode::AUTH_FAILED),
            Trigger::ResumeRejectedToken
        );
        assert_eq!(
            Trigger::for_resume_rejection(ErrorCode::ROOM_FULL),
            Trigger::ResumeRejectedOther
        );
        let t = lookup(Phase::Reconnecting, Trigger::ResumeRejectedRoomClosed).unwrap();
        assert_eq!(t.code.resolve(ErrorCode(5)), ErrorCode::ROOM_CLOSED);
    }
}
