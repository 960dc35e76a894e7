//! A global allocator for the fuzz targets that aborts on any single
//! allocation above a limit, so that an over-allocation (say, a buffer
//! sized from a length a peer declared) is a crash libFuzzer reports,
//! without needing AddressSanitizer's `-malloc_limit_mb`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator with a per-allocation limit.
pub struct LimitedAlloc {
    limit: AtomicUsize,
}

impl LimitedAlloc {
    /// An allocator refusing any allocation over `limit` bytes.
    pub const fn new(limit: usize) -> LimitedAlloc {
        LimitedAlloc {
            limit: AtomicUsize::new(limit),
        }
    }

    fn check(&self, size: usize) {
        let limit = self.limit.load(Ordering::Relaxed);
        if size > limit {
            // Stderr is unbuffered: writing to it does not allocate.
            use std::io::Write;
            let _ = std::io::stderr().write_all(b"alloc_guard: one allocation over the limit\n");
            std::process::abort();
        }
    }
}

unsafe impl GlobalAlloc for LimitedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.check(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.check(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.check(new_size);
        System.realloc(ptr, layout, new_size)
    }
}
