//! Event delivery: handler order, re-entrant calls from callbacks, the pull API, destroy.

mod engine_support;

use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use engine_support::*;
use roomlink::protocol::ClientFrame;
use roomlink::transport::MemoryTransport;
use roomlink::{
    ConnectionState, Engine, ErrorCode, Event, RoomConfig, RoomStateChangedReason as R, User,
};

fn user() -> User {
    User::new("u1", "User One")
}

#[test]
fn login_reports_logining_then_logined_to_the_handler_in_order() {
    let (transport, acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    engine
        .login_room("room1", user(), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Logining, ErrorCode::OK)
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Connecting);

    let end = acceptor.accept_timeout(LIMIT).unwrap().accept();
    let hello = end.hello().clone();
    assert_eq!(hello.logins.len(), 1);
    assert_eq!(hello.logins[0].room_id, "room1");
    assert_eq!(hello.logins[0].token, "tok");
    answer(&end, &hello.logins[0]);

    // Logined first, then the count (the local user alone).
    let logined = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        state(&logined),
        Some(("room1".into(), R::Logined, ErrorCode::OK))
    );
    let count = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(
        count,
        Event::RoomOnlineUserCountUpdate {
            room_id: "room1".into(),
            count: 1
        }
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Connected);

    engine.logout_room("room1").unwrap();
    assert_eq!(next_state(&rx), ("room1".into(), R::Logout, ErrorCode::OK));
    assert_eq!(
        end.recv(LIMIT),
        Some(ClientFrame::Logout {
            room_id: "room1".into(),
            session_id: None,
            token: None,
        })
    );
    assert!(end.wait_closed(LIMIT), "the link closes with the last room");
}

#[test]
fn synchronous_errors_return_at_once_and_change_nothing() {
    let (transport, _acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    assert_eq!(
        engine.login_room("", user(), "tok", RoomConfig::default()),
        Err(ErrorCode::ROOM_ID_EMPTY)
    );
    assert_eq!(
        engine.login_room("r", User::new("", "x"), "tok", RoomConfig::default()),
        Err(ErrorCode::USER_ID_EMPTY)
    );
    assert_eq!(engine.room_state("r"), ConnectionState::Disconnected);
    assert_eq!(
        engine.logout_room("nope"),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    // ZEGO reports LogoutFailed through the callback too.
    assert_eq!(
        next_state(&rx),
        (
            "nope".into(),
            R::LogoutFailed,
            ErrorCode::ROOM_NOT_LOGGED_IN
        )
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "nothing else happened"
    );
}

#[test]
fn invalid_config_is_rejected() {
    let (transport, _acceptor) = MemoryTransport::new();
    let bad = roomlink::EngineConfig {
        heartbeat_interval: Duration::ZERO,
        ..config()
    };
    assert_eq!(
        Engine::with_transport(bad, Arc::new(transport), None).unwrap_err(),
        ErrorCode::INVALID_ARGUMENT
    );
    let bad_url = roomlink::EngineConfig::new("http://x/v1/ws");
    assert_eq!(
        Engine::new(bad_url, None).unwrap_err(),
        ErrorCode::INVALID_ARGUMENT
    );
}

/// A handler that can reach the engine it is registered with.
struct Reentrant {
    engine: OnceLock<Weak<Engine>>,
    seen: Mutex<Vec<Event>>,
    tx: Mutex<std::sync::mpsc::Sender<Event>>,
    on_logined: fn(&Engine) -> Result<(), ErrorCode>,
    result: Mutex<Option<Result<(), ErrorCode>>>,
}

impl roomlink::EventHandler for Reentrant {
    fn on_event(&self, event: Event) {
        self.seen.lock().unwrap().push(event.clone());
        if state(&event).is_some_and(|(_, reason, _)| reason == R::Logined) {
            if let Some(engine) = self.engine.get().and_then(Weak::upgrade) {
                *self.result.lock().unwrap() = Some((self.on_logined)(&engine));
            }
        }
        let _ = self.tx.lock().unwrap().send(event);
    }
}

fn reentrant_engine(
    on_logined: fn(&Engine) -> Result<(), ErrorCode>,
) -> (
    Arc<Engine>,
    Arc<Reentrant>,
    std::sync::mpsc::Receiver<Event>,
    roomlink::transport::MemoryAcceptor,
) {
    let (transport, acceptor) = MemoryTransport::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let handler = Arc::new(Reentrant {
        engine: OnceLock::new(),
        seen: Mutex::new(Vec::new()),
        tx: Mutex::new(tx),
        on_logined,
        result: Mutex::new(None),
    });
    let engine = Arc::new(
        Engine::with_transport(config(), Arc::new(transport), Some(handler.clone())).unwrap(),
    );
    handler.engine.set(Arc::downgrade(&engine)).unwrap();
    (engine, handler, rx, acceptor)
}

#[test]
fn logout_from_inside_the_logined_callback_works() {
    let (engine, handler, rx, acceptor) = reentrant_engine(|engine| engine.logout_room("room1"));
    engine
        .login_room("room1", user(), "tok", RoomConfig::default())
        .unwrap();
    let end = accept_and_answer(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Logining, ErrorCode::OK)
    );
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    assert_eq!(next_state(&rx), ("room1".into(), R::Logout, ErrorCode::OK));
    assert_eq!(*handler.result.lock().unwrap(), Some(Ok(())));
    assert_eq!(
        end.recv(LIMIT),
        Some(ClientFrame::Logout {
            room_id: "room1".into(),
            session_id: None,
            token: None,
        })
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Disconnected);
}

#[test]
fn destroy_from_inside_a_callback_does_not_deadlock() {
    let (engine, handler, rx, acceptor) = reentrant_engine(|engine| {
        engine.destroy();
        engine.login_room("again", User::new("u1", "x"), "tok", RoomConfig::default())
    });
    engine
        .login_room("room1", user(), "tok", RoomConfig::default())
        .unwrap();
    let end = accept_and_answer(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Logining, ErrorCode::OK)
    );
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    // destroy's Logout is still delivered, after the callback that called it returned.
    assert_eq!(next_state(&rx), ("room1".into(), R::Logout, ErrorCode::OK));
    assert_eq!(
        *handler.result.lock().unwrap(),
        Some(Err(ErrorCode::ENGINE_DESTROYED))
    );
    assert_eq!(
        end.recv(LIMIT),
        Some(ClientFrame::Logout {
            room_id: "room1".into(),
            session_id: None,
            token: None,
        })
    );
    // The dispatcher exits once the queue is empty; dropping the engine joins it.
    drop(engine);
    assert!(
        rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "no events after destroy"
    );
}

