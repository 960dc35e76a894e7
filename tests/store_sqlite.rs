//! The SQLite store: op semantics, reopening, refusals, migrations, crash
//! safety. `store_sqlite_throughput` (ignored) prints the figures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mqlite::core::Message;
use mqlite::store::*;
use mqlite::{Error, QoS};

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mqlite-store-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn in_dir(dir: &Path, name: &str) -> TempDir {
        let dir = dir.join(format!("mqlite-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn msg(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Message {
    Message::new(topic, payload, qos, retain).unwrap()
}

fn create(client: &str) -> StoreOp {
    StoreOp::SessionCreate {
        client_id: client.into(),
    }
}

fn store_body(id: u64, topic: &str, payload: &[u8]) -> StoreOp {
    StoreOp::MessageStore {
        id,
        message: msg(topic, payload, QoS::ExactlyOnce, false),
    }
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

fn delete(client: &str, seq: u64) -> StoreOp {
    StoreOp::SessionMessageDelete {
        client_id: client.into(),
        seq,
    }
}

fn retain_set(topic: &str, payload: &[u8], qos: QoS) -> StoreOp {
    StoreOp::RetainSet {
        message: msg(topic, payload, qos, true),
    }
}

fn session<'a>(snapshot: &'a Snapshot, client: &str) -> &'a StoredSession {
    snapshot
        .sessions
        .iter()
        .find(|s| s.client_id == client)
        .unwrap_or_else(|| panic!("no session {client} in {snapshot:?}"))
}

/// Every outbound message of a stored session: those loaded with the
/// snapshot, then the queued ones read back from the store, in `seq` order.
fn all_messages(store: &mut SqliteStore, snapshot: &Snapshot, client: &str) -> Vec<StoredMessage> {
    let stored = session(snapshot, client);
    let mut messages = stored.messages.clone();
    let queued = store
        .load_queued(client, None, usize::MAX, usize::MAX)
        .unwrap();
    assert_eq!(queued.len(), stored.queued_in_store.messages, "{client}");
    let bytes: usize = queued.iter().map(|m| m.message.size()).sum();
    assert_eq!(bytes, stored.queued_in_store.bytes, "{client}");
    messages.extend(queued);
    messages.sort_by_key(|m| m.seq);
    messages
}

/// Rows of a table, read with a plain connection (the store must be closed).
fn count_rows(path: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn store_error_text(result: Result<SqliteStore, Error>) -> String {
    match result {
        Ok(_) => panic!("open succeeded"),
        Err(e @ Error::Store { .. }) => e.to_string(),
        Err(e) => panic!("not a store error: {e:?}"),
    }
}

#[test]
fn round_trip_of_every_op() {
    let dir = TempDir::new("round-trip");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap(),
        Snapshot {
            sessions: vec![],
            retained: vec![],
            next_message_id: 1
        }
    );
    store.apply(&[]).unwrap();
    let ops = vec![
        create("a"),
        create("b"),
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "x/#".into(),
            qos: QoS::AtLeastOnce,
        },
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "y/+".into(),
            qos: QoS::ExactlyOnce,
        },
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "z".into(),
            qos: QoS::AtMostOnce,
        },
        // QoS change.
        StoreOp::Subscribe {
            client_id: "a".into(),
            filter: "x/#".into(),
            qos: QoS::ExactlyOnce,
        },
        StoreOp::Unsubscribe {
            client_id: "a".into(),
            filter: "z".into(),
        },
        store_body(1, "x/1", b"one"),
        store_body(2, "x/2", b"two"),
        store_body(3, "y/3", b""),
        add("a", 0, 1, QoS::AtLeastOnce),
        add("a", 1, 2, QoS::ExactlyOnce),
        StoreOp::SessionMessageAdd {
            client_id: "a".into(),
            seq: 2,
            message_id: 3,
            qos: QoS::ExactlyOnce,
            retain: true,
        },
        add("a", 3, 1, QoS::AtLeastOnce),
        add("b", 0, 1, QoS::AtLeastOnce),
        StoreOp::SessionMessageSent {
            client_id: "a".into(),
            seq: 0,
            packet_id: 10,
        },
        StoreOp::SessionMessageSent {
            client_id: "a".into(),
            seq: 1,
            packet_id: 11,
        },
        StoreOp::SessionMessageReleased {
            client_id: "a".into(),
            seq: 1,
        },
        delete("a", 3),
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 7,
        },
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 5,
        },
        StoreOp::InboundQos2Add {
            client_id: "b".into(),
            packet_id: 9,
        },
        StoreOp::InboundQos2Remove {
            client_id: "b".into(),
            packet_id: 9,
        },
        retain_set("r/1", b"retained one", QoS::AtLeastOnce),
        retain_set("r/2", b"retained two", QoS::AtMostOnce),
        StoreOp::RetainDelete {
            topic: "r/2".into(),
        },
    ];
    store.apply(&ops).unwrap();
    let expected = Snapshot {
        sessions: vec![
            StoredSession {
                client_id: "a".into(),
                subscriptions: vec![
                    ("x/#".into(), QoS::ExactlyOnce),
                    ("y/+".into(), QoS::ExactlyOnce),
                ],
                messages: vec![
                    StoredMessage {
                        seq: 0,
                        message_id: 1,
                        message: msg("x/1", b"one", QoS::AtLeastOnce, false),
                        state: StoredState::Sent(10),
                    },
                    StoredMessage {
                        seq: 1,
                        message_id: 2,
                        message: msg("", b"", QoS::ExactlyOnce, false),
                        state: StoredState::Released(11),
                    },
                ],
                // The queued one stays in the file: "y/3" and no payload.
                queued_in_store: QueuedInStore {
                    messages: 1,
                    bytes: 3,
                },
                last_seq: 2,
                inbound_qos2: vec![],
            },
            StoredSession {
                client_id: "b".into(),
                subscriptions: vec![],
                messages: vec![],
                queued_in_store: QueuedInStore {
                    messages: 1,
                    bytes: 6,
                },
                last_seq: 0,
                inbound_qos2: vec![5, 7],
            },
        ],
        retained: vec![msg("r/1", b"retained one", QoS::AtLeastOnce, true)],
        next_message_id: 4,
    };
    assert_eq!(store.load().unwrap(), expected);
    // Loading twice gives the same.
    assert_eq!(store.load().unwrap(), expected);
    assert_eq!(
        store.load_queued("a", None, 10, usize::MAX).unwrap(),
        vec![StoredMessage {
            seq: 2,
            message_id: 3,
            message: msg("y/3", b"", QoS::ExactlyOnce, true),
            state: StoredState::Queued,
        }]
    );
    assert_eq!(
        store.load_queued("b", None, 10, usize::MAX).unwrap(),
        vec![StoredMessage {
            seq: 0,
            message_id: 1,
            message: msg("x/1", b"one", QoS::AtLeastOnce, false),
            state: StoredState::Queued,
        }]
    );
    assert!(store
        .load_queued("b", None, 0, usize::MAX)
        .unwrap()
        .is_empty());
    assert!(store
        .load_queued("nobody", None, 10, 10)
        .unwrap()
        .is_empty());
    drop(store);
    // Body 2 went with the release; 1 and 3 are still held.
    assert_eq!(count_rows(&path, "messages"), 2);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap(), expected);
    store
        .apply(&[
            StoreOp::SessionDelete {
                client_id: "a".into(),
            },
            StoreOp::InboundQos2Remove {
                client_id: "b".into(),
                packet_id: 5,
            },
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(session(&snapshot, "b").inbound_qos2, vec![7]);
    assert_eq!(all_messages(&mut store, &snapshot, "b").len(), 1);
    drop(store);
    assert_eq!(count_rows(&path, "messages"), 1);
    assert_eq!(count_rows(&path, "subscriptions"), 0);
}

#[test]
fn messages_come_in_seq_order() {
    let dir = TempDir::new("order");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let seqs = [100u64, 2, 30, 1, 9, 1_000_000_000_000, 11];
    let mut ops = vec![create("c")];
    for (i, &seq) in seqs.iter().enumerate() {
        let id = i as u64 + 1;
        ops.push(store_body(id, &format!("t/{seq}"), &seq.to_be_bytes()));
        ops.push(add("c", seq, id, QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    let snapshot = store.load().unwrap();
    let messages = all_messages(&mut store, &snapshot, "c");
    let got: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    let mut want = seqs.to_vec();
    want.sort_unstable();
    assert_eq!(got, want);
    for m in &messages {
        assert_eq!(m.message.topic(), format!("t/{}", m.seq));
        assert_eq!(m.message.payload(), m.seq.to_be_bytes());
    }
    assert_eq!(session(&snapshot, "c").last_seq, 1_000_000_000_000);
    // Pages: after a position, bounded by count and by bytes.
    let page = store.load_queued("c", Some(9), 2, usize::MAX).unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![11, 30]);
    let page = store.load_queued("c", Some(0), 100, 1).unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), vec![1]);
    assert!(store
        .load_queued("c", Some(u64::MAX), 100, 1)
        .unwrap()
        .is_empty());
    let page = store
        .load_queued("c", Some(1_000_000_000_000), 100, 1)
        .unwrap();
    assert!(page.is_empty());
}

#[test]
fn session_create_resets_the_session() {
    let dir = TempDir::new("reset");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            create("other"),
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "a".into(),
                qos: QoS::AtLeastOnce,
            },
            store_body(1, "a", b"1"),
            store_body(2, "a", b"2"),
            add("c", 0, 1, QoS::AtLeastOnce),
            add("c", 1, 2, QoS::AtLeastOnce),
            add("other", 0, 2, QoS::AtLeastOnce),
            StoreOp::InboundQos2Add {
                client_id: "c".into(),
                packet_id: 3,
            },
        ])
        .unwrap();
    // A reset in the same batch as new state: only the new state is left.
    store
        .apply(&[
            create("c"),
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "b".into(),
                qos: QoS::AtMostOnce,
            },
        ])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(
        session(&snapshot, "c"),
        &StoredSession {
            client_id: "c".into(),
            subscriptions: vec![("b".into(), QoS::AtMostOnce)],
            messages: vec![],
            queued_in_store: QueuedInStore::default(),
            last_seq: 0,
            inbound_qos2: vec![],
        }
    );
    assert_eq!(all_messages(&mut store, &snapshot, "other").len(), 1);
    // Seq numbers may start again after a reset.
    store
        .apply(&[store_body(3, "a", b"3"), add("c", 0, 3, QoS::AtLeastOnce)])
        .unwrap();
    drop(store);
    // Body 1 was only c's; 2 is still held by "other", 3 by the new c.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM messages ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, vec![2, 3]);
}

