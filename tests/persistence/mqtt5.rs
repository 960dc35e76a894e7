//! What MQTT 5 adds to a persistent session survives a broker restart on
//! the same SQLite file, end to end: the Session Expiry Interval (also as
//! changed by DISCONNECT), subscription options (No Local, Retain As
//! Published) and Subscription Identifiers, the properties of queued and
//! retained messages, and their Message Expiry, which keeps counting while
//! the broker is down (a message whose expiry passed meanwhile is dropped).
//!
//! Only the public API: a [`Broker`] in a thread of the test, stopped with
//! its handle and started again on the file, and MQTT 5 clients speaking
//! through `mqlite::codec` over a `TcpStream`. Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::{
    self, property, Ack, Connect, Packet, Properties, PropertiesBuilder, PropertyContext,
    PropertyValue, Protocol, Publish, ReasonCode, Reasoned, RetainHandling, Subscribe,
    SubscriptionOptions,
};
use mqlite::{Broker, BrokerHandle, Config, QoS};

/// How long any one wait may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "mqlite-persistence-mqtt5-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A broker persisting to a file, run in a thread.
struct Running {
    addr: SocketAddr,
    handle: BrokerHandle,
    thread: JoinHandle<Result<(), mqlite::Error>>,
}

impl Running {
    fn start(db: &Path) -> Running {
        let config = Config {
            listeners: vec!["127.0.0.1:0".parse().expect("an address")],
            sys_interval: None,
            persistence: Some(db.to_path_buf()),
            ..Config::default()
        };
        let mut broker = Broker::new(config).expect("the broker starts on its file");
        let addr = broker.local_addr();
        let handle = broker.handle();
        let thread = std::thread::spawn(move || broker.run());
        Running {
            addr,
            handle,
            thread,
        }
    }

    /// How many sessions the broker holds.
    fn sessions(&self) -> u64 {
        self.handle.stats(TIMEOUT).expect("stats").sessions
    }

    /// A clean stop: `run` returns, the file is closed.
    fn stop(self) {
        self.handle.stop();
        let deadline = Instant::now() + TIMEOUT;
        while !self.thread.is_finished() {
            assert!(Instant::now() < deadline, "Broker::run did not return");
            std::thread::sleep(Duration::from_millis(10));
        }
        self.thread
            .join()
            .expect("the broker thread")
            .expect("Broker::run");
    }
}

/// A packet received, owned.
#[derive(Debug)]
enum Got {
    ConnAck(bool, ReasonCode),
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        packet_id: u16,
        properties: Vec<u8>,
    },
    SubAck(Vec<ReasonCode>),
    PubAck(u16),
    PingResp,
}

/// An MQTT 5 client over a socket.
struct Client {
    stream: TcpStream,
    input: Vec<u8>,
}

