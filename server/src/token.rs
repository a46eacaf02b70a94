//! Login tokens: `v1.<base64url(json claims)>.<base64url(hmac-sha256(secret, "v1." + payload))>`.
//!
//! The MAC covers the version prefix and the encoded payload exactly as sent, so nothing can be
//! re-encoded or swapped without detection; it is compared in constant time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use roomlink_proto::ErrorCode;
use roomlink_server_core::{AuthError, Authenticator, Grant};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const PREFIX: &str = "v1";
/// Tokens longer than this are rejected before any decoding work.
const MAX_TOKEN_BYTES: usize = 4096;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub app_id: String,
    pub user_id: String,
    /// The room the token is good for; `"*"` means any room.
    pub room_id: String,
    /// Unix time in milliseconds at which the token stops being valid; `0` means never.
    pub expires_at_ms: u64,
}

impl Claims {
    /// Milliseconds left at `now_unix_ms`, or `None` for a token that never expires.
    pub fn expires_in_ms(&self, now_unix_ms: u64) -> Option<u64> {
        (self.expires_at_ms != 0).then(|| self.expires_at_ms.saturating_sub(now_unix_ms))
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn mac(secret: &str, signed: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("hmac takes any key length");
    m.update(signed.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &str, claims: &Claims) -> String {
    let json = serde_json::to_string(claims).unwrap_or_default();
    let signed = format!("{PREFIX}.{}", b64().encode(json));
    let sig = b64().encode(mac(secret, &signed));
    format!("{signed}.{sig}")
}

/// Checks `token` for `user_id` in `room_id` at `now_unix_ms`.
///
/// Malformed, wrong MAC, wrong app/user/room → `AUTH_FAILED`; expired → `KICKED_TOKEN_EXPIRED`
/// (callers map it to their context: a login answers `AUTH_FAILED`, a resume `KICKED_TOKEN_EXPIRED`).
pub fn verify(
    secret: &str,
    app_id: &str,
    token: &str,
    user_id: &str,
    room_id: &str,
    now_unix_ms: u64,
) -> Result<Claims, ErrorCode> {
    let claims = signed_claims(secret, token).ok_or(ErrorCode::AUTH_FAILED)?;
    if claims.app_id != app_id
        || claims.user_id != user_id
        || (claims.room_id != "*" && claims.room_id != room_id)
    {
        return Err(ErrorCode::AUTH_FAILED);
    }
    if claims.expires_at_ms != 0 && now_unix_ms >= claims.expires_at_ms {
        return Err(ErrorCode::KICKED_TOKEN_EXPIRED);
    }
    Ok(claims)
}

/// The user a correctly signed token of this app for `room_id` names, expired or not: what a
/// cluster node settles for a logout by session ID before the room's replicas (which never see
/// tokens) compare it with the session's user.
pub fn user_for_room(secret: &str, app_id: &str, token: &str, room_id: &str) -> Option<String> {
    signed_claims(secret, token)
        .filter(|c| c.app_id == app_id && (c.room_id == "*" || c.room_id == room_id))
        .map(|c| c.user_id)
}

/// The claims of `token` if its MAC is right; nothing else checked.
fn signed_claims(secret: &str, token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let (signed, sig) = token.rsplit_once('.')?;
    let (prefix, payload) = signed.split_once('.')?;
    if prefix != PREFIX {
        return None;
    }
    let sig = b64().decode(sig).ok()?;
    let expected = mac(secret, signed);
    if !bool::from(sig.ct_eq(&expected)) {
        return None;
    }
    let json = b64().decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The server's [`Authenticator`]: [`verify`] with its secret and app ID.
pub struct TokenVerifier {
    secret: String,
    app_id: String,
}

impl TokenVerifier {
    pub fn new(secret: &str, app_id: &str) -> Self {
        TokenVerifier {
            secret: secret.to_string(),
            app_id: app_id.to_string(),
        }
    }

    /// [`user_for_room`] with this verifier's secret and app ID.
    pub fn user_for_room(&self, token: &str, room_id: &str) -> Option<String> {
        user_for_room(&self.secret, &self.app_id, token, room_id)
    }
}

impl Authenticator for TokenVerifier {
    fn verify(
        &self,
        token: &str,
        user_id: &str,
        room_id: &str,
        now_unix_ms: u64,
    ) -> Result<Grant, AuthError> {
        match verify(
            &self.secret,
            &self.app_id,
            token,
            user_id,
            room_id,
            now_unix_ms,
        ) {
            Ok(claims) => Ok(Grant {
                expires_at_ms: claims.expires_at_ms,
            }),
            Err(ErrorCode::KICKED_TOKEN_EXPIRED) => Err(AuthError::Expired),
            Err(_) => Err(AuthError::Invalid),
        }
    }
}

/// Current unix time in milliseconds.
pub fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn claims(room: &str, expires: u64) -> Claims {
        Claims {
            app_id: "app".into(),
            user_id: "u1".into(),
            room_id: room.into(),
            expires_at_ms: expires,
        }
    }

    #[test]
    fn valid_token_verifies_and_returns_claims() {
        let t = mint("s", &claims("r1", NOW + 1000));
        assert_eq!(
            verify("s", "app", &t, "u1", "r1", NOW),
            Ok(claims("r1", NOW + 1000))
        );
        assert!(t.starts_with("v1."));
    }

    #[test]
    fn wrong_secret_app_user_or_room_is_auth_failed() {
        let t = mint("s", &claims("r1", NOW + 1000));
        assert_eq!(
            verify("other", "app", &t, "u1", "r1", NOW),
            Err(ErrorCode::AUTH_FAILED)
        );
        assert_eq!(
            verify("s", "app2", &t, "u1", "r1", NOW),
            Err(ErrorCode::AUTH_FAILED)
        );
        assert_eq!(
            verify("s", "app", &t, "u2", "r1", NOW),
            Err(ErrorCode::AUTH_FAILED)
        );
        assert_eq!(
            verify("s", "app", &t, "u1", "r2", NOW),
            Err(ErrorCode::AUTH_FAILED)
        );
    }

    #[test]
    fn star_room_is_good_for_any_room() {
        let t = mint("s", &claims("*", 0));
        assert!(verify("s", "app", &t, "u1", "r1", NOW).is_ok());
        assert!(verify("s", "app", &t, "u1", "another", NOW).is_ok());
    }

    #[test]
    fn expiry_is_reported_as_token_expired() {
        let t = mint("s", &claims("r1", NOW));
        assert_eq!(
            verify("s", "app", &t, "u1", "r1", NOW),
            Err(ErrorCode::KICKED_TOKEN_EXPIRED)
        );
        assert!(verify("s", "app", &t, "u1", "r1", NOW - 1).is_ok());
        assert_eq!(claims("r1", NOW + 5).expires_in_ms(NOW), Some(5));
        assert_eq!(claims("r1", 0).expires_in_ms(NOW), None);
    }

    #[test]
    fn tampered_payload_or_garbage_is_auth_failed() {
        let t = mint("s", &claims("r1", NOW + 1000));
        let parts: Vec<&str> = t.split('.').collect();
        let forged = b64().encode(serde_json::to_string(&claims("*", 0)).unwrap());
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            verify("s", "app", &tampered, "u1", "r2", NOW),
            Err(ErrorCode::AUTH_FAILED)
        );
        for bad in ["", "v1", "v1..", "v2.a.b", "v1.!!!.???", &t[..t.len() - 2]] {
            assert_eq!(
                verify("s", "app", bad, "u1", "r1", NOW),
                Err(ErrorCode::AUTH_FAILED),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_verifier_maps_expiry_apart_from_other_refusals() {
        let v = TokenVerifier::new("s", "app");
        let good = mint("s", &claims("r1", NOW + 1000));
        assert_eq!(
            v.verify(&good, "u1", "r1", NOW),
            Ok(Grant {
                expires_at_ms: NOW + 1000
            })
        );
        assert_eq!(
            v.verify(&good, "u1", "r1", NOW + 1000),
            Err(AuthError::Expired)
        );
        assert_eq!(v.verify(&good, "u2", "r1", NOW), Err(AuthError::Invalid));
        assert_eq!(v.verify("junk", "u1", "r1", NOW), Err(AuthError::Invalid));
    }
}
