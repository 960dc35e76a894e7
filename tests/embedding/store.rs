//! A broker on a store the host supplies (`Broker::with_store`): a
//! `MemoryStore` shared with the host carries persistent sessions, their
//! offline queues and retained messages from one broker to the next in the
//! same process, and a store given together with a persistence file is
//! refused.

use crate::support;

use std::sync::{Arc, Mutex};
use std::thread;

use mqlite::store::MemoryStore;
use mqlite::{Broker, Config, Error};
use support::embedding::text;
use support::mqtt::mqtt;
use support::test_config;

/// Runs a broker on `store` in a thread; returns its address and a stop
/// function that waits for it.
fn run_on(store: Arc<Mutex<MemoryStore>>) -> (std::net::SocketAddr, impl FnOnce()) {
    let mut broker = Broker::with_store(test_config(), store).expect("the broker starts");
    let addr = broker.local_addr();
    let handle = broker.handle();
    let thread = thread::spawn(move || broker.run());
    let stop = move || {
        handle.stop();
        thread
            .join()
            .expect("the broker thread")
            .expect("Broker::run");
    };
    (addr, stop)
}

#[test]
fn a_shared_memory_store_carries_sessions_to_the_next_broker() {
    let store = Arc::new(Mutex::new(MemoryStore::new()));
    let (addr, stop) = run_on(Arc::clone(&store));
    let device = mqtt(addr, "device", |o| {
        o.set_clean_session(false);
    })
    .connected();
    device.subscribe("cmd/#", rumqttc::QoS::AtLeastOnce);
    device.client.disconnect().unwrap();
    device.wait_closed();
    let publisher = mqtt(addr, "host-app", |_| {}).connected();
    publisher.publish_nowait("cmd/reboot", rumqttc::QoS::AtLeastOnce, false, "now");
    publisher.publish_nowait("state/mode", rumqttc::QoS::AtLeastOnce, true, "eco");
    publisher.pubacks(2);
    drop(publisher);
    stop();

    let (addr, stop) = run_on(Arc::clone(&store));
    let device = mqtt(addr, "device", |o| {
        o.set_clean_session(false);
    });
    let ack = device.connack().expect("the device reconnects");
    assert!(ack.session_present, "the session came back");
    let queued = device.expect_publish();
    assert_eq!(queued.topic, "cmd/reboot");
    assert_eq!(text(&queued.payload), "now");
    device.subscribe("state/#", rumqttc::QoS::AtLeastOnce);
    let retained = device.expect_publish();
    assert_eq!(retained.topic, "state/mode");
    assert!(retained.retain);
    device.client.disconnect().unwrap();
    device.wait_closed();
    stop();
    let snapshot = mqlite::store::SessionStore::load(&mut *store.lock().unwrap()).unwrap();
    assert_eq!(snapshot.sessions.len(), 1);
}

#[test]
fn a_store_and_a_persistence_file_are_not_both_taken() {
    let config = Config {
        persistence: Some("never-made.db".into()),
        ..test_config()
    };
    match Broker::with_store(config, MemoryStore::new()) {
        Err(Error::Config { field, .. }) => assert_eq!(field, "persistence"),
        other => panic!("{:?}", other.err()),
    }
    assert!(!std::path::Path::new("never-made.db").exists());
}
