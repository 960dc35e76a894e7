//! A small stack that lives on the call stack and spills to the heap only
//! when it outgrows its inline capacity.
//!
//! Trie walks use it instead of recursion (topics can have 32 768 levels,
//! which would overflow a thread's stack) and instead of a `Vec` (matching
//! must not allocate in the common case).

/// A LIFO of `Copy` items: the first `N` inline, the rest in a `Vec`.
pub(crate) struct InlineStack<T: Copy, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> InlineStack<T, N> {
    /// An empty stack; allocates nothing.
    pub(crate) fn new() -> Self {
        InlineStack {
            inline: [None; N],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// Pushes `item`.
    pub(crate) fn push(&mut self, item: T) {
        if self.len < N {
            self.inline[self.len] = Some(item);
            self.len += 1;
        } else {
            self.spill.push(item);
        }
    }

    /// Pops the most recently pushed item.
    pub(crate) fn pop(&mut self) -> Option<T> {
        if let Some(item) = self.spill.pop() {
            return Some(item);
        }
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.inline[self.len].take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifo_across_the_spill() {
        let mut s: InlineStack<u32, 4> = InlineStack::new();
        for i in 0..10 {
            s.push(i);
        }
        for i in (0..10).rev() {
            assert_eq!(s.pop(), Some(i));
        }
        assert_eq!(s.pop(), None);
        s.push(7);
        assert_eq!(s.pop(), Some(7));
    }
}
