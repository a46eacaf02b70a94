//! Room commands and server verdicts: login, logout, switch, modes, kicks, tokens, validation.

mod sim;

use std::collections::BTreeMap;

use roomlink::event::extended_keys;
use roomlink::machine::{Output, Transmit};
use roomlink::protocol::ClientFrame;
use roomlink::{ConnectionState, ErrorCode, Event, RoomConfig, RoomStateChangedReason as R, User};
use sim::{Fault, Sim, multi, secs};

#[test]
fn bad_token_at_login_fails_with_1002033() {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "bad").unwrap();
    assert_eq!(
        sim.states(0, "r"),
        vec![
            (R::Logining, ErrorCode::OK),
            (R::LoginFailed, ErrorCode::AUTH_FAILED)
        ]
    );
    assert_eq!(sim.clients[0].m.room_state("r"), ConnectionState::Failed);
    assert_eq!(sim.clients[0].timeout, None, "link closed, no timers");
    // May log in again after a terminal reason.
    sim.login(0, "r", "good").unwrap();
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
}

#[test]
fn login_times_out_with_1002053_after_several_attempts_when_unreachable() {
    let mut sim = Sim::new(1);
    sim.set_fault(0, Fault::Refuse);
    sim.login(0, "r", "t").unwrap();
    sim.run_for(secs(60));
    assert_eq!(
        sim.states(0, "r"),
        vec![
            (R::Logining, ErrorCode::OK),
            (R::LoginFailed, ErrorCode::NETWORK_TIMEOUT)
        ]
    );
    let connects = sim.connects(0);
    assert!(
        connects.len() >= 3,
        "several attempts, got {}",
        connects.len()
    );
    let failed_at = sim.clients[0].events.last().unwrap().0;
    assert_eq!(failed_at - sim.start, sim.cfg.login_timeout);
    assert!(connects.iter().all(|(t, _)| *t < failed_at));
    assert_eq!(sim.clients[0].timeout, None);
}

#[test]
fn login_timeout_while_blackholed_closes_the_hanging_attempt() {
    let mut sim = Sim::new(1);
    sim.set_fault(0, Fault::Blackhole);
    sim.login(0, "r", "t").unwrap();
    sim.run_for(secs(60));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::LoginFailed, ErrorCode::NETWORK_TIMEOUT))
    );
    let Transmit::Connect { conn: last, .. } = sim.connects(0).last().unwrap().1.clone() else {
        unreachable!()
    };
    assert!(
        sim.clients[0]
            .transmits
            .iter()
            .any(|(_, t)| *t == Transmit::Close { conn: last })
    );
    assert_eq!(sim.clients[0].timeout, None);
}

#[test]
fn logout_of_unknown_room_reports_logout_failed_and_errs() {
    let mut sim = Sim::new(1);
    assert_eq!(sim.logout(0, "nowhere"), Err(ErrorCode::ROOM_NOT_LOGGED_IN));
    assert_eq!(
        sim.states(0, "nowhere"),
        vec![(R::LogoutFailed, ErrorCode::ROOM_NOT_LOGGED_IN)]
    );
    assert_eq!(
        sim.clients[0].m.room_state("nowhere"),
        ConnectionState::Disconnected
    );
    assert!(sim.clients[0].transmits.is_empty());
}

#[test]
fn logout_sends_logout_and_closes_the_idle_link() {
    let mut sim = Sim::new(2);
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.logout(0, "r").unwrap();
    assert_eq!(sim.states(0, "r").last(), Some(&(R::Logout, ErrorCode::OK)));
    assert!(sim.clients[0].transmits.iter().any(|(_, t)| matches!(
        t,
        Transmit::Send {
            frame: ClientFrame::Logout { .. },
            ..
        }
    )));
    assert!(matches!(
        sim.clients[0].transmits.last().unwrap().1,
        Transmit::Close { .. }
    ));
    assert_eq!(sim.clients[0].timeout, None);
    assert_eq!(sim.user_list(1, "r"), Default::default());
    // A second logout is LogoutFailed.
    assert_eq!(sim.logout(0, "r"), Err(ErrorCode::ROOM_NOT_LOGGED_IN));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::LogoutFailed, ErrorCode::ROOM_NOT_LOGGED_IN))
    );
}

