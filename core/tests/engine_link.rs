//! The engine over a misbehaving link: drops, malformed frames, blackholes, refusals, heartbeats.

mod engine_support;

use std::sync::Arc;
use std::time::Duration;

use engine_support::*;
use roomlink::machine::LinkError;
use roomlink::protocol::{ClientFrame, ServerFrame};
use roomlink::transport::{MemoryAcceptor, MemoryTransport, ServerEnd};
use roomlink::{
    ConnectionState, Engine, EngineConfig, ErrorCode, Event, RoomConfig,
    RoomStateChangedReason as R, User,
};

fn logged_in(
    config: EngineConfig,
) -> (
    Engine,
    std::sync::mpsc::Receiver<Event>,
    MemoryAcceptor,
    ServerEnd,
) {
    let (transport, acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config, Arc::new(transport), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    let end = accept_and_answer(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Logining, ErrorCode::OK)
    );
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    (engine, rx, acceptor, end)
}

/// Accepts the reconnect, checks it resumes the session, and answers Resumed.
fn accept_resume(acceptor: &MemoryAcceptor) -> ServerEnd {
    let pending = acceptor
        .accept_timeout(LIMIT)
        .expect("no reconnect attempt");
    let login = pending
        .hello()
        .logins
        .first()
        .cloned()
        .expect("reconnect carries the room");
    assert_eq!(login.room_id, "room1");
    let resume = login.resume.clone().expect("reconnect resumes");
    assert_eq!(resume.session_id, "session-room1");
    let end = pending.accept();
    answer(&end, &login);
    end
}

#[test]
fn dropped_link_reports_reconnecting_then_reconnected_after_resume() {
    let (engine, rx, acceptor, end) = logged_in(config());
    end.close();
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnecting, ErrorCode::RECONNECTING)
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Reconnecting);
    let _end = accept_resume(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnected, ErrorCode::OK)
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Connected);
}

#[test]
fn malformed_frame_drops_the_link_and_the_engine_resumes() {
    let (_engine, rx, acceptor, end) = logged_in(config());
    assert!(end.send_text("{not json"));
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnecting, ErrorCode::RECONNECTING)
    );
    assert!(
        end.wait_closed(LIMIT),
        "the engine closed the broken connection"
    );
    let _end = accept_resume(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnected, ErrorCode::OK)
    );
}

#[test]
fn refused_reconnects_are_retried_until_one_succeeds() {
    let (_engine, rx, acceptor, end) = logged_in(config());
    end.fail(LinkError::Transient("reset".into()));
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnecting, ErrorCode::RECONNECTING)
    );
    for _ in 0..3 {
        let pending = acceptor.accept_timeout(LIMIT).expect("retry");
        pending.refuse(LinkError::Transient("refused".into()));
    }
    let _end = accept_resume(&acceptor);
    // One Reconnecting per outage, then Reconnected.
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnected, ErrorCode::OK)
    );
}

#[test]
fn fatal_connect_error_fails_the_login() {
    let (transport, acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config(), Arc::new(transport), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(next_state(&rx).1, R::Logining);
    let fatal = LinkError::Fatal {
        code: ErrorCode::CONNECT_FAILED,
        detail: "HTTP 404".into(),
    };
    acceptor.accept_timeout(LIMIT).unwrap().refuse(fatal);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::LoginFailed, ErrorCode::CONNECT_FAILED)
    );
    assert_eq!(engine.room_state("room1"), ConnectionState::Failed);
    assert!(
        acceptor
            .accept_timeout(Duration::from_millis(200))
            .is_none(),
        "no retry after a fatal error"
    );
}

#[test]
fn heartbeats_keep_an_idle_link_alive_and_a_silent_server_is_detected() {
    let config = EngineConfig {
        heartbeat_interval: Duration::from_millis(40),
        ping_timeout: Duration::from_millis(300),
        ..config()
    };
    let (engine, rx, acceptor, end) = logged_in(config);
    // Answer three pings: the timer keeps firing on its own.
    for _ in 0..3 {
        assert_eq!(
            end.recv_until(LIMIT, |f| *f == ClientFrame::Ping),
            Some(ClientFrame::Ping)
        );
        end.send(&ServerFrame::Pong);
    }
    assert_eq!(engine.room_state("room1"), ConnectionState::Connected);
    // Now go silent (blackhole): the ping timeout declares the link lost and closes it.
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnecting, ErrorCode::RECONNECTING)
    );
    assert!(end.wait_closed(LIMIT));
    let _end = accept_resume(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnected, ErrorCode::OK)
    );
}

#[test]
fn blackholed_connect_is_abandoned_and_retried() {
    let config = EngineConfig {
        heartbeat_interval: Duration::from_millis(40),
        ping_timeout: Duration::from_millis(150),
        ..config()
    };
    let (transport, acceptor) = MemoryTransport::new();
    let (handler, rx) = collector();
    let engine = Engine::with_transport(config, Arc::new(transport), Some(handler)).unwrap();
    engine
        .login_room("room1", User::new("u1", "U"), "tok", RoomConfig::default())
        .unwrap();
    assert_eq!(next_state(&rx).1, R::Logining);
    let held = acceptor.accept_timeout(LIMIT).expect("first attempt");
    // Never answered: after the ping timeout the engine gives up on it and tries again.
    let _end = accept_and_answer(&acceptor);
    assert_eq!(next_state(&rx), ("room1".into(), R::Logined, ErrorCode::OK));
    drop(held);
    assert_eq!(engine.room_state("room1"), ConnectionState::Connected);
}

#[test]
fn network_hints_reach_the_machine() {
    let (engine, rx, acceptor, end) = logged_in(config());
    engine.on_network_changed(false);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnecting, ErrorCode::RECONNECTING)
    );
    assert!(
        end.wait_closed(LIMIT),
        "the engine closed the link it declared lost"
    );
    engine.on_network_changed(true);
    let _end = accept_resume(&acceptor);
    assert_eq!(
        next_state(&rx),
        ("room1".into(), R::Reconnected, ErrorCode::OK)
    );
}

#[test]
fn room_events_from_the_server_reach_the_app() {
    use roomlink::UpdateType;
    use roomlink::protocol::{RoomEvent, SeqEvent};
    let (_engine, rx, _acceptor, end) = logged_in(config());
    let bob = User::new("bob", "Bob");
    end.send(&ServerFrame::Event {
        room_id: "room1".into(),
        first_seq: None,
        event: SeqEvent {
            seq: 1,
            event: RoomEvent::UserAdd {
                users: vec![bob.clone()],
            },
        },
    });
    let deadline = std::time::Instant::now() + LIMIT;
    let mut got_add = false;
    while std::time::Instant::now() < deadline {
        match rx.recv_timeout(LIMIT).unwrap() {
            Event::RoomUserUpdate {
                room_id,
                update_type,
                users,
            } => {
                assert_eq!(
                    (room_id.as_str(), update_type, users),
                    ("room1", UpdateType::Add, vec![bob.clone()])
                );
                got_add = true;
            }
            Event::RoomOnlineUserCountUpdate { count: 2, .. } => {
                assert!(got_add, "the count follows the user update");
                return;
            }
            _ => {}
        }
    }
    panic!("no user update");
}
