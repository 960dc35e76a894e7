//! Throughput of the SQLite store (ignored: it measures, it checks nothing):
//! the cost of a commit, of large batches, of many small ones, of
//! acknowledging with body garbage collection, and of a load, on the temp
//! dir (real fsync) and on `/dev/shm` when there is one. Run with
//! `cargo test --release --test store_sqlite_throughput -- --ignored --nocapture`.

mod store_support;

use std::path::Path;
use std::time::{Duration, Instant};

use mqlite::store::*;
use mqlite::QoS;
use store_support::{add, create, delete, msg, retain_set, session, TempDir};

/// One pass of `n` messages: each stored and queued for one session.
fn pass(first_id: u64, n: u64, payload: &[u8]) -> Vec<StoreOp> {
    let mut ops = Vec::with_capacity(2 * n as usize);
    for id in first_id..first_id + n {
        ops.push(StoreOp::MessageStore {
            id,
            message: msg("bench/topic/some/level", payload, QoS::AtLeastOnce, false),
        });
        ops.push(add("bench", id, id, QoS::AtLeastOnce));
    }
    ops
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn bench_dir(dir: &Path, label: &str) {
    let tmp = TempDir::in_dir(dir, "bench");
    let path = tmp.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("bench")]).unwrap();
    let payload = [0x42u8; 100];
    let mut next = 1u64;

    // The cost of a commit alone (mostly the fsync).
    let mut commit = Vec::new();
    for i in 0..50u64 {
        let op = retain_set("bench/r", &i.to_le_bytes(), QoS::AtLeastOnce);
        let start = Instant::now();
        store.apply(&[op]).unwrap();
        commit.push(start.elapsed());
    }
    let commit = median(commit);

    // 1000 ops: 500 messages stored and queued.
    let mut big = Vec::new();
    for _ in 0..30 {
        let ops = pass(next, 500, &payload);
        next += 500;
        let start = Instant::now();
        store.apply(&ops).unwrap();
        big.push(start.elapsed());
    }
    let big = median(big);
    println!(
        "{label}: commit of 1 op {commit:?}; 1000 ops (500 messages) {big:?}, \
         {:?} beyond the 1-op commit",
        big.saturating_sub(commit)
    );

    for (passes, per_pass) in [(10_000u64, 1u64), (100, 100)] {
        let batches: Vec<Vec<StoreOp>> = (0..passes)
            .map(|p| pass(next + p * per_pass, per_pass, &payload))
            .collect();
        next += passes * per_pass;
        let start = Instant::now();
        for ops in &batches {
            store.apply(ops).unwrap();
        }
        let elapsed = start.elapsed();
        let messages = passes * per_pass;
        println!(
            "{label}: {passes} passes of {per_pass} message(s): {elapsed:?}, {:.0} messages/s, \
             {:?} per pass",
            messages as f64 / elapsed.as_secs_f64(),
            elapsed / passes as u32
        );
    }

    // Draining: acknowledging 500 messages (delete + body GC) in one pass.
    let first = next - 500;
    let ops: Vec<StoreOp> = (first..next).map(|seq| delete("bench", seq)).collect();
    let start = Instant::now();
    store.apply(&ops).unwrap();
    println!(
        "{label}: 500 SessionMessageDelete with body GC: {:?}",
        start.elapsed()
    );

    let start = Instant::now();
    let snapshot = store.load().unwrap();
    println!(
        "{label}: load of a session with {} queued messages: {:?}",
        session(&snapshot, "bench").queued_in_store.messages,
        start.elapsed()
    );
}

#[test]
#[ignore = "prints throughput figures; run with --ignored --nocapture (in release)"]
fn store_sqlite_throughput() {
    bench_dir(&std::env::temp_dir(), "temp dir (real fsync)");
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        bench_dir(shm, "/dev/shm (tmpfs: no fsync cost)");
    }
}
