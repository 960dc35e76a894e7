//! Message expiry across restarts. The core's deadlines are in the broker's
//! clock, milliseconds since a moment of the process (`crate::clock`); the
//! file keeps them as Unix milliseconds, converted with that zero.

use std::time::UNIX_EPOCH;

/// When the broker's clock read 0, in Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ClockZero(i64);

impl ClockZero {
    /// The zero of the broker's clock, by the system clock as it reads now
    /// (a system clock before 1970 reads as 1970).
    pub(super) fn now() -> ClockZero {
        let since_epoch = crate::clock::zero_system_time()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis());
        ClockZero(i64::try_from(since_epoch).unwrap_or(i64::MAX))
    }

    /// At `unix_ms`.
    #[cfg(test)]
    pub(super) fn at(unix_ms: i64) -> ClockZero {
        ClockZero(unix_ms)
    }

    /// A deadline in the broker's clock as Unix milliseconds, for the file
    /// (`None`: the message does not expire).
    pub(super) fn to_unix(self, expires_at_ms: Option<u64>) -> Option<i64> {
        expires_at_ms.map(|ms| self.0.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)))
    }

    /// A deadline read from the file in the broker's clock, saturating at
    /// 0: one that passed before the zero is already expired.
    pub(super) fn to_clock(self, expires_at: Option<i64>) -> Option<u64> {
        expires_at.map(|at| u64::try_from(at.saturating_sub(self.0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::ClockZero;

    #[test]
    fn deadlines_keep_counting_across_a_restart() {
        let first = ClockZero::at(1_700_000_000_000);
        // 5 s into the first run, a message with 60 s left.
        let stored = first.to_unix(Some(65_000));
        assert_eq!(stored, Some(1_700_000_065_000));
        // The next run starts 20 s after the first one did: 45 s left of
        // its clock.
        let second = ClockZero::at(1_700_000_020_000);
        assert_eq!(second.to_clock(stored), Some(45_000));
        // A run that starts after the deadline gets it already expired.
        let late = ClockZero::at(1_700_000_100_000);
        assert_eq!(late.to_clock(stored), Some(0));
        assert_eq!(first.to_unix(None), None);
        assert_eq!(second.to_clock(None), None);
    }
}
