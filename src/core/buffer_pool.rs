//! Emptied output buffers kept for reuse.
//!
//! A busy connection's output buffer grows to a pass's worth of bytes, is
//! written, and empties; an idle connection holds no buffer at all (that
//! is most of the memory per idle connection). Buffers therefore go back
//! to this pool when they empty and come out of it when output starts
//! again. Without it, a fan-out of 1 KiB messages to ten subscribers grew
//! ten buffers to about a megabyte every pass and freed them again, and
//! the allocator handed that memory back to the kernel each time: page
//! faults were a third of the broker's time.
//!
//! The pool is bounded in count and in bytes, so a burst leaves at most
//! [`POOL_BYTES_MAX`] behind.

/// Buffers kept at most.
const POOL_BUFFERS_MAX: usize = 64;
/// Bytes of capacity kept at most, all buffers together: enough for a
/// pass's output to a dozen fast subscribers.
const POOL_BYTES_MAX: usize = 16 << 20;

/// Emptied byte buffers, with their total capacity.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    /// A buffer from the pool (empty, with capacity), if there is one.
    pub(crate) fn take(&mut self) -> Option<Vec<u8>> {
        let buffer = self.buffers.pop()?;
        self.bytes -= buffer.capacity();
        Some(buffer)
    }

    /// Keeps `buffer` (emptied) for reuse, or frees it if the pool is
    /// full.
    pub(crate) fn give(&mut self, mut buffer: Vec<u8>) {
        let capacity = buffer.capacity();
        if capacity > 0
            && self.buffers.len() < POOL_BUFFERS_MAX
            && self.bytes + capacity <= POOL_BYTES_MAX
        {
            buffer.clear();
            self.bytes += capacity;
            self.buffers.push(buffer);
        }
    }

    /// Total capacity held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_count_and_bytes() {
        let mut pool = BufferPool::default();
        pool.give(Vec::new());
        assert!(pool.take().is_none(), "no capacity, nothing kept");
        for _ in 0..POOL_BUFFERS_MAX + 10 {
            pool.give(Vec::with_capacity(1024));
        }
        assert_eq!(pool.buffers.len(), POOL_BUFFERS_MAX);
        while let Some(buffer) = pool.take() {
            assert!(buffer.is_empty() && buffer.capacity() >= 1024);
        }
        assert_eq!(pool.bytes(), 0);
        pool.give(vec![1; POOL_BYTES_MAX / 2]);
        pool.give(vec![2; POOL_BYTES_MAX / 2]);
        pool.give(vec![3; 4096]);
        assert!(pool.bytes() <= POOL_BYTES_MAX);
        assert_eq!(pool.buffers.len(), 2);
        let buffer = pool.take();
        assert!(matches!(buffer, Some(b) if b.is_empty()));
    }
}
