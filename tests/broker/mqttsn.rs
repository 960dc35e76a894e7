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

#[test]
fn the_hooks_see_mqtt_sn_clients_and_their_access_rules_apply() {
    use mqlite::{AclAccess, AuthDecision, Peer};
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen_in_hook = Arc::clone(&seen);
    let mut config = support::test_config();
    config.mqttsn = Some(MqttSnGateway {
        username: Some("sensors".into()),
        password: Some("s3cret".into()),
        ..gateway()
    });
    let broker = TestBroker::start_setup(config, move |broker| {
        broker.set_auth_hook(move |info| {
            let gateway = matches!(info.peer, Peer::Gateway { .. });
            if let Ok(mut seen) = seen_in_hook.lock() {
                seen.push(format!("{} {} {gateway}", info.client_id, info.peer));
            }
            match (info.username, info.password) {
                _ if !gateway => AuthDecision::Accept,
                (Some("sensors"), Some(b"s3cret")) if info.client_id != "intruder" => {
                    AuthDecision::Accept
                }
                _ => AuthDecision::NotAuthorized,
            }
        });
        broker.set_acl_hook(|client, access, topic| {
            !(matches!(client.peer, Peer::Gateway { .. })
                && access == AclAccess::Publish
                && topic.starts_with("secret"))
        });
    });
    let mut sub = broker.connect("watcher", true, 60);
    sub.subscribe(&[("#", mqlite::QoS::AtMostOnce)]);

    let mut client = sn_client(&broker);
    assert_eq!(client.connect("sensor-9", true, 60), 0);
    let intruder = sn_client(&broker);
    assert_eq!(intruder.connect("intruder", true, 60), 0x03, "refused");
    let secret = client.register("secret/x");
    let open = client.register("open/x");
    client.publish(secret, 1, false, b"no");
    client.publish(open, 1, false, b"yes");
    let got = sub.expect_publish();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("open/x", &b"yes"[..])
    );

    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    let port = client.socket.local_addr().map(|a| a.port()).unwrap_or(0);
    assert!(
        seen.contains(&format!("sensor-9 mqtt-sn:127.0.0.1:{port} true")),
        "{seen:?}"
    );
    // The management API lists it with its gateway address.
    let clients = broker
        .handle
        .clients(Duration::from_secs(5))
        .unwrap_or_default();
    let listed = clients.iter().find(|c| c.client_id == "sensor-9");
    assert!(
        listed.is_some_and(|c| c.peer.to_string() == format!("mqtt-sn:127.0.0.1:{port}")),
        "{clients:?}"
    );
}

#[test]
fn a_persistent_session_keeps_its_topic_ids_when_the_client_connects_again() {
    let broker = broker();
    let mut client = sn_client(&broker);
    assert_eq!(client.connect("keeper", false, 60), 0);
    let topic = client.register("kept/id");
    assert_eq!(client.connect("keeper", false, 60), 0);
    client.publish(topic, 1, false, b"still known");
    // A clean session starts over: the id means nothing any more.
    assert_eq!(client.connect("keeper", true, 60), 0);
    let mut body = vec![sn::qos_flags(1)];
    body.extend_from_slice(&topic.to_be_bytes());
    body.extend_from_slice(&[0, 99]);
    body.extend_from_slice(b"x");
    client.send(sn::PUBLISH, &body);
    assert_eq!(client.expect(sn::PUBACK).body[4], 0x02);
}

#[test]
fn the_gateway_listens_on_ipv6_too() {
    let broker = TestBroker::start_with(|c| {
        c.mqttsn = Some(MqttSnGateway {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], 0)),
                "[::1]:0".parse().unwrap_or(SocketAddr::from(([0; 8], 0))),
            ],
            ..gateway()
        });
    });
    let Ok(socket) = std::net::UdpSocket::bind("[::1]:0") else {
        // No IPv6 on this machine.
        return;
    };
    drop(socket);
    let v6 = broker.mqttsn[1];
    assert!(v6.is_ipv6());
    let socket = std::net::UdpSocket::bind("[::1]:0").expect("an IPv6 socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    socket
        .send_to(&sn::frame(0x01, &[1]), v6)
        .expect("send SEARCHGW");
    let mut buf = [0u8; 16];
    let (len, _) = socket.recv_from(&mut buf).expect("GWINFO");
    assert_eq!(&buf[..len], &[3, 0x02, 1]);
}
