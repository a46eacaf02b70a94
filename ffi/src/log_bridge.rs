//! The one `log` logger of the library, shared by the C ABI and the UniFFI exports.
//!
//! `log` allows a single logger per process, so both APIs install a *sink* here instead of a
//! logger: the last one set receives every record at or above its level. A sink that logs (or a
//! record emitted while a sink runs on the same thread) is not fed back into it, so a host logger
//! that calls back into roomlink cannot recurse.

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
        // Clone the sink out so a host that replaces the sink from inside it does not deadlock.
        let sink = match self.sink.read() {
            Ok(slot) => slot.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let Some(sink) = sink else { return };
        let message = record.args().to_string();
        IN_SINK.with(|f| f.set(true));
        sink(record.level(), record.target(), &message);
        IN_SINK.with(|f| f.set(false));
    }

    fn flush(&self) {}
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
/// sink with `None`. The sink may be called from any thread, including the engine's.
pub fn set_sink(sink: Option<Sink>, level: LevelFilter) {
    let bridge = bridge();
    let level = if sink.is_some() {
        level
    } else {
        LevelFilter::Off
    };
    match bridge.sink.write() {
        Ok(mut slot) => *slot = sink,
        Err(poisoned) => *poisoned.into_inner() = sink,
    }
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn records_reach_the_sink_at_its_level_and_a_logging_sink_does_not_recurse() {
        let seen: Arc<Mutex<Vec<(log::Level, String)>>> = Arc::default();
        let into = seen.clone();
        set_sink(
            Some(Arc::new(move |level, _target, message: &str| {
                into.lock().unwrap().push((level, message.to_owned()));
                log::warn!("from inside the sink");
            })),
            LevelFilter::Info,
        );
        log::debug!("below the level");
        log::info!("kept");
        set_sink(None, LevelFilter::Trace);
        log::error!("after removal");
        let seen = seen.lock().unwrap();
        assert_eq!(*seen, vec![(log::Level::Info, "kept".to_owned())]);
    }
}
