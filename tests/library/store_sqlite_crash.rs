//! Crash safety of the SQLite store: a child process (this test binary run
//! again with only `crash_child` and `MQLITE_STORE_CRASH_CHILD_DB` set)
//! applies batches until it is SIGKILLed; every batch it acknowledged is on
//! disk afterwards, as a prefix of whole batches, the store goes on from
//! there, and `open_fresh` keeps the dead writer's log with the backup.

use crate::support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, all_messages, create, msg, retain_set, store_body, store_error_text};
use support::TempDir;

const CHILD_ENV: &str = "MQLITE_STORE_CRASH_CHILD_DB";

/// Batch `i` of the crash child: one message queued at seq `i` and the
/// retained "count" set to `i`, atomically.
fn crash_batch(i: u64) -> Vec<StoreOp> {
    let mut ops = Vec::new();
    if i == 0 {
        ops.push(create("crash"));
    }
    ops.push(store_body(i + 1, "crash/msg", &crash_payload(i)));
    ops.push(add("crash", i, i + 1, QoS::AtLeastOnce));
    ops.push(retain_set(
        "crash/count",
        i.to_string().as_bytes(),
        QoS::AtLeastOnce,
    ));
    ops
}

fn crash_payload(i: u64) -> Vec<u8> {
    let mut payload = i.to_le_bytes().repeat(64);
    payload.truncate(500);
    payload
}

/// Not a test on its own: the body of the child process of the crash tests,
/// which applies batches until it is killed and prints `ACK <i>` after each
/// `apply` returned `Ok`.
#[test]
fn crash_child() {
    use std::io::Write;
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut store = SqliteStore::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0.. {
        store.apply(&crash_batch(i)).unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
        assert!(Instant::now() < deadline, "never killed");
    }
}

/// The batch number of an `ACK <i>` line (the test harness may print
/// `test crash_child ... ` before the first one on the same line).
fn ack(line: &str) -> Option<u64> {
    let (_, i) = line.split_once("ACK ")?;
    Some(i.trim().parse().unwrap())
}

/// Runs the crash child on `path`, kills it with SIGKILL after `acks` acked
/// batches, and returns how many batches it acknowledged in all.
fn run_and_kill_child(path: &Path, acks: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "store_sqlite_crash::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0;
    let mut killed = false;
    for line in lines.by_ref() {
        let Some(i) = ack(&line.unwrap()) else {
            continue;
        };
        assert_eq!(i, acked);
        acked += 1;
        if acked == 1 {
            // Another process holds it: refused.
            let text = store_error_text(SqliteStore::open(path));
            assert!(text.contains("locked"), "{text}");
        }
        if acked == acks {
            // SAFETY: plain syscall on our own child's pid.
            let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
            assert_eq!(rc, 0);
            killed = true;
            break;
        }
    }
    assert!(killed, "the child stopped before {acks} batches");
    // Acks written before the kill landed.
    for line in lines {
        if let Some(i) = ack(&line.unwrap()) {
            assert_eq!(i, acked);
            acked += 1;
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success());
    acked
}

/// Checks `snapshot` is the state after batches `0..n` for some `n >=
/// acked`, and returns `n`.
fn check_prefix(store: &mut SqliteStore, acked: u64) -> u64 {
    let snapshot = &store.load().unwrap();
    let messages = &all_messages(store, snapshot, "crash");
    let n = messages.len() as u64;
    assert!(n >= acked, "{n} batches on disk, {acked} acknowledged");
    for (i, m) in messages.iter().enumerate() {
        let i = i as u64;
        assert_eq!(m.seq, i);
        assert_eq!(m.message_id, i + 1);
        assert_eq!(m.message.payload(), crash_payload(i));
    }
    assert_eq!(
        snapshot.retained,
        vec![msg(
            "crash/count",
            (n - 1).to_string().as_bytes(),
            QoS::AtLeastOnce,
            true
        )]
    );
    assert_eq!(snapshot.next_message_id, n + 1);
    n
}

#[test]
fn a_killed_writer_leaves_every_acknowledged_batch() {
    let dir = TempDir::new("crash");
    let path = dir.path("store.db");
    let acked = run_and_kill_child(&path, 40);
    let mut store = SqliteStore::open(&path).unwrap();
    let n = check_prefix(&mut store, acked);
    eprintln!("crash: {acked} batches acknowledged, {n} on disk");
    // The store goes on from there.
    store.apply(&crash_batch(n)).unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    check_prefix(&mut store, n + 1);
}

#[test]
fn open_fresh_after_a_crash_keeps_the_log_with_the_backup() {
    let dir = TempDir::new("crash-fresh");
    let path = dir.path("store.db");
    let acked = run_and_kill_child(&path, 10);
    // The killed writer left its WAL behind.
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    assert!(Path::new(&wal).exists());
    let mut fresh = SqliteStore::open_fresh(&path).unwrap();
    assert!(fresh.load().unwrap().sessions.is_empty());
    let backup = fresh.moved_aside().unwrap().to_path_buf();
    drop(fresh);
    let mut old = SqliteStore::open(&backup).unwrap();
    check_prefix(&mut old, acked);
}
