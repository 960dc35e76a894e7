//! What MQTT 5 adds to the stored state, round-tripped through both
//! stores: message properties and expiry, session expiry intervals,
//! subscription options and identifiers.

#[cfg(feature = "sqlite")]
use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::codec::{property, PropertiesBuilder, RetainHandling};

/// A directory removed when dropped.
#[cfg(feature = "sqlite")]
struct TempDir(PathBuf);

#[cfg(feature = "sqlite")]
impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("mqlite-store-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn create(client: &str) -> StoreOp {
    StoreOp::SessionCreate {
        client_id: client.into(),
    }
}

fn full_options() -> SubscriptionOptions {
    SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::SendIfNew,
    }
}

/// A message with a content type, a user property and a subscription
/// identifier, expiring at `expires_at_ms` of the broker's clock.
fn with_properties(topic: &str, retain: bool, expires_at_ms: Option<u64>) -> Message {
    let mut properties = PropertiesBuilder::new();
    properties
        .varint(property::SUBSCRIPTION_IDENTIFIER, 7)
        .string(property::CONTENT_TYPE, "text/plain")
        .user_property("k", "v");
    Message::with_properties(
        topic,
        properties.unchecked(),
        b"payload",
        QoS::AtLeastOnce,
        retain,
        expires_at_ms,
    )
    .expect("a short topic")
}

/// A session with every MQTT 5 addition, a queued and a sent message with
/// properties (one expiring in a minute), and a retained message with
/// properties expiring in an hour.
fn v5_ops() -> Vec<StoreOp> {
    vec![
        create("c"),
        StoreOp::SessionExpiry {
            client_id: "c".into(),
            interval: 600,
        },
        StoreOp::Subscribe {
            client_id: "c".into(),
            filter: "a/+".into(),
            options: full_options(),
            identifier: 7,
        },
        StoreOp::Subscribe {
            client_id: "c".into(),
            filter: "$share/g/b".into(),
            options: QoS::AtLeastOnce.into(),
            identifier: 0,
        },
        StoreOp::MessageStore {
            id: 1,
            message: with_properties("a/1", false, Some(60_000)),
        },
        StoreOp::MessageStore {
            id: 2,
            message: with_properties("a/2", false, None),
        },
        StoreOp::SessionMessageAdd {
            client_id: "c".into(),
            seq: 1,
            message_id: 2,
            qos: QoS::AtLeastOnce,
            retain: false,
        },
        StoreOp::SessionMessageSent {
            client_id: "c".into(),
            seq: 1,
            packet_id: 5,
        },
        StoreOp::SessionMessageAdd {
            client_id: "c".into(),
            seq: 2,
            message_id: 1,
            qos: QoS::AtLeastOnce,
            retain: false,
        },
        StoreOp::RetainSet {
            message: with_properties("r", true, Some(3_600_000)),
        },
    ]
}

/// A deadline given back in the same process: the same, give or take the
/// milliseconds by which the system clock and the monotonic one drift
/// apart (the SQLite file keeps system time).
fn about(expires_at_ms: Option<u64>, stored: u64) -> bool {
    expires_at_ms.is_some_and(|at| at.abs_diff(stored) < 1_000)
}

/// Applies [`v5_ops`] to `store`, loads it back, and checks everything.
fn check_v5_round_trip(store: &mut dyn SessionStore) {
    store.apply(&v5_ops()).expect("applied");
    let snapshot = store.load().expect("loaded");
    let session = &snapshot.sessions[0];
    assert_eq!(session.client_id, "c");
    assert_eq!(session.expiry_interval, 600);
    assert_eq!(
        session.subscriptions,
        vec![
            StoredSubscription::qos_only("$share/g/b", QoS::AtLeastOnce),
            StoredSubscription {
                filter: "a/+".into(),
                options: full_options(),
                identifier: 7,
            },
        ]
    );
    // The sent message, with its properties and no expiry.
    assert_eq!(session.messages.len(), 1);
    let sent = &session.messages[0];
    assert_eq!(sent.state, StoredState::Sent(5));
    assert_eq!(sent.message, with_properties("a/2", false, None));
    // The queued one, read back a page at a time, and counted with its
    // properties.
    let page = store
        .load_queued("c", None, usize::MAX, usize::MAX)
        .expect("a page");
    assert_eq!(page.len(), 1);
    let queued = &page[0].message;
    assert_eq!(
        session.queued_in_store,
        QueuedInStore {
            messages: 1,
            bytes: queued.size()
        }
    );
    assert_eq!(
        queued.property_bytes(),
        with_properties("a/1", false, None).property_bytes()
    );
    assert_eq!((queued.topic(), queued.payload()), ("a/1", &b"payload"[..]));
    assert!(about(queued.expires_at_ms(), 60_000), "{queued:?}");
    // The retained message.
    let retained = &snapshot.retained[0];
    assert_eq!(
        retained.property_bytes(),
        with_properties("r", true, None).property_bytes()
    );
    assert!(retained.retain());
    assert!(about(retained.expires_at_ms(), 3_600_000), "{retained:?}");
}

