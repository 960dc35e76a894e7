//! Heap used by the topic tries per subscription and per retained topic,
//! for several shapes of filter, measured with a counting allocator.
//! Prints figures, checks nothing (the bounds are checked by
//! `tests/topic_memory.rs`):
//! `cargo run --release -p mqlite-bench --bin mqlite-topic-memory`.

#[path = "../heap_count.rs"]
mod heap_count;

use heap_count::{retained_bytes, subscription_bytes};

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
