//! The embedding hooks, seen from real MQTT clients: authentication (with
//! pending decisions and their timeout), ACL, the message hook, events,
//! panicking hooks, and hooks that publish through the handle.
//!
//! rumqttc is the client wherever it can express the scenario; raw sockets
//! (with `mqlite::codec`) are used for the precise disconnect reasons and
//! for packets sent while an authentication is pending. Every wait is
//! bounded; no test asserts on timing.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mqlite::codec::{self, Connect, Packet, Protocol, Publish, Subscribe};
use mqlite::{
    AclAccess, AuthDecision, AuthToken, Broker, BrokerHandle, CloseReason, Config, Event, Message,
    MessageDecision, QoS,
};
use rumqttc::{
    ConnectReturnCode, ConnectionError, MqttOptions, SubscribeFilter, SubscribeReasonCode,
};

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

/// Starts a broker with `config`, letting `setup` install hooks first.
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

/// A rumqttc client; its connection is driven in a thread that stops at
/// the first error (so it never reconnects behind the test's back).
fn mqtt(addr: SocketAddr, client_id: &str, configure: impl FnOnce(&mut MqttOptions)) -> Mqtt {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    configure(&mut options);
    let (client, mut connection) = rumqttc::Client::new(options, 100);
    let (tx, events) = mpsc::channel();
    thread::spawn(move || {
        for event in connection.iter() {
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                break;
            }
        }
    });
    Mqtt { client, events }
}

fn with_credentials(user: &str, password: &str) -> impl FnOnce(&mut MqttOptions) {
    let (user, password) = (user.to_string(), password.to_string());
    move |options| {
        options.set_credentials(user, password);
    }
}

impl Mqtt {
    /// The outcome of the connection attempt: the CONNACK, or the error.
    fn connack(&self) -> Result<rumqttc::ConnAck, Box<ConnectionError>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack)))) => return Ok(ack),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(Box::new(error)),
                Err(_) => panic!("no CONNACK nor error within 5 s"),
            }
        }
    }

    /// The return code of a refused connection attempt (rumqttc reports a
    /// non-zero CONNACK as `ConnectionError::ConnectionRefused`).
    fn refusal(&self) -> ConnectReturnCode {
        match self.connack() {
            Err(error) => match *error {
                ConnectionError::ConnectionRefused(code) => code,
                other => panic!("expected a refusing CONNACK, got {other}"),
            },
            Ok(ack) => panic!("expected a refusing CONNACK, got {ack:?}"),
        }
    }

    /// Waits for a successful CONNACK.
    fn connected(self) -> Mqtt {
        match self.connack() {
            Ok(ack) => assert_eq!(ack.code, ConnectReturnCode::Success),
            Err(error) => panic!("connection failed: {error}"),
        }
        self
    }

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

    fn suback(&self) -> Vec<SubscribeReasonCode> {
        self.wait_for("SUBACK", |packet| match packet {
            rumqttc::Packet::SubAck(ack) => Some(ack.return_codes.clone()),
            _ => None,
        })
    }

    fn subscribe(&self, filter: &str, qos: rumqttc::QoS) {
        self.client.subscribe(filter, qos).unwrap();
        let codes = self.suback();
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

    /// Panics if a PUBLISH arrives within [`QUIET`].
    fn assert_no_publication(&self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)))) => {
                    panic!("unexpected PUBLISH on {}", publish.topic)
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("connection failed: {error}"),
                Err(_) => return,
            }
        }
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

// ---------------------------------------------------------------------------
// A raw MQTT client on a TcpStream.

#[derive(Debug, PartialEq)]
enum In {
    ConnAck(u8),
    SubAck(Vec<u8>),
    PubAck(u16),
    Publish { topic: String, payload: Vec<u8> },
    Other(&'static str),
}

impl In {
    fn from_packet(packet: Packet<'_>) -> In {
        match packet {
            Packet::ConnAck(ack) => In::ConnAck(ack.code as u8),
            Packet::SubAck(ack) => In::SubAck(ack.codes.iter().map(|c| c.to_u8()).collect()),
            Packet::PubAck(id) => In::PubAck(id),
            Packet::Publish(publish) => In::Publish {
                topic: publish.topic.to_string(),
                payload: publish.payload.to_vec(),
            },
            other => In::Other(other.name()),
        }
    }
}

struct Raw {
    stream: TcpStream,
    input: Vec<u8>,
}

impl Raw {
    fn tcp(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect to the broker");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            input: Vec::new(),
        }
    }