#[test]
fn login_twice_errs_1002001_and_emits_nothing() {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "t").unwrap();
    let (ev, tx) = (sim.clients[0].events.len(), sim.clients[0].transmits.len());
    assert_eq!(sim.login(0, "r", "t"), Err(ErrorCode::ALREADY_LOGGED_IN));
    assert_eq!(
        (sim.clients[0].events.len(), sim.clients[0].transmits.len()),
        (ev, tx)
    );
}

#[test]
fn single_room_mode_refuses_a_second_room() {
    let mut sim = Sim::new(1);
    sim.login(0, "r1", "t").unwrap();
    let ev = sim.clients[0].events.len();
    assert_eq!(sim.login(0, "r2", "t"), Err(ErrorCode::ALREADY_LOGGED_IN));
    assert_eq!(sim.clients[0].events.len(), ev);
    assert_eq!(
        sim.clients[0].m.room_state("r2"),
        ConnectionState::Disconnected
    );
}

#[test]
fn multi_room_logs_in_two_rooms_on_one_link() {
    let mut sim = Sim::with_config(1, multi());
    // Both logins are issued before the link is up: one Connect carries the first, the second
    // follows as a frame once connected.
    sim.set_fault(0, Fault::Blackhole);
    sim.login(0, "r1", "t").unwrap();
    sim.login(0, "r2", "t").unwrap();
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    assert_eq!(
        sim.states(0, "r1").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
    assert_eq!(
        sim.states(0, "r2").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
    let mut sim = Sim::with_config(1, multi());
    sim.login(0, "r1", "t").unwrap();
    sim.login(0, "r2", "t").unwrap();
    assert_eq!(sim.connects(0).len(), 1, "one link for both rooms");
    assert_eq!(
        sim.states(0, "r2"),
        vec![(R::Logining, ErrorCode::OK), (R::Logined, ErrorCode::OK)]
    );
    // A link loss reconnects both with one Connect whose Hello resumes both.
    sim.reset(0);
    sim.run_for(secs(10));
    let connects = sim.connects(0);
    assert_eq!(connects.len(), 2);
    let Transmit::Connect { hello, .. } = &connects[1].1 else {
        unreachable!()
    };
    assert_eq!(hello.logins.len(), 2);
    assert!(hello.logins.iter().all(|l| l.resume.is_some()));
    for r in ["r1", "r2"] {
        assert_eq!(
            sim.states(0, r).last(),
            Some(&(R::Reconnected, ErrorCode::OK))
        );
    }
    // Logging out of one keeps the link for the other.
    sim.logout(0, "r1").unwrap();
    assert!(!matches!(
        sim.clients[0].transmits.last().unwrap().1,
        Transmit::Close { .. }
    ));
    sim.run_for(secs(60));
    assert_eq!(
        sim.clients[0].m.room_state("r2"),
        ConnectionState::Connected
    );
}

#[test]
fn switch_room_logs_out_old_then_logs_in_new_with_same_user() {
    let mut sim = Sim::new(2);
    sim.login(0, "a", "t").unwrap();
    sim.login(1, "b", "t").unwrap();
    let mark = sim.clients[0].events.len();
    sim.with(0, |m, now| m.switch_room(now, "a", "b", "t2"))
        .unwrap();
    let states: Vec<(String, R)> = sim
        .events_since(0, mark)
        .into_iter()
        .filter_map(|e| match e {
            Event::RoomStateChanged {
                room_id, reason, ..
            } => Some((room_id, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("a".into(), R::Logout),
            ("b".into(), R::Logining),
            ("b".into(), R::Logined)
        ]
    );
    assert_eq!(sim.user_list(0, "b"), ["u1".to_string()].into());
    assert_eq!(sim.user_list(1, "b"), ["u0".to_string()].into());
    assert!(sim.server.members("a").is_empty());
    // Errors: from not active; to == from; to already active.
    assert_eq!(
        sim.with(0, |m, now| m.switch_room(now, "zzz", "c", "t")),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    assert_eq!(
        sim.with(0, |m, now| m.switch_room(now, "b", "b", "t")),
        Err(ErrorCode::ALREADY_LOGGED_IN)
    );
    assert_eq!(
        sim.with(0, |m, now| m.switch_room(now, "b", "", "t")),
        Err(ErrorCode::ROOM_ID_EMPTY)
    );
}

fn kick_case(code: ErrorCode, reason: &str) -> (Vec<(R, ErrorCode)>, BTreeMap<String, String>) {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "t").unwrap();
    sim.kick("r", "u0", code, reason);
    let ext = sim.clients[0]
        .events
        .iter()
        .rev()
        .find_map(|(_, e)| match e {
            Event::RoomStateChanged { extended_data, .. } => Some(extended_data.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(sim.clients[0].timeout, None);
    (sim.states(0, "r"), ext)
}

#[test]
fn admin_kick_reports_1002055_with_the_custom_message() {
    let (states, ext) = kick_case(ErrorCode::KICKED_BY_SERVER, "behave");
    assert_eq!(
        states.last(),
        Some(&(R::KickOut, ErrorCode::KICKED_BY_SERVER))
    );
    assert_eq!(
        ext.get(extended_keys::CUSTOM_KICKOUT_MESSAGE)
            .map(String::as_str),
        Some("behave")
    );
}

#[test]
fn duplicate_login_elsewhere_kicks_with_1002050() {
    let mut sim = Sim::new(2);
    sim.clients[1].user = sim.clients[0].user.clone();
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::KickOut, ErrorCode::KICKED_DUPLICATE_LOGIN))
    );
    assert_eq!(
        sim.states(1, "r").last(),
        Some(&(R::Logined, ErrorCode::OK))
    );
    let (_, ext) = kick_case(ErrorCode::KICKED_DUPLICATE_LOGIN, "");
    assert_eq!(
        ext.get(extended_keys::CUSTOM_KICKOUT_MESSAGE)
            .map(String::as_str),
        Some("")
    );
}

#[test]
fn session_logged_out_by_id_elsewhere_kicks_with_1900012_and_stays_out() {
    // The server ended this connection's session on another connection's logout by session ID:
    // the room is left for good (no reconnect, no timers), as for any kick.
    let (states, ext) = kick_case(
        ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE,
        "logged out by session ID from another connection",
    );
    assert_eq!(
        states,
        vec![
            (R::Logining, ErrorCode::OK),
            (R::Logined, ErrorCode::OK),
            (R::KickOut, ErrorCode::KICKED_LOGGED_OUT_ELSEWHERE)
        ]
    );
    assert_eq!(
        ext.get(extended_keys::CUSTOM_KICKOUT_MESSAGE)
            .map(String::as_str),
        Some("logged out by session ID from another connection")
    );
}

#[test]
fn room_closed_kicks_with_1900001_and_refuses_resume_the_same_way() {
    let mut sim = Sim::new(2);
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.set_fault(1, Fault::Blackhole);
    sim.run_for(secs(30));
    assert_eq!(
        sim.states(1, "r").last(),
        Some(&(R::Reconnecting, ErrorCode::RECONNECTING))
    );
    sim.close_room("r");
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::KickOut, ErrorCode::ROOM_CLOSED))
    );
    sim.set_fault(1, Fault::None);
    sim.run_for(secs(40));
    assert_eq!(
        sim.states(1, "r").last(),
        Some(&(R::KickOut, ErrorCode::ROOM_CLOSED)),
        "{}",
        sim.dump(1)
    );
}

#[test]
fn token_warning_then_renew_keeps_the_room() {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "ttl=100000").unwrap();
    sim.run_for(secs(69));
    assert!(
        !sim.clients[0]
            .events
            .iter()
            .any(|(_, e)| matches!(e, Event::RoomTokenWillExpire { .. }))
    );
    sim.run_for(secs(1));
    let warn: Vec<(f64, u32)> = sim.clients[0]
        .events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::RoomTokenWillExpire {
                remaining_seconds, ..
            } => Some(((*t - sim.start).as_secs_f64(), *remaining_seconds)),
            _ => None,
        })
        .collect();
    assert_eq!(warn, vec![(70.0, 30)]);
    sim.with(0, |m, now| m.renew_token(now, "r", "ttl=100000"))
        .unwrap();
    sim.run_for(secs(60));
    assert_eq!(sim.clients[0].m.room_state("r"), ConnectionState::Connected);
    assert_eq!(sim.states(0, "r").len(), 2);
}

