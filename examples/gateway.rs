//! An IoT gateway built around an embedded mqlite broker.
//!
//! Use case: a gateway process that devices connect to over MQTT. The
//! gateway decides who may connect and what each one may do, reads the
//! devices' telemetry on its own thread, and sends them commands, all
//! without a separate broker process. It shows:
//!
//! - an **authentication hook** checking a user/password table
//!   (CONNACK 0x04 for a wrong password, 0x05 without credentials);
//! - an **ACL hook**: a device may only publish under
//!   `devices/<its client id>/#`, and only the `admin` user may subscribe
//!   to or receive `secret/#` (checked at each delivery, so a `#`
//!   subscription does not leak it either);
//! - an **event hook** that tells the command thread when a device
//!   subscribes to its command topic;
//! - a **local channel subscription** (`subscribe_channel`) aggregating
//!   `devices/+/telemetry` on the host's main thread;
//! - a **publisher thread** sending commands through a `BrokerHandle`;
//! - a small demo device and admin client, speaking raw MQTT over TCP with
//!   `mqlite::codec` (so the example needs no client library);
//! - a clean stop.
//!
//! Hooks run on the broker thread: they only look at the table or hand
//! work to other threads through channels, and never block.
//!
//! Run with `cargo run --example gateway`.

use std::collections::{BTreeMap, HashMap};
use std::error::Error;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mqlite::codec::{
    self, Ack, Connect, Packet, Properties, Protocol, Publish, Reasoned, Subscribe,
};
use mqlite::{AclAccess, AuthDecision, Broker, ClientInfo, Config, Event, QoS};

/// The gateway's accounts: user name and password. A device's user name
/// is its client id.
const USERS: &[(&str, &str)] = &[
    ("admin", "admin-secret"),
    ("sensor-1", "s1-password"),
    ("sensor-2", "s2-password"),
];

/// How long any wait of the demo lasts before it gives up.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Telemetry messages the demo device sends.
const READINGS: usize = 5;

type BoxError = Box<dyn Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let config = Config {
        listeners: vec!["127.0.0.1:0".parse()?],
        sys_interval: None,
        ..Config::default()
    };
    let mut broker = Broker::new(config)?;
    let addr = broker.local_addr();
    let handle = broker.handle();
    println!("[gateway] broker listening on {addr}");

    // Authentication: a lookup in a table the hook owns.
    let users: HashMap<String, String> = USERS
        .iter()
        .map(|&(user, password)| (user.to_string(), password.to_string()))
        .collect();
    broker.set_auth_hook(move |info| match (info.username, info.password) {
        (Some(user), Some(password)) => match users.get(user) {
            Some(expected) if expected.as_bytes() == password => AuthDecision::Accept,
            _ => AuthDecision::BadCredentials,
        },
        _ => AuthDecision::NotAuthorized,
    });

    broker.set_acl_hook(acl);

    // Events: log the life of clients, and tell the command thread which
    // devices listen for commands.
    let (listening_tx, listening_rx) = mpsc::channel::<String>();
    broker.set_event_hook(move |event| match event {
        Event::Connected { client, .. } => println!(
            "[broker] {} connected (user {:?})",
            client.client_id, client.username
        ),
        Event::Subscribed { client, filter, .. } => {
            println!("[broker] {} subscribed to {filter}", client.client_id);
            if *filter == format!("devices/{}/commands", client.client_id) {
                let _ = listening_tx.send(client.client_id.to_string());
            }
        }
        Event::Disconnected { client, reason } => {
            println!("[broker] {} disconnected: {reason:?}", client.client_id)
        }
        Event::QueueOverflow {
            client, dropped, ..
        } => println!(
            "[broker] {} is not keeping up: {dropped} message(s) dropped",
            client.client_id
        ),
        // Kinds of event added later.
        _ => {}
    });

    // The host reads telemetry on its own (main) thread. Subscribing
    // before any device connects means no reading is missed.
    let telemetry = handle.subscribe_channel("devices/+/telemetry", QoS::AtLeastOnce, 64)?;

    // Something only the admin may read; retained, so a later subscriber
    // gets it.
    handle.publish("secret/api-key", b"k-12345", QoS::AtLeastOnce, true)?;

    let broker_thread = thread::spawn(move || broker.run());

    // The publisher thread: one command to each device that listens. It
    // ends when the broker (and with it the event hook's sender) is gone.
    let command_handle = handle.clone();
    let commander = thread::spawn(move || {
        for device in listening_rx {
            let topic = format!("devices/{device}/commands");
            match command_handle.publish(&topic, b"interval=10s", QoS::AtLeastOnce, false) {
                Ok(()) => println!("[commands] sent interval=10s to {device}"),
                Err(error) => println!("[commands] cannot reach {device}: {error}"),
            }
        }
    });

    let clients = thread::spawn(move || run_demo_clients(addr));

    // Aggregate telemetry on the host's thread.
    let mut per_device: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for _ in 0..READINGS {
        let message = telemetry
            .recv_timeout(TIMEOUT)
            .ok_or("no telemetry within 5 s")?;
        let device = message.topic().split('/').nth(1).unwrap_or("?").to_string();
        let value: f64 = std::str::from_utf8(message.payload())?.parse()?;
        println!(
            "[host] telemetry from {device}: {value} (on {:?})",
            thread::current().name().unwrap_or("main")
        );
        let entry = per_device.entry(device).or_default();
        entry.0 += 1;
        entry.1 += value;
    }

    let report = clients.join().expect("the demo client thread panicked")?;
    // The device had every PUBACK before it returned, so whatever the
    // broker routed to the channel is already in it: the spoofed reading
    // for sensor-2 must not be.
    if let Some(message) = telemetry.try_recv() {
        return Err(format!("unexpected telemetry on {}", message.topic()).into());
    }
    for (device, (count, sum)) in &per_device {
        println!(
            "[host] {device}: {count} readings, mean {:.2}",
            sum / *count as f64
        );
    }
    println!("[host] demo clients: {report}");

    let stats = handle.stats(TIMEOUT)?;
    println!(
        "[host] stats: {} messages received, {} sent, {} dropped, {} connections so far",
        stats.messages_received,
        stats.messages_sent,
        stats.messages_dropped,
        stats.connections_total
    );

    handle.stop();
    broker_thread.join().expect("the broker thread panicked")?;
    commander.join().expect("the command thread panicked");
    println!("[gateway] stopped cleanly");
    Ok(())
}