    fn connect_packet(client_id: &str, keep_alive: u16, username: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode(
            &Packet::Connect(Connect {
                protocol: Protocol::V311,
                clean_session: true,
                keep_alive,
                client_id,
                will: None,
                username,
                password: username.map(|_| b"pw".as_slice()),
            }),
            &mut out,
        )
        .unwrap();
        out
    }

    /// Connects and expects CONNACK 0.
    fn connect(addr: SocketAddr, client_id: &str, keep_alive: u16) -> Raw {
        let mut raw = Raw::tcp(addr);
        raw.write(&Raw::connect_packet(client_id, keep_alive, None));
        assert_eq!(raw.recv(), In::ConnAck(0), "CONNACK for {client_id}");
        raw
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
    }

    fn send(&mut self, packet: &Packet<'_>) {
        let mut out = Vec::new();
        codec::encode(packet, &mut out).unwrap();
        self.write(&out);
    }

    /// The next packet, or `Ok(None)` at end of stream.
    fn read_packet(&mut self, deadline: Instant) -> io::Result<Option<In>> {
        let mut chunk = [0u8; 4096];
        loop {
            let decoded = codec::decode(&self.input, 1 << 20)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
                .map(|(packet, used)| (In::from_packet(packet), used));
            if let Some((packet, used)) = decoded {
                self.input.drain(..used);
                return Ok(Some(packet));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    fn recv(&mut self) -> In {
        match self.read_packet(Instant::now() + TIMEOUT) {
            Ok(Some(packet)) => packet,
            Ok(None) => panic!("the broker closed the connection"),
            Err(error) => panic!("no packet from the broker: {error}"),
        }
    }

    /// Waits for the broker to close the connection; returns the packets
    /// received before.
    fn until_closed(&mut self) -> Vec<In> {
        let deadline = Instant::now() + TIMEOUT;
        let mut packets = Vec::new();
        loop {
            match self.read_packet(deadline) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => return packets,
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return packets,
                Err(error) => panic!("the broker did not close the connection: {error}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Events, owned.

#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Connected {
        client_id: String,
        username: Option<String>,
        clean_session: bool,
        session_present: bool,
    },
    Disconnected {
        client_id: String,
        reason: CloseReason,
    },
    Subscribed {
        client_id: String,
        filter: String,
        qos: QoS,
    },
    Unsubscribed {
        client_id: String,
        filter: String,
    },
}

impl Ev {
    fn from_event(event: &Event<'_>) -> Ev {
        match event {
            Event::Connected {
                client,
                clean_session,
                session_present,
                ..
            } => Ev::Connected {
                client_id: client.client_id.to_string(),
                username: client.username.map(str::to_string),
                clean_session: *clean_session,
                session_present: *session_present,
            },
            Event::Disconnected { client, reason } => Ev::Disconnected {
                client_id: client.client_id.to_string(),
                reason: *reason,
            },
            Event::Subscribed {
                client,
                filter,
                qos,
            } => Ev::Subscribed {
                client_id: client.client_id.to_string(),
                filter: filter.to_string(),
                qos: *qos,
            },
            Event::Unsubscribed { client, filter } => Ev::Unsubscribed {
                client_id: client.client_id.to_string(),
                filter: filter.to_string(),
            },
        }
    }

    fn client_id(&self) -> &str {
        match self {
            Ev::Connected { client_id, .. }
            | Ev::Disconnected { client_id, .. }
            | Ev::Subscribed { client_id, .. }
            | Ev::Unsubscribed { client_id, .. } => client_id,
        }
    }
}

/// Installs an event hook that records every event.
fn record_events(broker: &mut Broker) -> mpsc::Receiver<Ev> {
    let (tx, rx) = mpsc::channel();
    broker.set_event_hook(move |event| {
        let _ = tx.send(Ev::from_event(event));
    });
    rx
}

/// The next event about `client_id` (others are skipped).
fn next_event_of(events: &mpsc::Receiver<Ev>, client_id: &str) -> Ev {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if event.client_id() == client_id => return event,
            Ok(_) => {}
            Err(_) => panic!("no event for {client_id} within 5 s"),
        }
    }
}

fn disconnected(client_id: &str, reason: CloseReason) -> Ev {
    Ev::Disconnected {
        client_id: client_id.to_string(),
        reason,
    }
}

// ---------------------------------------------------------------------------
// Authentication.

#[test]
fn auth_hook_refuses_bad_password_and_unauthorized_and_accepts_good_ones() {
    let (seen_tx, seen) = mpsc::channel();
    let broker = start(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let _ = seen_tx.send((
                info.client_id.to_string(),
                info.protocol,
                info.clean_session,
                info.peer.ip().is_loopback(),
            ));
            match (info.username, info.password) {
                (Some("alice"), Some(b"wonderland")) => AuthDecision::Accept,
                (Some("alice"), _) => AuthDecision::BadCredentials,
                _ => AuthDecision::NotAuthorized,
            }
        });
    });

