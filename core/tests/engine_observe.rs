//! Room-state observation through a real engine: the observer follows the handler's
//! `RoomStateChanged` events one for one, starts from what the handler has seen (not from the
//! machine, which runs ahead), survives a panicking handler, may destroy the engine from inside,
//! and is refused on pull-mode engines.

mod engine_support;

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::Instant;

use engine_support::*;
use roomlink::engine::{EVENTS_THREAD_NAME, EventHandler};
use roomlink::transport::MemoryTransport;
use roomlink::{
    ConnectionState, Engine, ErrorCode, Event, ObservationHandle, RoomConfig, RoomStateObserver,
    User,
};

/// What the handler and the observers saw, in the order they saw it.
#[derive(Default)]
struct Trace {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Trace {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.changed.notify_all();
    }

    /// Waits (up to `LIMIT`) until `line` has been seen `n` times, then returns everything so far.
    fn wait_for_nth(&self, line: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + LIMIT;
        let mut lines = self.lines.lock().unwrap();
        while lines.iter().filter(|l| *l == line).count() < n {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {line:?} within {LIMIT:?}; saw {lines:?}"));
            lines = self.changed.wait_timeout(lines, left).unwrap().0;
        }
        lines.clone()
    }

    fn wait_for(&self, line: &str) -> Vec<String> {
        self.wait_for_nth(line, 1)
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

/// A handler that writes each state change into `trace` (other events are left out).
fn tracing_handler(trace: &Arc<Trace>) -> Arc<dyn EventHandler> {
    let trace = trace.clone();
    Arc::new(move |event: Event| {
        if let Some((room, reason, _)) = state(&event) {
            trace.push(format!("event {room} {reason:?}"));
        }
    })
}

/// An observer that writes each state into `trace`, tagged with `name`.
fn tracing_observer(trace: &Arc<Trace>, name: &str) -> Arc<dyn RoomStateObserver> {
    let (trace, name) = (trace.clone(), name.to_owned());
    Arc::new(move |state: ConnectionState| trace.push(format!("{name} {state:?}")))
}

fn user() -> User {
    User::new("u1", "User One")
}

fn login(engine: &Engine, room: &str) {
    engine
        .login_room(room, user(), "tok", RoomConfig::default())
        .unwrap();
}

#[test]
fn each_change_follows_the_handlers_event_and_no_state_is_reported_twice() {
    let (transport, acceptor) = MemoryTransport::new();
    let trace = Arc::new(Trace::default());
    let engine =
        Engine::with_transport(config(), Arc::new(transport), Some(tracing_handler(&trace)))
            .unwrap();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let observer = {
        let (trace, threads) = (trace.clone(), threads.clone());
        move |state: ConnectionState| {
            let name = std::thread::current().name().map(str::to_owned);
            threads.lock().unwrap().push(name);
            trace.push(format!("state {state:?}"));
        }
    };
    let _handle = engine
        .observe_room_state("room1", Arc::new(observer))
        .unwrap();
    let _other = engine
        .observe_room_state("room2", tracing_observer(&trace, "room2"))
        .unwrap();
    login(&engine, "room1");
    let _end = accept_and_answer(&acceptor);
    trace.wait_for("state Connected");
    engine.logout_room("room1").unwrap();
    trace.wait_for("state Disconnected");
    // Changes no state: the handler hears of it, the observer does not.
    assert_eq!(
        engine.logout_room("room1"),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    let seen = trace.wait_for("event room1 LogoutFailed");
    assert_eq!(
        seen,
        [
            "state Disconnected",
            "room2 Disconnected",
            "event room1 Logining",
            "state Connecting",
            "event room1 Logined",
            "state Connected",
            "event room1 Logout",
            "state Disconnected",
            "event room1 LogoutFailed",
        ]
    );
    // The first state on the observing thread, every change on the event thread.
    let here = std::thread::current().name().map(str::to_owned);
    let events = Some(EVENTS_THREAD_NAME.to_owned());
    assert_eq!(
        *threads.lock().unwrap(),
        [here, events.clone(), events.clone(), events]
    );
}

/// Blocks on the first event until the test lets it go.
struct GatedHandler {
    trace: Arc<Trace>,
    go: Mutex<mpsc::Receiver<()>>,
    gated: OnceLock<()>,
}

impl EventHandler for GatedHandler {
    fn on_event(&self, event: Event) {
        if let Some((room, reason, _)) = state(&event) {
            self.trace.push(format!("event {room} {reason:?}"));
        }
        if self.gated.set(()).is_ok() {
            let _ = self.go.lock().unwrap().recv_timeout(LIMIT);
        }
    }
}

#[test]
fn a_late_observer_starts_from_what_the_handler_has_seen_not_from_the_machine() {
    let (transport, _acceptor) = MemoryTransport::new();
    let trace = Arc::new(Trace::default());
    let (go, go_rx) = mpsc::channel();
    let handler = Arc::new(GatedHandler {
        trace: trace.clone(),
        go: Mutex::new(go_rx),
        gated: OnceLock::new(),
    });
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    login(&engine, "room1");
    trace.wait_for("event room1 Logining"); // the handler now holds the event thread
    engine.logout_room("room1").unwrap();
    // The machine has logged out; the handler has not been told yet.
    assert_eq!(engine.room_state("room1"), ConnectionState::Disconnected);
    let _handle = engine
        .observe_room_state("room1", tracing_observer(&trace, "late"))
        .unwrap();
    assert_eq!(
        trace.snapshot(),
        ["event room1 Logining", "late Connecting"]
    );
    go.send(()).unwrap();
    assert_eq!(
        trace.wait_for("late Disconnected"),
        [
            "event room1 Logining",
            "late Connecting",
            "event room1 Logout",
            "late Disconnected",
        ]
    );
}

#[test]
fn observers_hear_of_a_change_even_when_the_handler_panics() {
    let (transport, _acceptor) = MemoryTransport::new();
    let trace = Arc::new(Trace::default());
    let handler = |_event: Event| panic!("the app's handler threw");
    let engine =
        Engine::with_transport(config(), Arc::new(transport), Some(Arc::new(handler))).unwrap();
    let _handle = engine
        .observe_room_state("room1", tracing_observer(&trace, "state"))
        .unwrap();
    login(&engine, "room1");
    engine.logout_room("room1").unwrap();
    assert_eq!(
        trace.wait_for_nth("state Disconnected", 2),
        [
            "state Disconnected",
            "state Connecting",
            "state Disconnected"
        ]
    );
}

/// Destroys its engine from inside `on_state` when the room is `Connecting`.
struct Destroyer {
    engine: OnceLock<Weak<Engine>>,
    trace: Arc<Trace>,
}

impl RoomStateObserver for Destroyer {
    fn on_state(&self, state: ConnectionState) {
        self.trace.push(format!("state {state:?}"));
        if state == ConnectionState::Connecting {
            if let Some(engine) = self.engine.get().and_then(Weak::upgrade) {
                engine.destroy();
                self.trace.push("destroyed in observer".into());
            }
        }
    }
}

#[test]
fn an_observer_may_destroy_the_engine_and_the_logout_still_reaches_everyone() {
    let (transport, _acceptor) = MemoryTransport::new();
    let trace = Arc::new(Trace::default());
    let engine = Arc::new(
        Engine::with_transport(config(), Arc::new(transport), Some(tracing_handler(&trace)))
            .unwrap(),
    );
    let destroyer = Arc::new(Destroyer {
        engine: OnceLock::new(),
        trace: trace.clone(),
    });
    assert!(destroyer.engine.set(Arc::downgrade(&engine)).is_ok());
    let _handle = engine
        .observe_room_state("room1", destroyer.clone())
        .unwrap();
    login(&engine, "room1");
    assert_eq!(
        trace.wait_for_nth("state Disconnected", 2),
        [
            "state Disconnected",
            "event room1 Logining",
            "state Connecting",
            "destroyed in observer",
            "event room1 Logout",
            "state Disconnected",
        ]
    );
    assert_eq!(
        engine.login_room("room1", user(), "tok", RoomConfig::default()),
        Err(ErrorCode::ENGINE_DESTROYED)
    );
    // Observing still works after destroy: the delivered state, here the Logout's.
    let after: ObservationHandle = engine
        .observe_room_state("room1", tracing_observer(&trace, "after"))
        .unwrap();
    assert_eq!(trace.snapshot().last().unwrap(), "after Disconnected");
    drop(after);
}

#[test]
fn a_pull_mode_engine_refuses_observation_with_invalid_argument_and_keeps_its_events() {
    let (transport, _acceptor) = MemoryTransport::new();
    let engine = Engine::with_transport(config(), Arc::new(transport), None).unwrap();
    let called = Arc::new(Mutex::new(Vec::new()));
    let observer = {
        let called = called.clone();
        move |state: ConnectionState| called.lock().unwrap().push(state)
    };
    assert_eq!(
        engine
            .observe_room_state("room1", Arc::new(observer))
            .unwrap_err(),
        ErrorCode::INVALID_ARGUMENT
    );
    assert!(called.lock().unwrap().is_empty());
    login(&engine, "room1");
    let event = engine.wait_event(LIMIT).expect("the Logining event");
    assert_eq!(
        state(&event),
        Some((
            "room1".into(),
            roomlink::RoomStateChangedReason::Logining,
            ErrorCode::OK
        ))
    );
    assert!(called.lock().unwrap().is_empty());
}
