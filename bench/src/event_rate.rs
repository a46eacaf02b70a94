//! Figure 8: events per second delivered to the app, through a Rust handler (the baseline), the C
//! callback (bench/ffi/c/event_rate.c) and the Kotlin/JNA listener (bench/ffi/kotlin/EventRate.kt).
//!
//! The three clients run the same workload and speak the same protocol, so the bench treats them
//! alike: `CLIENT --server URL --room ROOM --streams K`, one "USER_ID TOKEN" line per engine on
//! stdin, one JSON line out. N engines log in to one room; once every engine sees the whole room,
//! engine 0 publishes K streams and unpublishes them in batches of 64 (the most one engine may
//! publish at once), at most [`WINDOW`] batches ahead of the slowest listener; the other N−1
//! engines count every event they receive until each has seen all K removals. Events per second = the listeners' events / (first publish → last
//! listener's last removal). The path is the whole one (server fan-out, each engine's socket and
//! event thread, then the handler call), so the figure is what an app receives, and the ratio to
//! the Rust handler is what the FFI layer costs on top.

use std::io::BufRead;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use roomlink::{
    Engine, EngineConfig, Event, RoomConfig, RoomMode, RoomStateChangedReason, UpdateType, User,
};
use serde::{Deserialize, Serialize};

use crate::child::ChildProc;

/// How long any phase may take before the run counts as broken (as in the C and Kotlin clients).
const PATIENCE: Duration = Duration::from_secs(60);

/// core's limit on one engine's published streams per room (`MAX_PUBLISHED_STREAMS`).
const MAX_PUBLISHED: usize = 64;

/// Batches in flight. 4 × 128 updates per listener stay well inside the server's 1024-frame queue
/// per connection, which closes a listener that falls further behind (one the OS did not schedule
/// for a while on a loaded machine: publishing without a window failed that way here); the window
/// is far more than the pipeline needs, so it does not cap the rate.
const WINDOW: usize = 4;

/// One client run, as every client prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRate {
    pub engines: usize,
    pub streams: usize,
    /// Events delivered to the N−1 listeners while measuring.
    pub events: u64,
    pub elapsed_us: u64,
    pub events_per_s: u64,
}

impl EventRate {
    /// A client's output line, checked against what it was asked to do: the right sizes, and at
    /// least one Add and one Delete per batch at every listener (updates may carry several
    /// streams, never fewer events than that).
    pub fn parse(line: &serde_json::Value, engines: usize, streams: usize) -> Result<Self, String> {
        let r: EventRate = serde_json::from_value(line.clone())
            .map_err(|e| format!("bad event-rate line {line}: {e}"))?;
        if r.engines != engines || r.streams != streams {
            return Err(format!(
                "asked for {engines} engines and {streams} streams, the client ran {} and {}",
                r.engines, r.streams
            ));
        }
        let batches = streams.div_ceil(MAX_PUBLISHED) as u64;
        let least = 2 * batches * (engines as u64 - 1);
        if r.events < least || r.elapsed_us == 0 {
            return Err(format!(
                "implausible line {line}: at least {least} events expected"
            ));
        }
        Ok(r)
    }
}

/// Runs one client (a path to an executable, or `roomlink-bench` itself with `event-rate`)
/// against the server at `url`, in room `room`.
pub fn run_client(
    name: &str,
    mut cmd: Command,
    url: &str,
    room: &str,
    engines: usize,
    streams: usize,
) -> Result<EventRate, String> {
    cmd.args(["--server", url, "--room", room, "--streams"])
        .arg(streams.to_string());
    let mut child = ChildProc::spawn(name, cmd)?;
    let tokens: String = (0..engines)
        .map(|i| {
            let user = format!("u{i}");
            format!("{user} {}\n", crate::server::token(&user, room))
        })
        .collect();
    child.write_stdin(tokens.as_bytes())?;
    child.close_stdin();
    // Login and the room filling up take ~1 s; the workload itself at ≥ 1000 events/s.
    let patience = Duration::from_secs(120) + Duration::from_millis(2 * streams as u64);
    let line = child.next_json(patience)?;
    child.finish(Duration::from_secs(30))?;
    EventRate::parse(&line, engines, streams)
}

/// One engine's listener (the same bookkeeping as the C and Kotlin ones).
struct Counter {
    engines: u32,
    streams: usize,
    measuring: AtomicBool,
    events: AtomicU64,
    removed: AtomicUsize,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    logged_in: bool,
    last_count: u32,
    room_full: bool,
    /// `removed` at the last whole batch, for the publisher's window.
    removed_seen: usize,
    done_at: Option<Instant>,
}

impl Counter {
    fn on_event(&self, event: &Event) {
        if self.measuring.load(Ordering::SeqCst) {
            self.events.fetch_add(1, Ordering::Relaxed);
        }
        // The lock is taken only when a waiter may care, as in the C and Kotlin listeners.
        match event {
            Event::RoomStateChanged { reason, .. }
                if *reason == RoomStateChangedReason::Logined =>
            {
                self.lock().logged_in = true;
            }
            Event::RoomOnlineUserCountUpdate { count, .. } => {
                let mut st = self.lock();
                st.last_count = *count;
                st.room_full |= *count == self.engines;
            }
            Event::RoomStreamUpdate {
                update_type: UpdateType::Delete,
                streams,
                ..
            } => {
                // Only this engine's event thread writes it.
                let before = self.removed.fetch_add(streams.len(), Ordering::Relaxed);
                let removed = before + streams.len();
                if removed != self.streams && removed / MAX_PUBLISHED == before / MAX_PUBLISHED {
                    return;
                }
                let at = Instant::now();
                let mut st = self.lock();
                st.removed_seen = removed;
                if removed == self.streams {
                    st.done_at = Some(at);
                }
            }
            _ => return,
        }
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler cannot poison anything we rely on: the counts stay valid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `ready` holds, up to `deadline`.
    fn wait(
        &self,
        i: usize,
        what: &str,
        deadline: Instant,
        ready: impl Fn(&State) -> bool,
    ) -> Result<(), String> {
        let mut st = self.lock();
        while !ready(&st) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {what} within {PATIENCE:?} (engine {i}, room count {})",
                    st.last_count
                ));
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        Ok(())
    }
}

