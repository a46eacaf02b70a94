//! The per-connection frame-rate limit: what happens to a frame from a client that sends faster
//! than its budget (`RateLimits::frames`).
//!
//! Every inbound WebSocket message counts (text frames and ping/pong control frames alike: each
//! costs a wake-up and, for a ping, an answer). Over the budget, the first frame is answered
//! `error{RATE_LIMITED}` (no room) and dropped; the frames after it are dropped silently, so a
//! flood is not answered frame for frame. A client that goes on sending, `burst` more frames
//! refused in a row without one admitted, is closed with `bye{RATE_LIMITED}` (close code 1008);
//! its sessions are detached and resumable, as for any protocol error.

use std::time::Instant;

use roomlink_server_core::{Rate, TokenBucket};

/// What to do with one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the budget: handle it.
    Serve,
    /// The first frame over the budget: drop it and answer `error{RATE_LIMITED}`.
    Refuse,
    /// Over the budget again: drop it without an answer.
    Drop,
    /// Went on sending while refused: say `bye{RATE_LIMITED}` and close.
    Close,
}

/// One connection's frame budget.
#[derive(Debug, Default)]
pub(crate) struct FrameBudget {
    bucket: TokenBucket,
    /// Frames refused since the last admitted one.
    refused: u32,
}

impl FrameBudget {
    pub(crate) fn on_frame(&mut self, now: Instant, rate: Rate) -> Verdict {
        if self.bucket.take(now, rate) {
            self.refused = 0;
            return Verdict::Serve;
        }
        self.refused = self.refused.saturating_add(1);
        match self.refused {
            1 => Verdict::Refuse,
            n if n > rate.burst => Verdict::Close,
            _ => Verdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const RATE: Rate = Rate {
        per_sec: 10,
        burst: 3,
    };

    #[test]
    fn the_burst_is_served_then_one_refusal_then_silence_then_close() {
        let t0 = Instant::now();
        let mut b = FrameBudget::default();
        let verdicts: Vec<Verdict> = (0..8).map(|_| b.on_frame(t0, RATE)).collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Serve, Serve, Serve, Refuse, Drop, Drop, Close, Close],
            "burst 3 served; the 4th refused with an answer; burst more refused frames in a row close"
        );
    }

    #[test]
    fn a_client_that_slows_down_is_served_again_and_not_closed() {
        let t0 = Instant::now();
        let mut b = FrameBudget::default();
        for _ in 0..5 {
            b.on_frame(t0, RATE);
        }
        assert_eq!(
            b.on_frame(t0 + Duration::from_millis(400), RATE),
            Verdict::Serve
        );
        // The refusal count started over: the next run over the budget is answered once again.
        let t = t0 + Duration::from_millis(400);
        let verdicts: Vec<Verdict> = (0..4).map(|_| b.on_frame(t, RATE)).collect();
        use Verdict::*;
        assert_eq!(verdicts, [Serve, Serve, Refuse, Drop]);
    }
}