#[test]
fn bodies_are_deleted_with_their_last_reference() {
    let dir = TempDir::new("gc");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut ops = vec![create("a"), create("b"), create("c")];
    for id in 1..=20u64 {
        ops.push(store_body(id, "t", &[id as u8; 100]));
        ops.push(add("a", id, id, QoS::AtLeastOnce));
        ops.push(add("b", id, id, QoS::ExactlyOnce));
    }
    ops.push(store_body(21, "t", b"c only"));
    ops.push(add("c", 0, 21, QoS::AtLeastOnce));
    store.apply(&ops).unwrap();

    // a acknowledges everything: b still holds every body.
    let ops: Vec<StoreOp> = (1..=20).map(|id| delete("a", id)).collect();
    store.apply(&ops).unwrap();
    // b: half released then completed, half acknowledged directly.
    let mut ops = Vec::new();
    for id in 1..=20u64 {
        if id % 2 == 0 {
            ops.push(StoreOp::SessionMessageSent {
                client_id: "b".into(),
                seq: id,
                packet_id: id as u16,
            });
            ops.push(StoreOp::SessionMessageReleased {
                client_id: "b".into(),
                seq: id,
            });
        }
    }
    store.apply(&ops).unwrap();
    let snapshot = store.load().unwrap();
    assert_eq!(all_messages(&mut store, &snapshot, "b").len(), 20);
    drop(store);
    // The released bodies are gone already.
    assert_eq!(count_rows(&path, "messages"), 11);

    let mut store = SqliteStore::open(&path).unwrap();
    let ops: Vec<StoreOp> = (1..=20).map(|id| delete("b", id)).collect();
    store.apply(&ops).unwrap();
    store
        .apply(&[StoreOp::SessionDelete {
            client_id: "c".into(),
        }])
        .unwrap();
    let snapshot = store.load().unwrap();
    assert!(snapshot
        .sessions
        .iter()
        .all(|s| s.messages.is_empty() && s.queued_in_store.messages == 0));
    // Ids are not reused even though every body is gone.
    assert_eq!(snapshot.next_message_id, 22);
    drop(store);
    assert_eq!(count_rows(&path, "messages"), 0);
    assert_eq!(count_rows(&path, "session_messages"), 0);

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap().next_message_id, 22);
}