#[test]
fn pull_api_without_a_handler() {
    let (transport, acceptor) = MemoryTransport::new();
    let engine = Engine::with_transport(config(), Arc::new(transport), None).unwrap();
    assert_eq!(engine.poll_event(), None);
    assert_eq!(engine.wait_event(Duration::from_millis(20)), None);
    engine
        .login_room("room1", user(), "tok", RoomConfig::default())
        .unwrap();
    let first = engine.wait_event(LIMIT).unwrap();
    assert_eq!(
        state(&first),
        Some(("room1".into(), R::Logining, ErrorCode::OK))
    );
    let _end = accept_and_answer(&acceptor);
    let second = engine.wait_event(LIMIT).unwrap();
    assert_eq!(
        state(&second),
        Some(("room1".into(), R::Logined, ErrorCode::OK))
    );
    let third = engine.wait_event(LIMIT).unwrap();
    assert_eq!(
        third,
        Event::RoomOnlineUserCountUpdate {
            room_id: "room1".into(),
            count: 1
        }
    );
    assert_eq!(engine.poll_event(), None);

    // Destroy queues the Logout; it stays readable, then the queue reports closed at once.
    engine.destroy();
    let logout = engine.poll_event().unwrap();
    assert_eq!(
        state(&logout),
        Some(("room1".into(), R::Logout, ErrorCode::OK))
    );
    let started = std::time::Instant::now();
    assert_eq!(engine.wait_event(Duration::from_secs(30)), None);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a destroyed engine does not block"
    );
}

#[test]
fn a_pull_reader_learns_the_end_once_destroy_logged_out_and_the_queue_is_taken() {
    let (transport, _acceptor) = MemoryTransport::new();
    let engine =
        Arc::new(Engine::with_transport(multi_room_config(), Arc::new(transport), None).unwrap());
    for room in ["r1", "r2"] {
        engine
            .login_room(room, user(), "tok", RoomConfig::default())
            .unwrap();
    }
    assert!(!engine.is_drained(), "a live engine is never drained");
    // A reader blocked without a time limit, as a host's worker thread would be: it takes every
    // event and stops on `is_drained`, counting its calls. Each call returns an event or ends the
    // loop, however long destroy takes, so the count is bounded by the events, not by time.
    let reader = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            let (mut calls, mut events) = (0, Vec::new());
            loop {
                calls += 1;
                match engine.wait_event(Duration::from_secs(3600)) {
                    Some(event) => events.push(state(&event).unwrap().1),
                    None if engine.is_drained() => return (calls, events),
                    None => {} // a timeout: cannot happen within the hour
                }
            }
        })
    };
    engine.destroy();
    let (calls, events) = reader.join().unwrap();
    assert_eq!(
        events,
        vec![R::Logining, R::Logining, R::Logout, R::Logout],
        "every event, destroy's Logouts included"
    );
    assert!(calls <= events.len() + 1, "{calls} calls for {events:?}");
    assert!(engine.is_drained());
    assert_eq!(engine.poll_event(), None);
}