    let bad = mqtt(broker.addr, "auth-bad", with_credentials("alice", "wrong"));
    assert_eq!(bad.refusal(), ConnectReturnCode::BadUserNamePassword);

    let anonymous = mqtt(broker.addr, "auth-anonymous", |_| {});
    assert_eq!(anonymous.refusal(), ConnectReturnCode::NotAuthorized);

    let stranger = mqtt(broker.addr, "auth-stranger", with_credentials("bob", "x"));
    assert_eq!(stranger.refusal(), ConnectReturnCode::NotAuthorized);

    let good = mqtt(
        broker.addr,
        "auth-good",
        with_credentials("alice", "wonderland"),
    );
    let ack = good.connack().expect("alice is accepted");
    assert_eq!(ack.code, ConnectReturnCode::Success);

    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients, vec!["auth-good".to_string()]);

    let seen: Vec<_> = seen.try_iter().collect();
    let ids: Vec<&str> = seen.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["auth-bad", "auth-anonymous", "auth-stranger", "auth-good"]
    );
    for (_, protocol, clean_session, loopback) in &seen {
        assert_eq!(*protocol, Protocol::V311);
        assert!(*clean_session);
        assert!(*loopback);
    }
}

#[test]
fn pending_auth_is_completed_from_another_thread() {
    let (pending_tx, pending_rx) = mpsc::channel::<(u64, String)>();
    let broker = start(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let user = info.username.unwrap_or_default().to_string();
            // The token travels as a number, as it would through C.
            let _ = pending_tx.send((info.token.to_u64(), user));
            AuthDecision::Pending
        });
    });

    // The "slow authentication service".
    let handle = broker.handle.clone();
    let decider = thread::spawn(move || {
        let mut decided = 0;
        while decided < 3 {
            let Ok((token, user)) = pending_rx.recv_timeout(TIMEOUT) else {
                break;
            };
            thread::sleep(Duration::from_millis(20));
            let decision = match user.as_str() {
                "ok" => AuthDecision::Accept,
                "wrong" => AuthDecision::BadCredentials,
                _ => AuthDecision::NotAuthorized,
            };
            handle
                .complete_auth(AuthToken::from_u64(token), decision)
                .expect("the broker is running");
            decided += 1;
        }
        decided
    });

    let accepted = mqtt(broker.addr, "pending-ok", with_credentials("ok", "pw"));
    let ack = accepted.connack().expect("accepted after the decision");
    assert_eq!(ack.code, ConnectReturnCode::Success);

    let wrong = mqtt(
        broker.addr,
        "pending-wrong",
        with_credentials("wrong", "pw"),
    );
    assert_eq!(wrong.refusal(), ConnectReturnCode::BadUserNamePassword);

    let refused = mqtt(
        broker.addr,
        "pending-refused",
        with_credentials("nobody", "pw"),
    );
    assert_eq!(refused.refusal(), ConnectReturnCode::NotAuthorized);

    assert_eq!(decider.join().unwrap(), 3);

    // The accepted client works normally.
    accepted.subscribe("pending/echo", rumqttc::QoS::AtLeastOnce);
    accepted
        .client
        .publish("pending/echo", rumqttc::QoS::AtLeastOnce, false, "hi")
        .unwrap();
    assert_eq!(text(&accepted.publication().payload), "hi");
}

