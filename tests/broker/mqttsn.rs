//! The MQTT-SN gateway from outside: a raw UDP client (`support::mqttsn`)
//! against the broker in this process, with Debian's `mosquitto_pub` /
//! `mosquitto_sub` on the MQTT side, at every QoS, with retained messages,
//! wills, a persistent session across a broker restart, and bad datagrams.
//! (PyPI's `mqtt-sn-12` tools are tested in `tests/mqttsn/`.)

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use mqlite::MqttSnGateway;
use support::cli::mosquitto::{mosquitto_pub, mosquitto_tools, Sub};
use support::mqttsn::{self as sn, SnClient};
use support::{TempDir, TestBroker};

fn gateway() -> MqttSnGateway {
    MqttSnGateway {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        advertise_interval: None,
        retry_interval: Duration::from_secs(1),
        ..MqttSnGateway::default()
    }
}

fn broker() -> TestBroker {
    TestBroker::start_with(|c| c.mqttsn = Some(gateway()))
}

fn sn_client(broker: &TestBroker) -> SnClient {
    SnClient::new(broker.mqttsn[0])
}

#[test]
fn an_mqtt_sn_publisher_reaches_mosquitto_sub_at_every_qos() {
    let Some((_, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let broker = broker();
    let port = broker.addr.port();
    let sub = Sub::spawn(
        &sub_tool,
        port,
        &[
            "-t", "sn/#", "-q", "2", "-F", "%t %p %q", "-C", "3", "-W", "10",
        ],
    );
    // mosquitto_sub has subscribed once a retained probe reaches it.
    let mut client = sn_client(&broker);
    assert_eq!(client.connect("sensor-1", true, 60), 0);
    let topic = client.register("sn/temp");
    std::thread::sleep(Duration::from_millis(300));
    for (qos, payload) in [(0i8, "q0"), (1, "q1"), (2, "q2")] {
        client.publish(topic, qos, false, payload.as_bytes());
    }
    let out = sub.finish();
    assert_eq!(out, "sn/temp q0 0\nsn/temp q1 1\nsn/temp q2 2\n");
}

#[test]
fn mosquitto_pub_reaches_an_mqtt_sn_subscriber_at_every_qos_retained_included() {
    let Some((pub_tool, _)) = mosquitto_tools() else {
        return;
    };
    let broker = broker();
    let port = broker.addr.port();
    mosquitto_pub(
        &pub_tool,
        port,
        &["-t", "kept/x", "-m", "old", "-r", "-q", "1"],
    );
    let mut client = sn_client(&broker);
    assert_eq!(client.connect("sensor-2", true, 60), 0);
    client.subscribe("kept/#", 2);
    let (retained_id, flags, data) = client.next_publish();
    assert_eq!(data, b"old");
    assert_ne!(
        flags & 0x10,
        0,
        "the retained message carries the retain flag"
    );
    for qos in ["0", "1", "2"] {
        mosquitto_pub(&pub_tool, port, &["-t", "kept/x", "-m", qos, "-q", qos]);
        let (topic_id, flags, data) = client.next_publish();
        assert_eq!(topic_id, retained_id, "registered once");
        assert_eq!(String::from_utf8_lossy(&data), qos);
        assert_eq!(
            u32::from((flags >> 5) & 0b11),
            qos.parse::<u32>().unwrap_or(9)
        );
    }
}

#[test]
fn the_will_of_a_silent_mqtt_sn_client_reaches_mosquitto_sub() {
    let Some((_, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let broker = broker();
    let sub = Sub::spawn(
        &sub_tool,
        broker.addr.port(),
        &["-t", "wills/#", "-F", "%t %p", "-C", "1", "-W", "15"],
    );
    let client = sn_client(&broker);
    // Keep alive 2 s: lost after 3 s of silence.
    assert_eq!(
        client.connect_with_will("sensor-3", 2, "wills/sensor-3", b"offline", 1),
        0
    );
    assert_eq!(sub.finish(), "wills/sensor-3 offline\n");
}

#[test]
fn a_persistent_mqtt_sn_session_keeps_its_messages_across_a_restart() {
    let dir = TempDir::new("mqttsn-persist");
    let db = dir.path("store.db");
    let start = |db: &std::path::Path| {
        let db = db.to_path_buf();
        TestBroker::start_with(move |c| {
            c.persistence = Some(db);
            c.mqttsn = Some(gateway());
        })
    };
    {
        let broker = start(&db);
        let mut client = sn_client(&broker);
        assert_eq!(client.connect("sleepy", false, 60), 0);
        client.subscribe("cmd/sleepy", 1);
        client.send(sn::DISCONNECT, &[]);
        client.expect(sn::DISCONNECT);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("cmd/sleepy", b"reboot", mqlite::QoS::AtLeastOnce, false);
        broker.stop().unwrap_or(());
    }
    let broker = start(&db);
    let client = sn_client(&broker);
    assert_eq!(client.connect("sleepy", false, 60), 0);
    let (_, flags, data) = client.next_publish();
    assert_eq!(data, b"reboot");
    assert_eq!((flags >> 5) & 0b11, 1, "QoS 1");
}

#[test]
fn bad_datagrams_are_dropped_and_disturb_no_one() {
    let broker = broker();
    let mut good = sn_client(&broker);
    assert_eq!(good.connect("good", true, 60), 0);
    let topic = good.register("t");
    let bad = sn_client(&broker);
    let long = vec![0xAB; 70_000];
    for datagram in [
        &[][..],
        &[0x05][..],                   // shorter than it says
        &[0x02, 0xEE][..],             // unknown type
        &[0x03, sn::PUBLISH, 0][..],   // truncated field
        &[0x01, 0xFF, 0xFF, 0x0C][..], // a length far beyond the datagram
        &long[..60_000],
    ] {
        bad.send_raw(datagram);
    }
    // An unregistered topic id is answered "invalid topic id".
    let mut body = vec![sn::qos_flags(1), 0x12, 0x34, 0, 7];
    body.extend_from_slice(b"x");
    good.send(sn::PUBLISH, &body);
    let ack = good.expect(sn::PUBACK);
    assert_eq!(
        (ack.u16_at(0), ack.u16_at(2), ack.body[4]),
        (0x1234, 7, 0x02)
    );
    // The good client carries on.
    good.publish(topic, 1, false, b"fine");
    assert!(bad.try_recv(Duration::from_millis(200)).is_none());
}
