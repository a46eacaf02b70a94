//! A one-shot Linux timerfd on CLOCK_BOOTTIME (the engine's suspend-inclusive clock, see
//! `engine/clock.rs`), armed to absolute deadlines and watched by tokio's reactor. Not the
//! `_ALARM` variant: a deadline never wakes a sleeping device, it fires when the device wakes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

pub(super) struct TimerFd {
    fd: AsyncFd<OwnedFd>,
}

impl TimerFd {
    /// Creates the timerfd (disarmed) and registers it with the current tokio runtime.
    pub(super) fn new() -> io::Result<Self> {
        // SAFETY: plain FFI call with constant arguments; it returns a new fd or -1.
        let raw = unsafe {
            libc::timerfd_create(libc::CLOCK_BOOTTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a valid fd that was just created and is owned by nothing else.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps the fd open, and `as_raw_fd` returning that same fd, for as
        // long as the AsyncFd owns it; nothing else can close or replace it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }?;
        Ok(TimerFd { fd })
    }

    /// Arms the timer to `deadline`, a CLOCK_BOOTTIME reading (replacing any earlier setting; one
    /// already past expires at once), or disarms it.
    pub(super) fn set(&self, deadline: Option<Duration>) -> io::Result<()> {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let value = match deadline {
            Some(d) => timespec(d)?,
            // An all-zero it_value disarms.
            None => zero,
        };
        let spec = libc::itimerspec {
            it_interval: zero,
            it_value: value,
        };
        // SAFETY: the fd is a timerfd we own; `spec` is a valid itimerspec for the call's
        // duration; a null old_value is allowed.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resolves once the timer has expired, consuming the expiry. Readiness without an expiry
    /// to read (a re-arm after the fd became readable) is cleared and waited past. Cancel-safe.
    pub(super) async fn expired(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| read_expirations(fd.get_ref())) {
                Ok(result) => return result.map(drop),
                // try_io cleared the stale readiness: wait for the next.
                Err(_would_block) => continue,
            }
        }
    }

    /// Test hook: waits until the reactor has seen the fd readable and leaves that readiness
    /// cached, as a real expiry the runtime did not get to read before a re-arm would.
    #[cfg(test)]
    pub(super) async fn leave_readable(&self) {
        let guard = self.fd.readable().await;
        assert!(guard.is_ok());
    }
}

/// The expiry count; `WouldBlock` when there is none yet.
fn read_expirations(fd: &OwnedFd) -> io::Result<u64> {
    let mut count = [0u8; 8];
    // SAFETY: the fd is a timerfd we own; the buffer is 8 writable bytes, the size a timerfd
    // read needs.
    let n = unsafe { libc::read(fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != count.len() {
        return Err(io::Error::other(format!("timerfd read {n} bytes")));
    }
    Ok(u64::from_ne_bytes(count))
}

/// A CLOCK_BOOTTIME reading as a timespec. All zeros would disarm: a deadline at the clock's
/// start just means "already past".
fn timespec(at: Duration) -> io::Result<libc::timespec> {
    let at = at.max(Duration::from_nanos(1));
    let secs = libc::time_t::try_from(at.as_secs())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "deadline out of range"))?;
    Ok(libc::timespec {
        tv_sec: secs,
        // Below 1e9, so it fits every platform's c_long.
        tv_nsec: at.subsec_nanos() as libc::c_long,
    })
}
