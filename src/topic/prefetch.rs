//! Cache prefetch hints for routing.
//!
//! With many subscriptions, the filter a topic matches lives in memory the
//! cache no longer holds. Routing asks for the next message's data while
//! it handles this one, so the wait overlaps with work. That look-ahead
//! (peeking at the next packets, hashing their topics) only pays on a
//! target with a prefetch instruction; elsewhere [`CAN_PREFETCH`] is false
//! and callers skip it whole.

/// Whether this target has a prefetch instruction the routing look-ahead
/// uses (x86_64, aarch64). When false, [`crate::topic::SubscriptionTree`]'s
/// prefetch calls return at once and the core does not look ahead, so no
/// topic is hashed for nothing.
pub const CAN_PREFETCH: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Asks the CPU to bring every cache line of `value` in (an entry of a
/// wide trie level spans two or three).
#[inline(always)]
pub(crate) fn prefetch_read<T>(value: &T) {
    // The common line size of both targets; a larger line only makes some
    // requests redundant.
    const LINE: usize = 64;
    let first = (value as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>();
    // `size` is a constant, so this loop unrolls to one or a few
    // instructions; the last byte covers a value that is not aligned to a
    // line.
    for offset in (0..size).step_by(LINE) {
        prefetch_line(first.wrapping_add(offset));
    }
    prefetch_line(first.wrapping_add(size.saturating_sub(1)));
}

/// Starts loading the cache line holding `address` for reading.
#[inline(always)]
fn prefetch_line(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; every address
    // is inside a live value anyway. SSE is part of x86_64.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address.cast::<i8>());
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above: PRFM is a hint that never faults, and it is part
    // of the base AArch64 instruction set. Stable Rust has no prefetch
    // intrinsic for aarch64, hence the one instruction of assembly.
    unsafe {
        std::arch::asm!(
            "prfm pldl1keep, [{0}]",
            in(reg) address,
            options(nostack, readonly, preserves_flags)
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = address;
}