impl Client {
    /// Connects `client_id` with Clean Start `clean` and a Session Expiry
    /// Interval; returns the client and the Session Present flag.
    fn connect(addr: SocketAddr, client_id: &str, clean: bool, expiry: u32) -> (Client, bool) {
        let stream = TcpStream::connect(addr).expect("connected");
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("a read timeout");
        let mut client = Client {
            stream,
            input: Vec::new(),
        };
        let mut properties = PropertiesBuilder::new();
        properties.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
        client.send(&Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V5,
            clean_session: clean,
            keep_alive: 0,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: properties.unchecked(),
        })));
        match client.next() {
            Got::ConnAck(present, ReasonCode::SUCCESS) => (client, present),
            other => panic!("{client_id}: CONNECT answered with {other:?}"),
        }
    }

    fn send(&mut self, packet: &Packet<'_>) {
        let mut bytes = Vec::new();
        codec::encode_as(packet, Protocol::V5, &mut bytes).expect("encodable");
        self.stream.write_all(&bytes).expect("sent");
    }

    /// The next packet from the broker (panics after [`TIMEOUT`]).
    fn next(&mut self) -> Got {
        loop {
            if let Some((packet, used)) =
                codec::decode_as(&self.input, usize::MAX, Some(Protocol::V5))
                    .expect("a valid packet from the broker")
            {
                let got = match packet {
                    Packet::ConnAck(c) => Got::ConnAck(c.session_present, c.code),
                    Packet::Publish(p) => Got::Publish {
                        topic: p.topic.to_string(),
                        payload: p.payload.to_vec(),
                        qos: p.qos,
                        retain: p.retain,
                        packet_id: p.packet_id.unwrap_or(0),
                        properties: p.properties.as_bytes().to_vec(),
                    },
                    Packet::SubAck(s) => Got::SubAck(s.codes),
                    Packet::PubAck(a) => Got::PubAck(a.packet_id),
                    Packet::PingResp => Got::PingResp,
                    other => panic!("the broker sent {other:?}"),
                };
                self.input.drain(..used);
                return got;
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .expect("the broker answers in time");
            assert!(n > 0, "the broker closed the connection");
            self.input.extend_from_slice(&chunk[..n]);
        }
    }

    fn subscribe(&mut self, filter: &str, options: SubscriptionOptions, identifier: u32) {
        let mut properties = PropertiesBuilder::new();
        if identifier != 0 {
            properties.varint(property::SUBSCRIPTION_IDENTIFIER, identifier);
        }
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![(filter, options)],
            properties: properties.unchecked(),
        }));
        match self.next() {
            Got::SubAck(codes) => assert_eq!(codes, [ReasonCode::granted(options.qos)]),
            other => panic!("SUBSCRIBE answered with {other:?}"),
        }
    }

    /// Publishes at QoS 1 and waits for the PUBACK.
    fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        properties: &PropertiesBuilder,
    ) {
        self.send(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain,
            topic,
            packet_id: Some(9),
            payload,
            properties: properties.unchecked(),
        }));
        match self.next() {
            Got::PubAck(9) => {}
            other => panic!("PUBLISH answered with {other:?}"),
        }
    }

    /// Everything the broker sends before it answers a PINGREQ sent now.
    fn until_ping(&mut self) -> Vec<Got> {
        self.send(&Packet::PingReq);
        let mut got = Vec::new();
        loop {
            match self.next() {
                Got::PingResp => return got,
                other => got.push(other),
            }
        }
    }

    fn disconnect(mut self, expiry: Option<u32>) {
        let mut properties = PropertiesBuilder::new();
        if let Some(expiry) = expiry {
            properties.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
        }
        self.send(&Packet::Disconnect(Reasoned {
            reason: ReasonCode::SUCCESS,
            properties: properties.unchecked(),
        }));
        // The broker closes its side once it has handled the DISCONNECT.
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
    }
}

