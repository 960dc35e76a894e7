//! The figure behind `$SYS/broker/heap/current`: the bytes glibc's
//! allocator has handed out and not had back (`mallinfo2`: in its arenas
//! plus the large blocks it maps apart), which in this process are the
//! broker's, SQLite's included. mosquitto counts its own allocations
//! instead; both answer "how much memory does the broker hold".
//!
//! `mallinfo2` is looked up when the binary starts rather than linked:
//! glibc has it from 2.33 on, and linking it would keep the binary off
//! older systems. Without it (an older glibc, musl, another OS) no heap
//! figures are published, as docs/SYS.md says.

/// glibc's `struct mallinfo2` (`malloc.h`); the layout needs every
/// field, though two are read.
#[repr(C)]
#[allow(dead_code)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

type MallInfo2Fn = unsafe extern "C" fn() -> MallInfo2;

/// Gives `broker` a heap probe when the C library has `mallinfo2`.
pub fn install(broker: &mut mqlite::Broker) {
    if let Some(mallinfo2) = find_mallinfo2() {
        broker.set_heap_probe(move || {
            // SAFETY: `mallinfo2` is glibc's, with this signature; it
            // only reads the allocator's state under its locks.
            let info = unsafe { mallinfo2() };
            Some((info.uordblks as u64).saturating_add(info.hblkhd as u64))
        });
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn find_mallinfo2() -> Option<MallInfo2Fn> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only
    // looks the symbol up.
    let symbol: *mut std::ffi::c_void =
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"mallinfo2".as_ptr()) };
    if symbol.is_null() {
        return None;
    }
    // SAFETY: glibc's `mallinfo2` takes nothing and returns the struct
    // above by value.
    Some(unsafe { std::mem::transmute::<*mut std::ffi::c_void, MallInfo2Fn>(symbol) })
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn find_mallinfo2() -> Option<MallInfo2Fn> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn the_heap_grows_with_an_allocation() {
        let Some(mallinfo2) = find_mallinfo2() else {
            return; // glibc before 2.33
        };
        let used = || {
            // SAFETY: as in `install`.
            let info = unsafe { mallinfo2() };
            info.uordblks + info.hblkhd
        };
        // Large enough that the other tests' threads, allocating and
        // freeing meanwhile, cannot hide it.
        let before = used();
        let block = vec![0u8; 64 << 20];
        let after = used();
        assert!(after >= before + block.len() / 2, "{before} then {after}");
    }
}