fn await_all(
    what: &str,
    counters: &[(usize, &Arc<Counter>)],
    ready: impl Fn(&State) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    counters
        .iter()
        .try_for_each(|(i, c)| c.wait(*i, what, deadline, &ready))
}

/// `roomlink-bench event-rate`: the Rust-handler client. Reads "USER_ID TOKEN" lines on stdin.
pub fn client(server: &str, room: &str, streams: usize) -> Result<EventRate, String> {
    if streams == 0 {
        return Err("--streams must be above 0".into());
    }
    let users: Vec<(String, String)> = std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.trim().split_once(' ') {
            Some((u, t)) => Ok((u.to_string(), t.to_string())),
            None => Err(format!("bad stdin line {l:?} (want \"USER_ID TOKEN\")")),
        })
        .collect::<Result<_, _>>()?;
    if users.len() < 2 {
        return Err("need at least 2 \"USER_ID TOKEN\" lines on stdin".into());
    }
    let n = users.len();
    let config = EngineConfig {
        room_mode: RoomMode::SingleRoom,
        ..EngineConfig::new(server)
    };
    let counters: Vec<Arc<Counter>> = (0..n)
        .map(|_| {
            Arc::new(Counter {
                engines: n as u32,
                streams,
                measuring: AtomicBool::new(false),
                events: AtomicU64::new(0),
                removed: AtomicUsize::new(0),
                state: Mutex::new(State::default()),
                changed: Condvar::new(),
            })
        })
        .collect();
    let mut engines = Vec::with_capacity(n);
    for ((user, token), counter) in users.iter().zip(&counters) {
        let c = Arc::clone(counter);
        let engine = Engine::new(
            config.clone(),
            Some(Arc::new(move |e: Event| c.on_event(&e))),
        )
        .map_err(|e| format!("engine: {e}"))?;
        engine
            .login_room(
                room,
                User::new(user, user),
                token,
                RoomConfig { user_update: true },
            )
            .map_err(|e| format!("login_room: {e}"))?;
        engines.push(engine);
    }
    let all: Vec<(usize, &Arc<Counter>)> = counters.iter().enumerate().collect();
    await_all("login", &all, |s| s.logged_in)?;
    await_all("full room", &all, |s| s.room_full)?;

    let listeners = &all[1..];
    listeners
        .iter()
        .for_each(|(_, c)| c.measuring.store(true, Ordering::SeqCst));
    let start = Instant::now();
    let publisher = &engines[0];
    let ids: Vec<String> = (0..streams).map(|i| format!("s{i}")).collect();
    for (b, batch) in ids.chunks(MAX_PUBLISHED).enumerate() {
        // Whole batches every listener must have seen before this one goes out.
        let behind = (b + 1).saturating_sub(WINDOW) * MAX_PUBLISHED;
        if behind > 0 {
            await_all("window", listeners, |s| s.removed_seen >= behind)?;
        }
        for id in batch {
            publisher
                .publish_stream(room, id, "")
                .map_err(|e| format!("publish_stream: {e}"))?;
        }
        for id in batch {
            publisher
                .unpublish_stream(room, id)
                .map_err(|e| format!("unpublish_stream: {e}"))?;
        }
    }
    await_all("removal of every stream", listeners, |s| {
        s.done_at.is_some()
    })?;
    let end = listeners
        .iter()
        .filter_map(|(_, c)| c.lock().done_at)
        .max()
        .unwrap_or(start);
    let mut events = 0;
    for (_, c) in listeners {
        c.measuring.store(false, Ordering::SeqCst);
        events += c.events.load(Ordering::SeqCst);
    }
    engines.iter().for_each(Engine::destroy);
    let elapsed_us = (end.duration_since(start).as_micros() as u64).max(1);
    Ok(EventRate {
        engines: n,
        streams,
        events,
        elapsed_us,
        events_per_s: events * 1_000_000 / elapsed_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_client_line_and_checks_it_against_the_request() {
        let line = json!({"engines": 10, "streams": 128, "keep_attached": false,
            "events": 2304, "elapsed_us": 100_000, "events_per_s": 23_040});
        let r = EventRate::parse(&line, 10, 128).expect("a good line");
        assert_eq!(
            (r.events, r.elapsed_us, r.events_per_s),
            (2304, 100_000, 23_040)
        );
        // Another size than asked for.
        assert!(
            EventRate::parse(&line, 5, 128)
                .unwrap_err()
                .contains("asked for 5")
        );
        assert!(EventRate::parse(&line, 10, 64).is_err());
        // Fewer events than one Add and one Delete per batch at every listener: 2 × 2 × 9 = 36.
        let few = json!({"engines": 10, "streams": 128, "events": 35, "elapsed_us": 1, "events_per_s": 1});
        assert!(
            EventRate::parse(&few, 10, 128)
                .unwrap_err()
                .contains("at least 36")
        );
        let missing = json!({"engines": 10, "streams": 128, "events": 2304});
        assert!(EventRate::parse(&missing, 10, 128).is_err());
    }
}
