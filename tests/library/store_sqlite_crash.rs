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
use support::store::{
    add, all_messages, create, delete, msg, retain_set, store_body, store_error_text,
};
use support::TempDir;

const CHILD_ENV: &str = "MQLITE_STORE_CRASH_CHILD_DB";
/// Set for a child whose batches also acknowledge (delete) the message
/// queued [`ACK_LAG`] batches before.
const ACKS_ENV: &str = "MQLITE_STORE_CRASH_CHILD_ACKS";
const ACK_LAG: u64 = 3;

/// Batch `i` of the crash child: one message queued at seq `i` and the
/// retained "count" set to `i`, atomically; with `acks`, the message of
/// batch `i - ACK_LAG` deleted too.
fn crash_batch(i: u64, acks: bool) -> Vec<StoreOp> {
    let mut ops = Vec::new();
    if i == 0 {
        ops.push(create("crash"));
    }
    if acks && i >= ACK_LAG {
        ops.push(delete("crash", i - ACK_LAG));
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
    let acks = std::env::var_os(ACKS_ENV).is_some();
    let mut store = SqliteStore::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0.. {
        store.apply(&crash_batch(i, acks)).unwrap();
        store.maintain().unwrap();
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
fn run_and_kill_child(path: &Path, acks: u64, with_deletes: bool) -> u64 {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if with_deletes {
        command.env(ACKS_ENV, "1");
    }
    let mut child = command
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

/// Checks the store holds the state after batches `0..n` for some `n >=
/// acked` (made with or without deletes), and returns `n`.
fn check_prefix(store: &mut SqliteStore, acked: u64, with_deletes: bool) -> u64 {
    let snapshot = &store.load().unwrap();
    let messages = &all_messages(store, snapshot, "crash");
    let n = snapshot.next_message_id - 1;
    assert!(n >= acked, "{n} batches on disk, {acked} acknowledged");
    let first = if with_deletes {
        n.saturating_sub(ACK_LAG)
    } else {
        0
    };
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (first..n).collect::<Vec<_>>());
    for m in messages {
        assert_eq!(m.message_id, m.seq + 1);
        assert_eq!(m.message.payload(), crash_payload(m.seq));
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
    n
}

fn killed_writer(name: &str, with_deletes: bool) {
    let dir = TempDir::new(name);
    let path = dir.path("store.db");
    let acked = run_and_kill_child(&path, 40, with_deletes);
    let mut store = SqliteStore::open(&path).unwrap();
    let n = check_prefix(&mut store, acked, with_deletes);
    eprintln!("{name}: {acked} batches acknowledged, {n} on disk");
    // The store goes on from there.
    store.apply(&crash_batch(n, with_deletes)).unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    check_prefix(&mut store, n + 1, with_deletes);
}

#[test]
fn a_killed_writer_leaves_every_acknowledged_batch() {
    killed_writer("crash", false);
}

/// The same with messages queued and deleted a few batches later, so that
/// the dead writer's op log holds whole lives of messages to fold.
#[test]
fn a_killed_writer_with_deletes_in_its_log_leaves_every_acknowledged_batch() {
    killed_writer("crash-deletes", true);
}

#[test]
fn open_fresh_after_a_crash_keeps_the_log_with_the_backup() {
    let dir = TempDir::new("crash-fresh");
    let path = dir.path("store.db");
    let acked = run_and_kill_child(&path, 10, false);
    // The killed writer left its WAL behind.
    let mut wal = path.clone().into_os_string();
    wal.push("-wal");
    assert!(Path::new(&wal).exists());
    let mut fresh = SqliteStore::open_fresh(&path).unwrap();
    assert!(fresh.load().unwrap().sessions.is_empty());
    let backup = fresh.moved_aside().unwrap().to_path_buf();
    drop(fresh);
    let mut old = SqliteStore::open(&backup).unwrap();
    check_prefix(&mut old, acked, false);
}
