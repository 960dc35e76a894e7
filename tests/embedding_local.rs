//! Local subscriptions (the host receiving messages without a socket,
//! through a callback or a bounded channel), host publishing from many
//! threads, and introspection: connected clients, kick, stats, `$SYS`.
//!
//! rumqttc is the network client. Every wait is bounded; no test asserts on
//! timing.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mqlite::{Broker, BrokerHandle, Config, Message, QoS, Stats};
use rumqttc::{ConnectReturnCode, ConnectionError, LastWill, MqttOptions, SubscribeReasonCode};

/// The longest any single wait lasts.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to listen before concluding that nothing more is coming.
const QUIET: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------
// A broker in a thread.

fn test_config() -> Config {
    Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        ..Config::default()
    }
}

struct Running {
    addr: SocketAddr,
    handle: BrokerHandle,
    thread: Option<JoinHandle<Result<(), mqlite::Error>>>,
}

/// Starts a broker with `config`, letting `setup` act on it first (on this
/// thread, before it runs).
fn start(config: Config, setup: impl FnOnce(&mut Broker)) -> Running {
    let mut broker = Broker::new(config).expect("the broker starts");
    setup(&mut broker);
    let addr = broker.local_addr();
    let handle = broker.handle();
    let thread = thread::spawn(move || broker.run());
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

impl Running {
    fn stats(&self) -> Stats {
        self.handle.stats(TIMEOUT).expect("the broker answers")
    }

    /// Polls the stats until `done` holds (at most [`TIMEOUT`]).
    fn stats_until(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "{what} within 5 s: {stats:?}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn clients(&self) -> Vec<String> {
        let mut clients = self.handle.connected_clients(TIMEOUT).unwrap();
        clients.sort();
        clients
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.stop();
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        if thread::panicking() {
            return;
        }
        assert!(
            thread.is_finished(),
            "Broker::run did not return within 5 s of stop()"
        );
        thread
            .join()
            .expect("the broker thread panicked")
            .expect("Broker::run failed");
    }
}

// ---------------------------------------------------------------------------
// rumqttc, driven by a thread that forwards its events.

struct Mqtt {
    client: rumqttc::Client,
    events: mpsc::Receiver<Result<rumqttc::Event, ConnectionError>>,
}

/// A connected rumqttc client; its connection is driven in a thread that
/// stops at the first error (so it never reconnects behind the test's
/// back).
fn mqtt(addr: SocketAddr, client_id: &str, configure: impl FnOnce(&mut MqttOptions)) -> Mqtt {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    configure(&mut options);
    let (client, mut connection) = rumqttc::Client::new(options, 200);
    let (tx, events) = mpsc::channel();
    thread::spawn(move || {
        for event in connection.iter() {
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                break;
            }
        }
    });
    let mqtt = Mqtt { client, events };
    let code = mqtt.wait_for("CONNACK", |packet| match packet {
        rumqttc::Packet::ConnAck(ack) => Some(ack.code),
        _ => None,
    });
    assert_eq!(code, ConnectReturnCode::Success);
    mqtt
}

impl Mqtt {
    /// Waits for the first incoming packet `pick` accepts, skipping others.
    fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&rumqttc::Packet) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(packet))) => {
                    if let Some(value) = pick(&packet) {
                        return value;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("connection failed while waiting for {what}: {error}"),
                Err(_) => panic!("no {what} within 5 s"),
            }
        }
    }

    /// Waits until the connection fails (the broker closed it).
    fn wait_closed(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("still connected after 5 s"),
            }
        }
    }

    fn subscribe(&self, filter: &str, qos: rumqttc::QoS) {
        self.client.subscribe(filter, qos).unwrap();
        let codes = self.wait_for("SUBACK", |packet| match packet {
            rumqttc::Packet::SubAck(ack) => Some(ack.return_codes.clone()),
            _ => None,
        });
        assert!(
            matches!(codes.as_slice(), [SubscribeReasonCode::Success(_)]),
            "subscription to {filter} refused: {codes:?}"
        );
    }

    fn publication(&self) -> rumqttc::Publish {
        self.wait_for("PUBLISH", |packet| match packet {
            rumqttc::Packet::Publish(publish) => Some(publish.clone()),
            _ => None,
        })
    }

    fn publish(&self, topic: &str, qos: rumqttc::QoS, retain: bool, payload: &str) {
        self.client
            .publish(topic, qos, retain, payload.as_bytes().to_vec())
            .unwrap();
    }

    /// Waits for `count` PUBACKs.
    fn pubacks(&self, count: usize) {
        for _ in 0..count {
            self.wait_for("PUBACK", |packet| {
                matches!(packet, rumqttc::Packet::PubAck(_)).then_some(())
            });
        }
    }
}

fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// What a test keeps of a message.
#[derive(Clone, Debug, PartialEq)]
struct Got {
    topic: String,
    payload: String,
    qos: QoS,
    retain: bool,
}

impl Got {
    fn of(message: &Message) -> Got {
        Got {
            topic: message.topic().to_string(),
            payload: text(message.payload()),
            qos: message.qos(),
            retain: message.retain(),
        }
    }
}

/// A callback sending what it receives to a channel.
fn forward(tx: mpsc::Sender<Got>) -> impl FnMut(&Message) + Send + 'static {
    move |message| {
        let _ = tx.send(Got::of(message));
    }
}

fn recv(rx: &mpsc::Receiver<Got>, what: &str) -> Got {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
}

fn recv_local(rx: &mqlite::LocalReceiver, what: &str) -> Got {
    let message = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|| panic!("no {what} within 5 s"));
    Got::of(&message)
}

// ---------------------------------------------------------------------------
// Callbacks.

#[test]
fn local_callbacks_follow_wildcard_rules_and_hash_does_not_match_sys() {
    let config = Config {
        sys_interval: Some(Duration::from_secs(1)),
        ..test_config()
    };
    let (temp_tx, temp) = mpsc::channel();
    let (all_tx, all) = mpsc::channel();
    let (sys_tx, sys) = mpsc::channel();
    let broker = start(config, |broker| {
        broker
            .subscribe_local("sensors/+/temp", QoS::AtLeastOnce, forward(temp_tx))
            .unwrap();
        broker
            .subscribe_local("#", QoS::AtMostOnce, forward(all_tx))
            .unwrap();
        broker
            .subscribe_local("$SYS/broker/uptime", QoS::AtMostOnce, forward(sys_tx))
            .unwrap();
        assert!(broker
            .subscribe_local("bad/#/filter", QoS::AtMostOnce, |_| {})
            .is_err());
    });

    let client = mqtt(broker.addr, "wild-pub", |_| {});
    let topics = [
        "sensors/a/temp",
        "sensors/b/humidity",
        "sensors/b/temp",
        "sensors/a/b/temp",
        "sensors/temp",
        "other/x",
    ];
    for topic in topics {
        client.publish(topic, rumqttc::QoS::AtLeastOnce, false, topic);
    }
    client.publish("done", rumqttc::QoS::AtLeastOnce, false, "sentinel");

    // Callbacks run in routing order: once `#` has the sentinel, every
    // callback has seen everything before it.
    let mut seen = Vec::new();
    loop {
        let got = recv(&all, "message on #");
        if got.topic == "done" {
            break;
        }
        assert_eq!(got.qos, QoS::AtMostOnce, "capped by the subscription");
        assert!(!got.retain);
        seen.push(got.topic);
    }
    assert_eq!(seen, topics);
    let temps: Vec<Got> = temp.try_iter().collect();
    let temp_topics: Vec<&str> = temps.iter().map(|g| g.topic.as_str()).collect();
    assert_eq!(temp_topics, ["sensors/a/temp", "sensors/b/temp"]);
    assert!(temps.iter().all(|g| g.qos == QoS::AtLeastOnce));

    // `$SYS` is published (its own subscriber sees it) but `#` gets none.
    let uptime = recv(&sys, "$SYS/broker/uptime");
    assert!(uptime.payload.ends_with("seconds"), "{uptime:?}");
    broker
        .handle
        .publish("done", b"again", QoS::AtMostOnce, false)
        .unwrap();
    loop {
        let got = recv(&all, "message on #");
        assert!(!got.topic.starts_with('$'), "# matched {}", got.topic);
        if got.topic == "done" {
            break;
        }
    }
}

