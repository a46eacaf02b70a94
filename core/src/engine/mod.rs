//! The engine apps use: a tokio driver around the sans-IO [`Machine`].
//!
//! Threads: exactly one runtime thread per engine ("roomlink-rt", a current-thread tokio
//! runtime that owns the timer and the connections) and, when a handler is given, one dispatcher
//! thread ("roomlink-events") that delivers events in order with no internal lock held. Without a
//! handler, events queue for [`Engine::poll_event`] / [`Engine::wait_event`]; a pull-mode engine
//! starts its "roomlink-events" thread only when an event-ready notifier is set
//! ([`Engine::set_ready_notifier`], module `ready`).
//!
//! Every input — an app call, a link event, a timer — takes the machine's one lock, runs, and
//! routes the machine's output (events to the queue, transmits to the runtime) before unlocking,
//! so order is preserved whichever thread called. App calls return their synchronous result
//! (validation errors) at once; outcomes arrive as events.
//!
//! Destroy: [`Engine::destroy`] (or drop) logs out of every room, which emits a `Logout` event per
//! room, stops the runtime (connections get up to a second to send the logouts and close) and
//! joins both threads. Events queued before or by destroy are **delivered**, not dropped: the
//! dispatcher empties the queue before it exits, and in pull mode they stay available to
//! `poll_event`/`wait_event`. No event is produced after destroy. (One exception, for every
//! `Logout`: undelivered user/stream/count/token events of the room it ends are dropped, so
//! `Logout` is the last word on that room.)
//!
//! Observation: with a handler, [`Engine::observe_room_state`] follows one room's state as the
//! handler sees it (see [`observe`] for the exact semantics).

mod clock;
mod deadline;
mod events;
pub mod observe;
mod ready;
mod runtime;
mod shared;

use std::cell::Cell;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

pub use events::EventHandler;
use events::EventQueue;
use observe::RoomStates;
pub use observe::{ObservationHandle, RoomStateObserver};
use ready::Ready;
pub use ready::ReadyNotifier;
use runtime::LinkSetup;
use shared::Shared;

use crate::codes::ErrorCode;
use crate::config::{EngineConfig, ProxyUrl, RoomConfig};
use crate::event::Event;
use crate::machine::Machine;
use crate::model::User;
use crate::reason::ConnectionState;
use crate::transport::{Transport, WebSocketTransport};

/// Name of the engine's runtime thread.
pub const RUNTIME_THREAD_NAME: &str = "roomlink-rt";
/// Name of the engine's event dispatcher thread (with a handler), or of its event-ready notifier
/// thread (pull mode, once a notifier is set).
pub const EVENTS_THREAD_NAME: &str = "roomlink-events";
/// A short-lived thread that exists only while a host name in the server URL is being resolved
/// (and one second after); IP-literal URLs never start it.
pub const RESOLVER_THREAD_NAME: &str = "roomlink-dns";

#[derive(Default)]
struct Threads {
    runtime: Option<JoinHandle<()>>,
    dispatcher: Option<JoinHandle<()>>,
    /// Pull mode's event-ready notifier, started by the first `set_ready_notifier`.
    notifier: Option<JoinHandle<()>>,
}

