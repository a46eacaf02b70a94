//! Many threads calling one engine at once.

mod engine_support;

use std::collections::BTreeMap;
use std::sync::Arc;

use engine_support::*;
use roomlink::transport::MemoryTransport;
use roomlink::{ConnectionState, Engine, ErrorCode, RoomConfig, RoomStateChangedReason as R, User};

#[test]
fn concurrent_calls_from_many_threads_keep_every_room_consistent() {
    let (transport, acceptor) = MemoryTransport::new();
    let server = AutoServer::start(acceptor);
    let (handler, rx) = collector();
    let engine = Arc::new(
        Engine::with_transport(multi_room_config(), Arc::new(transport), Some(handler)).unwrap(),
    );

    const THREADS: usize = 8;
    const ROUNDS: usize = 5;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let room = format!("room{t}");
                for round in 0..ROUNDS {
                    let user = User::new(format!("user{t}"), "User");
                    engine
                        .login_room(&room, user, "tok", RoomConfig::default())
                        .unwrap();
                    // Logging in twice is refused synchronously, whatever the other threads do.
                    let again = engine.login_room(
                        &room,
                        User::new(format!("user{t}"), "U"),
                        "tok",
                        RoomConfig::default(),
                    );
                    assert_eq!(again, Err(ErrorCode::ALREADY_LOGGED_IN));
                    let published = engine.publish_stream(&room, &format!("s{t}-{round}"), "");
                    assert!(
                        matches!(published, Ok(()) | Err(ErrorCode::ROOM_NOT_LOGGED_IN)),
                        "{published:?}"
                    );
                    let _ = engine.room_state(&room);
                    engine.logout_room(&room).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    // Every room's state changes form Logining, [Logined], Logout cycles, in order.
    let mut per_room: BTreeMap<String, Vec<R>> = BTreeMap::new();
    let mut logouts = 0;
    while logouts < THREADS * ROUNDS {
        let (room, reason, code) = next_state(&rx);
        assert_eq!(code, ErrorCode::OK, "{room} {reason}");
        if reason == R::Logout {
            logouts += 1;
        }
        per_room.entry(room).or_default().push(reason);
    }
    assert_eq!(per_room.len(), THREADS);
    for (room, reasons) in &per_room {
        let mut cycles = 0;
        let mut it = reasons.iter().peekable();
        while let Some(first) = it.next() {
            assert_eq!(*first, R::Logining, "{room}: {reasons:?}");
            if it.peek() == Some(&&R::Logined) {
                it.next();
            }
            assert_eq!(it.next(), Some(&R::Logout), "{room}: {reasons:?}");
            cycles += 1;
        }
        assert_eq!(cycles, ROUNDS, "{room}");
        assert_eq!(engine.room_state(room), ConnectionState::Disconnected);
    }
    drop(server);
}
