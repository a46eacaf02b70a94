//! The demos' narration and checks: time stamps, and waiting for an expected callback (or for
//! the absence of one) on a client's event channel.

use std::time::{Duration, Instant};

use roomlink::Event;
use tokio::sync::mpsc;

use crate::join::describe;

pub struct Checks {
    pub start: Instant,
    /// Checks passed so far.
    pub passed: usize,
}

impl Checks {
    pub fn new() -> Self {
        Checks {
            start: Instant::now(),
            passed: 0,
        }
    }

    pub fn stamp(&self) -> String {
        format!("{:>7.3}s", self.start.elapsed().as_secs_f64())
    }

    pub fn say(&self, text: &str) {
        println!("{} ── {text}", self.stamp());
    }

    /// Waits for the first event from `events` matching `pred` (earlier ones are skipped).
    pub async fn expect(
        &mut self,
        name: &str,
        events: &mut mpsc::UnboundedReceiver<Event>,
        what: &str,
        patience: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Result<Event, String> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) if pred(&event) => {
                    self.passed += 1;
                    println!("{} ✔  {name}: {what}", self.stamp());
                    return Ok(event);
                }
                // A room that ends while we wait for something else will never produce it.
                Ok(Some(Event::RoomStateChanged {
                    reason, error_code, ..
                })) if reason.is_terminal() => {
                    return Err(format!(
                        "{name}: room ended ({reason} {}) while waiting for: {what}",
                        error_code.value()
                    ));
                }
                Ok(Some(_)) => continue,
                Ok(None) => return Err(format!("{name}: engine stopped before: {what}")),
                Err(_) => return Err(format!("{name}: no callback within {patience:?}: {what}")),
            }
        }
    }

    /// Checks that nothing received so far, or within `window`, matches `pred`.
    pub async fn expect_none(
        &mut self,
        name: &str,
        events: &mut mpsc::UnboundedReceiver<Event>,
        what: &str,
        window: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            if pred(&event) {
                return Err(format!("{name}: unexpected {}: {what}", describe(&event)));
            }
        }
        self.passed += 1;
        println!("{} ✔  {name}: {what}", self.stamp());
        Ok(())
    }
}
