//! Heap used by the topic tries, measured with a counting allocator.
//!
//! The counter is per thread, so tests running in parallel do not disturb
//! each other. The figures for the report come from
//! `cargo run --release -p mqlite-bench --bin mqlite-topic-memory`.

#[path = "../bench/src/heap_count.rs"]
mod heap_count;

use heap_count::{retained_bytes, subscription_bytes, Sid, ALLOCS};
use mqlite::topic::SubscriptionTree;
use mqlite::QoS;

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