#[test]
fn local_subscriptions_receive_retained_messages_with_the_retain_flag() {
    let broker = start(test_config(), |_| {});
    broker
        .handle
        .publish("status/host", b"up", QoS::AtLeastOnce, true)
        .unwrap();
    let client = mqtt(broker.addr, "retainer", |_| {});
    client.publish("status/device", rumqttc::QoS::AtLeastOnce, true, "online");
    client.pubacks(1);

    // A channel and a callback, both at QoS 0.
    let channel = broker
        .handle
        .subscribe_channel("status/#", QoS::AtMostOnce, 8)
        .unwrap();
    let (tx, callback) = mpsc::channel();
    broker
        .handle
        .subscribe_local("status/#", QoS::AtMostOnce, forward(tx))
        .unwrap();

    let expected = |topic: &str, payload: &str| Got {
        topic: topic.into(),
        payload: payload.into(),
        qos: QoS::AtMostOnce,
        retain: true,
    };
    let mut from_channel = vec![
        recv_local(&channel, "retained"),
        recv_local(&channel, "retained"),
    ];
    let mut from_callback = vec![recv(&callback, "retained"), recv(&callback, "retained")];
    from_channel.sort_by(|a, b| a.topic.cmp(&b.topic));
    from_callback.sort_by(|a, b| a.topic.cmp(&b.topic));
    let wanted = vec![
        expected("status/device", "online"),
        expected("status/host", "up"),
    ];
    assert_eq!(from_channel, wanted);
    assert_eq!(from_callback, wanted);

    // A live message, even a retained one, is forwarded without the flag.
    client.publish("status/device", rumqttc::QoS::AtLeastOnce, true, "busy");
    let live = recv_local(&channel, "live message");
    assert_eq!((live.payload.as_str(), live.retain), ("busy", false));
    let live = recv(&callback, "live message");
    assert_eq!((live.payload.as_str(), live.retain), ("busy", false));
}

// ---------------------------------------------------------------------------
// Channels.

#[test]
fn channel_subscription_is_read_from_another_thread() {
    let broker = start(test_config(), |_| {});
    let handle = broker.handle.clone();
    let (ready_tx, ready) = mpsc::channel();
    let reader = thread::spawn(move || {
        let receiver = handle
            .subscribe_channel("chat/#", QoS::AtLeastOnce, 4)
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(recv_local(&receiver, "chat message"));
        }
        (thread::current().id(), got)
    });
    ready.recv_timeout(TIMEOUT).unwrap();

    let client = mqtt(broker.addr, "chatter", |_| {});
    for i in 0..3 {
        client.publish(
            "chat/room",
            rumqttc::QoS::AtLeastOnce,
            false,
            &format!("m{i}"),
        );
    }
    let (reader_id, got) = reader.join().expect("the reader thread");
    assert_ne!(reader_id, thread::current().id());
    let payloads: Vec<&str> = got.iter().map(|g| g.payload.as_str()).collect();
    assert_eq!(payloads, ["m0", "m1", "m2"]);
    assert!(got.iter().all(|g| g.qos == QoS::AtLeastOnce && !g.retain));
}

