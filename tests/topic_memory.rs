//! Heap used by the topic tries, measured with a counting allocator.
//!
//! The counter is per thread, so tests running in parallel do not disturb
//! each other. The figures for the report come from
//! `cargo run --release -p mqlite-bench --bin mqlite-topic-memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mqlite::topic::{RetainedTree, SubscriptionTree};
use mqlite::QoS;

thread_local! {
    /// Bytes currently allocated by this thread (net of frees).
    static NET: Cell<isize> = const { Cell::new(0) };
    /// Allocations (and reallocations) made by this thread.
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
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

fn net() -> isize {
    NET.with(|n| n.get())
}

/// A subscriber key like the broker's.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Sid(u32);

/// Heap bytes per subscription for `n` filters made by `filter`, and the
/// heap left after unsubscribing them all.
fn subscription_bytes(n: u32, filter: impl Fn(u32) -> String) -> (f64, isize) {
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
fn retained_bytes(n: u32, topic: impl Fn(u32) -> String) -> (f64, isize) {
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

#[test]
fn subscriptions_are_compact_and_memory_returns() {
    let (per_sub, left) = subscription_bytes(20_000, |i| format!("bench/sub/{i}"));
    assert!(per_sub <= 400.0, "{per_sub} bytes per subscription");
    assert_eq!(left, 0, "heap left after unsubscribing everything");
    let (per_sub, left) = subscription_bytes(20_000, |i| format!("dev/{i}/+/temp"));
    assert!(per_sub <= 400.0, "{per_sub} bytes per subscription");
    assert_eq!(left, 0);
}

#[test]
fn matching_does_not_allocate() {
    let mut tree = SubscriptionTree::new();
    let filters = [
        "a/b/c", "a/+/c", "a/#", "#", "+/+/+", "+/b/#", "$SYS/#", "a//c",
    ];
    for (i, f) in filters.iter().enumerate() {
        tree.subscribe(f, Sid(i as u32), QoS::AtMostOnce);
    }
    let topics = ["a/b/c", "a//c", "$SYS/x", "x/y/z/w", "a", "/"];
    let mut hits = 0;
    let before = ALLOCS.with(|n| n.get());
    for t in topics {
        tree.for_each_match(t, |_, _| hits += 1);
    }
    assert_eq!(ALLOCS.with(|n| n.get()), before, "for_each_match allocated");
    let expected = topics
        .iter()
        .map(|t| {
            filters
                .iter()
                .filter(|f| mqlite::topic::matches(f, t))
                .count()
        })
        .sum::<usize>();
    assert_eq!(hits, expected);
}

#[test]
fn retained_memory_returns() {
    let (_, left) = retained_bytes(20_000, |i| format!("dev/{}/{i}", i % 100));
    assert_eq!(left, 0, "heap left after removing everything");
}
