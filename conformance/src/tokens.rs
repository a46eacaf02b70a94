//! Token specs of a scenario → token strings. The orchestrator mints every token, so drivers
//! only pass strings through.

use roomlink_server::ServerConfig;
use roomlink_server::token::{Claims, mint, now_unix_ms};

use crate::scenario::{TokenKind, TokenSpec, scaled};

/// A secret the server does not know, for `"wrong_secret"`.
const WRONG_SECRET: &str = "not-the-servers-secret";
/// Not three dot-separated parts: rejected before any signature check.
const MALFORMED: &str = "not-a-token";

/// The token for `user_id` in `room_id` described by `spec` (absent = `"valid"`), minted now.
pub fn make(
    spec: Option<&TokenSpec>,
    server: &ServerConfig,
    user_id: &str,
    room_id: &str,
    scale: f64,
) -> String {
    let claims = |room: &str, expires_at_ms: u64| Claims {
        app_id: server.app_id.clone(),
        user_id: user_id.to_string(),
        room_id: room.to_string(),
        expires_at_ms,
    };
    match spec.unwrap_or(&TokenSpec::Named(TokenKind::Valid)) {
        TokenSpec::Named(TokenKind::Valid) => mint(&server.token_secret, &claims(room_id, 0)),
        TokenSpec::Named(TokenKind::AnyRoom) => mint(&server.token_secret, &claims("*", 0)),
        TokenSpec::Named(TokenKind::Bad) => MALFORMED.to_string(),
        TokenSpec::Named(TokenKind::WrongSecret) => mint(WRONG_SECRET, &claims(room_id, 0)),
        TokenSpec::Expiring { expires_in_ms } => {
            let lifetime = scaled(*expires_in_ms, scale).as_millis() as u64;
            mint(
                &server.token_secret,
                &claims(room_id, now_unix_ms() + lifetime),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roomlink::ErrorCode;
    use roomlink_server::token::verify;

    #[test]
    fn each_kind_verifies_as_its_name_says() {
        let server = ServerConfig::default();
        let check = |spec: Option<TokenSpec>, room: &str| {
            let token = make(spec.as_ref(), &server, "alice", "r1", 1.0);
            verify(
                &server.token_secret,
                &server.app_id,
                &token,
                "alice",
                room,
                now_unix_ms(),
            )
            .map(|_| ())
        };
        assert_eq!(check(None, "r1"), Ok(()));
        assert_eq!(check(None, "r2"), Err(ErrorCode::AUTH_FAILED));
        assert_eq!(
            check(Some(TokenSpec::Named(TokenKind::AnyRoom)), "r2"),
            Ok(())
        );
        assert_eq!(
            check(Some(TokenSpec::Named(TokenKind::Bad)), "r1"),
            Err(ErrorCode::AUTH_FAILED)
        );
        assert_eq!(
            check(Some(TokenSpec::Named(TokenKind::WrongSecret)), "r1"),
            Err(ErrorCode::AUTH_FAILED)
        );
        assert_eq!(
            check(
                Some(TokenSpec::Expiring {
                    expires_in_ms: 60_000
                }),
                "r1"
            ),
            Ok(())
        );
    }
}
