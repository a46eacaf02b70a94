//! The command's logger: `RUST_LOG` through env_logger (default `warn`), minus tungstenite's
//! trace lines, which print every WebSocket message in full — tokens in logins and renewals,
//! session IDs in resumes and answers — while no log line may carry either.

use log::{Level, Log, Metadata, Record};

struct WithoutFrameDumps(env_logger::Logger);

fn is_frame_dump(m: &Metadata) -> bool {
    m.level() == Level::Trace && m.target().contains("tungstenite")
}

impl Log for WithoutFrameDumps {
    fn enabled(&self, m: &Metadata) -> bool {
        !is_frame_dump(m) && self.0.enabled(m)
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            self.0.log(record);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

pub fn init() {
    let logger =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(WithoutFrameDumps(logger))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tungstenite_trace_lines_are_dropped() {
        let meta = |level, target| Metadata::builder().level(level).target(target).build();
        assert!(is_frame_dump(&meta(Level::Trace, "tungstenite::protocol")));
        assert!(is_frame_dump(&meta(Level::Trace, "tokio_tungstenite")));
        assert!(!is_frame_dump(&meta(Level::Debug, "tungstenite::protocol")));
        assert!(!is_frame_dump(&meta(
            Level::Trace,
            "roomlink_server_core::state"
        )));
    }
}
