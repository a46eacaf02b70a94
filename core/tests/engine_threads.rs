//! Thread accounting. One test in this binary on purpose: it counts the process's threads by name,
//! so no other engine may run concurrently.

mod engine_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_support::*;
use roomlink::engine::{EVENTS_THREAD_NAME, RUNTIME_THREAD_NAME};
use roomlink::transport::MemoryTransport;
use roomlink::{Engine, RoomConfig, User};

/// Threads of this process whose name is `name` (from /proc/self/task/*/comm).
fn count_threads(name: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

fn counts() -> (usize, usize) {
    (
        count_threads(RUNTIME_THREAD_NAME),
        count_threads(EVENTS_THREAD_NAME),
    )
}

/// Thread names appear just after spawn, and joined threads can linger in /proc for a moment:
/// wait for the expected counts (then hold them: see the asserts after).
fn wait_counts(expected: (usize, usize)) {
    let deadline = Instant::now() + LIMIT;
    while counts() != expected {
        assert!(
            Instant::now() < deadline,
            "threads: {:?}, expected {expected:?}",
            counts()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn engines_have_exactly_their_threads_and_destroy_joins_them_even_mid_flow() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("no /proc: skipping thread accounting");
        return;
    }
    assert_eq!(counts(), (0, 0));
    let (transport, acceptor) = MemoryTransport::new();
    let _server = AutoServer::start_spamming(acceptor, 50);

    let (handler, _rx) = collector();
    let with_handler =
        Engine::with_transport(config(), Arc::new(transport.clone()), Some(handler)).unwrap();
    // A new thread names itself as it starts, so wait for the names to appear.
    wait_counts((1, 1)); // one runtime and one dispatcher thread
    let pull = Engine::with_transport(config(), Arc::new(transport.clone()), None).unwrap();
    wait_counts((2, 1)); // pull mode has no dispatcher thread

    // An idle engine and a busy one both keep exactly their threads.
    with_handler
        .login_room("busy", User::new("u", "U"), "t", RoomConfig::default())
        .unwrap();
    assert_eq!(pull.wait_event(Duration::from_millis(50)), None);
    assert_eq!(counts(), (2, 1));

    pull.destroy();
    wait_counts((1, 1));
    drop(with_handler);
    wait_counts((0, 0));

    // Engines created and destroyed while events are flowing: no panic, no leaked thread.
    for i in 0..40u32 {
        let (handler, rx) = collector();
        let engine =
            Engine::with_transport(config(), Arc::new(transport.clone()), Some(handler)).unwrap();
        engine
            .login_room(
                &format!("room{i}"),
                User::new("u", "U"),
                "t",
                RoomConfig::default(),
            )
            .unwrap();
        // Destroy at varying points: before the login lands, during the event burst, after it.
        for _ in 0..(i % 4) * 10 {
            if rx.recv_timeout(Duration::from_secs(1)).is_err() {
                break;
            }
        }
        if i % 2 == 0 {
            engine.destroy();
        }
        drop(engine);
        // Everything queued before destroy was delivered; the last event is destroy's Logout.
        let delivered: Vec<_> = rx.try_iter().collect();
        assert!(delivered.iter().all(|e| e.room_id() == format!("room{i}")));
        let last = delivered.last().and_then(state).map(|s| s.1);
        assert_eq!(
            last,
            Some(roomlink::RoomStateChangedReason::Logout),
            "engine {i}"
        );
    }
    wait_counts((0, 0));
}
