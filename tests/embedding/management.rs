//! The management API through `BrokerHandle` (and `Broker` on its own
//! thread): connected clients, sessions offline ones included, a session's
//! subscriptions with their MQTT 5 options, discarding a session (in the
//! persistence file too), retained messages listed and deleted, and the
//! queue-overflow event.
//!
//! rumqttc (3.1.1 and v5) is the network client. Every wait is bounded; no
//! test asserts on timing beyond "connected within the last minute".

use crate::support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use mqlite::codec::Protocol;
use mqlite::{Broker, Config, QoS};
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, SubscribeProperties};
use rumqttc::v5::{Client, Event as V5Event, MqttOptions};
use support::embedding::events::{record_events, Ev};
use support::mqtt::{mqtt, Mqtt};
use support::{test_config, wait_for, TempDir, TestBroker, TIMEOUT};

/// An MQTT 5 client (rumqttc v5) whose events a thread forwards, waited
/// for until its CONNACK.
struct V5 {
    client: Client,
    events: mpsc::Receiver<V5Event>,
}

impl V5 {
    fn connect(broker: &TestBroker, client_id: &str) -> V5 {
        let port = broker.addr.port();
        let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = Client::new(options, 100);
        let (tx, events) = mpsc::channel();
        thread::spawn(move || {
            for event in connection.iter() {
                let Ok(event) = event else { break };
                if tx.send(event).is_err() {
                    break;
                }
            }
        });
        let v5 = V5 { client, events };
        v5.wait_for(|packet| matches!(packet, Packet::ConnAck(_)));
        v5
    }

    fn wait_for(&self, mut pick: impl FnMut(&Packet) -> bool) -> Packet {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(V5Event::Incoming(packet)) if pick(&packet) => return packet,
                Ok(_) => {}
                Err(_) => panic!("no such packet within {TIMEOUT:?}"),
            }
        }
    }

    fn subscribe(&self, filter: Filter, identifier: Option<usize>) {
        let properties = SubscribeProperties {
            id: identifier,
            user_properties: Vec::new(),
        };
        self.client
            .subscribe_many_with_properties([filter], properties)
            .expect("subscribe");
        self.wait_for(|packet| matches!(packet, Packet::SubAck(_)));
    }
}

#[test]
fn clients_list_who_how_since_when_and_their_counts() {
    let broker = TestBroker::start();
    let before = SystemTime::now();
    let plain = mqtt(broker.addr, "m-plain", |options| {
        options.set_credentials("alice", "secret");
    })
    .connected();
    plain.subscribe("m/a", rumqttc::QoS::AtLeastOnce);
    plain.subscribe("m/b/#", rumqttc::QoS::AtMostOnce);
    let v5 = V5::connect(&broker, "m-five");

    let mut clients = broker.handle.clients(TIMEOUT).unwrap();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert_eq!(clients.len(), 2, "{clients:?}");
    let (five, plain_info) = (&clients[0], &clients[1]);
    assert_eq!(plain_info.client_id, "m-plain");
    assert_eq!(plain_info.username.as_deref(), Some("alice"));
    assert_eq!(plain_info.protocol, Protocol::V311);
    assert_eq!(plain_info.subscriptions, 2);
    assert_eq!((plain_info.queued, plain_info.inflight), (0, 0));
    assert!(!plain_info.persistent);
    let peer = plain_info.peer.socket_addr().expect("a TCP peer");
    assert!(peer.ip().is_loopback());
    assert!(plain_info.connected_at + Duration::from_secs(1) >= before);
    assert!(plain_info.connected_at <= SystemTime::now());
    assert_eq!(five.client_id, "m-five");
    assert_eq!(five.protocol, Protocol::V5);
    assert_eq!(five.username, None);
    drop(v5);
    drop(plain);
}

#[test]
fn sessions_list_offline_ones_with_their_queue() {
    let broker = TestBroker::start();
    let (sub, _) = Mqtt::connect(broker.addr, "m-away", false);
    sub.subscribe("away/#", rumqttc::QoS::AtLeastOnce);
    sub.disconnect();
    broker.wait_disconnected("m-away");
    let (online, _) = Mqtt::connect(broker.addr, "m-here", true);
    for n in 0..3 {
        broker
            .handle
            .publish(&format!("away/{n}"), b"x", QoS::AtLeastOnce, false)
            .unwrap();
    }
    let sessions = wait_for(TIMEOUT, "three messages queued for m-away", || {
        let sessions = broker.handle.sessions(TIMEOUT).unwrap();
        let away = sessions.iter().find(|s| s.client_id == "m-away")?;
        (away.queued == 3).then_some(sessions)
    });
    let away = sessions.iter().find(|s| s.client_id == "m-away").unwrap();
    assert!(!away.connected && away.persistent);
    assert_eq!(away.subscriptions, 1);
    assert_eq!(away.expiry_interval, None, "3.1.1 sessions never expire");
    assert_eq!((away.expires_in, away.username.as_deref()), (None, None));
    let here = sessions.iter().find(|s| s.client_id == "m-here").unwrap();
    assert!(here.connected && !here.persistent);
    assert_eq!(here.expiry_interval, Some(0));
    assert_eq!(sessions.len(), 2);
    drop(online);
}

