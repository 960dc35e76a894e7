//! Throughput of the SQLite store: the cost of a commit, of large batches,
//! of many small ones, of acknowledging with body garbage collection, and
//! of a load, on the temp dir (real fsync) and on `/dev/shm` when there is
//! one. Prints figures, checks nothing:
//! `cargo run --release -p mqlite-bench --bin mqlite-store-throughput`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mqlite::store::*;
use mqlite::{Message, QoS};

/// A scratch directory inside `parent`, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(parent: &Path) -> ScratchDir {
        let dir = parent.join(format!("mqlite-store-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn msg(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Message {
    Message::new(topic, payload, qos, retain).unwrap()
}

fn add(client: &str, seq: u64, message_id: u64, qos: QoS) -> StoreOp {
    StoreOp::SessionMessageAdd {
        client_id: client.into(),
        seq,
        message_id,
        qos,
        retain: false,
    }
}

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
    let tmp = ScratchDir::new(dir);
    let path = tmp.0.join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[StoreOp::SessionCreate {
            client_id: "bench".into(),
        }])
        .unwrap();
    let payload = [0x42u8; 100];
    let mut next = 1u64;

    // The cost of a commit alone (mostly the fsync).
    let mut commit = Vec::new();
    for i in 0..50u64 {
        let op = StoreOp::RetainSet {
            message: msg("bench/r", &i.to_le_bytes(), QoS::AtLeastOnce, true),
        };
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
    let ops: Vec<StoreOp> = (first..next)
        .map(|seq| StoreOp::SessionMessageDelete {
            client_id: "bench".into(),
            seq,
        })
        .collect();
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
        snapshot
            .sessions
            .iter()
            .find(|s| s.client_id == "bench")
            .expect("the bench session")
            .queued_in_store
            .messages,
        start.elapsed()
    );
}

fn main() {
    bench_dir(&std::env::temp_dir(), "temp dir (real fsync)");
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        bench_dir(shm, "/dev/shm (tmpfs: no fsync cost)");
    }
}
