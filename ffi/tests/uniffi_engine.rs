//! The UniFFI `Engine` object driven from Rust as a binding would drive it: errors carry core's
//! codes, destroy behaves as documented, and a room-state observer follows the listener's events
//! one for one. The server URL points at a closed port, so logins stay in `Logining` (retrying)
//! until logged out; full flows against a real server run in the Python conformance driver.

use std::net::TcpListener;
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use roomlink_ffi::uniffi::{
    ConnectionState, Engine, EngineConfig, RoomEvent, RoomEventListener, RoomStateObserver,
    RoomlinkError, User, default_engine_config,
};

/// What the listener and the observers saw, in the order they saw it.
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

    /// Waits (up to 10 s) until `line` has been seen, then returns everything so far.
    fn wait_for(&self, line: &str) -> Vec<String> {
        self.wait_for_nth(line, 1)
    }

    /// Waits (up to 10 s) until `line` has been seen `n` times, then returns everything so far.
    fn wait_for_nth(&self, line: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lines = self.lines.lock().unwrap();
        while lines.iter().filter(|l| *l == line).count() < n {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {line:?} within 10 s; saw {lines:?}"));
            lines = self.changed.wait_timeout(lines, left).unwrap().0;
        }
        lines.clone()
    }
}

struct Listener {
    trace: Arc<Trace>,
    /// Destroys this engine from inside the callback of the first `Logining`.
    destroy_on_logining: OnceLock<Weak<Engine>>,
}

impl RoomEventListener for Listener {
    fn on_event(&self, event: RoomEvent) {
        if let RoomEvent::RoomStateChanged {
            room_id,
            reason,
            error_code,
            ..
        } = &event
        {
            self.trace
                .push(format!("event {room_id} {reason:?} {error_code}"));
            if let Some(engine) = self.destroy_on_logining.get().and_then(Weak::upgrade) {
                if *reason == roomlink_ffi::uniffi::RoomStateChangedReason::Logining {
                    engine.destroy();
                    self.trace.push("destroyed in callback".into());
                }
            }
        }
    }
}

struct Observer(Arc<Trace>);

impl RoomStateObserver for Observer {
    fn on_state(&self, state: ConnectionState) {
        self.0.push(format!("state {state:?}"));
    }
}

/// A URL whose port nobody listens on: connects are refused and retried.
fn closed_port_config() -> EngineConfig {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    default_engine_config(format!("ws://127.0.0.1:{port}/v1/ws"))
}

fn engine() -> (Arc<Engine>, Arc<Trace>, Arc<Listener>) {
    let trace = Arc::new(Trace::default());
    let listener = Arc::new(Listener {
        trace: trace.clone(),
        destroy_on_logining: OnceLock::new(),
    });
    let engine = Engine::new(closed_port_config(), listener.clone()).unwrap();
    (engine, trace, listener)
}

fn alice() -> User {
    User {
        user_id: "alice".into(),
        user_name: "Alice".into(),
    }
}

fn code(result: Result<(), RoomlinkError>) -> i32 {
    result.err().map_or(0, |e| e.code())
}