#[test]
fn subscriptions_carry_their_mqtt5_options() {
    let broker = TestBroker::start();
    let v5 = V5::connect(&broker, "m-opts");
    v5.subscribe(
        Filter::new("o/+", rumqttc::v5::mqttbytes::QoS::AtLeastOnce),
        Some(42),
    );
    let mut own = Filter::new("o/own", rumqttc::v5::mqttbytes::QoS::ExactlyOnce);
    own.nolocal = true;
    own.preserve_retain = true;
    v5.subscribe(own, None);

    let subs = broker
        .handle
        .session_subscriptions("m-opts", TIMEOUT)
        .unwrap()
        .expect("the session exists");
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].filter, "o/+");
    assert_eq!(subs[0].qos, QoS::AtLeastOnce);
    assert_eq!(subs[0].identifier, Some(42));
    assert!(!subs[0].no_local && !subs[0].retain_as_published);
    assert_eq!(subs[1].filter, "o/own");
    assert_eq!(subs[1].qos, QoS::ExactlyOnce);
    assert!(subs[1].no_local && subs[1].retain_as_published);
    assert_eq!(subs[1].identifier, None);
    assert_eq!(
        broker
            .handle
            .session_subscriptions("nobody", TIMEOUT)
            .unwrap(),
        None
    );
}

/// Discarding a connected client's persistent session closes it, and its
/// next CONNECT finds no session; an offline one is removed from the
/// persistence file too (a restart does not bring it back).
#[test]
fn delete_session_disconnects_and_survives_a_restart() {
    let dir = TempDir::new("mgmt-delete");
    let config = Config {
        persistence: Some(dir.path("store.db")),
        ..test_config()
    };
    let broker = TestBroker::start_setup(config.clone(), |_| {});
    let (online, _) = Mqtt::connect(broker.addr, "m-online", false);
    online.subscribe("d/#", rumqttc::QoS::AtLeastOnce);
    let (offline, _) = Mqtt::connect(broker.addr, "m-offline", false);
    offline.subscribe("d/#", rumqttc::QoS::AtLeastOnce);
    offline.disconnect();
    let (kept, _) = Mqtt::connect(broker.addr, "m-kept", false);
    kept.disconnect();
    broker.wait_disconnected("m-offline");
    broker.wait_disconnected("m-kept");
    broker
        .handle
        .publish("d/1", b"queued", QoS::AtLeastOnce, false)
        .unwrap();

    assert!(broker.handle.delete_session("m-online", TIMEOUT).unwrap());
    online.wait_closed();
    assert!(broker.handle.delete_session("m-offline", TIMEOUT).unwrap());
    assert!(!broker.handle.delete_session("m-offline", TIMEOUT).unwrap());
    assert!(!broker.handle.delete_session("nobody", TIMEOUT).unwrap());
    let left: Vec<String> = broker
        .handle
        .sessions(TIMEOUT)
        .unwrap()
        .into_iter()
        .map(|s| s.client_id)
        .collect();
    assert_eq!(left, ["m-kept"]);
    broker.stop().unwrap();

    let broker = TestBroker::start_setup(config, |_| {});
    let left: Vec<String> = broker
        .handle
        .sessions(TIMEOUT)
        .unwrap()
        .into_iter()
        .map(|s| s.client_id)
        .collect();
    assert_eq!(left, ["m-kept"], "the deleted sessions stay deleted");
    let (again, present) = Mqtt::connect(broker.addr, "m-online", false);
    assert!(!present, "a new session");
    drop(again);
}

