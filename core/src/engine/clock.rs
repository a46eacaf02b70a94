//! The engine's clock, which counts time the device spent suspended.
//!
//! `std::time::Instant` stops while the system sleeps on Linux, Android (CLOCK_MONOTONIC) and
//! Apple platforms (CLOCK_UPTIME_RAW). A phone that suspends a backgrounded app for an hour would
//! then resume with its retry window, its token warning and its link's silence all an hour
//! behind the world: a room the server forgot long ago would still look connected. The machine
//! is fed `Clock::now` instead: an `Instant` that also advances through suspensions, read from
//! CLOCK_BOOTTIME (Linux, Android) or `mach_continuous_time` (Apple). Elsewhere (Windows, whose
//! performance counter already runs on, and any other OS) it is `Instant::now()`.
//!
//! The values are `Instant`s so the sans-IO machine keeps its plain `Instant` arithmetic; they
//! are only ever compared with each other, never with `Instant::now()`, except through the
//! conversions below (the deadline timer's).

use std::time::{Duration, Instant};

/// How far the suspend-inclusive clock must have run ahead of the monotonic one since the last
/// reading for the engine to treat it as a wake-up from a suspension (and probe the link). Well
/// above the two clocks' disagreement when nothing was suspended (nanoseconds), well below any
/// suspension that matters (the heartbeat interval is seconds).
pub(crate) const WAKE_GAP: Duration = Duration::from_secs(1);

/// The mapping between `Instant` and the suspend-inclusive clock, fixed when the engine starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: Instant,
    boot_origin: Duration,
    /// The suspend-inclusive OS clock (`boot_now`; tests put a suspension into it).
    boot: fn() -> Duration,
}

/// One reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    /// The suspend-inclusive time, for the machine.
    pub(crate) now: Instant,
    /// How long the system was suspended in all since the clock was made.
    pub(crate) suspended: Duration,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self::with_boot(boot_now)
    }

    /// A clock on another suspend-inclusive source (a test's, which can "suspend").
    pub(crate) fn with_boot(boot: fn() -> Duration) -> Self {
        Clock {
            origin: Instant::now(),
            boot_origin: boot(),
            boot,
        }
    }

    #[cfg(test)]
    fn at(origin: Instant, boot_origin: Duration) -> Self {
        Clock {
            origin,
            boot_origin,
            boot: boot_now,
        }
    }

    /// The suspend-inclusive now.
    pub(crate) fn now(&self) -> Instant {
        self.read().now
    }

    pub(crate) fn read(&self) -> Reading {
        self.reading(Instant::now(), (self.boot)())
    }

    fn reading(&self, mono: Instant, boot: Duration) -> Reading {
        let through_suspend = boot.saturating_sub(self.boot_origin);
        let awake = mono.saturating_duration_since(self.origin);
        Reading {
            now: add(self.origin, through_suspend),
            suspended: through_suspend.saturating_sub(awake),
        }
    }

    /// `deadline` on the suspend-inclusive OS clock (CLOCK_BOOTTIME on Linux), as time since
    /// that clock's start: what an absolute timer on that clock is armed to.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn boot_at(&self, deadline: Instant) -> Duration {
        match deadline.checked_duration_since(self.origin) {
            Some(ahead) => self.boot_origin.saturating_add(ahead),
            None => self
                .boot_origin
                .saturating_sub(self.origin.duration_since(deadline)),
        }
    }

    /// `deadline` as an `Instant` on the monotonic clock, for timers that run on it (tokio's):
    /// the time left until it, from now. A suspension in between makes such a timer late, which
    /// the wake-up handling corrects (the engine re-reads the clock on every input).
    pub(crate) fn monotonic_at(&self, deadline: Instant) -> Instant {
        let reading = self.read();
        let left = deadline.saturating_duration_since(reading.now);
        add(Instant::now(), left)
    }
}

/// `at + d`, saturating far in the future rather than panicking (as the machine's deadlines do).
fn add(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(at)
}

/// Tells wake-ups apart from ordinary readings: the suspended total grew by at least
/// [`WAKE_GAP`] since the last reading.
#[derive(Debug, Default)]
pub(crate) struct WakeDetector {
    seen: Duration,
}

impl WakeDetector {
    /// Whether `reading` is the first since a suspension; remembers it either way.
    pub(crate) fn woke(&mut self, reading: &Reading) -> bool {
        let grown = reading.suspended.saturating_sub(self.seen);
        self.seen = self.seen.max(reading.suspended);
        grown >= WAKE_GAP
    }
}

