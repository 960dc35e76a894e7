//! Real MQTT 5 clients against the `mqlite` binary: Debian's
//! `mosquitto_pub` / `mosquitto_sub -V 5` (properties printed by `-F`), and
//! rumqttc's v5 client (properties, subscription identifiers, topic
//! aliases, a 3.1.1 client on the same broker).

use crate::support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PublishProperties, SubscribeProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};
use support::cli::mosquitto::{mosquitto_pub, mosquitto_tools, publish_until_received, Sub};
use support::cli::Mqlite;
use support::TIMEOUT;

#[test]
fn mosquitto_clients_carry_every_message_property() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let broker = Mqlite::start(&[]);
    let sub = Sub::spawn(
        &sub_tool,
        broker.port,
        &[
            "-V",
            "5",
            "-t",
            "p/#",
            "-C",
            "1",
            "-W",
            "10",
            "-D",
            "subscribe",
            "subscription-identifier",
            "9",
            "-F",
            "%t|%p|%P|%R|%C|%D|%F|%S",
        ],
    );
    let out = publish_until_received(
        &pub_tool,
        broker.port,
        &[
            "-V",
            "5",
            "-t",
            "p/x",
            "-m",
            "hello",
            "-q",
            "1",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "user-property",
            "k2",
            "v2",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "response-topic",
            "reply/x",
            "-D",
            "publish",
            "correlation-data",
            "c1",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ],
        sub,
    );
    assert_eq!(out, "p/x|hello|k:v k2:v2|reply/x|text/plain|c1|1|9\n");
}

#[test]
fn mosquitto_clients_message_expiry_counts_down() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let broker = Mqlite::start(&[]);
    // A retained message waits in the broker; a later subscriber gets what
    // is left of its interval (at most the 300 s it was sent with).
    mosquitto_pub(
        &pub_tool,
        broker.port,
        &[
            "-V",
            "5",
            "-t",
            "e/x",
            "-m",
            "m",
            "-r",
            "-D",
            "publish",
            "message-expiry-interval",
            "300",
        ],
    );
    let sub = Sub::spawn(
        &sub_tool,
        broker.port,
        &["-V", "5", "-t", "e/#", "-C", "1", "-W", "10", "-F", "%t %E"],
    );
    let out = sub.finish();
    let left: u32 = out
        .trim()
        .strip_prefix("e/x ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!((290..=300).contains(&left), "{out}");
}

#[test]
fn mosquitto_v311_and_v5_clients_share_a_broker() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let broker = Mqlite::start(&[]);
    let old = Sub::spawn(
        &sub_tool,
        broker.port,
        &["-t", "m/#", "-C", "1", "-W", "10", "-v"],
    );
    let out = publish_until_received(
        &pub_tool,
        broker.port,
        &[
            "-V",
            "5",
            "-t",
            "m/x",
            "-m",
            "five",
            "-D",
            "publish",
            "user-property",
            "a",
            "b",
        ],
        old,
    );
    assert_eq!(out, "m/x five\n");
    let new = Sub::spawn(
        &sub_tool,
        broker.port,
        &[
            "-V", "5", "-t", "m/#", "-C", "1", "-W", "10", "-F", "%t %p %P",
        ],
    );
    let out = publish_until_received(&pub_tool, broker.port, &["-t", "m/y", "-m", "three"], new);
    assert_eq!(out, "m/y three \n");
}

/// A rumqttc v5 client whose events a thread forwards (as in
/// `support::mqtt`, for the v5 API).
struct V5 {
    client: Client,
    events: mpsc::Receiver<Event>,
}