#[test]
fn a_config_core_rejects_fails_with_invalid_argument_1900004() {
    let config = EngineConfig {
        ping_timeout_ms: 10,
        heartbeat_interval_ms: 10,
        ..closed_port_config()
    };
    let listener = Arc::new(Listener {
        trace: Arc::default(),
        destroy_on_logining: OnceLock::new(),
    });
    match Engine::new(config, listener) {
        Err(RoomlinkError::InvalidArgument { code, detail }) => {
            assert_eq!(code, 1900004);
            assert!(detail.starts_with("INVALID_ARGUMENT"), "{detail}");
        }
        other => panic!("expected InvalidArgument, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn calls_return_cores_codes_and_after_destroy_fail_with_1900005() {
    let (engine, trace, _listener) = engine();
    let nobody = User {
        user_id: String::new(),
        user_name: "x".into(),
    };
    assert!(matches!(
        engine.login_room("r1".into(), nobody, "t".into(), true),
        Err(RoomlinkError::InvalidArgument { code: 1002005, .. })
    ));
    assert!(matches!(
        engine.logout_room("r1".into()),
        Err(RoomlinkError::InvalidState { code: 1002002, .. })
    ));
    trace.wait_for("event r1 LogoutFailed 1002002");
    assert_eq!(
        code(engine.login_room("r1".into(), alice(), "t".into(), true)),
        0
    );
    assert_eq!(engine.room_state("r1".into()), ConnectionState::Connecting);
    assert_eq!(
        code(engine.login_room("r1".into(), alice(), "t".into(), true)),
        1002001
    );

    engine.destroy();
    engine.destroy(); // idempotent
    trace.wait_for("event r1 Logout 0");
    assert_eq!(
        engine.room_state("r1".into()),
        ConnectionState::Disconnected
    );
    for result in [
        engine.login_room("r2".into(), alice(), "t".into(), true),
        engine.logout_room("r1".into()),
        engine.switch_room("r1".into(), "r2".into(), "t".into()),
        engine.renew_token("r1".into(), "t".into()),
        engine.publish_stream("r1".into(), "s1".into(), String::new()),
        engine.unpublish_stream("r1".into(), "s1".into()),
    ] {
        assert!(
            matches!(
                result,
                Err(RoomlinkError::InvalidState { code: 1900005, .. })
            ),
            "{result:?}"
        );
    }
    engine.on_network_changed(true); // ignored, no panic
    engine.on_app_background();
    engine.on_app_foreground();
}

#[test]
fn the_observer_gets_the_current_state_then_each_change_right_after_its_event() {
    let (engine, trace, _listener) = engine();
    let handle = engine.observe_room_state("r1".into(), Arc::new(Observer(trace.clone())));
    engine
        .login_room("r1".into(), alice(), "t".into(), true)
        .unwrap();
    trace.wait_for("state Connecting");
    engine.logout_room("r1".into()).unwrap();
    trace.wait_for("state Disconnected");
    assert!(engine.logout_room("r1".into()).is_err()); // LogoutFailed: no state change
    let seen = trace.wait_for("event r1 LogoutFailed 1002002");
    assert_eq!(
        seen,
        [
            "state Disconnected",
            "event r1 Logining 0",
            "state Connecting",
            "event r1 Logout 0",
            "state Disconnected",
            "event r1 LogoutFailed 1002002",
        ]
    );

    // A late observer starts from the state the listener has seen.
    engine
        .login_room("r1".into(), alice(), "t".into(), true)
        .unwrap();
    trace.wait_for_nth("state Connecting", 2);
    let late_trace = Arc::new(Trace::default());
    let late = engine.observe_room_state("r1".into(), Arc::new(Observer(late_trace.clone())));
    assert_eq!(
        late_trace.wait_for("state Connecting"),
        ["state Connecting"]
    );

    // Cancelled and dropped handles hear nothing more.
    handle.cancel();
    drop(late);
    engine.logout_room("r1".into()).unwrap();
    let seen = trace.wait_for_nth("event r1 Logout 0", 2);
    assert_eq!(
        seen[6..],
        [
            "event r1 Logining 0",
            "state Connecting",
            "event r1 Logout 0"
        ]
    );
    engine.destroy();
    assert_eq!(late_trace.lines.lock().unwrap().len(), 1);
    assert_eq!(trace.lines.lock().unwrap().len(), 9);
}

#[test]
fn destroy_from_inside_the_listener_delivers_the_logout_and_ends_the_engine() {
    let (engine, trace, listener) = engine();
    assert!(
        listener
            .destroy_on_logining
            .set(Arc::downgrade(&engine))
            .is_ok()
    );
    engine
        .login_room("r1".into(), alice(), "t".into(), true)
        .unwrap();
    let seen = trace.wait_for("event r1 Logout 0");
    assert_eq!(
        seen,
        [
            "event r1 Logining 0",
            "destroyed in callback",
            "event r1 Logout 0"
        ]
    );
    assert_eq!(
        code(engine.login_room("r1".into(), alice(), "t".into(), true)),
        1900005
    );
}

/// A host logger that throws, or calls back into the engine, must not harm the engine: core logs
/// while it holds the engine's state, so an unwinding sink would poison it and a re-entrant call
/// would deadlock. Calls from inside the sink are refused with 1900105; a throw loses one record.
#[test]
fn a_log_sink_that_throws_or_calls_the_engine_leaves_the_engine_working() {
    use roomlink_ffi::uniffi::{LogLevel, LogSink, set_log_sink};

    #[derive(Default)]
    struct Sink {
        engine: OnceLock<Weak<Engine>>,
        records: Mutex<usize>,
        refused: Mutex<Vec<i32>>,
    }
    impl LogSink for Sink {
        fn log(&self, _level: LogLevel, _target: String, _message: String) {
            let n = {
                let mut records = self.records.lock().unwrap();
                *records += 1;
                *records
            };
            if let Some(engine) = self.engine.get().and_then(Weak::upgrade) {
                let refused = code(engine.logout_room("room-1".into()));
                self.refused.lock().unwrap().push(refused);
                assert_eq!(
                    engine.room_state("room-1".into()),
                    ConnectionState::Disconnected
                );
            }
            if n % 2 == 1 {
                panic!("the host logger threw");
            }
        }
    }

    let (engine, trace, _listener) = engine();
    let sink = Arc::new(Sink::default());
    sink.engine.set(Arc::downgrade(&engine)).unwrap();
    set_log_sink(Some(sink.clone()), LogLevel::Trace);

    assert_eq!(
        code(engine.login_room("room-1".into(), alice(), "t".into(), true)),
        0
    );
    trace.wait_for("event room-1 Logining 0");
    assert_eq!(code(engine.logout_room("room-1".into())), 0);
    trace.wait_for("event room-1 Logout 0");
    engine.destroy();
    set_log_sink(None, LogLevel::Error);

    assert!(
        *sink.records.lock().unwrap() >= 2,
        "the engine logged while the sink was set"
    );
    let refused = sink.refused.lock().unwrap();
    assert!(!refused.is_empty());
    assert!(refused.iter().all(|c| *c == 1900105), "{refused:?}");
}
