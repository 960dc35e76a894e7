//! A bridge's link in the sans-IO core facing an arbitrary upstream.
//! See `mqlite_fuzz::bridge_script` for the script and the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqlite_fuzz::alloc_guard::LimitedAlloc;

/// With `max_packet_size` 4 KiB and 64 queued messages, no buffer of the
/// core should come near this: a larger allocation is an over-allocation.
#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc::new(32 << 20);

fuzz_target!(|data: &[u8]| {
    mqlite_fuzz::bridge_script::run(data);
});