#[test]
fn orphaned_bodies_are_deleted_at_load() {
    let dir = TempDir::new("orphans");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    // A body nobody queues, and one queued for a session that does not exist.
    store
        .apply(&[
            store_body(1, "t", b"x"),
            store_body(2, "t", b"y"),
            add("ghost", 0, 2, QoS::AtLeastOnce),
        ])
        .unwrap();
    drop(store);
    assert_eq!(count_rows(&path, "messages"), 2);
    let mut store = SqliteStore::open(&path).unwrap();
    let snapshot = store.load().unwrap();
    assert!(snapshot.sessions.is_empty());
    assert_eq!(snapshot.next_message_id, 3);
    drop(store);
    assert_eq!(count_rows(&path, "messages"), 0);
}

#[test]
fn ops_on_unknown_sessions_are_harmless() {
    let dir = TempDir::new("unknown");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let ghost = || "ghost".to_string();
    store
        .apply(&[
            StoreOp::Subscribe {
                client_id: ghost(),
                filter: "a".into(),
                qos: QoS::AtLeastOnce,
            },
            StoreOp::Unsubscribe {
                client_id: ghost(),
                filter: "a".into(),
            },
            add("ghost", 0, 1, QoS::AtLeastOnce),
            StoreOp::SessionMessageSent {
                client_id: ghost(),
                seq: 0,
                packet_id: 1,
            },
            StoreOp::SessionMessageReleased {
                client_id: ghost(),
                seq: 0,
            },
            delete("ghost", 0),
            StoreOp::InboundQos2Add {
                client_id: ghost(),
                packet_id: 1,
            },
            StoreOp::InboundQos2Remove {
                client_id: ghost(),
                packet_id: 1,
            },
            StoreOp::SessionDelete { client_id: ghost() },
            StoreOp::RetainDelete {
                topic: "nothing".into(),
            },
        ])
        .unwrap();
    assert!(store.load().unwrap().sessions.is_empty());
    drop(store);
    for table in [
        "sessions",
        "subscriptions",
        "session_messages",
        "inbound_qos2",
    ] {
        assert_eq!(count_rows(&path, table), 0, "{table}");
    }
}

