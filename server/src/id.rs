//! Unguessable IDs without a `rand` dependency.
//!
//! Each `RandomState` carries SipHash keys that std seeds from the OS's random source (per thread,
//! then varied per instance), so hashing a process-wide counter and the clock with two fresh
//! `RandomState`s gives 128 bits an outsider cannot predict. The counter keeps IDs unique even if
//! the clock stands still.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use roomlink_server_core::IdSource;

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn word(n: u64, salt: u8) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(n);
    h.write_u8(salt);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

/// The server's [`IdSource`]: session IDs and room session IDs are [`random_id`]s.
pub struct RandomIds;

impl IdSource for RandomIds {
    fn session_id(&mut self) -> String {
        random_id()
    }

    fn room_session_id(&mut self) -> String {
        random_id()
    }
}

/// A fresh 32-hex-digit random ID.
pub fn random_id() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}{:016x}", word(n, 0), word(n, 1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_distinct_and_hex() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| super::random_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|i| i.len() == 32 && i.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }
}
