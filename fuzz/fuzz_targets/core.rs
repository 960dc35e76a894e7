//! The sans-IO core: a script of simulated clients, a fake clock and a
//! reactor's calls, checked against a model after every step.
//! See `mqlite_fuzz::core_script` for the script format and the checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqlite_fuzz::alloc_guard::LimitedAlloc;

/// With `max_packet_size` 4 KiB, no buffer of the core should come near
/// this: a larger allocation is an over-allocation.
#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc::new(32 << 20);

fuzz_target!(|data: &[u8]| {
    mqlite_fuzz::core_script::run(data);
});
