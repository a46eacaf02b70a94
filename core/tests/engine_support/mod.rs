//! Shared pieces of the engine tests: a collecting handler and a scripted in-memory server.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use roomlink::engine::EventHandler;
use roomlink::protocol::{ClientFrame, Login, RoomEvent, SeqEvent, ServerFrame, Snapshot};
use roomlink::transport::{MemoryAcceptor, ServerEnd};
use roomlink::{EngineConfig, ErrorCode, Event, RoomMode, RoomStateChangedReason, User};

pub const LIMIT: Duration = Duration::from_secs(10);

/// A config for the in-memory transport (the URL only has to validate) with a quick backoff.
pub fn config() -> EngineConfig {
    EngineConfig {
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        ..EngineConfig::new("ws://memory.test/v1/ws")
    }
}

pub fn multi_room_config() -> EngineConfig {
    EngineConfig {
        room_mode: RoomMode::MultiRoom,
        ..config()
    }
}

/// A handler that forwards every event to a channel.
pub fn collector() -> (Arc<dyn EventHandler>, mpsc::Receiver<Event>) {
    let (tx, rx) = mpsc::channel();
    let handler = move |event: Event| {
        let _ = tx.send(event);
    };
    (Arc::new(handler), rx)
}

/// A room state change, flattened for asserts.
pub fn state(event: &Event) -> Option<(String, RoomStateChangedReason, ErrorCode)> {
    match event {
        Event::RoomStateChanged {
            room_id,
            reason,
            error_code,
            ..
        } => Some((room_id.clone(), *reason, *error_code)),
        _ => None,
    }
}

/// The next room state change from `rx`, skipping list/count updates.
pub fn next_state(rx: &mpsc::Receiver<Event>) -> (String, RoomStateChangedReason, ErrorCode) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("timed out waiting for a state change");
        let event = rx
            .recv_timeout(left)
            .expect("timed out waiting for a state change");
        if let Some(s) = state(&event) {
            return s;
        }
    }
}

pub fn joined(room_id: &str) -> ServerFrame {
    ServerFrame::Joined {
        room_id: room_id.into(),
        session_id: format!("session-{room_id}"),
        room_session_id: "rs-1".into(),
        seq: 0,
        snapshot: Snapshot::default(),
        token_expires_in_ms: None,
    }
}

/// Answers one login the way the reference server would: a resume is resumed, a fresh one joined.
pub fn answer(end: &ServerEnd, login: &Login) {
    let frame = match &login.resume {
        Some(resume) => ServerFrame::Resumed {
            room_id: login.room_id.clone(),
            session_id: resume.session_id.clone(),
            room_session_id: "rs-1".into(),
            events: vec![],
            snapshot: None,
            seq: resume.last_seq,
            token_expires_in_ms: None,
        },
        None => joined(&login.room_id),
    };
    end.send(&frame);
}

/// Accepts the next connection and answers every login in its hello.
pub fn accept_and_answer(acceptor: &MemoryAcceptor) -> ServerEnd {
    let pending = acceptor
        .accept_timeout(LIMIT)
        .expect("no connection attempt");
    let end = pending.accept();
    for login in &end.hello().logins.clone() {
        answer(&end, login);
    }
    end
}

/// A server thread that accepts every connection and serves it: answers hellos and Login
/// frames, pongs pings, records every client frame.
pub struct AutoServer {
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    pub frames: Arc<Mutex<Vec<ClientFrame>>>,
}

impl AutoServer {
    pub fn start(acceptor: MemoryAcceptor) -> AutoServer {
        Self::start_spamming(acceptor, 0)
    }

    /// Like `start`, and after every Joined/Resumed also pushes `spam` user-add events for the room.
    pub fn start_spamming(acceptor: MemoryAcceptor, spam: u64) -> AutoServer {
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let (stop2, frames2) = (stop.clone(), frames.clone());
        let accept_thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !stop2.load(Ordering::SeqCst) {
                conns.retain(|c: &JoinHandle<()>| !c.is_finished());
                let Some(pending) = acceptor.accept_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                let (stop3, frames3) = (stop2.clone(), frames2.clone());
                conns.push(std::thread::spawn(move || {
                    let end = pending.accept();
                    let serve = |login: &Login| {
                        answer(&end, login);
                        for seq in 1..=spam {
                            end.send(&ServerFrame::Event {
                                room_id: login.room_id.clone(),
                                first_seq: None,
                                event: SeqEvent {
                                    seq,
                                    event: RoomEvent::UserAdd {
                                        users: vec![User::new(format!("other{seq}"), "Other")],
                                    },
                                },
                            });
                        }
                    };
                    for login in &end.hello().logins.clone() {
                        serve(login);
                    }
                    while !stop3.load(Ordering::SeqCst) && !end.is_closed() {
                        let Some(frame) = end.recv(Duration::from_millis(20)) else {
                            continue;
                        };
                        match &frame {
                            ClientFrame::Login(login) => serve(login),
                            ClientFrame::Ping => {
                                end.send(&ServerFrame::Pong);
                            }
                            _ => {}
                        }
                        frames3.lock().unwrap().push(frame);
                    }
                }));
            }
            for conn in conns {
                let _ = conn.join();
            }
        });
        AutoServer {
            stop,
            accept_thread: Some(accept_thread),
            frames,
        }
    }
}

impl Drop for AutoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}