#[test]
fn slow_qos1_channel_subscriber_gets_every_message_in_order() {
    const COUNT: usize = 50;
    let broker = start(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("slow/#", QoS::AtLeastOnce, 2)
        .unwrap();
    let reader = thread::spawn(move || {
        let mut payloads = Vec::new();
        for _ in 0..COUNT {
            thread::sleep(Duration::from_millis(5));
            match receiver.recv_timeout(TIMEOUT) {
                Some(message) => payloads.push(text(message.payload())),
                None => break,
            }
        }
        payloads
    });

    let client = mqtt(broker.addr, "fast-publisher", |_| {});
    for i in 0..COUNT {
        client.publish(
            "slow/data",
            rumqttc::QoS::AtLeastOnce,
            false,
            &i.to_string(),
        );
    }
    client.pubacks(COUNT);

    let payloads = reader.join().expect("the reader thread");
    let expected: Vec<String> = (0..COUNT).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    assert_eq!(broker.stats().messages_dropped, 0);
}

#[test]
fn qos0_messages_for_a_full_channel_are_dropped_and_counted() {
    let broker = start(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("full/#", QoS::AtLeastOnce, 2)
        .unwrap();
    let before = broker.stats();
    for i in 0..10 {
        broker
            .handle
            .publish("full/q0", i.to_string().as_bytes(), QoS::AtMostOnce, false)
            .unwrap();
    }
    // Commands are handled in order: these stats come after the publishes.
    let after = broker.stats();
    assert_eq!(after.messages_dropped, before.messages_dropped + 8);
    assert_eq!(receiver.len(), 2);
    let first: Vec<String> = std::iter::from_fn(|| receiver.try_recv())
        .map(|m| text(m.payload()))
        .collect();
    assert_eq!(first, ["0", "1"]);

    // QoS 1 messages wait for room instead.
    for i in 0..5 {
        broker
            .handle
            .publish("full/q1", i.to_string().as_bytes(), QoS::AtLeastOnce, false)
            .unwrap();
    }
    let _ = broker.stats();
    let mut waited = Vec::new();
    for _ in 0..5 {
        waited.push(recv_local(&receiver, "QoS 1 message").payload);
    }
    assert_eq!(waited, ["0", "1", "2", "3", "4"]);
    assert_eq!(broker.stats().messages_dropped, before.messages_dropped + 8);
}

#[test]
fn dropping_the_receiver_ends_the_subscription() {
    let broker = start(test_config(), |_| {});
    let base = broker.stats().subscriptions;
    let receiver = broker
        .handle
        .subscribe_channel("gone/#", QoS::AtLeastOnce, 4)
        .unwrap();
    broker.stats_until("the subscription", |s| s.subscriptions == base + 1);
    drop(receiver);
    broker
        .handle
        .publish("gone/x", b"nobody listens", QoS::AtLeastOnce, false)
        .unwrap();
    broker.stats_until("the subscription gone", |s| s.subscriptions == base);
}

#[test]
fn dropping_an_idle_receiver_ends_the_subscription() {
    let broker = start(test_config(), |_| {});
    let base = broker.stats().subscriptions;
    let receiver = broker
        .handle
        .subscribe_channel("idle/#", QoS::AtLeastOnce, 4)
        .unwrap();
    broker.stats_until("the subscription", |s| s.subscriptions == base + 1);
    drop(receiver);
    broker.stats_until("the subscription gone", |s| s.subscriptions == base);
}

#[test]
fn unsubscribe_local_stops_deliveries() {
    let (tx, first) = mpsc::channel();
    let broker = start(test_config(), |broker| {
        // On the broker's own thread, before it runs.
        let subscription = broker
            .subscribe_local("unsub/#", QoS::AtMostOnce, |_| {})
            .unwrap();
        assert!(broker.unsubscribe_local(subscription));
        assert!(!broker.unsubscribe_local(subscription));
    });
    assert_eq!(broker.stats().subscriptions, 0);

    let subscription = broker
        .handle
        .subscribe_local("unsub/#", QoS::AtMostOnce, forward(tx))
        .unwrap();
    let witness = broker
        .handle
        .subscribe_channel("unsub/#", QoS::AtMostOnce, 8)
        .unwrap();
    let channel = broker
        .handle
        .subscribe_channel("unsub/#", QoS::AtMostOnce, 8)
        .unwrap();
    broker
        .handle
        .publish("unsub/1", b"1", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(recv(&first, "first message").topic, "unsub/1");
    assert_eq!(recv_local(&witness, "first message").topic, "unsub/1");
    assert_eq!(recv_local(&channel, "first message").topic, "unsub/1");

    broker.handle.unsubscribe_local(subscription).unwrap();
    broker
        .handle
        .unsubscribe_local(channel.subscription())
        .unwrap();
    broker
        .handle
        .publish("unsub/2", b"2", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(recv_local(&witness, "second message").topic, "unsub/2");
    // The witness got it, so the others would have by now.
    assert!(
        first.try_recv().is_err(),
        "callback called after unsubscribe"
    );
    // The channel's sending side went with the subscription.
    assert!(channel.recv_timeout(QUIET).is_none());
    assert_eq!(broker.stats().subscriptions, 1);
}

#[test]
fn handle_publish_from_four_threads_is_all_received() {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let broker = start(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("load/#", QoS::AtLeastOnce, 64)
        .unwrap();
    let before = broker.stats();

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
    let publishers: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = broker.handle.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    handle
                        .publish(
                            &format!("load/{t}"),
                            i.to_string().as_bytes(),
                            QoS::AtLeastOnce,
                            false,
                        )
                        .unwrap();
                }
            })
        })
        .collect();

    let mut next = [0usize; THREADS];
    for _ in 0..THREADS * EACH {
        let got = recv_local(&receiver, "published message");
        let t: usize = got.topic["load/".len()..].parse().unwrap();
        assert_eq!(got.payload, next[t].to_string(), "order of thread {t}");
        next[t] += 1;
    }
    for publisher in publishers {
        publisher.join().unwrap();
    }
    assert_eq!(next, [EACH; THREADS]);
    assert!(receiver.try_recv().is_none());
    let after = broker.stats();
    assert_eq!(
        after.messages_received,
        before.messages_received + (THREADS * EACH) as u64
    );
    assert_eq!(after.messages_dropped, before.messages_dropped);
}

