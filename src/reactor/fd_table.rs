//! Growing the process's table of file descriptors once, at start.
//!
//! Linux grows a process's descriptor table by doubling as descriptors are
//! opened, and in a process with more than one thread every growth waits
//! for an RCU grace period (`synchronize_rcu` in `expand_fdtable`): 10 to
//! 20 ms on the reference VM, during which the `accept` that needed the
//! room blocks the whole reactor. The broker always shares its process with
//! other threads (its host's, or the binary's main thread), so accepting
//! 10 000 clients stalled about seven times, and the first 300 handshakes
//! of a fresh broker already had a 12 ms wait at descriptor 256. Asking
//! once, at start, for a descriptor numbered as high as the broker will
//! use grows the table in one step, before any client waits.

use std::os::unix::io::RawFd;

/// Largest table grown up front: 65 536 descriptors cost the kernel about
/// 520 KiB (not the process's resident memory). Past that, each further
/// doubling waits once, as before.
const MAX_RESERVED: usize = 1 << 16;

/// Grows the descriptor table to hold about `count` descriptors (bounded
/// by the soft `RLIMIT_NOFILE` and [`MAX_RESERVED`]), by duplicating `fd`
/// (any open descriptor) to the lowest free number at or above that and
/// closing the copy at once. Never touches a descriptor in use. Returns
/// the number it reached, or `None` when the limit is too low to matter or
/// the system refused (only a speed-up is lost).
pub(crate) fn reserve_descriptors(fd: RawFd, count: usize) -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given, nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let soft = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    let target = count.min(MAX_RESERVED).min(soft.saturating_sub(1));
    // The table starts with room for 64; below 256 it grows at most twice.
    if target < 256 {
        return None;
    }
    let min = libc::c_int::try_from(target).ok()?;
    // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor (the lowest
    // free one at or above `min`); it never closes or replaces one.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if copy < 0 {
        log::debug!(
            "could not grow the descriptor table to {target}: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    // SAFETY: `copy` was just created here and is owned by nobody else.
    unsafe { libc::close(copy) };
    usize::try_from(copy).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::io::AsRawFd;

    #[test]
    fn grows_without_disturbing_open_descriptors() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let fd = file.as_raw_fd();
        // Whatever the limit allows here: a number at or above the target
        // when it is worth it, nothing otherwise.
        if let Some(reached) = reserve_descriptors(fd, 4096) {
            assert!(reached >= 256, "{reached}");
        }
        assert_eq!(reserve_descriptors(fd, 10), None, "too small to matter");
        // The descriptor used, and the copy's number, are as before: the
        // copy was closed and the original left open.
        assert!(unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0);
        let next = std::fs::File::open("/dev/null").unwrap();
        assert!(next.as_raw_fd() < 256, "{}", next.as_raw_fd());
        // A closed descriptor is refused, not a crash.
        assert_eq!(reserve_descriptors(-1, 4096), None);
    }
}
