//! Timing of the topic tries: routing one topic among 100 and 100 000
//! subscriptions, subscribing and unsubscribing 100 000 filters, and
//! matching retained topics. Prints figures, checks nothing:
//! `cargo run --release -p mqlite-bench --bin mqlite-topic-perf`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mqlite::topic::{RetainedTree, SubscriptionTree};
use mqlite::QoS;

/// A subscriber key like the broker's.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Sid(u32);

/// The best of a few runs of `f`.
fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Average time to route one PUBLISH among `n` subscriptions
/// `bench/sub/<i>` plus a few wildcard ones.
fn route_time(n: u32) -> Duration {
    let mut tree = SubscriptionTree::new();
    for i in 0..n {
        tree.subscribe(&format!("bench/sub/{i}"), Sid(i), QoS::AtMostOnce);
    }
    tree.subscribe("bench/+/7", Sid(0), QoS::AtLeastOnce);
    tree.subscribe("bench/#", Sid(1), QoS::AtLeastOnce);
    // Topics hitting existing and missing subscriptions alike.
    let topics: Vec<String> = (0..1_000u32)
        .map(|i| format!("bench/sub/{}", i.wrapping_mul(2_654_435_761) % (2 * n)))
        .collect();
    let rounds = 1_000;
    let total = best_of(3, || {
        let mut hits = 0u32;
        for _ in 0..rounds {
            for t in &topics {
                tree.for_each_match(black_box(t), |k, _| hits = hits.wrapping_add(k.0));
            }
        }
        black_box(hits);
    });
    total / (rounds * topics.len() as u32)
}

fn report_routing() {
    let small = route_time(100);
    let large = route_time(100_000);
    println!("route one topic: {small:?} with 100 subscriptions, {large:?} with 100 000");

    let filters: Vec<String> = (0..100_000u32).map(|i| format!("bench/sub/{i}")).collect();
    let mut tree = SubscriptionTree::new();
    let t = Instant::now();
    for (i, f) in filters.iter().enumerate() {
        tree.subscribe(f, Sid(i as u32), QoS::AtMostOnce);
    }
    let sub = t.elapsed();
    let t = Instant::now();
    for (i, f) in filters.iter().enumerate() {
        tree.unsubscribe(f, Sid(i as u32));
    }
    println!(
        "subscribe 100 000: {sub:?}, unsubscribe them: {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    for i in 0..10_000u32 {
        tree.subscribe("one/filter", Sid(i), QoS::AtMostOnce);
    }
    let one = t.elapsed();
    let mut n = 0;
    let t = Instant::now();
    tree.for_each_match("one/filter", |_, _| n += 1);
    println!(
        "10 000 keys on one filter: subscribe all {one:?}, route to all {:?} ({n})",
        t.elapsed()
    );
}

fn report_retained() {
    let mut tree = RetainedTree::new();
    let t = Instant::now();
    for i in 0..100_000u32 {
        tree.insert(&format!("bench/ret/{i}"), i);
    }
    let insert = t.elapsed();
    for q in [
        "#",
        "bench/ret/+",
        "bench/#",
        "#",
        "bench/ret/77777",
        "+/+/77777",
    ] {
        let mut n = 0u32;
        let d = best_of(5, || {
            n = 0;
            tree.for_each_match(q, |topic, v| n = n.wrapping_add(topic.len() as u32 + v));
        });
        let mut count = 0;
        tree.for_each_match(q, |_, _| count += 1);
        println!("retained 100 000: {q:<16} {count:>6} topics in {d:?}");
    }
    println!("retained insert 100 000: {insert:?}");
}

fn main() {
    report_routing();
    report_retained();
}
