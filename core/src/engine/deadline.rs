//! The runtime's one timer: armed to the machine's next deadline, one wake-up per deadline.
//!
//! tokio's timer is a hierarchical wheel: on the way to a deadline 10 s out it wakes the thread
//! once per wheel level (about 6.7 s, 1.8 s, 15 ms, then the deadline), which nearly doubled an
//! idle engine's wake-ups. On Linux and Android a timerfd armed to the absolute deadline wakes
//! the thread exactly once. Elsewhere (and if the timerfd cannot be made) tokio's sleep is used.
//! A macOS/iOS equivalent would be a kqueue `EVFILT_TIMER`; not done yet.
//!
//! Deadlines are on the engine's suspend-inclusive clock (`clock`). The timerfd runs on that
//! same clock (CLOCK_BOOTTIME), so a deadline that passes while the device sleeps fires as soon
//! as it wakes. tokio's sleep runs on the monotonic clock, which stops in suspend: it is armed
//! to the time left, and may fire late after a suspension (the engine's wake-up handling and the
//! app's `on_app_foreground` hint cover that).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod timerfd;

use std::pin::Pin;
use std::time::Instant;

use tokio::time::Sleep;

use super::clock::Clock;

/// A one-shot timer. `set` replaces the deadline (`None` disarms); `wait` resolves once the
/// deadline has passed (at once for a deadline already past) and leaves the timer disarmed.
pub(crate) struct DeadlineTimer {
    deadline: Option<Instant>,
    clock: Clock,
    backend: Backend,
}

enum Backend {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    TimerFd(timerfd::TimerFd),
    Sleep(Option<Pin<Box<Sleep>>>),
}

impl DeadlineTimer {
    /// The best timer for this OS. Must be called inside the tokio runtime that will poll it.
    pub(crate) fn new(clock: Clock) -> Self {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        match timerfd::TimerFd::new() {
            Ok(fd) => {
                return DeadlineTimer {
                    deadline: None,
                    clock,
                    backend: Backend::TimerFd(fd),
                };
            }
            Err(e) => log::warn!("timerfd unavailable ({e}); using tokio's timer"),
        }
        Self::sleep(clock)
    }

    /// The portable timer (tokio's sleep).
    pub(crate) fn sleep(clock: Clock) -> Self {
        DeadlineTimer {
            deadline: None,
            clock,
            backend: Backend::Sleep(None),
        }
    }

    /// Arms the timer to `deadline`, replacing any earlier one; `None` disarms it.
    pub(crate) fn set(&mut self, deadline: Option<Instant>) {
        // After a fire the runtime sets the next deadline, then gets the same one as a Rearm.
        if deadline == self.deadline {
            return;
        }
        self.deadline = deadline;
        match &mut self.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::TimerFd(fd) => {
                if let Err(e) = fd.set(deadline.map(|d| self.clock.boot_at(d))) {
                    self.fall_back(&e);
                }
            }
            Backend::Sleep(sleep) => set_sleep(sleep, deadline.map(|d| self.clock.monotonic_at(d))),
        }
    }

    /// Resolves when the armed deadline has passed; pending while disarmed. Cancel-safe: dropping
    /// the future leaves the timer armed as it was.
    pub(crate) async fn wait(&mut self) {
        loop {
            match &mut self.backend {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                Backend::TimerFd(fd) => match fd.expired().await {
                    Ok(()) => break,
                    Err(e) => self.fall_back(&e),
                },
                Backend::Sleep(Some(sleep)) => {
                    sleep.as_mut().await;
                    self.backend = Backend::Sleep(None);
                    break;
                }
                Backend::Sleep(None) => std::future::pending().await,
            }
        }
        self.deadline = None;
    }

    /// The timerfd failed: carry on with tokio's timer, armed to the same deadline.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn fall_back(&mut self, error: &std::io::Error) {
        log::warn!("timerfd failed ({error}); using tokio's timer");
        let mut sleep = None;
        set_sleep(
            &mut sleep,
            self.deadline.map(|d| self.clock.monotonic_at(d)),
        );
        self.backend = Backend::Sleep(sleep);
    }
}

/// Arms `sleep` to `deadline`, an instant on the monotonic clock.
fn set_sleep(sleep: &mut Option<Pin<Box<Sleep>>>, deadline: Option<Instant>) {
    match (deadline, sleep.as_mut()) {
        (None, _) => *sleep = None,
        (Some(d), Some(s)) => s.as_mut().reset(tokio::time::Instant::from_std(d)),
        (Some(d), None) => {
            *sleep = Some(Box::pin(tokio::time::sleep_until(
                tokio::time::Instant::from_std(d),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Both implementations where the OS has the timerfd one; the portable one everywhere.
    fn timers() -> Vec<DeadlineTimer> {
        let native = DeadlineTimer::new(Clock::new());
        #[cfg(any(target_os = "linux", target_os = "android"))]
        assert!(matches!(native.backend, Backend::TimerFd(_)));
        vec![native, DeadlineTimer::sleep(Clock::new())]
    }

    /// A later event that proves `timer` stayed quiet until then (biased: the timer wins a tie).
    async fn fires_before(timer: &mut DeadlineTimer, later: Instant) -> bool {
        tokio::select! {
            biased;
            () = timer.wait() => true,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(later)) => false,
        }
    }

    #[tokio::test]
    async fn fires_not_before_its_deadline() {
        for mut timer in timers() {
            let deadline = Instant::now() + Duration::from_millis(30);
            timer.set(Some(deadline));
            timer.wait().await;
            assert!(Instant::now() >= deadline);
        }
    }

    #[tokio::test]
    async fn a_past_deadline_fires_at_once() {
        for mut timer in timers() {
            let past = Instant::now() - Duration::from_secs(1);
            timer.set(Some(past));
            // Long enough that only a timer that failed to fire would reach it.
            assert!(fires_before(&mut timer, Instant::now() + Duration::from_secs(30)).await);
        }
    }

    #[tokio::test]
    async fn rearm_replaces_the_deadline() {
        for mut timer in timers() {
            let now = Instant::now();
            timer.set(Some(now + Duration::from_millis(10)));
            let later = now + Duration::from_millis(60);
            timer.set(Some(later));
            timer.wait().await;
            assert!(Instant::now() >= later);
        }
    }

    #[tokio::test]
    async fn none_disarms() {
        for mut timer in timers() {
            let soon = Instant::now() + Duration::from_millis(10);
            timer.set(Some(soon));
            timer.set(None);
            assert!(!fires_before(&mut timer, soon + Duration::from_millis(100)).await);
        }
    }

    #[tokio::test]
    async fn a_fired_timer_stays_disarmed_until_set() {
        for mut timer in timers() {
            let now = Instant::now();
            timer.set(Some(now));
            timer.wait().await;
            assert!(!fires_before(&mut timer, Instant::now() + Duration::from_millis(50)).await);
            timer.set(Some(Instant::now()));
            timer.wait().await;
        }
    }

    /// Readiness left over from an expiry that was re-armed away must not end the new wait early.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn stale_readiness_does_not_fire_early() {
        let mut timer = DeadlineTimer::new(Clock::new());
        timer.set(Some(Instant::now() - Duration::from_secs(1)));
        let Backend::TimerFd(fd) = &timer.backend else {
            panic!("no timerfd");
        };
        fd.leave_readable().await;
        let later = Instant::now() + Duration::from_millis(40);
        timer.set(Some(later));
        timer.wait().await;
        assert!(Instant::now() >= later);
    }
}
