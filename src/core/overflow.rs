//! When a session's full queue is told to the event hook
//! (`Event::QueueOverflow`): at the start of each overflow, then at most
//! once a second while it lasts, so that a client that has stopped reading
//! costs the host one call a second, not one per message refused.

/// How often, at most, a queue that goes on overflowing is told, in
/// milliseconds of the broker's clock.
const REPORT_INTERVAL_MS: u64 = 1000;

/// The overflows of one session's queue.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Overflow {
    /// The session's `next_seq` at the latest refusal: every message queued
    /// or sent takes a seq, so a different one now means the queue took a
    /// message in between, and this refusal starts a new overflow. Nothing
    /// is written on the delivery path for that.
    mark: u64,
    /// Refusals not told yet.
    unreported: u64,
    /// When the latest report was made.
    reported_ms: u64,
}

impl Overflow {
    /// Counts a refused message (`next_seq` being the session's, `now_ms`
    /// the broker's clock); gives how many refusals to tell now, if it is
    /// time to.
    pub(crate) fn note(&mut self, next_seq: u64, now_ms: u64) -> Option<u64> {
        self.unreported += 1;
        let starts = self.mark != next_seq;
        self.mark = next_seq;
        if starts || now_ms >= self.reported_ms.saturating_add(REPORT_INTERVAL_MS) {
            self.reported_ms = now_ms;
            Some(std::mem::take(&mut self.unreported))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_at_the_start_then_once_a_second_then_again_after_a_break() {
        let mut overflow = Overflow::default();
        // A fresh session's next seq is 1.
        assert_eq!(overflow.note(1, 5_000), Some(1));
        assert_eq!(overflow.note(1, 5_010), None);
        assert_eq!(overflow.note(1, 5_999), None);
        assert_eq!(overflow.note(1, 6_000), Some(3), "the refusals since");
        assert_eq!(overflow.note(1, 6_001), None);
        // The queue took a message (seq 1): the next refusal starts a new
        // overflow, told at once with what the last one left untold.
        assert_eq!(overflow.note(2, 6_002), Some(2));
        assert_eq!(overflow.note(2, 6_003), None);
    }
}