#[test]
fn a_failing_batch_changes_nothing() {
    let dir = TempDir::new("rollback");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            store_body(1, "t", b"first"),
            add("c", 0, 1, QoS::AtLeastOnce),
        ])
        .unwrap();
    let before = store.load().unwrap();
    // The same message id twice is refused: the whole batch goes.
    let err = store
        .apply(&[
            retain_set("r", b"x", QoS::AtLeastOnce),
            create("d"),
            store_body(1, "t", b"again"),
        ])
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Store { .. }), "{err:?}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("MessageStore"), "{text}");
    assert_eq!(store.load().unwrap(), before);
    // And the store still works.
    store
        .apply(&[retain_set("r", b"x", QoS::AtLeastOnce)])
        .unwrap();
    assert_eq!(store.load().unwrap().retained.len(), 1);
}

#[test]
fn retained_set_replace_delete() {
    let dir = TempDir::new("retained");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let big = vec![0xabu8; 300_000];
    store
        .apply(&[
            retain_set("a/b", b"1", QoS::AtMostOnce),
            retain_set("a/c", &big, QoS::ExactlyOnce),
            retain_set("a/d", b"", QoS::AtLeastOnce),
        ])
        .unwrap();
    store
        .apply(&[retain_set("a/b", b"2", QoS::AtLeastOnce)])
        .unwrap();
    assert_eq!(
        store.load().unwrap().retained,
        vec![
            msg("a/b", b"2", QoS::AtLeastOnce, true),
            msg("a/c", &big, QoS::ExactlyOnce, true),
            msg("a/d", b"", QoS::AtLeastOnce, true),
        ]
    );
    store
        .apply(&[
            StoreOp::RetainDelete {
                topic: "a/c".into(),
            },
            StoreOp::RetainDelete {
                topic: "a/b".into(),
            },
            retain_set("a/b", b"3", QoS::AtMostOnce),
        ])
        .unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap().retained,
        vec![
            msg("a/b", b"3", QoS::AtMostOnce, true),
            msg("a/d", b"", QoS::AtLeastOnce, true),
        ]
    );
}