#[test]
fn packets_sent_while_auth_is_pending_are_handled_after_accept() {
    let (pending_tx, pending_rx) = mpsc::channel::<AuthToken>();
    let broker = start(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let _ = pending_tx.send(info.token);
            AuthDecision::Pending
        });
    });

    // CONNECT, SUBSCRIBE and a PUBLISH to itself, all before any answer.
    let mut raw = Raw::tcp(broker.addr);
    let mut bytes = Raw::connect_packet("eager", 30, Some("eager"));
    codec::encode(
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("eager/topic", QoS::AtLeastOnce)],
        }),
        &mut bytes,
    )
    .unwrap();
    codec::encode(
        &Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "eager/topic",
            packet_id: Some(2),
            payload: b"early bird",
        }),
        &mut bytes,
    )
    .unwrap();
    raw.write(&bytes);

    let token = pending_rx.recv_timeout(TIMEOUT).expect("the hook ran");
    broker
        .handle
        .complete_auth(token, AuthDecision::Accept)
        .unwrap();

    assert_eq!(raw.recv(), In::ConnAck(0));
    assert_eq!(raw.recv(), In::SubAck(vec![1]));
    let mut rest = vec![raw.recv(), raw.recv()];
    rest.sort_by_key(|packet| format!("{packet:?}"));
    assert_eq!(
        rest,
        vec![
            In::PubAck(2),
            In::Publish {
                topic: "eager/topic".into(),
                payload: b"early bird".to_vec()
            }
        ]
    );
}

#[test]
fn pending_auth_without_decision_is_refused_after_auth_timeout() {
    let (pending_tx, pending_rx) = mpsc::channel::<AuthToken>();
    let config = Config {
        auth_timeout: Duration::from_secs(1),
        ..test_config()
    };
    let mut events = None;
    let broker = start(config, |broker| {
        broker.set_auth_hook(move |info| {
            if info.username == Some("slow") {
                let _ = pending_tx.send(info.token);
                AuthDecision::Pending
            } else {
                AuthDecision::Accept
            }
        });
        events = Some(record_events(broker));
    });
    let events = events.unwrap();

    let slow = mqtt(broker.addr, "never-decided", with_credentials("slow", "pw"));
    assert_eq!(slow.refusal(), ConnectReturnCode::NotAuthorized);
    let token = pending_rx.recv_timeout(TIMEOUT).expect("the hook ran");

    // A late decision is harmless.
    broker
        .handle
        .complete_auth(token, AuthDecision::Accept)
        .expect("complete_auth after the timeout is not an error");

    // The broker still serves others, and never reported the refused one.
    let next = mqtt(
        broker.addr,
        "decided-at-once",
        with_credentials("fast", "pw"),
    )
    .connected();
    next.subscribe("still/alive", rumqttc::QoS::AtMostOnce);
    let event = next_event_of(&events, "decided-at-once");
    assert!(matches!(event, Ev::Connected { .. }), "{event:?}");
    let stray: Vec<Ev> = events
        .try_iter()
        .filter(|event| event.client_id() == "never-decided")
        .collect();
    assert!(stray.is_empty(), "events for a refused client: {stray:?}");
    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients, vec!["decided-at-once".to_string()]);
}

// ---------------------------------------------------------------------------
// ACL.

/// `secret/#` is for the `admin` user only (subscribe and receive);
/// devices publish under `devices/<client id>/` only; others publish
/// anywhere else.
fn gateway_acl(client: &mqlite::ClientInfo<'_>, access: AclAccess, topic: &str) -> bool {
    let admin = client.username == Some("admin");
    let secret = topic.starts_with("secret");
    match access {
        AclAccess::Subscribe | AclAccess::Receive => admin || !secret,
        AclAccess::Publish => {
            if topic.starts_with("devices/") {
                topic.starts_with(&format!("devices/{}/", client.client_id))
            } else {
                true
            }
        }
    }
}

