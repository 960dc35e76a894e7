//! Heap used by the topic tries per subscription and per retained topic,
//! for several shapes of filter, measured with a counting allocator.
//! Prints figures, checks nothing (the bounds are checked by
//! `tests/topic_memory.rs`):
//! `cargo run --release -p mqlite-bench --bin mqlite-topic-memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mqlite::topic::{RetainedTree, SubscriptionTree};
use mqlite::QoS;

thread_local! {
    /// Bytes currently allocated by this thread (net of frees).
    static NET: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // During thread teardown the slot may be gone: skip counting then.
    let _ = NET.try_with(|n| n.set(n.get() + delta));
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

/// A named way to make the i-th filter or topic.
type Shape = (&'static str, fn(u32) -> String);

fn main() {
    let n = 100_000;
    let shapes: [Shape; 5] = [
        ("bench/sub/<i>", |i| format!("bench/sub/{i}")),
        ("dev/<i>/temp", |i| format!("dev/{i}/temp")),
        ("site/<i%100>/dev/<i>", |i| {
            format!("site/{}/dev/{i}", i % 100)
        }),
        ("+/<i>/#", |i| format!("+/{i}/#")),
        ("dev/<i>/+", |i| format!("dev/{i}/+")),
    ];
    for (name, shape) in shapes {
        let (per_sub, left) = subscription_bytes(n, shape);
        println!(
            "subscriptions {name:<22} x{n}: {per_sub:.1} bytes each, {left} left after removal"
        );
    }
    for (name, shape) in shapes.into_iter().take(3) {
        let (per_topic, left) = retained_bytes(n, shape);
        println!(
            "retained (u64) {name:<22} x{n}: {per_topic:.1} bytes each, {left} left after removal"
        );
    }
}
