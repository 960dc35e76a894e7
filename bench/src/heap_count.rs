//! A counting global allocator and the heap the topic tries take, shared
//! by the `mqlite-topic-memory` measurement (bench/) and the bounds
//! checked in `tests/topic_memory.rs` (which includes this file by path;
//! each of the two uses only part of it, hence the allow).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mqlite::topic::{RetainedTree, SubscriptionTree};
use mqlite::QoS;

thread_local! {
    /// Bytes currently allocated by this thread (net of frees).
    static NET: Cell<isize> = const { Cell::new(0) };
    /// Allocations (and reallocations) made by this thread.
    pub static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // During thread teardown the slot may be gone: skip counting then.
    let _ = NET.try_with(|n| n.set(n.get() + delta));
    if delta > 0 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
    }
}

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

pub fn net() -> isize {
    NET.with(|n| n.get())
}

/// A subscriber key like the broker's.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sid(pub u32);

/// Heap bytes per subscription for `n` filters made by `filter`, and the
/// heap left after unsubscribing them all.
pub fn subscription_bytes(n: u32, filter: impl Fn(u32) -> String) -> (f64, isize) {
    let filters: Vec<String> = (0..n).map(&filter).collect();
    let before = net();
    let mut tree = SubscriptionTree::new();
    for (i, f) in filters.iter().enumerate() {
        assert!(tree.subscribe(f, Sid(i as u32), QoS::AtLeastOnce));
    }
    let per_sub = (net() - before) as f64 / f64::from(n);
    for (i, f) in filters.iter().enumerate() {
        assert!(tree.unsubscribe(f, Sid(i as u32)));
    }
    let left = net() - before;
    drop(tree);
    (per_sub, left)
}

/// Heap bytes per retained topic for `n` topics made by `topic`.
pub fn retained_bytes(n: u32, topic: impl Fn(u32) -> String) -> (f64, isize) {
    let topics: Vec<String> = (0..n).map(&topic).collect();
    let before = net();
    let mut tree = RetainedTree::new();
    for (i, t) in topics.iter().enumerate() {
        tree.insert(t, u64::from(i as u32));
    }
    let per_topic = (net() - before) as f64 / f64::from(n);
    for t in &topics {
        assert!(tree.remove(t).is_some());
    }
    let left = net() - before;
    drop(tree);
    (per_topic, left)
}