#[test]
fn retained_messages_listed_under_a_filter_and_deleted_for_good() {
    let dir = TempDir::new("mgmt-retained");
    let config = Config {
        persistence: Some(dir.path("store.db")),
        ..test_config()
    };
    let broker = TestBroker::start_setup(config.clone(), |_| {});
    let handle = &broker.handle;
    handle.publish("r/a", b"1", QoS::AtLeastOnce, true).unwrap();
    handle
        .publish("r/b/c", b"2", QoS::AtMostOnce, true)
        .unwrap();
    handle.publish("s/x", b"3", QoS::AtMostOnce, true).unwrap();
    let all = wait_for(TIMEOUT, "three retained messages", || {
        let all = handle.retained_messages(None, TIMEOUT).unwrap();
        (all.len() == 3).then_some(all)
    });
    let topics: Vec<&str> = all.iter().map(|m| m.topic()).collect();
    assert_eq!(topics, ["r/a", "r/b/c", "s/x"]);
    assert_eq!(all[0].payload(), b"1");
    assert_eq!(all[0].qos(), QoS::AtLeastOnce);
    let under_r = handle.retained_messages(Some("r/#"), TIMEOUT).unwrap();
    assert_eq!(under_r.len(), 2);
    assert!(matches!(
        handle.retained_messages(Some("r/#/x"), TIMEOUT),
        Err(mqlite::Error::InvalidTopic(_))
    ));

    assert!(handle.delete_retained("r/a", TIMEOUT).unwrap());
    assert!(!handle.delete_retained("r/a", TIMEOUT).unwrap());
    // A new subscriber gets only what is left.
    let sub = mqtt(broker.addr, "m-late", |_| {}).connected();
    sub.subscribe("r/#", rumqttc::QoS::AtMostOnce);
    assert_eq!(sub.expect_publish().topic, "r/b/c");
    sub.expect_no_publish();
    drop(sub);
    broker.stop().unwrap();

    let broker = TestBroker::start_setup(config, |_| {});
    let left = broker.handle.retained_messages(None, TIMEOUT).unwrap();
    let topics: Vec<&str> = left.iter().map(|m| m.topic()).collect();
    assert_eq!(topics, ["r/b/c", "s/x"], "the delete reached the store");
}

/// An offline session whose queue is full: one event when it starts
/// refusing (dropped 1), then none within the same second however many
/// more are refused, with the client id.
#[test]
fn queue_overflow_is_an_event_not_only_a_counter() {
    let mut config = test_config();
    config.max_queued_messages = 5;
    let events = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = std::sync::Arc::clone(&events);
    let broker = TestBroker::start_setup(config, move |broker: &mut Broker| {
        *slot.lock().unwrap() = Some(record_events(broker));
    });
    let events = events.lock().unwrap().take().unwrap();
    let (slow, _) = Mqtt::connect(broker.addr, "m-slow", false);
    slow.subscribe("q/#", rumqttc::QoS::AtLeastOnce);
    slow.disconnect();
    broker.wait_disconnected("m-slow");
    let messages: Vec<mqlite::Message> = (0..20)
        .map(|n| mqlite::Message::new(&format!("q/{n}"), b"x", QoS::AtLeastOnce, false).unwrap())
        .collect();
    broker.handle.publish_batch(messages).unwrap();
    broker.stats_until("15 dropped", |s| s.messages_dropped >= 15);

    let overflows: Vec<Ev> = events
        .try_iter()
        .filter(|ev| matches!(ev, Ev::QueueOverflow { .. }))
        .collect();
    assert_eq!(
        overflows,
        [Ev::QueueOverflow {
            client_id: "m-slow".into(),
            dropped: 1,
            queued: 5,
        }],
        "one event at the start of the overflow (a batch takes far less than a second)"
    );
    let sessions = broker.handle.sessions(TIMEOUT).unwrap();
    assert_eq!(sessions[0].queued, 5);
}

/// The `Broker` methods, on the thread that owns it, between passes.
#[test]
fn broker_methods_work_on_the_owning_thread() {
    let mut broker = Broker::new(test_config()).unwrap();
    broker
        .publish("own/t", b"v", QoS::AtMostOnce, true)
        .unwrap();
    assert_eq!(broker.retained_messages(Some("own/+")).unwrap().len(), 1);
    assert!(broker.delete_retained("own/t"));
    assert!(broker.retained_messages(None).unwrap().is_empty());
    assert!(broker.clients().is_empty());
    assert!(broker.sessions().is_empty());
    assert_eq!(broker.session_subscriptions("x"), None);
    assert!(!broker.delete_session("x"));
    // From a hook the handle would wait for itself: refused at once.
    let handle = broker.handle();
    let (tx, rx) = mpsc::channel();
    broker
        .subscribe_local("probe", QoS::AtMostOnce, move |_| {
            let _ = tx.send(handle.clients(TIMEOUT).map(|_| ()));
        })
        .unwrap();
    broker
        .publish("probe", b"", QoS::AtMostOnce, false)
        .unwrap();
    assert!(matches!(
        rx.try_recv(),
        Ok(Err(mqlite::Error::OnBrokerThread))
    ));
}