#[test]
fn reopening_keeps_everything() {
    let dir = TempDir::new("reopen");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut ops = Vec::new();
    for c in 0..10u64 {
        let client = format!("client-{c}");
        ops.push(create(&client));
        ops.push(StoreOp::Subscribe {
            client_id: client.clone(),
            filter: format!("c/{c}/#"),
            qos: QoS::ExactlyOnce,
        });
        for i in 0..10u64 {
            let id = c * 10 + i + 1;
            ops.push(store_body(id, &format!("c/{c}/{i}"), &id.to_le_bytes()));
            ops.push(add(&client, i, id, QoS::ExactlyOnce));
        }
        ops.push(StoreOp::SessionMessageSent {
            client_id: client.clone(),
            seq: 0,
            packet_id: 1,
        });
        ops.push(StoreOp::InboundQos2Add {
            client_id: client,
            packet_id: 42,
        });
        ops.push(retain_set(&format!("r/{c}"), b"r", QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    let before = store.load().unwrap();
    assert_eq!(before.sessions.len(), 10);
    assert_eq!(before.next_message_id, 101);
    drop(store);
    for _ in 0..2 {
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.load().unwrap(), before);
    }
}

#[test]
fn a_second_open_is_refused_while_the_first_is_alive() {
    let dir = TempDir::new("locked");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();

    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("locked") && text.contains("in use"), "{text}");
    let text = store_error_text(SqliteStore::open_fresh(&path));
    assert!(text.contains("locked"), "{text}");
    // open_fresh refused before moving anything.
    assert!(path.exists());

    // SQLite's own lock keeps out programs that ignore the lock file.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::ZERO).unwrap();
    let read = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0));
    let err = read.unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{err}"
    );
    drop(conn);

    // The first store is unharmed, and the file is free once it is dropped.
    store.apply(&[create("d")]).unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap().sessions.len(), 2);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = TempDir::new("garbage");
    for (name, content) in [
        ("short.db", b"hello, I am a text file\n".to_vec()),
        ("long.db", b"not a database. ".repeat(1000)),
    ] {
        let path = dir.file(name);
        std::fs::write(&path, &content).unwrap();
        let text = store_error_text(SqliteStore::open(&path));
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("not a SQLite database"), "{text}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "the file was changed"
        );
    }
}

#[test]
fn a_corrupt_database_is_refused() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut ops = vec![create("c")];
    for id in 1..=200u64 {
        ops.push(store_body(id, "t", &[7u8; 200]));
        ops.push(add("c", id, id, QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    drop(store);
    // Scribble over a b-tree page in the middle of the (checkpointed) file.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 5 * 4096, "{}", bytes.len());
    for b in &mut bytes[3 * 4096..4 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("corrupt"), "{text}");
}

#[test]
fn a_schema_from_a_newer_version_is_refused() {
    let dir = TempDir::new("newer");
    let path = dir.file("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("99") && text.contains("newer"), "{text}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn another_programs_database_is_refused() {
    let dir = TempDir::new("foreign");
    let path = dir.file("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);")
            .unwrap();
    }
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains("not an mqlite store"), "{text}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get::<_, i64>(0))
        .unwrap();
}

#[test]
fn open_fresh_moves_the_old_file_aside() {
    let dir = TempDir::new("fresh");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            store_body(1, "t", b"kept"),
            add("c", 0, 1, QoS::AtLeastOnce),
        ])
        .unwrap();
    let before = store.load().unwrap();
    assert!(store.moved_aside().is_none());
    drop(store);

    let mut fresh = SqliteStore::open_fresh(&path).unwrap();
    assert_eq!(
        fresh.load().unwrap(),
        Snapshot {
            next_message_id: 1,
            ..Snapshot::default()
        }
    );
    let backup = fresh.moved_aside().unwrap().to_path_buf();
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("store.db.bak-"), "{name}");
    fresh.apply(&[create("new")]).unwrap();
    drop(fresh);

    // The backup is a store of its own with the old data.
    let mut old = SqliteStore::open(&backup).unwrap();
    assert_eq!(old.load().unwrap(), before);
    drop(old);

    // A garbage file is moved aside too, byte for byte; and again within the
    // same second does not overwrite the first backup.
    std::fs::write(&path, b"garbage").unwrap();
    let fresh = SqliteStore::open_fresh(&path).unwrap();
    let second = fresh.moved_aside().unwrap().to_path_buf();
    assert_ne!(second, backup);
    assert_eq!(std::fs::read(&second).unwrap(), b"garbage");
    let mut old = SqliteStore::open(&backup).unwrap();
    assert_eq!(old.load().unwrap(), before);

    // Nothing to move: nothing moved.
    let other = dir.file("other.db");
    let fresh = SqliteStore::open_fresh(&other).unwrap();
    assert!(fresh.moved_aside().is_none());
}

