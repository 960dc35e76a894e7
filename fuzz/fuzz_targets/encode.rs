//! The packet encoder: packets built from fuzz input, encoded, decoded back.
//! See `mqlite_fuzz::codec_check::check_encode` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqlite_fuzz::alloc_guard::LimitedAlloc;

#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc::new(16 << 20);

fuzz_target!(|data: &[u8]| {
    mqlite_fuzz::codec_check::check_encode(data);
});