/// The suspend-inclusive OS clock, as time since its (arbitrary) start.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn boot_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        // Kernels before 2.6.39 lack it: fall back to a clock that stops in suspend.
        return fallback_now();
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// `mach_continuous_time` (macOS 10.12, iOS 10 and later): mach ticks including sleep.
#[cfg(target_vendor = "apple")]
fn boot_now() -> Duration {
    unsafe extern "C" {
        fn mach_continuous_time() -> u64;
    }
    static TIMEBASE: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let &(numer, denom) = TIMEBASE.get_or_init(|| {
        let mut info = libc::mach_timebase_info { numer: 0, denom: 0 };
        // SAFETY: `info` is a valid, writable struct for the call's duration.
        let rc = unsafe { libc::mach_timebase_info(&mut info) };
        if rc != 0 || info.denom == 0 {
            (1, 1)
        } else {
            (u64::from(info.numer), u64::from(info.denom))
        }
    });
    // SAFETY: no arguments; always available on the OS versions Rust supports.
    let ticks = unsafe { mach_continuous_time() };
    let nanos = u128::from(ticks) * u128::from(numer) / u128::from(denom);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn boot_now() -> Duration {
    fallback_now()
}

/// `Instant::now()` as time since the first call: a clock that may stop in suspend.
#[cfg_attr(target_vendor = "apple", allow(dead_code))]
fn fallback_now() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_suspension_moves_now_but_not_the_monotonic_clock() {
        let origin = Instant::now();
        let clock = Clock::at(origin, secs(1000));
        // 5 s awake, then 60 s suspended: the monotonic clock saw 5 s, the boot clock 65 s.
        let r = clock.reading(origin + secs(5), secs(1065));
        assert_eq!(r.now, origin + secs(65));
        assert_eq!(r.suspended, secs(60));
    }

    #[test]
    fn without_a_suspension_nothing_is_suspended() {
        let origin = Instant::now();
        let clock = Clock::at(origin, secs(7));
        let r = clock.reading(origin + secs(30), secs(37));
        assert_eq!(r.now, origin + secs(30));
        assert_eq!(r.suspended, Duration::ZERO);
    }

    #[test]
    fn the_detector_reports_each_suspension_once() {
        let origin = Instant::now();
        let clock = Clock::at(origin, secs(0));
        let mut d = WakeDetector::default();
        assert!(!d.woke(&clock.reading(origin + secs(1), secs(1))));
        // A 90 s suspension: reported on the first reading after it, not on the next.
        assert!(d.woke(&clock.reading(origin + secs(2), secs(92))));
        assert!(!d.woke(&clock.reading(origin + secs(3), secs(93))));
        // Less than WAKE_GAP more: not a wake-up.
        let small = secs(94) + WAKE_GAP - Duration::from_millis(1);
        assert!(!d.woke(&clock.reading(origin + secs(4), small)));
        // Readings out of order between threads never make a wake-up up.
        assert!(!d.woke(&clock.reading(origin + secs(4), secs(93))));
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn boot_time_of_a_deadline_is_the_same_offset_from_the_origin() {
        let origin = Instant::now() + secs(10);
        let clock = Clock::at(origin, secs(500));
        assert_eq!(clock.boot_at(origin + secs(3)), secs(503));
        assert_eq!(clock.boot_at(origin - secs(2)), secs(498));
        let long_ago = Clock::at(origin, secs(1));
        assert_eq!(long_ago.boot_at(origin - secs(2)), Duration::ZERO);
    }

    #[test]
    fn the_real_clock_runs_at_instants_rate_while_awake() {
        let clock = Clock::new();
        // Each clock reading sandwiched between two Instant readings, so preemption between the
        // calls cannot make the comparison fail: the boot clock's interval lies between the
        // inner and the outer monotonic one (both clocks tick at the same, NTP-slewed rate).
        let t0 = Instant::now();
        let c0 = clock.now();
        let t1 = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        let t2 = Instant::now();
        let c1 = clock.now();
        let t3 = Instant::now();
        let boot = c1 - c0;
        let slack = Duration::from_micros(1);
        assert!(boot + slack >= t2 - t1, "{boot:?} < {:?}", t2 - t1);
        assert!(boot <= t3 - t0 + slack, "{boot:?} > {:?}", t3 - t0);
        // The test process was not suspended.
        assert!(clock.read().suspended < WAKE_GAP);
    }
}
