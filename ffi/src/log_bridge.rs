//! The one `log` logger of the library, shared by the C ABI and the UniFFI exports.
//!
//! `log` allows a single logger per process, so both APIs install a *sink* here instead of a
//! logger: the last one set receives every record at or above its level. A sink that logs (or a
//! record emitted while a sink runs on the same thread) is not fed back into it, so a host logger
//! that calls back into roomlink cannot recurse.
//!
//! Core logs while it holds an engine's state lock, so a sink must never unwind into core: a
//! foreign logger that throws (UniFFI turns that into a panic) would poison the engine for good.
//! The call is caught here and the record dropped.

use std::cell::Cell;
use std::sync::{Arc, OnceLock, RwLock};

use log::{LevelFilter, Log, Metadata, Record};

/// Receives one record: level, target (module path) and the formatted message.
pub type Sink = Arc<dyn Fn(log::Level, &str, &str) + Send + Sync>;

struct Bridge {
    sink: RwLock<Option<Sink>>,
}

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) || IN_SINK.with(Cell::get) {
            return;
        }
        // The read guard is held through the call, so `set_sink` returns only after every call
        // of the old sink has: a host may free what the old sink uses (or, in Python, begin
        // finalization) once it returns. Same-thread re-entry cannot happen (`IN_SINK`).
        let slot = match self.sink.read() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(sink) = slot.as_ref() else { return };
        let message = record.args().to_string();
        let _in_sink = InSink::enter();
        let call = || sink(record.level(), record.target(), &message);
        // Nothing is logged about it: that would come straight back here.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(call));
    }

    fn flush(&self) {}
}

/// Marks this thread as inside the sink until dropped (also when the sink unwinds).
struct InSink;

impl InSink {
    fn enter() -> InSink {
        IN_SINK.with(|f| f.set(true));
        InSink
    }
}

impl Drop for InSink {
    fn drop(&mut self) {
        IN_SINK.with(|f| f.set(false));
    }
}

/// Whether this thread is running a log sink right now. An engine call from there could need the
/// state lock the logging code already holds: the APIs refuse it (`CALLED_FROM_CALLBACK`).
pub fn in_sink() -> bool {
    IN_SINK.with(Cell::get)
}

fn bridge() -> &'static Bridge {
    static BRIDGE: OnceLock<&'static Bridge> = OnceLock::new();
    BRIDGE.get_or_init(|| {
        let bridge: &'static Bridge = Box::leak(Box::new(Bridge {
            sink: RwLock::new(None),
        }));
        // Fails only if the host process already installed another `log` logger (a Rust host
        // app): then records go there, which is what that host wants.
        if log::set_logger(bridge).is_err() {
            log::debug!("a logger was already installed; roomlink's log sink stays unused");
        }
        bridge
    })
}

/// Installs `sink` for records at or above `level` (replacing any previous sink), or removes the
/// sink with `None`. The sink may be called from any thread, including the engine's. Returns once
/// no call of the previous sink is running. From inside a sink it does nothing and returns
/// `false` (waiting there for the sink's own call would never end).
pub fn set_sink(sink: Option<Sink>, level: LevelFilter) -> bool {
    if in_sink() {
        return false;
    }
    let bridge = bridge();
    let level = if sink.is_some() {
        level
    } else {
        LevelFilter::Off
    };
    let mut slot = match bridge.sink.write() {
        Ok(slot) => slot,
        Err(poisoned) => poisoned.into_inner(),
    };
    *slot = sink;
    // Under the lock, so two setters racing cannot pair one's sink with the other's level.
    log::set_max_level(level);
    drop(slot);
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// The sink is process-wide: these tests must not overlap under `cargo test`'s threads.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    /// The target of every record these tests log. The sink they install also receives what
    /// other tests of this binary log meanwhile on their threads (`cargo test` runs them in one
    /// process, unlike nextest), e.g. the panic `boundary`'s test reports: the tests' sinks keep
    /// only records of this target.
    const OURS: &str = "roomlink_ffi::log_bridge::tests::marker";

    #[test]
    fn records_reach_the_sink_at_its_level_and_a_logging_sink_does_not_recurse() {
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let seen: Arc<Mutex<Vec<(log::Level, String)>>> = Arc::default();
        let into = seen.clone();
        set_sink(
            Some(Arc::new(move |level, target: &str, message: &str| {
                if target != OURS {
                    return;
                }
                into.lock().unwrap().push((level, message.to_owned()));
                log::warn!(target: OURS, "from inside the sink");
            })),
            LevelFilter::Info,
        );
        log::debug!(target: OURS, "below the level");
        log::info!(target: OURS, "kept");
        set_sink(None, LevelFilter::Trace);
        log::error!(target: OURS, "after removal");
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, vec![(log::Level::Info, "kept".to_owned())]);
    }

    #[test]
    fn a_panicking_sink_is_contained_and_the_next_record_still_arrives() {
        let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let into = seen.clone();
        set_sink(
            Some(Arc::new(move |_level, target: &str, message: &str| {
                assert!(in_sink());
                if target != OURS {
                    return;
                }
                if message == "boom" {
                    panic!("a host logger threw");
                }
                into.lock().unwrap().push(message.to_owned());
            })),
            LevelFilter::Info,
        );
        log::info!(target: OURS, "boom");
        assert!(
            !in_sink(),
            "the in-sink mark is cleared when the sink unwinds"
        );
        log::info!(target: OURS, "after");
        set_sink(None, LevelFilter::Off);
        assert_eq!(*seen.lock().unwrap(), vec!["after".to_owned()]);
    }
}
