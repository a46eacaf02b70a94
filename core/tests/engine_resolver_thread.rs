//! A host name in the server URL is resolved on one short-lived, named thread; once the lookup is
//! done the engine is back to its two threads. (Own binary: it counts the process's threads.)

use std::time::{Duration, Instant};

use roomlink::engine::{EVENTS_THREAD_NAME, RESOLVER_THREAD_NAME, RUNTIME_THREAD_NAME};
use roomlink::{Engine, EngineConfig, ErrorCode, Event, RoomConfig, RoomStateChangedReason, User};

fn count_threads(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// Polls a /proc reading until it holds (thread names appear and vanish asynchronously).
fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_host_name_lookup_uses_one_named_thread_that_goes_away() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("no /proc: skipping thread accounting");
        return;
    }
    // Nothing listens on port 9 of localhost: the lookup happens, every connect is refused.
    let config = EngineConfig {
        login_timeout: Duration::from_millis(500),
        ..EngineConfig::new("ws://localhost:9/v1/ws")
    };
    let engine = Engine::new(config, None).unwrap();
    engine
        .login_room("r", User::new("u", "U"), "t", RoomConfig::default())
        .unwrap();
    wait_for("the engine's threads", Duration::from_secs(10), || {
        count_threads(RUNTIME_THREAD_NAME) == 1
    });
    assert_eq!(
        count_threads(EVENTS_THREAD_NAME),
        0,
        "pull mode has no dispatcher"
    );
    assert!(
        count_threads(RESOLVER_THREAD_NAME) <= 1,
        "at most one resolver thread"
    );
    // The login gives up (1002053); with nothing left to connect, the resolver thread exits a
    // second after the last lookup while the engine lives on with its runtime thread only.
    let failed = (0..20).find_map(|_| match engine.wait_event(Duration::from_secs(1)) {
        Some(Event::RoomStateChanged {
            reason: RoomStateChangedReason::LoginFailed,
            error_code,
            ..
        }) => Some(error_code),
        _ => None,
    });
    assert_eq!(failed, Some(ErrorCode::NETWORK_TIMEOUT));
    wait_for(
        "the resolver thread to exit",
        Duration::from_secs(10),
        || count_threads(RESOLVER_THREAD_NAME) == 0,
    );
    assert_eq!(
        count_threads(RUNTIME_THREAD_NAME),
        1,
        "the engine keeps its runtime thread"
    );
    engine.destroy();
    wait_for(
        "the runtime thread to exit",
        Duration::from_secs(10),
        || count_threads(RUNTIME_THREAD_NAME) == 0,
    );
}
