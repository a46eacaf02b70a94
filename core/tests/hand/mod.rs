//! Shared pieces of the hand-driven machine tests (no simulator): a config, draining a machine's
//! output and picking events, states, connects and sends out of it, and driving a machine to a
//! logged-in room or to its next connection attempt.

#![allow(dead_code)]

use std::time::Instant;

use roomlink::machine::{ConnId, Machine, Output, Transmit};
use roomlink::protocol::{ClientFrame, Hello, ServerFrame};
use roomlink::{
    EngineConfig, ErrorCode, Event, RoomConfig, RoomMode, RoomStateChangedReason as R, User,
};

pub fn cfg() -> EngineConfig {
    EngineConfig {
        room_mode: RoomMode::MultiRoom,
        ..EngineConfig::new("ws://x")
    }
}

/// Drains output until Timeout.
pub fn drain(m: &mut Machine) -> (Vec<Output>, Option<Instant>) {
    let mut v = Vec::new();
    loop {
        match m.poll_output() {
            Output::Timeout(t) => return (v, t),
            o => v.push(o),
        }
    }
}

pub fn events(out: &[Output]) -> Vec<Event> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

pub fn states(out: &[Output]) -> Vec<(String, R, ErrorCode)> {
    events(out)
        .into_iter()
        .filter_map(|e| match e {
            Event::RoomStateChanged {
                room_id,
                reason,
                error_code,
                ..
            } => Some((room_id, reason, error_code)),
            _ => None,
        })
        .collect()
}

pub fn connect_of(out: &[Output]) -> Option<(ConnId, Hello)> {
    out.iter().find_map(|o| match o {
        Output::Transmit(Transmit::Connect { conn, hello, .. }) => Some((*conn, hello.clone())),
        _ => None,
    })
}

pub fn sends(out: &[Output]) -> Vec<ClientFrame> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(Transmit::Send { frame, .. }) => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

/// A machine (config `cfg()`, given seed) that logged `user` in to `room` with token "tok" at t0,
/// connected and got `answer` on that connection; its output is drained.
pub fn logged_in_with(
    seed: u64,
    t0: Instant,
    room: &str,
    user: User,
    answer: ServerFrame,
) -> (Machine, ConnId) {
    let mut m = Machine::new(cfg(), seed);
    m.login_room(t0, room, user, "tok", RoomConfig::default())
        .unwrap();
    let (out, _) = drain(&mut m);
    let (conn, _) = connect_of(&out).unwrap();
    m.handle_connected(t0, conn);
    m.handle_frame(t0, conn, answer);
    drain(&mut m);
    (m, conn)
}

/// Fires timers until the machine emits a Connect.
pub fn next_connect(m: &mut Machine, mut t: Instant) -> (ConnId, Hello, Instant) {
    for _ in 0..100 {
        let (out, d) = drain(m);
        if let Some((c, h)) = connect_of(&out) {
            return (c, h, t);
        }
        t = d.expect("a deadline");
        m.handle_timeout(t);
    }
    panic!("no connect");
}
