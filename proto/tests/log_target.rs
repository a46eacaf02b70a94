//! The machine's log records stay in the `roomlink` namespace although the machine lives in the
//! `roomlink_proto` crate: apps and the bindings' loggers (which name a logger after a record's
//! target) filter on `roomlink`, and the crate split must not move records out of it.

use std::sync::Mutex;
use std::time::Instant;

use roomlink_proto::config::{EngineConfig, RoomConfig};
use roomlink_proto::machine::{Machine, Output};
use roomlink_proto::model::User;

static TARGETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        TARGETS.lock().unwrap().push(record.target().to_string());
    }
    fn flush(&self) {}
}

#[test]
fn every_record_of_the_machine_has_a_roomlink_target() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let mut machine = Machine::new(EngineConfig::new("ws://127.0.0.1:1/v1/ws"), 7);
    let now = Instant::now();
    machine
        .login_room(
            now,
            "room-1",
            User::new("alice", "Alice"),
            "token",
            RoomConfig::default(),
        )
        .unwrap();
    while !matches!(machine.poll_output(), Output::Timeout(_)) {}
    machine.logout_room(now, "room-1").unwrap();
    while !matches!(machine.poll_output(), Output::Timeout(_)) {}

    let targets = TARGETS.lock().unwrap().clone();
    assert!(!targets.is_empty(), "a login and a logout are logged");
    assert!(
        targets.iter().all(|t| t == "roomlink::machine"),
        "targets: {targets:?}"
    );
}