#[test]
fn calls_after_destroy_fail_with_engine_destroyed() {
    let (transport, _acceptor) = MemoryTransport::new();
    let engine = Engine::with_transport(config(), Arc::new(transport), None).unwrap();
    engine.destroy();
    engine.destroy(); // idempotent
    let destroyed = Err(ErrorCode::ENGINE_DESTROYED);
    assert_eq!(
        engine.login_room("r", user(), "t", RoomConfig::default()),
        destroyed
    );
    assert_eq!(engine.logout_room("r"), destroyed);
    assert_eq!(engine.switch_room("r", "s", "t"), destroyed);
    assert_eq!(engine.renew_token("r", "t"), destroyed);
    assert_eq!(engine.publish_stream("r", "s", ""), destroyed);
    assert_eq!(engine.unpublish_stream("r", "s"), destroyed);
    engine.on_network_changed(false);
    assert_eq!(engine.room_state("r"), ConnectionState::Disconnected);
    assert_eq!(engine.poll_event(), None);
}

#[test]
fn handler_mode_does_not_serve_the_pull_api() {
    let (transport, _acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    let _ = engine.logout_room("x");
    assert!(next_state(&rx).1 == R::LogoutFailed);
    assert_eq!(engine.poll_event(), None);
    assert_eq!(engine.wait_event(Duration::from_millis(10)), None);
}

#[test]
fn a_panicking_handler_does_not_stop_delivery() {
    let (transport, _acceptor) = MemoryTransport::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let calls = Arc::new(Mutex::new(0));
    let calls2 = calls.clone();
    let handler = move |event: Event| {
        let n = {
            let mut c = calls2.lock().unwrap();
            *c += 1;
            *c
        };
        if n == 1 {
            panic!("app bug");
        }
        let _ = tx.send(event);
    };
    let engine =
        Engine::with_transport(config(), Arc::new(transport), Some(Arc::new(handler))).unwrap();
    let _ = engine.logout_room("a");
    let _ = engine.logout_room("b");
    assert_eq!(next_state(&rx).0, "b");
    assert_eq!(*calls.lock().unwrap(), 2);
}

/// A host in the shape of a UI thread: the notifier only signals; the host's own thread takes
/// the events, and only after a signal.
struct Signals {
    calls: Mutex<usize>,
    changed: std::sync::Condvar,
}

impl Signals {
    fn new() -> Arc<Signals> {
        Arc::new(Signals {
            calls: Mutex::new(0),
            changed: std::sync::Condvar::new(),
        })
    }

    fn notifier(self: &Arc<Signals>) -> roomlink::engine::ReadyNotifier {
        let signals = self.clone();
        Arc::new(move || {
            *signals.calls.lock().unwrap() += 1;
            signals.changed.notify_all();
        })
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }

    /// Waits until at least `n` calls were made; returns the count then.
    fn wait_for(&self, n: usize) -> usize {
        let calls = self.calls.lock().unwrap();
        let (calls, _) = self
            .changed
            .wait_timeout_while(calls, LIMIT, |calls| *calls < n)
            .unwrap();
        assert!(*calls >= n, "{} notification(s), expected {n}", *calls);
        *calls
    }
}

fn drain_states(engine: &Engine) -> Vec<(String, R)> {
    std::iter::from_fn(|| engine.poll_event())
        .map(|e| {
            let (room, reason, _) = state(&e).unwrap();
            (room, reason)
        })
        .collect()
}

#[test]
fn the_ready_notifier_announces_each_change_from_empty_and_stops_at_destroy() {
    let (transport, _acceptor) = MemoryTransport::new();
    let signals = Signals::new();
    let (handler, _rx) = collector();
    let with_handler =
        Engine::with_transport(config(), Arc::new(transport.clone()), Some(handler)).unwrap();
    assert_eq!(
        with_handler.set_ready_notifier(Some(signals.notifier())),
        Err(ErrorCode::INVALID_ARGUMENT)
    );

    let engine = Engine::with_transport(multi_room_config(), Arc::new(transport), None).unwrap();
    // Events waiting when the notifier is set are announced once.
    engine
        .login_room("r1", user(), "tok", RoomConfig::default())
        .unwrap();
    engine.set_ready_notifier(Some(signals.notifier())).unwrap();
    assert_eq!(signals.wait_for(1), 1);
    // Not drained: later events land in a non-empty queue and are not announced again; the
    // next drain takes them. Then one new change from empty is announced by exactly one call
    // (any call for r2/r3 would have come before it: one thread, in order).
    for room in ["r2", "r3"] {
        engine
            .login_room(room, user(), "tok", RoomConfig::default())
            .unwrap();
    }
    assert_eq!(drain_states(&engine).len(), 3);
    engine
        .login_room("r4", user(), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(signals.wait_for(2), 2);
    assert_eq!(drain_states(&engine), vec![("r4".into(), R::Logining)]);

    // Destroy ends the notifications first: its four Logouts are not announced, and no
    // notifier can be set afterwards. They wait for the host, who takes them after destroy.
    engine.destroy();
    assert_eq!(signals.calls(), 2);
    assert_eq!(
        engine.set_ready_notifier(Some(signals.notifier())),
        Err(ErrorCode::ENGINE_DESTROYED)
    );
    let logouts = drain_states(&engine);
    assert_eq!(logouts.len(), 4);
    assert!(logouts.iter().all(|(_, reason)| *reason == R::Logout));
    assert!(engine.is_drained());
}

#[test]
fn the_ready_notifier_runs_on_the_events_thread_and_may_destroy_its_engine() {
    let (transport, _acceptor) = MemoryTransport::new();
    let engine = Arc::new(Engine::with_transport(config(), Arc::new(transport), None).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let weak: Weak<Engine> = Arc::downgrade(&engine);
    engine
        .set_ready_notifier(Some(Arc::new(move || {
            let name = std::thread::current().name().map(str::to_owned);
            let Some(engine) = weak.upgrade() else { return };
            // Inside the call: polling works, replacing and destroying return without waiting
            // for this very call.
            let event = engine.poll_event();
            engine.set_ready_notifier(None).unwrap();
            engine.destroy();
            tx.send((name, event, engine.poll_event())).unwrap();
        })))
        .unwrap();
    engine
        .login_room("r1", user(), "tok", RoomConfig::default())
        .unwrap();
    let (name, first, after) = rx.recv_timeout(LIMIT).unwrap();
    assert_eq!(name.as_deref(), Some(roomlink::engine::EVENTS_THREAD_NAME));
    assert_eq!(state(&first.unwrap()).unwrap().1, R::Logining);
    assert_eq!(state(&after.unwrap()).unwrap().1, R::Logout);
    assert!(engine.is_drained());
    // Removed and destroyed from inside its only call: called exactly once.
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
}

#[test]
fn two_engines_destroying_each_other_from_their_callbacks_at_once_do_not_deadlock() {
    // Both handlers are inside a callback at the same moment (a two-party rendezvous), then each
    // destroys the other engine. Joining the other's dispatcher there would wait for a callback
    // that is itself waiting: destroy from inside any callback does not wait for callbacks.
    struct Rendezvous {
        arrived: Mutex<usize>,
        all: std::sync::Condvar,
    }
    let meet = Arc::new(Rendezvous {
        arrived: Mutex::new(0),
        all: std::sync::Condvar::new(),
    });
    let (transport, _acceptor) = MemoryTransport::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let peers: [Arc<OnceLock<Weak<Engine>>>; 2] = Default::default();
    let engines: Vec<Arc<Engine>> = (0..2)
        .map(|i| {
            let (meet, tx, other) = (meet.clone(), tx.clone(), peers[1 - i].clone());
            let handler = move |event: Event| {
                if state(&event).map(|s| s.1) != Some(R::Logining) {
                    return;
                }
                let mut arrived = meet.arrived.lock().unwrap();
                *arrived += 1;
                meet.all.notify_all();
                let (arrived, _) = meet
                    .all
                    .wait_timeout_while(arrived, LIMIT, |n| *n < 2)
                    .unwrap();
                let met = *arrived == 2;
                drop(arrived);
                if let Some(other) = other.get().and_then(Weak::upgrade) {
                    other.destroy();
                }
                tx.send((i, met)).unwrap();
            };
            let engine = Engine::with_transport(
                config(),
                Arc::new(transport.clone()),
                Some(Arc::new(handler)),
            )
            .unwrap();
            Arc::new(engine)
        })
        .collect();
    for (slot, engine) in peers.iter().zip(&engines) {
        slot.set(Arc::downgrade(engine)).unwrap();
    }
    for engine in &engines {
        engine
            .login_room("r1", user(), "tok", RoomConfig::default())
            .unwrap();
    }
    let mut done: Vec<(usize, bool)> = (0..2)
        .map(|_| rx.recv_timeout(LIMIT).expect("a destroy deadlocked"))
        .collect();
    done.sort();
    assert_eq!(
        done,
        vec![(0, true), (1, true)],
        "both met inside a callback"
    );
    // Both are destroyed; dropping them here (outside any callback) joins their threads.
    for engine in &engines {
        assert_eq!(
            engine.login_room("r2", user(), "tok", RoomConfig::default()),
            Err(ErrorCode::ENGINE_DESTROYED)
        );
    }
    drop(engines);
}