fn v5(broker: &Mqlite, client_id: &str, configure: impl FnOnce(&mut MqttOptions)) -> V5 {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", broker.port);
    options.set_keep_alive(Duration::from_secs(30));
    configure(&mut options);
    let (client, mut connection) = Client::new(options, 100);
    let (tx, events) = mpsc::channel();
    thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(event) => {
                    if tx.send(event).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    let connected = V5 { client, events };
    connected.wait_for(|packet| matches!(packet, Packet::ConnAck(_)));
    connected
}

impl V5 {
    /// The first incoming packet `pick` accepts, within the timeout.
    fn wait_for(&self, mut pick: impl FnMut(&Packet) -> bool) -> Packet {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Incoming(packet)) if pick(&packet) => return packet,
                Ok(_) => {}
                Err(_) => panic!("no such packet within {TIMEOUT:?}"),
            }
        }
    }

    fn next_publish(&self) -> rumqttc::v5::mqttbytes::v5::Publish {
        match self.wait_for(|packet| matches!(packet, Packet::Publish(_))) {
            Packet::Publish(publish) => publish,
            _ => unreachable!(),
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
fn rumqttc_v5_properties_identifiers_and_no_local() {
    let broker = Mqlite::start(&[]);
    let sub = v5(&broker, "sub", |_| {});
    sub.subscribe(Filter::new("r/+", QoS::AtLeastOnce), Some(42));
    let mut own = Filter::new("r/own", QoS::AtLeastOnce);
    own.nolocal = true;
    sub.subscribe(own, None);
    let publisher = v5(&broker, "pub", |_| {});
    let properties = PublishProperties {
        content_type: Some("application/json".into()),
        response_topic: Some("reply/1".into()),
        correlation_data: Some(b"id-1".to_vec().into()),
        user_properties: vec![("x".into(), "1".into()), ("y".into(), "2".into())],
        ..Default::default()
    };
    publisher
        .client
        .publish_with_properties("r/a", QoS::AtLeastOnce, false, b"{}".to_vec(), properties)
        .expect("publish");
    let got = sub.next_publish();
    let props = got.properties.expect("properties");
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.response_topic.as_deref(), Some("reply/1"));
    assert_eq!(props.correlation_data.as_deref(), Some(&b"id-1"[..]));
    assert_eq!(
        props.user_properties,
        vec![
            ("x".to_string(), "1".to_string()),
            ("y".to_string(), "2".to_string())
        ]
    );
    assert_eq!(props.subscription_identifiers, vec![42]);
    // No Local: the subscriber's own publish to r/own reaches it only
    // through r/+ (identifier 42), not through r/own.
    sub.client
        .publish("r/own", QoS::AtLeastOnce, false, b"me".to_vec())
        .expect("publish");
    let mine = sub.next_publish();
    assert_eq!(
        mine.properties.map(|p| p.subscription_identifiers),
        Some(vec![42])
    );
}

#[test]
fn rumqttc_v5_topic_aliases_both_ways() {
    let broker = Mqlite::start(&[]);
    // The subscriber takes aliases from the broker.
    let sub = v5(&broker, "sub", |options| {
        options.set_topic_alias_max(Some(5));
    });
    sub.subscribe(Filter::new("alias/#", QoS::AtMostOnce), None);
    let publisher = v5(&broker, "pub", |_| {});
    for n in 0..4u8 {
        // The publisher sets alias 1 on its first PUBLISH and then sends an
        // empty topic.
        let (topic, alias) = if n == 0 { ("alias/t", 1) } else { ("", 1) };
        let properties = PublishProperties {
            topic_alias: Some(alias),
            ..Default::default()
        };
        publisher
            .client
            .publish_with_properties(topic, QoS::AtMostOnce, false, vec![n], properties)
            .expect("publish");
    }
    let mut topics = Vec::new();
    for n in 0..4u8 {
        let got = sub.next_publish();
        assert_eq!(&got.payload[..], &[n]);
        topics.push(String::from_utf8_lossy(&got.topic).to_string());
    }
    // rumqttc resolves the broker's aliases into the topic name.
    assert!(topics.iter().all(|t| t == "alias/t"), "{topics:?}");
}
