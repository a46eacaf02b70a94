//! The machine behind its one lock, and the single path every input takes through it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use super::clock::{Clock, WakeDetector};
use super::events::EventQueue;
use crate::codes::ErrorCode;
use crate::machine::{Machine, Output, Transmit};

/// Commands for the runtime thread, in the order the machine produced them.
#[derive(Debug)]
pub(crate) enum Cmd {
    Transmit(Transmit),
    /// The machine's next deadline changed.
    Rearm(Option<Instant>),
    /// The engine is being destroyed: finish the transmits before this, then stop.
    Shutdown,
}

struct Core {
    machine: Machine,
    destroyed: bool,
    /// The deadline the machine last asked for (what the runtime's timer is armed to).
    deadline: Option<Instant>,
    /// Notices the first input after the process was suspended.
    wake: WakeDetector,
}

/// State shared by the app-facing [`Engine`](super::Engine), the runtime thread and its tasks.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// The machine's clock (suspend-inclusive); every `now` it is given is read from it.
    pub(crate) clock: Clock,
    pub(crate) events: Arc<EventQueue>,
    cmds: mpsc::UnboundedSender<Cmd>,
}

impl Shared {
    pub(crate) fn new(
        machine: Machine,
        events: Arc<EventQueue>,
        cmds: mpsc::UnboundedSender<Cmd>,
    ) -> Self {
        Self::with_clock(machine, events, cmds, Clock::new())
    }

    pub(crate) fn with_clock(
        machine: Machine,
        events: Arc<EventQueue>,
        cmds: mpsc::UnboundedSender<Cmd>,
        clock: Clock,
    ) -> Self {
        Shared {
            core: Mutex::new(Core {
                machine,
                destroyed: false,
                deadline: None,
                wake: WakeDetector::default(),
            }),
            clock,
            events,
            cmds,
        }
    }

    /// Feeds one input to the machine and routes everything it outputs, all under the lock, so
    /// events and transmits leave in the order the machine produced them whichever thread calls.
    pub(crate) fn input<R>(
        &self,
        f: impl FnOnce(&mut Machine, Instant) -> R,
    ) -> Result<R, ErrorCode> {
        let Ok(mut core) = self.core.lock() else {
            // Only a bug in the machine (a panic mid-call) poisons the lock; its state is suspect.
            log::error!("engine state poisoned by an earlier panic");
            return Err(ErrorCode::INTERNAL_ERROR);
        };
        if core.destroyed {
            return Err(ErrorCode::ENGINE_DESTROYED);
        }
        let now = self.now(&mut core);
        let result = f(&mut core.machine, now);
        self.drain(&mut core);
        Ok(result)
    }

    /// The machine's now. The first reading after a suspension first tells the machine it woke
    /// (as `on_app_foreground` does): its link's silence was the suspension, so it is probed,
    /// not trusted or dropped, before the input that woke the engine is handled.
    fn now(&self, core: &mut Core) -> Instant {
        let reading = self.clock.read();
        if core.wake.woke(&reading) {
            log::info!(
                "the process was suspended (in all {:?}); probing the link",
                reading.suspended
            );
            core.machine.on_app_foreground(reading.now);
            self.drain(core);
        }
        reading.now
    }

    /// Link and timer input from the runtime: after destroy it is dropped silently.
    pub(crate) fn link_input(&self, f: impl FnOnce(&mut Machine, Instant)) {
        let _ = self.input(f);
    }

    /// A read-only look at the machine (works after destroy too).
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&Machine) -> R) -> Option<R> {
        self.core.lock().ok().map(|core| f(&core.machine))
    }

    /// The timer fired: run the machine's timeout if its deadline is due, and return the deadline
    /// to arm next (read under the same lock, so it cannot be stale).
    pub(crate) fn fire_timer(&self) -> Option<Instant> {
        let Ok(mut core) = self.core.lock() else {
            return None;
        };
        if core.destroyed {
            return None;
        }
        let now = self.now(&mut core);
        if core.deadline.is_some_and(|d| d <= now) {
            core.machine.handle_timeout(now);
            self.drain(&mut core);
        }
        core.deadline
    }

    /// Logs out of every room and tells the runtime to stop. Returns false if already done.
    pub(crate) fn shutdown(&self) -> bool {
        let mut core = match self.core.lock() {
            Ok(core) => core,
            Err(poisoned) => poisoned.into_inner(),
        };
        if core.destroyed {
            return false;
        }
        // A poisoned machine is not asked to do anything more; the runtime still stops.
        if !self.core.is_poisoned() {
            let now = self.clock.now();
            core.machine.logout_all(now);
            self.drain(&mut core);
        }
        core.destroyed = true;
        let _ = self.cmds.send(Cmd::Shutdown);
        // Still under the core lock: no event can slip in after the queue is closed.
        self.events.close();
        true
    }

    fn drain(&self, core: &mut Core) {
        loop {
            match core.machine.poll_output() {
                Output::Event(event) => self.events.push(event),
                Output::Transmit(transmit) => {
                    // Fails only once the runtime has stopped (engine destroyed): nothing to do then.
                    let _ = self.cmds.send(Cmd::Transmit(transmit));
                }
                Output::Timeout(deadline) => {
                    if deadline != core.deadline {
                        core.deadline = deadline;
                        let _ = self.cmds.send(Cmd::Rearm(deadline));
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::config::{EngineConfig, RoomConfig};
    use crate::model::User;
    use crate::protocol::ClientFrame;

    /// Seconds the test's "device" has spent suspended, added to the real boot clock.
    static SUSPENDED_S: AtomicU64 = AtomicU64::new(0);

    fn boot_with_suspensions() -> Duration {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        let awake = START.get_or_init(std::time::Instant::now).elapsed();
        awake + Duration::from_secs(SUSPENDED_S.load(Ordering::SeqCst))
    }

    fn pings(rx: &mut mpsc::UnboundedReceiver<Cmd>) -> usize {
        let mut n = 0;
        while let Ok(cmd) = rx.try_recv() {
            if matches!(
                cmd,
                Cmd::Transmit(Transmit::Send {
                    frame: ClientFrame::Ping,
                    ..
                })
            ) {
                n += 1;
            }
        }
        n
    }

    /// The engine's own wake-up handling: the first input after the clock shows a suspension
    /// makes the machine probe its open link (a ping at once), before that input; later inputs
    /// do not.
    #[test]
    fn the_first_input_after_a_suspension_probes_the_link() {
        let machine = Machine::new(EngineConfig::new("ws://test"), 7);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let clock = Clock::with_boot(boot_with_suspensions);
        let shared = Shared::with_clock(machine, Arc::new(EventQueue::default()), tx, clock);
        let user = User::new("alice", "Alice");
        let login = |m: &mut Machine, now| m.login_room(now, "r", user, "t", RoomConfig::default());
        shared.input(login).unwrap().unwrap();
        let conn = loop {
            match rx.try_recv() {
                Ok(Cmd::Transmit(Transmit::Connect { conn, .. })) => break conn,
                Ok(_) => {}
                Err(e) => panic!("no Connect: {e:?}"),
            }
        };
        shared.link_input(|m, now| m.handle_connected(now, conn));
        assert_eq!(pings(&mut rx), 0, "a fresh link is not probed");
        SUSPENDED_S.fetch_add(60, Ordering::SeqCst);
        shared.link_input(|_, _| {});
        assert_eq!(
            pings(&mut rx),
            1,
            "probed on the first input after the suspension"
        );
        shared.link_input(|_, _| {});
        assert_eq!(pings(&mut rx), 0, "and only then");
    }
}
