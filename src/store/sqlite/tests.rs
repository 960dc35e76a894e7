//! Unit tests of the SQLite store that look inside it.

use super::*;
use crate::codec::QoS;
use crate::message::Message;

/// Deadlines go to the file as Unix milliseconds (the zero of the
/// broker's clock plus the deadline), and come back relative to the
/// zero of the run that reads them.
#[test]
fn expiry_deadlines_are_kept_as_unix_time() {
    let dir = std::env::temp_dir().join(format!("mqlite-sqlite-clock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.clock_zero = ClockZero::at(1_000_000);
    let expiring = |topic: &str, at: u64| {
        Message::new(topic, b"x", QoS::AtLeastOnce, false)
            .unwrap()
            .with_expiry(Some(at))
    };
    store
        .apply(&[
            StoreOp::SessionCreate {
                client_id: "c".into(),
            },
            StoreOp::MessageStore {
                id: 1,
                message: expiring("q", 60_000),
            },
            StoreOp::SessionMessageAdd {
                client_id: "c".into(),
                seq: 1,
                message_id: 1,
                qos: QoS::AtLeastOnce,
                retain: false,
            },
            StoreOp::RetainSet {
                message: expiring("r", 5_000),
            },
        ])
        .unwrap();
    let column = |table: &str| -> Option<i64> {
        store
            .conn
            .query_row(&format!("SELECT expires_at FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    };
    assert_eq!(column("messages"), Some(1_060_000));
    assert_eq!(column("retained"), Some(1_005_000));
    // A run that started 20 s later: 40 s left of one, the other
    // already expired.
    let later = ClockZero::at(1_020_000);
    let snapshot = snapshot::load(&mut store.conn, &path, later).unwrap();
    assert_eq!(snapshot.retained[0].expires_at_ms(), Some(0));
    let page = pages::load_queued(&store.conn, &path, later, "c", None, 10, usize::MAX).unwrap();
    assert_eq!(page[0].message.expires_at_ms(), Some(40_000));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
