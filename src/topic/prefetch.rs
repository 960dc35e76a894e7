//! Cache prefetch hints for routing.
//!
//! With many subscriptions, the filter a topic matches lives in memory the
//! cache no longer holds. Routing asks for the next message's data while
//! it handles this one, so the wait overlaps with work.

/// Asks the CPU to bring every cache line of `value` in (an entry of a
/// wide trie level spans two or three).
#[inline(always)]
pub(crate) fn prefetch_read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let first = (value as *const T).cast::<i8>();
        let size = std::mem::size_of::<T>();
        let last = first.wrapping_add(size.saturating_sub(1));
        // SAFETY: a prefetch never faults and changes no memory; every
        // address is inside a live value anyway. SSE is part of x86_64.
        unsafe {
            // `size` is a constant, so this loop unrolls to one or a few
            // instructions; the last byte covers a value that is not
            // aligned to a line.
            for offset in (0..size).step_by(LINE) {
                _mm_prefetch::<_MM_HINT_T0>(first.wrapping_add(offset));
            }
            _mm_prefetch::<_MM_HINT_T0>(last);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