/// The gateway's access rules.
fn acl(client: &ClientInfo<'_>, access: AclAccess, topic: &str) -> bool {
    if client.username == Some("admin") {
        return true;
    }
    let secret = topic == "secret" || topic.starts_with("secret/");
    match access {
        AclAccess::Publish => {
            let own = format!("devices/{}", client.client_id);
            topic == own || topic.starts_with(&format!("{own}/"))
        }
        // Filters naming `secret` are refused (SUBACK 0x80); wildcard
        // filters are allowed and filtered message by message below.
        AclAccess::Subscribe => !secret,
        AclAccess::Receive => !secret,
    }
}

/// A device and an admin, each connecting, subscribing and publishing.
fn run_demo_clients(addr: SocketAddr) -> Result<String, BoxError> {
    // A device with a wrong password is refused.
    let (_, code) = DemoClient::connect(addr, "sensor-2", Some(("sensor-2", "guess")))?;
    println!("[sensor-2] wrong password: CONNACK return code {code:#04x}");
    if code != 0x04 {
        return Err(format!("expected CONNACK 0x04, got {code:#04x}").into());
    }
    let (_, code) = DemoClient::connect(addr, "anonymous", None)?;
    println!("[anonymous] no credentials: CONNACK return code {code:#04x}");
    if code != 0x05 {
        return Err(format!("expected CONNACK 0x05, got {code:#04x}").into());
    }

    // The device proper.
    let (mut device, code) =
        DemoClient::connect(addr, "sensor-1", Some(("sensor-1", "s1-password")))?;
    println!("[sensor-1] CONNACK return code {code:#04x}");
    if code != 0 {
        return Err(format!("sensor-1 refused with {code:#04x}").into());
    }
    device.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![
            ("devices/sensor-1/commands", QoS::AtLeastOnce.into()),
            ("secret/#", QoS::AtMostOnce.into()),
        ],
        properties: Properties::EMPTY,
    }))?;
    let mut suback = None;
    let mut command = None;
    while suback.is_none() {
        match device.next()? {
            Incoming::SubAck(codes) => suback = Some(codes),
            Incoming::Publish(publish) => command = Some(device.handle_publish(publish)?),
            other => println!("[sensor-1] ignoring {}", other.name()),
        }
    }
    let suback = suback.unwrap_or_default();
    println!("[sensor-1] SUBACK {suback:x?} (commands granted QoS 1, secret/# refused 0x80)");
    if suback != [0x01, 0x80] {
        return Err(format!("unexpected SUBACK {suback:x?}").into());
    }

    // Readings under its own prefix, plus one pretending to be sensor-2:
    // the ACL drops that one, yet acknowledges it like any other.
    let mut awaiting_ack = Vec::new();
    for i in 0..READINGS {
        let packet_id = 10 + i as u16;
        let value = format!("{:.1}", 20.0 + i as f64 * 0.5);
        device.publish("devices/sensor-1/telemetry", value.as_bytes(), packet_id)?;
        awaiting_ack.push(packet_id);
    }
    device.publish("devices/sensor-2/telemetry", b"99.9", 99)?;
    awaiting_ack.push(99);
    while !awaiting_ack.is_empty() || command.is_none() {
        match device.next()? {
            Incoming::PubAck(packet_id) => awaiting_ack.retain(|&id| id != packet_id),
            Incoming::Publish(publish) => command = Some(device.handle_publish(publish)?),
            other => println!("[sensor-1] ignoring {}", other.name()),
        }
    }
    println!(
        "[sensor-1] all {} publishes acknowledged (the spoofed one too)",
        READINGS + 1
    );
    device.send(&Packet::Disconnect(Reasoned::default()))?;

    // The admin may read the secret: the retained copy comes on subscribe.
    let (mut admin, code) = DemoClient::connect(addr, "console", Some(("admin", "admin-secret")))?;
    if code != 0 {
        return Err(format!("admin refused with {code:#04x}").into());
    }
    admin.send(&Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![("secret/#", QoS::AtLeastOnce.into())],
        properties: Properties::EMPTY,
    }))?;
    let mut secret = None;
    while secret.is_none() {
        match admin.next()? {
            Incoming::SubAck(codes) => println!("[console] SUBACK {codes:x?}"),
            Incoming::Publish(publish) => secret = Some(admin.handle_publish(publish)?),
            other => println!("[console] ignoring {}", other.name()),
        }
    }
    admin.send(&Packet::Disconnect(Reasoned::default()))?;

    Ok(format!(
        "sensor-1 got command {:?}, console read {:?}",
        command.unwrap_or_default(),
        secret.unwrap_or_default()
    ))
}