/// The properties of a received PUBLISH, as (identifier, value) text, the
/// Message Expiry Interval left out and returned apart.
fn split_properties(raw: &[u8]) -> (Vec<(u8, String)>, Option<u32>) {
    let properties = Properties::parse(raw, PropertyContext::Publish).expect("valid properties");
    let expiry = properties.message_expiry_interval();
    let mut rest: Vec<(u8, String)> = properties
        .iter()
        .filter(|(id, _)| *id != property::MESSAGE_EXPIRY_INTERVAL)
        .map(|(id, value)| {
            let text = match value {
                PropertyValue::Str(s) => s.to_string(),
                PropertyValue::Binary(b) => format!("{b:?}"),
                PropertyValue::StrPair(k, v) => format!("{k}={v}"),
                PropertyValue::VarInt(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            (id, text)
        })
        .collect();
    rest.sort();
    (rest, expiry)
}

fn message_properties(content_type: &str, user: (&str, &str), expiry: u32) -> PropertiesBuilder {
    let mut properties = PropertiesBuilder::new();
    properties
        .string(property::CONTENT_TYPE, content_type)
        .binary(property::CORRELATION_DATA, b"corr")
        .user_property(user.0, user.1)
        .four_byte(property::MESSAGE_EXPIRY_INTERVAL, expiry);
    properties
}

#[test]
fn a_v5_session_and_its_messages_survive_a_restart_of_the_sqlite_broker() {
    let dir = TempDir::new("restart");
    let db = dir.path("mqtt5.db");

    // First run: a session with options and an identifier, another that
    // DISCONNECT shortens to 3 s, then messages queued while they are away.
    let broker = Running::start(&db);
    let (mut sub, present) = Client::connect(broker.addr, "keeper", true, 3600);
    assert!(!present);
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::SendOnSubscribe,
    };
    sub.subscribe("e2e/+", options, 77);
    sub.subscribe("plain", QoS::AtLeastOnce.into(), 0);
    // Longer than at CONNECT: the store must keep the DISCONNECT's.
    sub.disconnect(Some(7200));
    let (brief, _) = Client::connect(broker.addr, "brief", true, 3600);
    brief.disconnect(Some(3));

    let (mut publisher, _) = Client::connect(broker.addr, "publisher", true, 0);
    publisher.publish(
        "e2e/a",
        b"queued",
        false,
        &message_properties("text/plain", ("k", "v"), 300),
    );
    publisher.publish(
        "e2e/r",
        b"retained",
        true,
        &message_properties("application/json", ("r", "1"), 600),
    );
    let mut short = PropertiesBuilder::new();
    short.four_byte(property::MESSAGE_EXPIRY_INTERVAL, 1);
    publisher.publish("plain", b"short-lived", false, &short);
    publisher.disconnect(None);
    broker.stop();
    // Down for longer than "plain"'s 1 s.
    std::thread::sleep(Duration::from_millis(1500));

    // Second run on the same file.
    let broker = Running::start(&db);
    // "brief" keeps its 3 s from the restart, then goes; "keeper" stays.
    let deadline = Instant::now() + TIMEOUT;
    while broker.sessions() > 1 {
        assert!(
            Instant::now() < deadline,
            "the 3 s session was not removed after its interval"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut sub, present) = Client::connect(broker.addr, "keeper", false, 7200);
    assert!(present, "the session was restored");
    let received = sub.until_ping();
    // The queued message and the retained one (routed while "keeper" was
    // away), with their properties, the identifier and the time left; not
    // the one that expired while the broker was down.
    assert_eq!(received.len(), 2, "{received:?}");
    for got in &received {
        let Got::Publish {
            topic,
            payload,
            qos,
            retain,
            packet_id,
            properties,
        } = got
        else {
            panic!("not a PUBLISH: {got:?}");
        };
        assert_eq!(*qos, QoS::AtLeastOnce);
        let (rest, expiry) = split_properties(properties);
        let (content_type, user, retained, full) = match topic.as_str() {
            "e2e/a" => ("text/plain", "k=v", false, 300),
            "e2e/r" => ("application/json", "r=1", true, 600),
            other => panic!("unexpected topic {other}"),
        };
        assert_eq!(*retain, retained, "Retain As Published on {topic}");
        let mut want = vec![
            (property::CONTENT_TYPE, content_type.to_string()),
            (property::CORRELATION_DATA, format!("{:?}", b"corr")),
            (property::SUBSCRIPTION_IDENTIFIER, "77".to_string()),
            (property::USER_PROPERTY, user.to_string()),
        ];
        want.sort();
        assert_eq!(rest, want, "{topic}");
        let left = expiry.expect("a Message Expiry Interval");
        assert!(
            left < full && left + 30 > full,
            "{topic}: {left} s left of {full}"
        );
        assert_eq!(
            payload.as_slice(),
            if retained {
                &b"retained"[..]
            } else {
                b"queued"
            }
        );
        sub.send(&Packet::PubAck(Ack::new(*packet_id)));
    }
    // No Local still holds: its own message does not come back.
    sub.send(&Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "e2e/own",
        packet_id: None,
        payload: b"mine",
        properties: Properties::EMPTY,
    }));
    let got = sub.until_ping();
    assert!(got.is_empty(), "{got:?}");

    // The retained message, to a new subscriber, with its properties.
    let (mut probe, _) = Client::connect(broker.addr, "probe", true, 0);
    probe.send(&Packet::Subscribe(Subscribe {
        packet_id: 2,
        filters: vec![("e2e/r", QoS::AtMostOnce.into())],
        properties: Properties::EMPTY,
    }));
    let got = probe.until_ping();
    assert!(matches!(&got[0], Got::SubAck(_)), "{got:?}");
    let Some(Got::Publish {
        retain: true,
        properties,
        ..
    }) = got.get(1)
    else {
        panic!("no retained message: {got:?}");
    };
    let (rest, expiry) = split_properties(properties);
    assert!(rest.contains(&(property::USER_PROPERTY, "r=1".to_string())));
    assert!(expiry.is_some_and(|left| left < 600 && left > 570));
    probe.disconnect(None);
    sub.disconnect(None);
    broker.stop();

    // A third run: the session is still there with its subscriptions (the
    // reconnect asked the interval it had: nothing new to record).
    let broker = Running::start(&db);
    assert_eq!(broker.sessions(), 1);
    let (mut sub, present) = Client::connect(broker.addr, "keeper", false, 7200);
    assert!(present);
    let (mut publisher, _) = Client::connect(broker.addr, "publisher", true, 0);
    publisher.publish("plain", b"again", false, &PropertiesBuilder::new());
    let got = sub.until_ping();
    assert!(
        matches!(&got[..], [Got::Publish { payload, properties, .. }] if payload == b"again" && properties.is_empty()),
        "{got:?}"
    );
    publisher.disconnect(None);
    broker.stop();
}
