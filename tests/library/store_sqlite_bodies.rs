//! The SQLite store's message bodies: a body shared by several sessions is
//! kept until its last reference goes (acknowledged, released, or its
//! session deleted), bodies nobody references are deleted at load, and
//! message ids are not reused once their bodies are gone.

use crate::support;

use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, all_messages, count_rows, create, delete, store_body};
use support::TempDir;

#[test]
fn bodies_are_deleted_with_their_last_reference() {
    let dir = TempDir::new("gc");
    let path = dir.path("store.db");
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
    let path = dir.path("store.db");
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
