//! The SQLite store's op log: batches of queue operations are committed as
//! one row each and folded into the tables later. What was acknowledged
//! while still in the log never reaches the tables; what is still in
//! flight when the log is folded comes back whole and in order, whether
//! it went to the tables or was carried into the next log; and a file
//! closed cleanly has an empty log.

use crate::support;

use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, all_messages, count_rows, create, delete, store_body};
use support::TempDir;

fn sent(client: &str, seq: u64, packet_id: u16) -> StoreOp {
    StoreOp::SessionMessageSent {
        client_id: client.into(),
        seq,
        packet_id,
    }
}

#[test]
fn a_message_acknowledged_while_in_the_log_never_reaches_the_tables() {
    let dir = TempDir::new("log-acked");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();
    store
        .apply(&[
            store_body(1, "t", b"one"),
            add("c", 1, 1, QoS::AtLeastOnce),
            sent("c", 1, 7),
            store_body(2, "t", b"two"),
            add("c", 2, 2, QoS::AtLeastOnce),
        ])
        .unwrap();
    store.apply(&[delete("c", 1)]).unwrap();
    let snapshot = store.load().unwrap();
    let left = all_messages(&mut store, &snapshot, "c");
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].seq, left[0].message.payload()), (2, &b"two"[..]));
    store.apply(&[delete("c", 2)]).unwrap();
    drop(store);
    for table in ["messages", "session_messages", "op_log"] {
        assert_eq!(count_rows(&path, table), 0, "{table}");
    }
}

/// A subscriber that acknowledges each message `lag` batches after it was
/// queued, through many times the log's size, with `maintain` between
/// batches as the broker calls it: every message still in flight is there,
/// in order, after every fold and after a reopen.
#[test]
fn in_flight_messages_survive_every_fold() {
    let dir = TempDir::new("log-stream");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();
    let payload = |i: u64| i.to_le_bytes().repeat(128);
    let lag = 40;
    let batches = 3_000u64;
    for i in 1..=batches {
        let mut ops = vec![
            store_body(i, "stream", &payload(i)),
            add("c", i, i, QoS::AtLeastOnce),
            sent("c", i, (i % 60_000) as u16 + 1),
        ];
        if i > lag {
            ops.push(delete("c", i - lag));
        }
        store.apply(&ops).unwrap();
        store.maintain().unwrap();
        if i % 1_000 == 0 {
            let snapshot = store.load().unwrap();
            let left = all_messages(&mut store, &snapshot, "c");
            let seqs: Vec<u64> = left.iter().map(|m| m.seq).collect();
            assert_eq!(seqs, (i - lag + 1..=i).collect::<Vec<_>>());
            for m in &left {
                assert_eq!(m.message.payload(), payload(m.seq));
                assert_eq!(m.state, StoredState::Sent((m.seq % 60_000) as u16 + 1));
            }
        }
    }
    drop(store);
    // Only what is in flight is left in the file.
    assert_eq!(count_rows(&path, "session_messages"), lag as i64);
    assert_eq!(count_rows(&path, "messages"), lag as i64);
    assert_eq!(count_rows(&path, "op_log"), 0);
    let mut store = SqliteStore::open(&path).unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.next_message_id, batches + 1);
    let left = all_messages(&mut store, &snapshot, "c");
    assert_eq!(left.first().map(|m| m.seq), Some(batches - lag + 1));
}

/// A batch that changes a session (here: deletes it) folds the log first,
/// so the session's logged messages go with it.
#[test]
fn a_session_change_folds_the_log_first() {
    let dir = TempDir::new("log-session");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c"), create("d")]).unwrap();
    store
        .apply(&[
            store_body(1, "t", b"shared"),
            add("c", 1, 1, QoS::AtLeastOnce),
            add("d", 1, 1, QoS::AtLeastOnce),
        ])
        .unwrap();
    store
        .apply(&[StoreOp::SessionDelete {
            client_id: "c".into(),
        }])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
    let left = all_messages(&mut store, &snapshot, "d");
    assert_eq!(left[0].message.payload(), b"shared");
    drop(store);
    assert_eq!(count_rows(&path, "session_messages"), 1);
    assert_eq!(count_rows(&path, "messages"), 1);
}

/// A reused message id is refused when it is logged, as the tables would
/// refuse it, and the store goes on.
#[test]
fn a_reused_message_id_is_refused_at_once() {
    let dir = TempDir::new("log-reused");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();
    store
        .apply(&[store_body(5, "t", b"x"), add("c", 1, 5, QoS::AtLeastOnce)])
        .unwrap();
    store.apply(&[delete("c", 1)]).unwrap();
    let err = store.apply(&[store_body(5, "t", b"again")]).unwrap_err();
    assert!(err.to_string().contains("message id 5"), "{err}");
    store.apply(&[store_body(6, "t", b"y")]).unwrap();
    assert_eq!(store.load().unwrap().next_message_id, 7);
}