/// Session expiry intervals are replaced, and forgotten by a new
/// `SessionCreate`; subscriptions are replaced whole.
fn check_replacements(store: &mut dyn SessionStore) {
    store
        .apply(&[
            create("c"),
            StoreOp::SessionExpiry {
                client_id: "c".into(),
                interval: 10,
            },
            StoreOp::SessionExpiry {
                client_id: "c".into(),
                interval: u32::MAX - 1,
            },
            StoreOp::Subscribe {
                client_id: "c".into(),
                filter: "t".into(),
                options: full_options(),
                identifier: crate::codec::MAX_SUBSCRIPTION_IDENTIFIER,
            },
            // Unknown session: nothing.
            StoreOp::SessionExpiry {
                client_id: "ghost".into(),
                interval: 5,
            },
        ])
        .expect("applied");
    let snapshot = store.load().expect("loaded");
    assert_eq!(snapshot.sessions.len(), 1);
    assert_eq!(snapshot.sessions[0].expiry_interval, u32::MAX - 1);
    assert_eq!(
        snapshot.sessions[0].subscriptions[0].identifier,
        crate::codec::MAX_SUBSCRIPTION_IDENTIFIER
    );
    store
        .apply(&[StoreOp::Subscribe {
            client_id: "c".into(),
            filter: "t".into(),
            options: QoS::AtMostOnce.into(),
            identifier: 0,
        }])
        .expect("applied");
    let snapshot = store.load().expect("loaded");
    assert_eq!(
        snapshot.sessions[0].subscriptions,
        vec![StoredSubscription::qos_only("t", QoS::AtMostOnce)]
    );
    store.apply(&[create("c")]).expect("applied");
    let snapshot = store.load().expect("loaded");
    assert_eq!(snapshot.sessions[0].expiry_interval, u32::MAX);
    assert!(snapshot.sessions[0].subscriptions.is_empty());
}

/// A deadline that passed before the load comes back passed: expired.
fn check_passed_deadline(store: &mut dyn SessionStore) {
    store
        .apply(&[
            create("c"),
            StoreOp::MessageStore {
                id: 1,
                message: with_properties("a/1", false, Some(1)),
            },
            StoreOp::SessionMessageAdd {
                client_id: "c".into(),
                seq: 1,
                message_id: 1,
                qos: QoS::AtLeastOnce,
                retain: false,
            },
            StoreOp::RetainSet {
                message: with_properties("r", true, Some(1)),
            },
        ])
        .expect("applied");
    std::thread::sleep(Duration::from_millis(20));
    let snapshot = store.load().expect("loaded");
    let now = crate::clock::now_ms();
    assert!(snapshot.retained[0].expired(now));
    let page = store
        .load_queued("c", None, 10, usize::MAX)
        .expect("a page");
    assert!(page[0].message.expired(now));
}

#[test]
fn memory_store_keeps_what_mqtt_5_adds() {
    check_v5_round_trip(&mut MemoryStore::new());
    check_replacements(&mut MemoryStore::new());
    check_passed_deadline(&mut MemoryStore::new());
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_store_keeps_what_mqtt_5_adds() {
    let dir = TempDir::new("v5");
    check_v5_round_trip(&mut SqliteStore::open(&dir.path("round-trip.db")).expect("opened"));
    check_replacements(&mut SqliteStore::open(&dir.path("replace.db")).expect("opened"));
    check_passed_deadline(&mut SqliteStore::open(&dir.path("deadline.db")).expect("opened"));
    // And after reopening the file, as after a restart.
    let path = dir.path("reopen.db");
    SqliteStore::open(&path)
        .expect("opened")
        .apply(&v5_ops())
        .expect("applied");
    let snapshot = SqliteStore::open(&path)
        .expect("reopened")
        .load()
        .expect("loaded");
    assert_eq!(snapshot.sessions[0].expiry_interval, 600);
    assert_eq!(
        snapshot.sessions[0].subscriptions[1].options,
        full_options()
    );
    assert!(about(snapshot.retained[0].expires_at_ms(), 3_600_000));
}

#[test]
fn memory_store_deadlines_count_across_a_restart() {
    let mut store = MemoryStore::new();
    let zero = std::time::Instant::now();
    store.set_clock_zero(zero);
    store.apply(&v5_ops()).expect("applied");
    // The next broker starts 20 s after the first: 40 s of the queued
    // message's minute are left, 3580 s of the retained one's hour.
    store.set_clock_zero(zero + Duration::from_secs(20));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.retained[0].expires_at_ms(), Some(3_580_000));
    let page = store
        .load_queued("c", None, 10, usize::MAX)
        .expect("a page");
    assert_eq!(page[0].message.expires_at_ms(), Some(40_000));
    // One that starts after the deadline gets it expired.
    store.set_clock_zero(zero + Duration::from_secs(61));
    let page = store
        .load_queued("c", None, 10, usize::MAX)
        .expect("a page");
    assert_eq!(page[0].message.expires_at_ms(), Some(0));
}