/// A received PUBLISH, owned.
#[derive(Debug)]
struct ReceivedPublish {
    topic: String,
    payload: Vec<u8>,
    packet_id: Option<u16>,
}

/// What the demo clients care about among the packets they receive.
#[derive(Debug)]
enum Incoming {
    ConnAck(u8),
    SubAck(Vec<u8>),
    PubAck(u16),
    Publish(ReceivedPublish),
    Other(&'static str),
}

impl Incoming {
    /// The packet's name, for the demo's log lines.
    fn name(&self) -> &'static str {
        match self {
            Incoming::ConnAck(_) => "CONNACK",
            Incoming::SubAck(_) => "SUBACK",
            Incoming::PubAck(_) => "PUBACK",
            Incoming::Publish(_) => "PUBLISH",
            Incoming::Other(name) => name,
        }
    }

    fn from_packet(packet: Packet<'_>) -> Incoming {
        match packet {
            // The 3.1.1 bytes on the wire (the codec reads MQTT 5 codes).
            Packet::ConnAck(ack) => Incoming::ConnAck(ack.code.to_v3_connack()),
            Packet::SubAck(ack) => {
                Incoming::SubAck(ack.codes.iter().map(|c| c.to_v3_suback()).collect())
            }
            Packet::PubAck(ack) => Incoming::PubAck(ack.packet_id),
            Packet::Publish(publish) => Incoming::Publish(ReceivedPublish {
                topic: publish.topic.to_string(),
                payload: publish.payload.to_vec(),
                packet_id: publish.packet_id,
            }),
            other => Incoming::Other(other.name()),
        }
    }
}

/// A minimal blocking MQTT 3.1.1 client over a `TcpStream`, using the
/// broker's own codec. Every read gives up after [`TIMEOUT`].
struct DemoClient {
    name: String,
    stream: TcpStream,
    input: Vec<u8>,
}

impl DemoClient {
    /// Connects and returns the client with the CONNACK return code.
    fn connect(
        addr: SocketAddr,
        client_id: &str,
        credentials: Option<(&str, &str)>,
    ) -> io::Result<(DemoClient, u8)> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut client = DemoClient {
            name: client_id.to_string(),
            stream,
            input: Vec::new(),
        };
        client.send(&Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V311,
            clean_session: true,
            keep_alive: 30,
            client_id,
            will: None,
            username: credentials.map(|(user, _)| user),
            password: credentials.map(|(_, password)| password.as_bytes()),
            properties: Properties::EMPTY,
        })))?;
        match client.next()? {
            Incoming::ConnAck(code) => Ok((client, code)),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected CONNACK, got {other:?}"),
            )),
        }
    }

    fn send(&mut self, packet: &Packet<'_>) -> io::Result<()> {
        let mut bytes = Vec::new();
        codec::encode(packet, &mut bytes)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))?;
        self.stream.write_all(&bytes)
    }

    /// A QoS 1 PUBLISH.
    fn publish(&mut self, topic: &str, payload: &[u8], packet_id: u16) -> io::Result<()> {
        self.send(&Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic,
            packet_id: Some(packet_id),
            payload,
            properties: Properties::EMPTY,
        }))
    }

    /// Prints a received message, acknowledges it if needed, and returns
    /// its payload as text.
    fn handle_publish(&mut self, publish: ReceivedPublish) -> io::Result<String> {
        let payload = String::from_utf8_lossy(&publish.payload).into_owned();
        println!(
            "[{}] received {:?} on {}",
            self.name, payload, publish.topic
        );
        if let Some(packet_id) = publish.packet_id {
            self.send(&Packet::PubAck(Ack::new(packet_id)))?;
        }
        Ok(payload)
    }

    /// The next packet from the broker.
    fn next(&mut self) -> io::Result<Incoming> {
        let mut chunk = [0u8; 4096];
        loop {
            let decoded = codec::decode(&self.input, 1 << 20)
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?
                .map(|(packet, used)| (Incoming::from_packet(packet), used));
            if let Some((incoming, used)) = decoded {
                self.input.drain(..used);
                return Ok(incoming);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.input.extend_from_slice(&chunk[..n]);
        }
    }
}
