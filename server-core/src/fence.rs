//! The login fence: a connection attempt an engine gave up on must never hurt its live session.
//!
//! An attempt the engine abandoned (it timed out waiting for the upgrade) can still reach the
//! server later: an overloaded server works through its accept queue late, the kernel keeps
//! retransmitting a request after `close()`, a mobile network holds packets for seconds. By then
//! a newer attempt of the same engine may hold the session, and the late login would replace it
//! (a fresh login kicks it with 1002050) or move it onto the dead connection (a resume).
//!
//! So every login carries the engine's instance ID and attempt number ([`Fence`]), the server
//! remembers per session the newest one it accepted, and a login or resume for the same user in
//! the same room from the same instance with an older attempt is refused before it touches any
//! session. Pure rules here; `Rooms::handle_login` calls [`check`] first and the session holds the remembered fence.

use roomlink_proto::protocol::Fence;

/// What to do with an incoming login, given the fence of the user's live session in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the login as usual.
    Admit,
    /// An attempt older than one already accepted from the same engine: refuse it with
    /// `STALE_ATTEMPT` and change nothing.
    Stale,
}

/// `remembered`: the fence of the session the login would resume or replace (none if there is
/// no such session, or its holder sent none). `incoming`: the login's own.
///
/// Logins without a fence (older clients) and logins from another engine instance (another
/// device, or the app restarted) are admitted: only an engine's own attempts are ordered. The
/// same attempt number is admitted too: that is the same connection sending another login.
pub fn check(remembered: Option<&Fence>, incoming: Option<&Fence>) -> Verdict {
    match (remembered, incoming) {
        (Some(old), Some(new)) if old.instance == new.instance && new.attempt < old.attempt => {
            Verdict::Stale
        }
        _ => Verdict::Admit,
    }
}

/// The fence a session keeps after admitting a login: the login's, if it carried one.
pub fn after_admit(remembered: Option<Fence>, incoming: Option<&Fence>) -> Option<Fence> {
    incoming.cloned().or(remembered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(instance: &str, attempt: u64) -> Fence {
        Fence {
            instance: instance.into(),
            attempt,
        }
    }

    #[test]
    fn an_older_attempt_of_the_same_instance_is_stale() {
        assert_eq!(check(Some(&f("e1", 3)), Some(&f("e1", 2))), Verdict::Stale);
        assert_eq!(check(Some(&f("e1", 3)), Some(&f("e1", 0))), Verdict::Stale);
    }

    #[test]
    fn the_same_or_a_newer_attempt_is_admitted() {
        assert_eq!(check(Some(&f("e1", 3)), Some(&f("e1", 3))), Verdict::Admit);
        assert_eq!(check(Some(&f("e1", 3)), Some(&f("e1", 4))), Verdict::Admit);
    }

    #[test]
    fn another_instance_or_a_missing_fence_is_admitted() {
        // Another device (or a restarted app) with a low attempt number: a real duplicate login.
        assert_eq!(check(Some(&f("e1", 9)), Some(&f("e2", 1))), Verdict::Admit);
        // An older client sends no fence; a session held by one has none.
        assert_eq!(check(Some(&f("e1", 9)), None), Verdict::Admit);
        assert_eq!(check(None, Some(&f("e1", 1))), Verdict::Admit);
        assert_eq!(check(None, None), Verdict::Admit);
    }

    #[test]
    fn an_admitted_login_sets_the_fence_and_one_without_keeps_it() {
        assert_eq!(
            after_admit(Some(f("e1", 3)), Some(&f("e1", 5))),
            Some(f("e1", 5))
        );
        assert_eq!(
            after_admit(Some(f("e1", 3)), Some(&f("e2", 1))),
            Some(f("e2", 1))
        );
        assert_eq!(after_admit(Some(f("e1", 3)), None), Some(f("e1", 3)));
        assert_eq!(after_admit(None, None), None);
    }
}
