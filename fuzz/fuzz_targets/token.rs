//! The login token parser (server/src/token.rs): verifying arbitrary text never panics and never
//! accepts it without the secret; a token minted from claims the fuzzer chose verifies to them.
#![no_main]

// token.rs is compiled in by path rather than through the roomlink-server crate so the fuzz
// build stays lean (no axum/hyper under coverage instrumentation); it is the same source file.
#[path = "../../server/src/token.rs"]
#[allow(dead_code)]
mod token;

use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Arbitrary text as a token: only a token carrying a valid MAC may verify, and the fuzzer
    // cannot forge HMAC-SHA256 — so any acceptance is a parser bug.
    let r = token::verify(SECRET, "app", text, "user", "room", 1);
    assert!(r.is_err(), "forged token accepted: {text:?}");

    // The text as claims: minting and verifying round-trips (user and room are the fuzzer's).
    let mut parts = text.splitn(3, '\n');
    let (user, room) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let claims = token::Claims {
        app_id: "app".into(),
        user_id: user.into(),
        room_id: room.into(),
        expires_at_ms: 0,
    };
    let minted = token::mint(SECRET, &claims);
    if minted.len() <= 4096 {
        let verified =
            token::verify(SECRET, "app", &minted, user, room, 1).expect("minted verifies");
        assert_eq!(verified, claims);
    }
});
