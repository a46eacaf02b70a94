//! What the driver lends the core: token verification and ID minting. The real server verifies
//! HMAC tokens and mints random IDs; the simulator uses toy tokens and a counter, so its runs are
//! deterministic.

use roomlink_proto::ErrorCode;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// Malformed, wrongly signed, or for another app, user or room.
    Invalid,
    /// Well-formed and meant for this user and room, but past its expiry.
    Expired,
}

impl AuthError {
    /// The code a resume is refused with (a fresh login always answers `AUTH_FAILED`).
    pub fn resume_code(self) -> ErrorCode {
        match self {
            AuthError::Invalid => ErrorCode::AUTH_FAILED,
            AuthError::Expired => ErrorCode::KICKED_TOKEN_EXPIRED,
        }
    }
}

/// What a valid token grants beyond admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Unix ms at which the token stops being valid; 0 = never.
    pub expires_at_ms: u64,
}

impl Grant {
    /// Milliseconds left at `now_unix_ms`, or `None` for a token that never expires.
    pub fn expires_in_ms(&self, now_unix_ms: u64) -> Option<u64> {
        (self.expires_at_ms != 0).then(|| self.expires_at_ms.saturating_sub(now_unix_ms))
    }
}

/// Checks a login's or a renewal's token. Must not block (it runs under the driver's lock).
pub trait Authenticator: Send {
    fn verify(
        &self,
        token: &str,
        user_id: &str,
        room_id: &str,
        now_unix_ms: u64,
    ) -> Result<Grant, AuthError>;
}

/// Mints the IDs the protocol hands out. Session IDs are the secret resume handle, so a real
/// server's must be unguessable.
pub trait IdSource: Send {
    fn session_id(&mut self) -> String;
    fn room_session_id(&mut self) -> String;
}