#[test]
fn unrenewed_token_is_kicked_by_the_server_with_1002056() {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "ttl=100000").unwrap();
    sim.run_for(secs(200));
    let warnings = sim.clients[0]
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::RoomTokenWillExpire { .. }))
        .count();
    assert_eq!(warnings, 1);
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::KickOut, ErrorCode::KICKED_TOKEN_EXPIRED))
    );
    assert_eq!(sim.clients[0].timeout, None);
}

#[test]
fn token_already_inside_the_warning_window_warns_at_once() {
    let mut sim = Sim::new(1);
    sim.login(0, "r", "ttl=10500").unwrap();
    let warn = sim.clients[0].events.iter().find_map(|(t, e)| match e {
        Event::RoomTokenWillExpire {
            remaining_seconds, ..
        } => Some((*t, *remaining_seconds)),
        _ => None,
    });
    assert_eq!(warn, Some((sim.start, 11)));
}

#[test]
fn validation_errors_change_nothing() {
    let mut sim = Sim::new(1);
    let now = sim.now;
    let m = &mut sim.clients[0].m;
    let u = User::new("u", "U");
    assert_eq!(
        m.login_room(now, "", u.clone(), "t", RoomConfig::default()),
        Err(ErrorCode::ROOM_ID_EMPTY)
    );
    assert_eq!(
        m.login_room(now, "bad room", u.clone(), "t", RoomConfig::default()),
        Err(ErrorCode::ROOM_ID_INVALID)
    );
    assert_eq!(
        m.login_room(now, "r", User::new("", "U"), "t", RoomConfig::default()),
        Err(ErrorCode::USER_ID_EMPTY)
    );
    assert_eq!(
        m.login_room(now, "r", User::new("u", ""), "t", RoomConfig::default()),
        Err(ErrorCode::USER_NAME_EMPTY)
    );
    assert_eq!(
        m.renew_token(now, "r", "t"),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    assert_eq!(
        m.publish_stream(now, "r", "s", ""),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    assert_eq!(
        m.unpublish_stream(now, "r", "s"),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    assert_eq!(
        m.switch_room(now, "r", "q", "t"),
        Err(ErrorCode::ROOM_NOT_LOGGED_IN)
    );
    assert_eq!(m.poll_output(), Output::Timeout(None));
    assert_eq!(m.room_state("r"), ConnectionState::Disconnected);
    assert_eq!(m.room_reason("r"), None);
    sim.login(0, "r", "t").unwrap();
    let (ev, tx) = (sim.clients[0].events.len(), sim.clients[0].transmits.len());
    let now = sim.now;
    let m = &mut sim.clients[0].m;
    assert_eq!(
        m.renew_token(now, "r", ""),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    assert_eq!(
        m.publish_stream(now, "r", "bad id", ""),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    assert_eq!(
        m.publish_stream(now, "r", "s", &"x".repeat(2000)),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    assert_eq!(
        m.unpublish_stream(now, "r", "never"),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    assert_eq!(m.publish_stream(now, "r", "s", ""), Ok(()));
    assert_eq!(
        m.publish_stream(now, "r", "s", ""),
        Err(ErrorCode::INVALID_ARGUMENT)
    );
    sim.pump();
    assert_eq!(sim.clients[0].events.len(), ev);
    assert_eq!(
        sim.clients[0].transmits.len(),
        tx + 1,
        "only the one valid publish went out"
    );
}

#[test]
fn streams_published_during_an_outage_reach_others_after_resume() {
    let mut sim = Sim::new(2);
    sim.login(0, "r", "t").unwrap();
    sim.login(1, "r", "t").unwrap();
    sim.with(0, |m, now| m.publish_stream(now, "r", "s1", ""))
        .unwrap();
    sim.set_fault(0, Fault::Blackhole);
    sim.run_for(secs(30));
    sim.with(0, |m, now| m.publish_stream(now, "r", "s2", ""))
        .unwrap();
    sim.with(0, |m, now| m.unpublish_stream(now, "r", "s1"))
        .unwrap();
    sim.set_fault(0, Fault::None);
    sim.run_for(secs(40));
    assert_eq!(
        sim.states(0, "r").last(),
        Some(&(R::Reconnected, ErrorCode::OK))
    );
    let mut live = std::collections::BTreeSet::new();
    for (_, e) in &sim.clients[1].events {
        if let Event::RoomStreamUpdate {
            update_type,
            streams,
            ..
        } = e
        {
            for s in streams {
                match update_type {
                    roomlink::UpdateType::Add => live.insert(s.stream_id.clone()),
                    roomlink::UpdateType::Delete => live.remove(&s.stream_id),
                };
            }
        }
    }
    assert_eq!(live, ["s2".to_string()].into());
}