#[test]
fn publish_batch_delivers_in_order_and_refuses_a_bad_topic_whole() {
    let broker = start(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("batch/#", QoS::ExactlyOnce, 64)
        .unwrap();
    let message = |topic: &str, payload: &str, qos| {
        Message::new(topic, payload.as_bytes(), qos, false).unwrap()
    };
    // One bad topic: nothing of the batch goes out.
    let refused = broker.handle.publish_batch(vec![
        message("batch/a", "never", QoS::AtMostOnce),
        message("batch/+", "wildcard", QoS::AtMostOnce),
    ]);
    assert!(matches!(refused, Err(mqlite::Error::InvalidTopic(t)) if t == "batch/+"));
    broker.handle.publish_batch(Vec::new()).unwrap();
    let batch: Vec<Message> = (0..10)
        .map(|i| {
            message(
                &format!("batch/{}", i % 3),
                &format!("b{i}"),
                QoS::AtLeastOnce,
            )
        })
        .collect();
    broker.handle.publish_batch(batch).unwrap();
    for i in 0..10 {
        let got = recv_local(&receiver, "batched message");
        assert_eq!(
            (got.topic.as_str(), got.payload.as_str(), got.qos),
            (
                format!("batch/{}", i % 3).as_str(),
                format!("b{i}").as_str(),
                QoS::AtLeastOnce
            )
        );
    }
    assert!(
        receiver.recv_timeout(QUIET).is_none(),
        "the refused batch leaked"
    );
}

// ---------------------------------------------------------------------------
// Introspection.

#[test]
fn connected_clients_and_kick_which_publishes_the_will() {
    let broker = start(test_config(), |_| {});
    let watcher = mqtt(broker.addr, "c-watch", |_| {});
    watcher.subscribe("wills/#", rumqttc::QoS::AtLeastOnce);
    let doomed = mqtt(broker.addr, "c-doomed", |options| {
        options.set_last_will(LastWill::new(
            "wills/c-doomed",
            "gone",
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
    });
    assert_eq!(broker.clients(), ["c-doomed", "c-watch"]);

    broker.handle.kick("c-doomed").unwrap();
    let will = watcher.publication();
    assert_eq!(will.topic, "wills/c-doomed");
    assert_eq!(text(&will.payload), "gone");
    doomed.wait_closed();
    assert_eq!(broker.clients(), ["c-watch"]);

    // Kicking nobody is harmless.
    broker.handle.kick("nobody").unwrap();
    assert_eq!(broker.clients(), ["c-watch"]);
}

#[test]
fn stats_counters_move() {
    let broker = start(test_config(), |_| {});
    let before = broker.stats();
    assert_eq!(before, Stats::default());

    let client = mqtt(broker.addr, "counted", |_| {});
    client.subscribe("stats/#", rumqttc::QoS::AtLeastOnce);
    client.publish("stats/a", rumqttc::QoS::AtLeastOnce, false, "1");
    client.publish("stats/b", rumqttc::QoS::AtMostOnce, false, "2");
    client.publish("stats/c", rumqttc::QoS::AtLeastOnce, true, "3");
    for _ in 0..3 {
        client.publication();
    }

    let stats = broker.stats();
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.connections_total, 1);
    assert_eq!(stats.clients_connected, 1);
    assert_eq!(stats.sessions, 1);
    assert_eq!(stats.subscriptions, 1);
    assert_eq!(stats.retained_messages, 1);
    assert_eq!(stats.messages_received, 3);
    assert_eq!(stats.messages_sent, 3);
    assert_eq!(stats.messages_dropped, 0);
    assert!(stats.bytes_received > 0);
    assert!(stats.bytes_sent > 0);

    client.client.disconnect().unwrap();
    let stats = broker.stats_until("the client gone", |s| s.connections == 0);
    assert_eq!(stats.clients_connected, 0);
    assert_eq!(
        stats.sessions, 0,
        "a clean session ends with its connection"
    );
    assert_eq!(stats.subscriptions, 0);
    assert_eq!(stats.retained_messages, 1);
    assert_eq!(stats.connections_total, 1);
}

#[test]
fn sys_clients_connected_is_published_every_sys_interval() {
    let config = Config {
        sys_interval: Some(Duration::from_secs(1)),
        ..test_config()
    };
    let (tx, local) = mpsc::channel();
    let broker = start(config, |broker| {
        broker
            .subscribe_local(
                "$SYS/broker/clients/connected",
                QoS::AtMostOnce,
                forward(tx),
            )
            .unwrap();
    });
    let client = mqtt(broker.addr, "sys-reader", |_| {});
    client.subscribe("$SYS/broker/clients/connected", rumqttc::QoS::AtMostOnce);

    // A retained "0" from before the client came may arrive first; within
    // a couple of intervals the client counts itself.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let publish = client.publication();
        assert_eq!(publish.topic, "$SYS/broker/clients/connected");
        if text(&publish.payload) == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "never saw 1 connected client");
    }
    let got = recv(&local, "$SYS for the host");
    assert_eq!(got.topic, "$SYS/broker/clients/connected");
}