#[test]
fn acl_hides_secret_topics_from_a_wildcard_subscriber() {
    let broker = start(test_config(), |broker| broker.set_acl_hook(gateway_acl));

    let viewer = mqtt(broker.addr, "viewer", with_credentials("viewer", "pw")).connected();
    viewer.subscribe("#", rumqttc::QoS::AtLeastOnce);
    let admin = mqtt(broker.addr, "admin-1", with_credentials("admin", "pw")).connected();
    admin.subscribe("secret/#", rumqttc::QoS::AtLeastOnce);
    let publisher = mqtt(broker.addr, "publisher", |_| {}).connected();

    publisher
        .client
        .publish("secret/x", rumqttc::QoS::AtLeastOnce, false, "s")
        .unwrap();
    publisher
        .client
        .publish("public/x", rumqttc::QoS::AtLeastOnce, false, "p")
        .unwrap();

    // Deliveries to one client keep their order: had secret/x leaked, it
    // would come first.
    let first = viewer.publication();
    assert_eq!(first.topic, "public/x");
    viewer.assert_no_publication();
    assert_eq!(admin.publication().topic, "secret/x");

    // Retained messages are filtered too.
    publisher
        .client
        .publish("secret/retained", rumqttc::QoS::AtLeastOnce, true, "s")
        .unwrap();
    publisher
        .client
        .publish("public/retained", rumqttc::QoS::AtLeastOnce, true, "p")
        .unwrap();
    publisher.pubacks(4);
    let late = mqtt(broker.addr, "late-viewer", with_credentials("viewer", "pw")).connected();
    late.subscribe("#", rumqttc::QoS::AtLeastOnce);
    publisher
        .client
        .publish("public/sentinel", rumqttc::QoS::AtLeastOnce, false, "end")
        .unwrap();
    let mut topics = Vec::new();
    loop {
        let publish = late.publication();
        if publish.topic == "public/sentinel" {
            break;
        }
        topics.push(publish.topic);
    }
    assert_eq!(topics, vec!["public/retained".to_string()]);
}

#[test]
fn acl_refuses_a_forbidden_subscription_with_suback_failure() {
    let broker = start(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let stats_before = broker.handle.stats(TIMEOUT).unwrap();

    let viewer = mqtt(broker.addr, "sub-viewer", with_credentials("viewer", "pw")).connected();
    viewer
        .client
        .subscribe_many([
            SubscribeFilter::new("secret/#".into(), rumqttc::QoS::AtMostOnce),
            SubscribeFilter::new("public/#".into(), rumqttc::QoS::AtLeastOnce),
        ])
        .unwrap();
    assert_eq!(
        viewer.suback(),
        vec![
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)
        ]
    );

    let admin = mqtt(broker.addr, "sub-admin", with_credentials("admin", "pw")).connected();
    admin
        .client
        .subscribe("secret/#", rumqttc::QoS::AtMostOnce)
        .unwrap();
    assert_eq!(
        admin.suback(),
        vec![SubscribeReasonCode::Success(rumqttc::QoS::AtMostOnce)]
    );

    let stats = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(stats.subscriptions, stats_before.subscriptions + 2);
}

