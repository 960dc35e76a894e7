//! The packet decoder: `mqlite::codec::decode` on arbitrary bytes.
//! See `mqlite_fuzz::codec_check::check_decode` for what is checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqlite_fuzz::alloc_guard::LimitedAlloc;

/// Decoding allocates only filter and code lists, far below this.
#[global_allocator]
static ALLOC: LimitedAlloc = LimitedAlloc::new(16 << 20);

fuzz_target!(|data: &[u8]| {
    mqlite_fuzz::codec_check::check_decode(data);
});
