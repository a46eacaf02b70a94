//! Rate limits and the room cap per connection (`ServerConfig::rates`): the settings, their
//! defaults and their checks. Where each is enforced: frames per connection in the connection task
//! (`flood`), rooms per connection in the registry before the core sees a login, room events per
//! member in the core (`Rules::member_events`), so every replica of a room decides alike.

pub use roomlink_server_core::Rate;

/// Largest accepted `per_sec`: beyond it the interval between events rounds to nothing.
pub const MAX_RATE_PER_SEC: u32 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Inbound WebSocket messages per connection (see `flood`): over it → `error{RATE_LIMITED}`,
    /// going on → `bye{RATE_LIMITED}` and close.
    pub frames: Rate,
    /// Room events one member may cause (fresh logins, publishes, unpublishes, renewals).
    pub member_events: Rate,
    /// Rooms one connection may hold sessions in; a login for one more → `TOO_MANY_ROOMS`.
    pub max_rooms_per_conn: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            // A client pings every few seconds and sends a handful of frames per room it joins,
            // or up to 64 publishes at once in one room (the reference client's most).
            frames: Rate {
                per_sec: 50,
                burst: 200,
            },
            member_events: roomlink_server_core::MEMBER_EVENTS,
            max_rooms_per_conn: 16,
        }
    }
}

impl RateLimits {
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [
            ("frames", self.frames),
            ("member_events", self.member_events),
        ] {
            if !(1..=MAX_RATE_PER_SEC).contains(&r.per_sec) || r.burst == 0 {
                return Err(format!(
                    "rates.{name} must be 1..={MAX_RATE_PER_SEC} per second with a burst of at least 1 (got {} per second, burst {})",
                    r.per_sec, r.burst
                ));
            }
        }
        if self.max_rooms_per_conn == 0 {
            return Err("max_rooms_per_conn must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zeros_are_named() {
        assert_eq!(RateLimits::default().validate(), Ok(()));
        let zero = Rate {
            per_sec: 0,
            burst: 1,
        };
        let no_burst = Rate {
            per_sec: 1,
            burst: 0,
        };
        for (r, name) in [
            (
                RateLimits {
                    frames: zero,
                    ..Default::default()
                },
                "rates.frames",
            ),
            (
                RateLimits {
                    member_events: no_burst,
                    ..Default::default()
                },
                "rates.member_events",
            ),
            (
                RateLimits {
                    frames: Rate {
                        per_sec: MAX_RATE_PER_SEC + 1,
                        burst: 1,
                    },
                    ..Default::default()
                },
                "rates.frames",
            ),
            (
                RateLimits {
                    max_rooms_per_conn: 0,
                    ..Default::default()
                },
                "max_rooms_per_conn",
            ),
        ] {
            let err = r.validate().expect_err(name);
            assert!(err.starts_with(name), "{name}: {err}");
        }
    }
}