#[test]
fn acl_refused_publish_is_dropped_but_still_acknowledged() {
    let broker = start(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let watcher = mqtt(broker.addr, "watcher", |_| {}).connected();
    watcher.subscribe("devices/#", rumqttc::QoS::AtLeastOnce);
    let before = broker.handle.stats(TIMEOUT).unwrap();

    let device = mqtt(broker.addr, "d1", |_| {}).connected();
    device
        .client
        .publish(
            "devices/d2/telemetry",
            rumqttc::QoS::AtLeastOnce,
            false,
            "spoof",
        )
        .unwrap();
    device
        .client
        .publish(
            "devices/d2/telemetry",
            rumqttc::QoS::ExactlyOnce,
            false,
            "spoof2",
        )
        .unwrap();
    device
        .client
        .publish(
            "devices/d1/telemetry",
            rumqttc::QoS::AtLeastOnce,
            false,
            "mine",
        )
        .unwrap();
    // Both QoS 1 publishes are acknowledged, and the QoS 2 one completes.
    let mut pubacks = 0;
    let mut pubcomps = 0;
    while pubacks < 2 || pubcomps < 1 {
        device.wait_for("PUBACK or PUBCOMP", |packet| match packet {
            rumqttc::Packet::PubAck(_) => {
                pubacks += 1;
                Some(())
            }
            rumqttc::Packet::PubComp(_) => {
                pubcomps += 1;
                Some(())
            }
            _ => None,
        });
    }

    let publish = watcher.publication();
    assert_eq!(publish.topic, "devices/d1/telemetry");
    assert_eq!(text(&publish.payload), "mine");
    watcher.assert_no_publication();

    let after = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(after.messages_dropped, before.messages_dropped + 2);
}

#[test]
fn acl_applies_to_the_will_topic() {
    let broker = start(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let watcher = mqtt(broker.addr, "will-watcher", |_| {}).connected();
    watcher.subscribe("devices/#", rumqttc::QoS::AtLeastOnce);
    let legit = mqtt(broker.addr, "legit", |_| {}).connected();

    // "attacker" may only publish under devices/attacker/, but sets its
    // will on another device's command topic. Refusing it at CONNECT or
    // dropping the will are both fine.
    let attacker = mqtt(broker.addr, "attacker", |options| {
        options.set_last_will(rumqttc::LastWill::new(
            "devices/victim/commands",
            "reboot",
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
    });
    if attacker.connack().is_ok() {
        broker.handle.kick("attacker").unwrap();
        // Wait for the close: the will, if any, was routed before it.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match attacker.events.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("attacker not kicked"),
            }
        }
    }

    legit
        .client
        .publish(
            "devices/legit/x",
            rumqttc::QoS::AtLeastOnce,
            false,
            "sentinel",
        )
        .unwrap();
    let first = watcher.publication();
    assert_eq!(
        (first.topic.as_str(), text(&first.payload).as_str()),
        ("devices/legit/x", "sentinel"),
        "the will bypassed the ACL"
    );
}

// ---------------------------------------------------------------------------
// The message hook.

#[test]
fn message_hook_rewrites_and_drops_messages() {
    let (origins_tx, origins) = mpsc::channel::<(Option<String>, String)>();
    let broker = start(test_config(), |broker| {
        broker.set_message_hook(move |origin, message| {
            let _ = origins_tx.send((
                origin.map(|client| client.client_id.to_string()),
                message.topic().to_string(),
            ));
            let from_client = origin.is_some();
            match message.topic() {
                "in/raw" if from_client => {
                    let upper = message.payload().to_ascii_uppercase();
                    // Topic, payload and retain flag all change.
                    let rewritten = Message::new("out/cooked", &upper, message.qos(), true)
                        .expect("a short topic");
                    MessageDecision::Rewrite(rewritten)
                }
                "bad/rewrite" => MessageDecision::Rewrite(
                    Message::new(
                        "bad/#",
                        b"wildcards are not topic names",
                        message.qos(),
                        false,
                    )
                    .unwrap(),
                ),
                topic if topic.starts_with("drop/") => MessageDecision::Drop,
                _ => MessageDecision::Pass,
            }
        });
    });

    let subscriber = mqtt(broker.addr, "mh-sub", |_| {}).connected();
    subscriber.subscribe("#", rumqttc::QoS::AtLeastOnce);
    let publisher = mqtt(broker.addr, "mh-pub", |_| {}).connected();
    for (topic, payload) in [
        ("drop/me", "gone"),
        ("bad/rewrite", "gone too"),
        ("in/raw", "hello"),
        ("plain/x", "as is"),
    ] {
        publisher
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .unwrap();
    }
    publisher.pubacks(4);

    let first = subscriber.publication();
    assert_eq!(
        (first.topic.as_str(), text(&first.payload).as_str()),
        ("out/cooked", "HELLO")
    );
    let second = subscriber.publication();
    assert_eq!(
        (second.topic.as_str(), text(&second.payload).as_str()),
        ("plain/x", "as is")
    );
    subscriber.assert_no_publication();

    // The host's own publish is seen by the hook with no origin (and this
    // hook only rewrites clients' messages).
    broker
        .handle
        .publish("in/raw", b"from the host", QoS::AtLeastOnce, false)
        .unwrap();
    let host = subscriber.publication();
    assert_eq!(
        (host.topic.as_str(), text(&host.payload).as_str()),
        ("in/raw", "from the host")
    );

    // The rewrite made the message retained.
    let late = mqtt(broker.addr, "mh-late", |_| {}).connected();
    late.subscribe("out/#", rumqttc::QoS::AtLeastOnce);
    let retained = late.publication();
    assert_eq!(retained.topic, "out/cooked");
    assert!(retained.retain);
    assert_eq!(text(&retained.payload), "HELLO");

    let seen: Vec<_> = origins.try_iter().collect();
    let expected =
        |origin: Option<&str>, topic: &str| (origin.map(str::to_string), topic.to_string());
    assert_eq!(
        seen,
        vec![
            expected(Some("mh-pub"), "drop/me"),
            expected(Some("mh-pub"), "bad/rewrite"),
            expected(Some("mh-pub"), "in/raw"),
            expected(Some("mh-pub"), "plain/x"),
            expected(None, "in/raw"),
        ]
    );
    let stats = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(stats.messages_dropped, 2);
}

// ---------------------------------------------------------------------------
// The event hook.

#[test]
fn event_hook_sees_connect_subscribe_unsubscribe_and_disconnect() {
    let mut events = None;
    let broker = start(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    let client = mqtt(broker.addr, "ev-1", with_credentials("eve", "pw")).connected();
    client.subscribe("a/+", rumqttc::QoS::AtLeastOnce);
    client.client.unsubscribe("a/+").unwrap();
    client.wait_for("UNSUBACK", |packet| {
        matches!(packet, rumqttc::Packet::UnsubAck(_)).then_some(())
    });
    // Unsubscribing from a filter it does not hold reports nothing.
    client.client.unsubscribe("never/subscribed").unwrap();
    client.wait_for("UNSUBACK", |packet| {
        matches!(packet, rumqttc::Packet::UnsubAck(_)).then_some(())
    });
    client.client.disconnect().unwrap();

    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Connected {
            client_id: "ev-1".into(),
            username: Some("eve".into()),
            clean_session: true,
            session_present: false,
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Subscribed {
            client_id: "ev-1".into(),
            filter: "a/+".into(),
            qos: QoS::AtLeastOnce,
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Unsubscribed {
            client_id: "ev-1".into(),
            filter: "a/+".into(),
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        disconnected("ev-1", CloseReason::Disconnect)
    );
}

#[test]
fn event_hook_reports_network_takeover_kick_protocol_error_and_shutdown() {
    let mut events = None;
    let broker = start(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    // The socket just goes away.
    let gone = Raw::connect(broker.addr, "r-network", 0);
    assert!(matches!(
        next_event_of(&events, "r-network"),
        Ev::Connected { .. }
    ));
    drop(gone);
    assert_eq!(
        next_event_of(&events, "r-network"),
        disconnected("r-network", CloseReason::Network)
    );

    // A second connection with the same client id takes over.
    let mut first = Raw::connect(broker.addr, "r-takeover", 0);
    assert!(matches!(
        next_event_of(&events, "r-takeover"),
        Ev::Connected { .. }
    ));
    let _second = Raw::connect(broker.addr, "r-takeover", 0);
    assert_eq!(
        next_event_of(&events, "r-takeover"),
        disconnected("r-takeover", CloseReason::Takeover)
    );
    assert!(matches!(
        next_event_of(&events, "r-takeover"),
        Ev::Connected { .. }
    ));
    first.until_closed();

    // The host kicks a client.
    let mut kicked = Raw::connect(broker.addr, "r-kicked", 0);
    assert!(matches!(
        next_event_of(&events, "r-kicked"),
        Ev::Connected { .. }
    ));
    broker.handle.kick("r-kicked").unwrap();
    assert_eq!(
        next_event_of(&events, "r-kicked"),
        disconnected("r-kicked", CloseReason::Kicked)
    );
    kicked.until_closed();

    // A second CONNECT breaks the protocol.
    let mut rude = Raw::connect(broker.addr, "r-protocol", 0);
    assert!(matches!(
        next_event_of(&events, "r-protocol"),
        Ev::Connected { .. }
    ));
    rude.write(&Raw::connect_packet("r-protocol", 0, None));
    assert_eq!(
        next_event_of(&events, "r-protocol"),
        disconnected("r-protocol", CloseReason::ProtocolError)
    );
    rude.until_closed();

    // A clean DISCONNECT.
    let mut polite = Raw::connect(broker.addr, "r-polite", 0);
    assert!(matches!(
        next_event_of(&events, "r-polite"),
        Ev::Connected { .. }
    ));
    polite.send(&Packet::Disconnect);
    assert_eq!(
        next_event_of(&events, "r-polite"),
        disconnected("r-polite", CloseReason::Disconnect)
    );

    // Stopping the broker ends whoever is left.
    broker.handle.stop();
    assert_eq!(
        next_event_of(&events, "r-takeover"),
        disconnected("r-takeover", CloseReason::Shutdown)
    );
}

#[test]
fn event_hook_reports_keepalive_timeout_of_a_silent_client() {
    let mut events = None;
    let broker = start(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    // Keepalive 1 s, then silence: closed after 1.5 s.
    let mut silent = Raw::connect(broker.addr, "r-silent", 1);
    assert!(matches!(
        next_event_of(&events, "r-silent"),
        Ev::Connected { .. }
    ));
    assert_eq!(
        next_event_of(&events, "r-silent"),
        disconnected("r-silent", CloseReason::KeepaliveTimeout)
    );
    silent.until_closed();
}

// ---------------------------------------------------------------------------
// Panicking hooks.

#[test]
fn panicking_hooks_refuse_or_drop_and_the_broker_keeps_serving() {
    let broker = start(test_config(), |broker| {
        broker.set_auth_hook(|info| {
            if info.username == Some("boom") {
                panic!("auth hook panics on purpose");
            }
            AuthDecision::Accept
        });
        broker.set_acl_hook(|_, access, topic| {
            if access == AclAccess::Publish && topic == "acl/boom" {
                panic!("ACL hook panics on purpose");
            }
            true
        });
        broker.set_message_hook(|_, message| {
            if message.topic() == "message/boom" {
                panic!("message hook panics on purpose");
            }
            MessageDecision::Pass
        });
        broker.set_event_hook(|event| {
            if let Event::Connected { client, .. } = event {
                if client.client_id == "event-boom" {
                    panic!("event hook panics on purpose");
                }
            }
        });
    });

    let boom = mqtt(broker.addr, "auth-boom", with_credentials("boom", "pw"));
    assert_eq!(boom.refusal(), ConnectReturnCode::NotAuthorized);

    // The next client is served; a panicking event hook changes nothing.
    let client = mqtt(broker.addr, "event-boom", with_credentials("fine", "pw")).connected();
    client.subscribe("#", rumqttc::QoS::AtLeastOnce);
    for topic in ["acl/boom", "message/boom", "ok/after"] {
        client
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, "x")
            .unwrap();
    }
    let publish = client.publication();
    assert_eq!(publish.topic, "ok/after");
    client.assert_no_publication();

    let other = mqtt(broker.addr, "after-panics", |_| {}).connected();
    other.subscribe("ok/#", rumqttc::QoS::AtMostOnce);
    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients.len(), 2, "{clients:?}");
}

// ---------------------------------------------------------------------------
// Hooks using the handle.

#[test]
fn hooks_publish_through_the_handle_without_deadlock() {
    let mut receiver = None;
    let broker = start(test_config(), |broker| {
        let handle = broker.handle();
        receiver = Some(
            handle
                .subscribe_channel("audit/#", QoS::AtLeastOnce, 16)
                .unwrap(),
        );
        let auth_handle = handle.clone();
        broker.set_auth_hook(move |info| {
            auth_handle
                .publish(
                    "audit/login",
                    info.client_id.as_bytes(),
                    QoS::AtLeastOnce,
                    false,
                )
                .expect("publish from the auth hook");
            AuthDecision::Accept
        });
        let event_handle = handle.clone();
        broker.set_event_hook(move |event| {
            if let Event::Connected { client, .. } = event {
                event_handle
                    .publish(
                        "audit/connected",
                        client.client_id.as_bytes(),
                        QoS::AtLeastOnce,
                        false,
                    )
                    .expect("publish from the event hook");
            }
        });
        broker.set_message_hook(move |origin, message| {
            // Only clients' requests: the reply itself comes back through
            // this hook (with no origin).
            if origin.is_some() && message.topic() == "req/ping" {
                handle
                    .publish("resp/pong", message.payload(), QoS::AtLeastOnce, false)
                    .expect("publish from the message hook");
            }
            MessageDecision::Pass
        });
    });
    let audit = receiver.unwrap();

    let client = mqtt(broker.addr, "hp-1", |_| {}).connected();
    client.subscribe("resp/#", rumqttc::QoS::AtLeastOnce);
    client
        .client
        .publish("req/ping", rumqttc::QoS::AtLeastOnce, false, "42")
        .unwrap();
    let reply = client.publication();
    assert_eq!(
        (reply.topic.as_str(), text(&reply.payload).as_str()),
        ("resp/pong", "42")
    );

    let mut audited = Vec::new();
    for _ in 0..2 {
        let message = audit.recv_timeout(TIMEOUT).expect("an audit message");
        audited.push((message.topic().to_string(), text(message.payload())));
    }
    assert_eq!(
        audited,
        vec![
            ("audit/login".to_string(), "hp-1".to_string()),
            ("audit/connected".to_string(), "hp-1".to_string()),
        ]
    );
}
