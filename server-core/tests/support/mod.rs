//! What every core test injects: tokens whose verdict is spelled in the token, and IDs that are
//! the same on every run (and on every replica, as the cluster's log settles them).

// Not every test uses every helper.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use roomlink_proto::protocol::ServerFrame;
use roomlink_server_core::{AuthError, Authenticator, ConnId, Grant, IdSource, Now, Output, Rooms};

/// Every frame `r` has to send now, with its connection, in order.
pub fn drain(r: &mut Rooms) -> Vec<(ConnId, ServerFrame)> {
    let mut sent = Vec::new();
    while let Output::Send { conn, frame } = r.poll_output() {
        sent.push((conn, frame));
    }
    sent
}

/// `ms` after `t0`, on a wall clock starting at unix ms 1 000 000.
pub fn at(t0: Instant, ms: u64) -> Now {
    Now {
        at: t0 + Duration::from_millis(ms),
        unix_ms: 1_000_000 + ms,
    }
}

/// `"exp=N"` expires at unix ms N; `"bad"` is refused; anything else never expires.
pub struct Tokens;

impl Authenticator for Tokens {
    fn verify(&self, token: &str, _: &str, _: &str, now_ms: u64) -> Result<Grant, AuthError> {
        match token.strip_prefix("exp=").map(|n| n.parse::<u64>()) {
            Some(Ok(at)) if at <= now_ms => Err(AuthError::Expired),
            Some(Ok(at)) => Ok(Grant { expires_at_ms: at }),
            _ if token == "bad" => Err(AuthError::Invalid),
            _ => Ok(Grant { expires_at_ms: 0 }),
        }
    }
}

/// Session IDs `s1`, `s2`, ...; every room session ID `rs`.
#[derive(Default)]
pub struct Ids(u64);

impl IdSource for Ids {
    fn session_id(&mut self) -> String {
        self.0 += 1;
        format!("s{}", self.0)
    }
    fn room_session_id(&mut self) -> String {
        "rs".into()
    }
}