thread_local! {
    /// This thread runs app callbacks (an engine's dispatcher or notifier thread).
    static CALLBACK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as one that runs app callbacks, for its whole life.
fn mark_callback_thread() {
    CALLBACK_THREAD.with(|c| c.set(true));
}

/// Whether the current thread runs app callbacks: waiting there for a callback to end could be
/// waiting for the caller itself.
fn on_callback_thread() -> bool {
    CALLBACK_THREAD.with(Cell::get)
}

/// A roomlink engine: one link to one server, any number of rooms (per its room mode).
/// `Send + Sync`: share it across threads behind an `Arc`.
pub struct Engine {
    shared: Arc<Shared>,
    threads: Mutex<Threads>,
    delivery: Delivery,
}

/// How events reach the app, chosen at creation; each mode's state lives in its variant.
enum Delivery {
    /// A handler called on the engine's dispatcher thread.
    Handler {
        /// What the handler has been told of each room, for observers.
        room_states: Arc<RoomStates>,
    },
    /// The pull API (`poll_event` / `wait_event`).
    Pull {
        /// The optional event-ready notifier.
        ready: Arc<Ready>,
    },
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.delivery {
            Delivery::Handler { .. } => "handler",
            Delivery::Pull { .. } => "pull",
        };
        f.debug_struct("Engine")
            .field("delivery", &mode)
            .finish_non_exhaustive()
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
};

impl Engine {
    /// An engine that connects with the [`WebSocketTransport`]. `handler` = `None` selects the
    /// pull API. Fails with `INVALID_ARGUMENT` if `config` does not validate.
    pub fn new(
        config: EngineConfig,
        handler: Option<Arc<dyn EventHandler>>,
    ) -> Result<Engine, ErrorCode> {
        config.validate()?;
        let proxy = config
            .proxy
            .as_ref()
            .map(ProxyUrl::parse)
            .transpose()
            .map_err(|_| ErrorCode::INVALID_ARGUMENT)?;
        let transport = match &config.tls_ca_pem {
            Some(pem) => WebSocketTransport::with_ca_pem(&pem.0)?,
            None => WebSocketTransport::new()?,
        }
        .with_proxy(proxy);
        Self::with_transport(config, Arc::new(transport), handler)
    }

    /// An engine over any [`Transport`] (e.g. [`MemoryTransport`](crate::transport::MemoryTransport)).
    pub fn with_transport(
        config: EngineConfig,
        transport: Arc<dyn Transport>,
        handler: Option<Arc<dyn EventHandler>>,
    ) -> Result<Engine, ErrorCode> {
        config.validate()?;
        // Backoff jitter only needs to differ between clients, not to be unpredictable.
        let seed = std::hash::RandomState::new().hash_one((Instant::now(), thread::current().id()));
        let setup_urls: Arc<[Arc<str>]> = config.urls().map(Arc::from).collect();
        let max_frame_bytes = config.max_frame_bytes;
        let machine = Machine::new(config, seed);

        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let events = Arc::new(EventQueue::default());
        let shared = Arc::new(Shared::new(machine, events.clone(), cmd_tx));
        let setup = LinkSetup {
            shared: shared.clone(),
            transport,
            urls: setup_urls,
            max_frame_bytes,
        };

        let internal = |what: &str, e: std::io::Error| {
            log::error!("cannot start the engine's {what}: {e}");
            ErrorCode::INTERNAL_ERROR
        };
        // tokio resolves host names on its blocking pool: allow one such thread, named, and let
        // it exit soon after the lookup, so an engine is two threads whenever it is not resolving
        // (IP-literal URLs never start it).
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name(RESOLVER_THREAD_NAME)
            .max_blocking_threads(1)
            .thread_keep_alive(Duration::from_secs(1))
            .build()
            .map_err(|e| internal("runtime", e))?;
        let runtime = thread::Builder::new()
            .name(RUNTIME_THREAD_NAME.into())
            .spawn(move || rt.block_on(runtime::run(setup, cmd_rx)))
            .map_err(|e| internal("runtime thread", e))?;
        let delivery = match handler {
            Some(_) => Delivery::Handler {
                room_states: Arc::default(),
            },
            None => Delivery::Pull {
                ready: Arc::default(),
            },
        };
        let engine = Engine {
            shared,
            threads: Mutex::new(Threads {
                runtime: Some(runtime),
                ..Threads::default()
            }),
            delivery,
        };
        if let (Some(handler), Delivery::Handler { room_states }) = (handler, &engine.delivery) {
            let room_states = room_states.clone();
            // On failure `engine` drops here, which stops and joins the runtime thread.
            let dispatcher = thread::Builder::new()
                .name(EVENTS_THREAD_NAME.into())
                .spawn(move || events::dispatch(events, handler, room_states))
                .map_err(|e| internal("event thread", e))?;
            engine.lock_threads().dispatcher = Some(dispatcher);
        }
        Ok(engine)
    }

    /// Starts logging in; reports `Logining`, then `Logined` or `LoginFailed`. Validation errors
    /// (bad IDs, already logged in) return at once and change nothing.
    pub fn login_room(
        &self,
        room_id: &str,
        user: User,
        token: &str,
        config: RoomConfig,
    ) -> Result<(), ErrorCode> {
        self.shared
            .input(|m, now| m.login_room(now, room_id, user, token, config))?
    }

    /// Logs out; reports `Logout` (or `LogoutFailed` with 1002002 for a room not logged in).
    pub fn logout_room(&self, room_id: &str) -> Result<(), ErrorCode> {
        self.shared.input(|m, now| m.logout_room(now, room_id))?
    }

    /// Logs out of `from_room_id` and in to `to_room_id` with the same user.
    pub fn switch_room(
        &self,
        from_room_id: &str,
        to_room_id: &str,
        token: &str,
    ) -> Result<(), ErrorCode> {
        self.shared
            .input(|m, now| m.switch_room(now, from_room_id, to_room_id, token))?
    }

    pub fn renew_token(&self, room_id: &str, token: &str) -> Result<(), ErrorCode> {
        self.shared
            .input(|m, now| m.renew_token(now, room_id, token))?
    }

    pub fn publish_stream(
        &self,
        room_id: &str,
        stream_id: &str,
        extra_info: &str,
    ) -> Result<(), ErrorCode> {
        self.shared
            .input(|m, now| m.publish_stream(now, room_id, stream_id, extra_info))?
    }

    pub fn unpublish_stream(&self, room_id: &str, stream_id: &str) -> Result<(), ErrorCode> {
        self.shared
            .input(|m, now| m.unpublish_stream(now, room_id, stream_id))?
    }

    /// A hint from the host app: it is going to the background, where the OS may suspend it.
    /// An open link pings at once, so the server's heartbeat timeout (after which the peers see
    /// this user leave) counts from now. The link is kept: a call with background audio goes
    /// on. Ignored after destroy.
    pub fn on_app_background(&self) {
        let _ = self.shared.input(|m, now| m.on_app_background(now));
    }

    /// A hint from the host app: it is back in the foreground. Rooms whose retry window or login
    /// timeout passed while it was suspended fail now; an open link is probed (a ping, and the
    /// link counts as lost if nothing answers within the heartbeat interval) instead of being
    /// trusted; a link waiting to reconnect retries at once. The engine does the same by itself
    /// on its first input after it notices a suspension (Linux, Android, Apple), but the hint
    /// is what makes it prompt everywhere. Ignored after destroy.
    pub fn on_app_foreground(&self) {
        let _ = self.shared.input(|m, now| m.on_app_foreground(now));
    }

    /// A hint from the host OS about network availability (ignored after destroy).
    pub fn on_network_changed(&self, available: bool) {
        let _ = self
            .shared
            .input(|m, now| m.on_network_changed(now, available));
    }

    /// The coarse state of a room (`Disconnected` for unknown rooms, and for all after destroy).
    pub fn room_state(&self, room_id: &str) -> ConnectionState {
        self.shared
            .peek(|m| m.room_state(room_id))
            .unwrap_or(ConnectionState::Disconnected)
    }

    /// Calls `observer` with the room's current state (as of the events the handler has been
    /// given; `Disconnected` for a room it has not heard of) on this thread, then with every
    /// change, right after the handler's `RoomStateChanged` for it; see [`observe`] for details.
    /// Keep the handle: [`ObservationHandle::cancel`] or dropping it stops delivery. Works after
    /// destroy too (the remaining queued events are still delivered).
    ///
    /// Fails with `INVALID_ARGUMENT` for a pull-mode engine (created without a handler): there is
    /// no handler call for a change to follow.
    pub fn observe_room_state(
        &self,
        room_id: &str,
        observer: Arc<dyn RoomStateObserver>,
    ) -> Result<ObservationHandle, ErrorCode> {
        match &self.delivery {
            Delivery::Handler { room_states } => Ok(room_states.observe(room_id, observer)),
            Delivery::Pull { .. } => Err(ErrorCode::INVALID_ARGUMENT),
        }
    }

    /// Pull API (only when no handler was given; otherwise always `None`): the next queued event,
    /// without blocking. Events queued before destroy remain available after it.
    pub fn poll_event(&self) -> Option<Event> {
        match self.delivery {
            Delivery::Pull { .. } => self.shared.events.try_pop(),
            Delivery::Handler { .. } => None,
        }
    }

    /// Pull API, blocking up to `timeout`. Returns `None` at once if a handler was given, or once
    /// the engine is destroyed and its queue is empty.
    pub fn wait_event(&self, timeout: Duration) -> Option<Event> {
        match self.delivery {
            Delivery::Pull { .. } => self.shared.events.pop_timeout(timeout),
            Delivery::Handler { .. } => None,
        }
    }

    /// Pull API: calls `notify` (no argument, no lock held) on the engine's "roomlink-events"
    /// thread each time the event queue goes from empty to non-empty, and once soon after this
    /// call if events are already waiting; `None` removes it. A host that, after each call, takes
    /// events with [`poll_event`](Self::poll_event) until it returns `None` never leaves one
    /// behind (the rule is spelled out in module `ready`). Calls may find the queue empty.
    ///
    /// On return the previous notifier is not running and will not be called again (unless this
    /// is called from inside a roomlink callback, where waiting could deadlock). [`destroy`]
    /// ends the notifications before it logs out: no call starts after destroy has begun, and its
    /// `Logout` events are not announced (take them after destroy returns).
    ///
    /// `INVALID_ARGUMENT` with a handler, `ENGINE_DESTROYED` after destroy, `INTERNAL_ERROR` if
    /// the thread cannot be started (nothing is set then).
    ///
    /// [`destroy`]: Self::destroy
    pub fn set_ready_notifier(&self, notify: Option<ReadyNotifier>) -> Result<(), ErrorCode> {
        let Delivery::Pull { ready } = &self.delivery else {
            return Err(ErrorCode::INVALID_ARGUMENT);
        };
        let start = notify.is_some();
        ready.replace(notify)?;
        if start {
            // Before the thread starts, so that events already waiting are announced exactly once.
            self.shared.events.reannounce();
            if let Err(code) = self.start_notifier(ready) {
                let _ = ready.replace(None);
                return Err(code);
            }
        }
        Ok(())
    }

    /// Starts the notifier thread unless it runs already or destroy has begun.
    fn start_notifier(&self, ready: &Arc<Ready>) -> Result<(), ErrorCode> {
        // Under the threads lock, which destroy takes (after `Ready::stop`) to collect the
        // threads it joins: a thread started here is either collected or never started.
        let mut threads = self.lock_threads();
        if threads.notifier.is_some() || ready.is_stopped() {
            return Ok(());
        }
        let (queue, ready) = (self.shared.events.clone(), ready.clone());
        let notifier = thread::Builder::new()
            .name(EVENTS_THREAD_NAME.into())
            .spawn(move || ready::run(queue, ready))
            .map_err(|e| {
                log::error!("cannot start the engine's event-ready thread: {e}");
                ErrorCode::INTERNAL_ERROR
            })?;
        threads.notifier = Some(notifier);
        Ok(())
    }

    /// Pull API: true once no event will ever come again, i.e. destroy has logged out (it may
    /// still be joining the engine's threads) and every event it left has been taken. From then
    /// on `poll_event`/`wait_event` return `None` at once, so a reader loop stops on this instead
    /// of calling them in vain until destroy returns. (With a handler: once the dispatcher has
    /// taken the last event.)
    pub fn is_drained(&self) -> bool {
        // Monotonic: the queue is closed under the state lock after destroy's last push, and a
        // closed queue only shrinks.
        self.shared.events.is_finished()
    }

    /// Ends event-ready notifications, logs out of every room (emitting `Logout` events), stops
    /// the engine's threads and joins them. Idempotent; also done by `Drop`. Later calls return
    /// `ENGINE_DESTROYED`.
    ///
    /// Called outside any callback, it returns once the engine's last callback has returned.
    ///
    /// Safe from inside a callback, of this engine or of another: there it returns after the
    /// runtime thread is joined, without waiting for this engine's callbacks (a dispatcher cannot
    /// join itself, and two engines destroying each other from their callbacks at the same moment
    /// would each wait for the other's callback to end). The dispatcher finishes delivering the
    /// queued events and then exits on its own; the notifier makes no further call. Their threads
    /// are joined by a later destroy/drop from outside any callback, if any.
    pub fn destroy(&self) {
        // First, so that no event-ready call starts from here on (waits for a running one,
        // except on a callback thread).
        if let Delivery::Pull { ready } = &self.delivery {
            ready.stop();
        }
        if self.shared.shutdown() {
            log::debug!("engine destroyed");
        }
        let in_callback = on_callback_thread();
        // Take the handles out first and join without holding the lock: a callback calling
        // destroy concurrently must not wait on a lock held by a thread that is joining it.
        let (runtime, dispatcher, notifier) = {
            let mut threads = self.lock_threads();
            let runtime = threads.runtime.take();
            if in_callback {
                // The callback threads stay for a destroy/drop from outside to join. The runtime
                // thread runs no callback: joining it cannot wait for a callback.
                (runtime, None, None)
            } else {
                (runtime, threads.dispatcher.take(), threads.notifier.take())
            }
        };
        let me = thread::current().id();
        for handle in [runtime, dispatcher, notifier].into_iter().flatten() {
            if handle.thread().id() != me && handle.join().is_err() {
                log::error!("an engine thread panicked");
            }
        }
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Threads> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.destroy();
    }
}
