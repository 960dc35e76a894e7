//! The heap figures of `$SYS/broker/heap/...`, which only the host can
//! give.

use super::Broker;

impl Broker {
    /// Sets the probe behind `$SYS/broker/heap/current` (what it returns,
    /// in bytes) and `$SYS/broker/heap/maximum` (the largest of those), as
    /// mosquitto publishes them. Called on the broker thread once per
    /// `sys_interval`; `None` (or a panic, which is logged) leaves both
    /// topics as they were.
    ///
    /// Without a probe neither topic is published: a library cannot tell
    /// its allocations from its host's, so only the host knows which
    /// figure means something. The `mqlite` binary, a process of its
    /// own, reports what glibc's allocator has handed out.
    pub fn set_heap_probe(&mut self, probe: impl FnMut() -> Option<u64> + Send + 'static) {
        self.reactor.core_mut().hooks.heap = Some(Box::new(probe));
    }
}