#[test]
fn migrates_an_empty_version_0_file() {
    let dir = TempDir::new("v0");
    let path = dir.file("store.db");
    std::fs::write(&path, b"").unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    assert!(store.load().unwrap().sessions.is_empty());
    store.apply(&[create("c")]).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// The version 1 schema as shipped. Files made by it must keep opening:
/// do not edit this to follow a schema change, add a migration instead.
const SCHEMA_V1: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_message_id', 1);
CREATE TABLE sessions (client_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
CREATE TABLE subscriptions (client_id TEXT NOT NULL, filter TEXT NOT NULL,
    qos INTEGER NOT NULL, PRIMARY KEY (client_id, filter)) WITHOUT ROWID;
CREATE TABLE messages (id INTEGER PRIMARY KEY, topic TEXT NOT NULL,
    payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL);
CREATE TABLE session_messages (client_id TEXT NOT NULL, seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,
    state INTEGER NOT NULL, packet_id INTEGER, PRIMARY KEY (client_id, seq)) WITHOUT ROWID;
CREATE INDEX session_messages_by_body ON session_messages (message_id) WHERE state < 2;
CREATE TABLE inbound_qos2 (client_id TEXT NOT NULL, packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)) WITHOUT ROWID;
CREATE TABLE retained (topic TEXT PRIMARY KEY NOT NULL, payload BLOB NOT NULL,
    qos INTEGER NOT NULL);
PRAGMA user_version = 1;
PRAGMA application_id = 1836149876;
";

#[test]
fn opens_a_version_1_file() {
    let dir = TempDir::new("v1");
    let path = dir.file("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.execute_batch(
            "UPDATE meta SET value = 8 WHERE key = 'next_message_id';
             INSERT INTO sessions VALUES ('c');
             INSERT INTO subscriptions VALUES ('c', 'a/#', 1);
             INSERT INTO messages VALUES (5, 'a/b', x'0102', 2, 1);
             INSERT INTO session_messages VALUES ('c', 0, 5, 1, 0, 1, 77);
             INSERT INTO session_messages VALUES ('c', 1, 4, 2, 0, 2, 78);
             INSERT INTO inbound_qos2 VALUES ('c', 9);
             INSERT INTO retained VALUES ('r', x'ff', 0);",
        )
        .unwrap();
    }
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.load().unwrap(),
        Snapshot {
            sessions: vec![StoredSession {
                client_id: "c".into(),
                subscriptions: vec![("a/#".into(), QoS::AtLeastOnce)],
                messages: vec![
                    StoredMessage {
                        seq: 0,
                        message_id: 5,
                        message: msg("a/b", &[1, 2], QoS::AtLeastOnce, false),
                        state: StoredState::Sent(77),
                    },
                    StoredMessage {
                        seq: 1,
                        message_id: 4,
                        message: msg("", b"", QoS::ExactlyOnce, false),
                        state: StoredState::Released(78),
                    },
                ],
                queued_in_store: QueuedInStore::default(),
                last_seq: 1,
                inbound_qos2: vec![9],
            }],
            retained: vec![msg("r", &[0xff], QoS::AtMostOnce, true)],
            next_message_id: 8,
        }
    );
    // And the current code writes to it.
    store
        .apply(&[
            store_body(8, "a/c", b"new"),
            add("c", 2, 8, QoS::AtLeastOnce),
        ])
        .unwrap();
    assert_eq!(store.load().unwrap().next_message_id, 9);
}

// --- Crash safety -------------------------------------------------------

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
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
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
    let path = dir.file("store.db");
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
    let path = dir.file("store.db");
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

// --- Throughput -----------------------------------------------------------

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

#[test]
fn the_store_can_move_to_the_reactor_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<SqliteStore>();
    let dir = TempDir::new("send");
    let path = dir.file("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();
    let snapshot = std::thread::spawn(move || store.load().unwrap())
        .join()
        .unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
}
