//! The broker's clock, in which message expiry deadlines are kept
//! ([`crate::Message::expires_at_ms`]): milliseconds since one moment
//! shared by the whole process, so that a message handed to the host can
//! tell how long it has left wherever it goes, and every broker in the
//! process (and the stores they load) agrees on what a deadline means.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

static ZERO: OnceLock<Instant> = OnceLock::new();

/// The moment the clock reads 0: fixed by the first core made in the
/// process (or the first question asked of the clock), never later than
/// the `now` that core was given, so that a simulated clock starting at
/// an earlier instant still reads from 0.
pub(crate) fn zero_at_or_before(now: Instant) -> Instant {
    *ZERO.get_or_init(|| now.min(Instant::now()))
}

/// The moment the clock reads 0.
pub(crate) fn zero() -> Instant {
    zero_at_or_before(Instant::now())
}

/// The clock's reading at `now`, in milliseconds (0 before its zero).
pub(crate) fn millis_at(zero: Instant, now: Instant) -> u64 {
    u64::try_from(now.saturating_duration_since(zero).as_millis()).unwrap_or(u64::MAX)
}

/// The clock's reading at this moment.
pub(crate) fn now_ms() -> u64 {
    millis_at(zero(), Instant::now())
}

/// The moment the clock read 0 by the system clock, as it reads now (the
/// system clock may have been set since).
pub(crate) fn zero_system_time() -> SystemTime {
    SystemTime::now()
        .checked_sub(zero().elapsed())
        .unwrap_or(UNIX_EPOCH)
}

/// Time left from `now_ms` to `deadline_ms`, none once it has passed.
pub(crate) fn left(deadline_ms: u64, now_ms: u64) -> Duration {
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_from_the_process_zero() {
        let zero = zero();
        assert!(zero <= Instant::now());
        assert_eq!(zero_at_or_before(Instant::now()), zero);
        assert_eq!(millis_at(zero, zero + Duration::from_millis(1500)), 1500);
        assert_eq!(millis_at(zero + Duration::from_secs(1), zero), 0);
        assert!(now_ms() >= millis_at(zero, zero));
        assert_eq!(left(5_000, 3_500), Duration::from_millis(1_500));
        assert_eq!(left(5_000, 9_000), Duration::ZERO);
        assert!(zero_system_time() <= SystemTime::now());
    }
}
