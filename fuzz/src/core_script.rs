//! The `core` fuzz target: the fuzz input is a script run against the
//! sans-IO core by a few simulated clients and a fake clock, with a model of
//! what the core must do checked after every step.
//!
//! This file depends only on `mqlite` and `std`, so the regression tests
//! (`tests/fuzz_regressions.rs`) include it with `#[path]` and replay
//! scripts on stable Rust, without libFuzzer.
//!
//! # The script
//!
//! The first byte picks the configuration (persistence, session expiry,
//! `$SYS`, connection limit, pending-output limit, empty client ids). Then
//! each step reads an action byte and its operands: accept a connection
//! (at most 4 at once), feed a client bytes (raw input bytes, or packets
//! built from input fields with `codec::encode` — whole, split in two
//! reads, or several in one read), acknowledge what the broker sent,
//! advance the clock (by some milliseconds, seconds, or exactly to the next
//! deadline) and run the timers, write output as a reactor would
//! (`take_dirty`, `output`, `consume_output`, whole or in part), close a
//! socket or kick a client, release closed connections (`take_closing`,
//! `release`), publish from the host, take store operations or enable
//! persistence late, shut down. Missing bytes read as zero.
//!
//! # What is checked after every step
//!
//! A model of each client follows the bytes it sent (decoded with the same
//! codec, as the core does) and the bytes the broker wrote to it:
//!
//! - whether each connection is open is predicted exactly (CONNECT refusals,
//!   protocol errors, DISCONNECT, takeover, kick, socket close, connect
//!   timeout and keepalive expiry — and nothing else — close it) and must
//!   equal `is_open`; `take_closing` lists each closed connection once;
//! - the broker's output is a sequence of whole, well-formed server
//!   packets: CONNACK first (with the predicted code, never "session
//!   present" for a clean session), then every answer the client is owed,
//!   in order (PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK with the predicted
//!   codes, UNSUBACK, PINGRESP), and PUBLISHes whose topic matches a filter
//!   that client subscribed to, at no more than the granted QoS;
//! - outbound QoS 1/2 packet ids: never reused while in flight, never more
//!   than `max_inflight` in flight;
//! - a connection's pending output grows only below `max_pending_output`
//!   (by at most one message) except through its own reads, and never
//!   after it was closed; every connection with pending output is in a
//!   dirty list (no lost wake-up);
//! - after `handle_timeout(now)`, `next_deadline()` is after `now`;
//! - `stats()`: connections, connections_total, connections_refused,
//!   clients_connected agree with the model, `connected_clients()` lists
//!   exactly the connected clients;
//! - with persistence on from the start, the store operations applied to a
//!   model store are consistent (no message added to a missing session,
//!   sent before it was added, acknowledged twice...), a session's stored
//!   queue stays within `max_queued_messages` and its stored in-flight
//!   messages equal what the client has in flight.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mqlite::codec::{
    self, ConnAck, Connect, ConnectReturnCode, DecodeError, Packet, Protocol, Publish, QoS, SubAck,
    SubAckCode, Subscribe, Unsubscribe, Will,
};
use mqlite::core::{ConnId, Core, Message, QueuePageRequest};
use mqlite::store::{StoreOp, StoredMessage, StoredState};
use mqlite::topic::{is_valid_topic_filter, is_valid_topic_name, matches};
use mqlite::{CloseReason, Config};

/// Small limits, so the limit paths are reached with small inputs.
pub const MAX_PACKET_SIZE: usize = 4096;
/// Outbound in-flight window.
pub const MAX_INFLIGHT: u16 = 4;
/// Queued messages per session.
pub const MAX_QUEUED_MESSAGES: usize = 16;
const MAX_QUEUED_BYTES: usize = 16 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CLIENTS: usize = 4;
const MAX_STEPS: usize = 400;
/// Largest PUBLISH the broker can write: a message from a packet of at most
/// `MAX_PACKET_SIZE` bytes, plus a packet id.
const MAX_PUBLISH: usize = MAX_PACKET_SIZE + 16;

const TOPICS: [&str; 14] = [
    "a", "a/b", "a/b/c", "b", "a/b", "c/d", "$SYS/x", "/a", "a/", "x", "", "#", "a/+", "+/b",
];
const FILTERS: [&str; 15] = [
    "#", "a/#", "a/+", "+/b", "a", "a/b", "$SYS/#", "+", "+/+", "/#", "b", "", "a/#/b", "a+", "c/d",
];
const CLIENT_IDS: [&str; 6] = ["c1", "c2", "c3", "c1", "", "mqlite-1"];

/// Runs one script. Panics when the core panics or a check fails.
pub fn run(data: &[u8]) {
    let mut script = Script::new(data);
    script.run();
}

/// Runs one script printing each step, what each client was fed and what
/// the broker wrote, to stderr (to read a failing input).
pub fn run_traced(data: &[u8]) {
    let mut script = Script::new(data);
    script.trace = true;
    eprintln!("config: {:?}", script.config);
    script.run();
}

/// Reads operands from the fuzz input; yields zeros once it is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn qos(&mut self) -> QoS {
        QoS::from_u8(self.byte() % 3).expect("0..=2")
    }

    /// Up to `limit` bytes of input, the length read first.
    fn bytes(&mut self, limit: usize) -> &'a [u8] {
        let n = usize::from(self.byte()).min(limit).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken
    }

    /// A string: usually from `words`, sometimes raw input bytes (their
    /// UTF-8 prefix, NUL included).
    fn word(&mut self, words: &[&str]) -> String {
        let b = self.byte();
        if b < 240 {
            words[usize::from(b) % words.len()].to_string()
        } else {
            let bytes = self.bytes(24);
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(e) => String::from_utf8_lossy(&bytes[..e.valid_up_to()]).into_owned(),
            }
        }
    }

    /// A payload: empty, a few bytes, up to 2 KiB, or near the maximum
    /// packet size (filled, so large payloads cost little input).
    fn payload(&mut self) -> Vec<u8> {
        let b = self.byte();
        let fill = self.byte();
        let len = match b % 4 {
            0 => 0,
            1 => usize::from(b / 4) % 16,
            2 => usize::from(b) * 8,
            _ => MAX_PACKET_SIZE - 64 - usize::from(b % 64),
        };
        vec![fill; len]
    }

    /// A packet id: mostly small, so that acknowledgements meet in-flight
    /// messages; sometimes any (0 included).
    fn packet_id(&mut self) -> u16 {
        let b = self.byte();
        if b < 224 {
            u16::from(b % 8) + 1
        } else {
            self.u16()
        }
    }
}

/// Where an outbound QoS 1/2 message is, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// PUBLISH received, awaiting our PUBACK (QoS 1) or PUBREC (QoS 2).
    Ack(QoS),
    /// PUBREL received (QoS 2), awaiting our PUBCOMP.
    Comp,
}

/// An answer the broker owes a client, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owed {
    ConnAck(ConnectReturnCode),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    SubAck(u16, Vec<SubAckCode>),
    UnsubAck(u16),
    PingResp,
}

/// The model's state of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitingConnect,
    Connected,
    Closed,
}

/// One simulated client: the model of its connection.
struct Client {
    id: ConnId,
    accepted_at: Instant,
    phase: Phase,
    /// Client-to-broker bytes not yet forming a whole packet.
    input: Vec<u8>,
    /// From the accepted CONNECT.
    client_id: Option<String>,
    clean: bool,
    protocol: Protocol,
    keep_alive: u16,
    /// When the core last handled a packet from this client.
    last_packet_at: Instant,
    /// Broker-to-client stream: bytes reported written, bytes parsed, and
    /// the unparsed tail.
    consumed: usize,
    seen: usize,
    out_tail: Vec<u8>,
    connack: Option<ConnectReturnCode>,
    owed: VecDeque<Owed>,
    /// Outbound QoS 1/2 messages in flight, by packet id.
    inflight: BTreeMap<u16, Stage>,
    /// False once the in-flight model may be off (an acknowledgement read
    /// together with other packets: the model cannot order them against the
    /// broker's writes).
    inflight_known: bool,
    /// Right after CONNACK 0: resent messages (DUP PUBLISH, PUBREL) may
    /// follow.
    in_resend: bool,
    /// This step's read held CONNECT then PUBREC: a PUBREL right after
    /// CONNACK may be a resend or the answer, so PUBRELs are matched
    /// loosely.
    pubrel_ambiguous: bool,
    /// Filters granted to this connection (clients with an empty client id);
    /// others use `Script::history`.
    own_history: Vec<(String, QoS)>,
    /// Whether `take_closing` listed it.
    closing_listed: bool,
    /// Whether the driver knows it has output to write: it was listed by
    /// `take_dirty` and its output was not emptied since.
    write_pending: bool,
    /// Bookkeeping for the step being run.
    fed: bool,
    pending_before: usize,
    open_before: bool,
}

impl Client {
    fn open(&self) -> bool {
        self.phase != Phase::Closed
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.input.clear();
    }
}

/// A model of the store, built from the core's store operations.
#[derive(Default)]
struct ModelStore {
    sessions: HashMap<String, ModelSession>,
    bodies: HashMap<u64, Message>,
    retained: HashSet<String>,
}

#[derive(Default)]
struct ModelSession {
    /// seq -> (qos, packet id once sent, released)
    messages: BTreeMap<u64, (QoS, Option<u16>, bool)>,
    /// seq -> (body id, retain), to read queued messages back.
    refs: BTreeMap<u64, (u64, bool)>,
    inbound_qos2: HashSet<u16>,
    subscriptions: HashMap<String, QoS>,
}

impl ModelStore {
    fn session(&mut self, client_id: &str, op: &StoreOp) -> &mut ModelSession {
        self.sessions
            .get_mut(client_id)
            .unwrap_or_else(|| panic!("{op:?} for a session not in the store"))
    }

    fn apply(&mut self, op: &StoreOp) {
        match op {
            StoreOp::SessionCreate { client_id } => {
                self.sessions
                    .insert(client_id.clone(), ModelSession::default());
            }
            StoreOp::SessionDelete { client_id } => {
                assert!(
                    self.sessions.remove(client_id).is_some(),
                    "{op:?}: no such session"
                );
            }
            StoreOp::Subscribe {
                client_id,
                filter,
                qos,
            } => {
                assert!(is_valid_topic_filter(filter), "{op:?}: invalid filter");
                self.session(client_id, op)
                    .subscriptions
                    .insert(filter.clone(), *qos);
            }
            StoreOp::Unsubscribe { client_id, filter } => {
                let removed = self
                    .session(client_id, op)
                    .subscriptions
                    .remove(filter)
                    .is_some();
                assert!(removed, "{op:?}: not subscribed");
            }
            StoreOp::MessageStore { id, message } => {
                assert!(
                    self.bodies.insert(*id, message.clone()).is_none(),
                    "{op:?}: id used twice"
                );
            }
            StoreOp::SessionMessageAdd {
                client_id,
                seq,
                message_id,
                qos,
                retain,
            } => {
                assert!(self.bodies.contains_key(message_id), "{op:?}: no such body");
                assert_ne!(*qos, QoS::AtMostOnce, "{op:?}: QoS 0 stored");
                let session = self.session(client_id, op);
                let last = session.messages.keys().next_back().copied().unwrap_or(0);
                assert!(*seq > last, "{op:?}: seq not after {last}");
                session.messages.insert(*seq, (*qos, None, false));
                session.refs.insert(*seq, (*message_id, *retain));
            }
            StoreOp::SessionMessageSent {
                client_id,
                seq,
                packet_id,
            } => {
                let session = self.session(client_id, op);
                assert!(
                    !session
                        .messages
                        .values()
                        .any(|(_, id, _)| *id == Some(*packet_id)),
                    "{op:?}: packet id already in flight"
                );
                let entry = session
                    .messages
                    .get_mut(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                assert_eq!(entry.1, None, "{op:?}: sent twice");
                entry.1 = Some(*packet_id);
            }
            StoreOp::SessionMessageReleased { client_id, seq } => {
                let entry = self
                    .session(client_id, op)
                    .messages
                    .get_mut(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                assert_eq!(entry.0, QoS::ExactlyOnce, "{op:?}: not QoS 2");
                assert!(entry.1.is_some() && !entry.2, "{op:?}: not awaiting PUBREC");
                entry.2 = true;
            }
            StoreOp::SessionMessageDelete { client_id, seq } => {
                let session = self.session(client_id, op);
                session.refs.remove(seq);
                let entry = session
                    .messages
                    .remove(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                match entry {
                    (QoS::AtLeastOnce, Some(_), false) | (QoS::ExactlyOnce, Some(_), true) => {}
                    other => panic!("{op:?}: acknowledged in state {other:?}"),
                }
            }
            StoreOp::InboundQos2Add {
                client_id,
                packet_id,
            } => {
                assert!(
                    self.session(client_id, op).inbound_qos2.insert(*packet_id),
                    "{op:?}: already awaiting PUBREL"
                );
            }
            StoreOp::InboundQos2Remove {
                client_id,
                packet_id,
            } => {
                assert!(
                    self.session(client_id, op).inbound_qos2.remove(packet_id),
                    "{op:?}: not awaiting PUBREL"
                );
            }
            StoreOp::RetainSet { message } => {
                assert!(
                    !message.topic().starts_with("$SYS/") && !message.payload().is_empty(),
                    "{op:?}"
                );
                self.retained.insert(message.topic().to_string());
            }
            StoreOp::RetainDelete { topic } => {
                assert!(self.retained.remove(topic), "{op:?}: not retained");
            }
        }
    }
}

impl ModelStore {
    /// What `SessionStore::load_queued` gives: the unsent messages after
    /// `after_seq`, within the page's limits.
    fn load_queued(&self, request: &QueuePageRequest) -> Vec<StoredMessage> {
        let Some(session) = self.sessions.get(&request.client_id) else {
            return Vec::new();
        };
        let from = request.after_seq.map_or(0, |seq| seq.saturating_add(1));
        let mut page = Vec::new();
        let mut bytes = 0;
        for (&seq, &(qos, sent, _)) in session.messages.range(from..) {
            if page.len() >= request.max_messages || bytes >= request.max_bytes {
                break;
            }
            if sent.is_some() {
                continue;
            }
            let (id, retain) = session.refs[&seq];
            let message = self.bodies[&id].with_flags(qos, retain);
            bytes += message.size();
            page.push(StoredMessage {
                seq,
                message_id: id,
                message,
                state: StoredState::Queued,
            });
        }
        page
    }
}

struct Script<'a> {
    input: Input<'a>,
    core: Core,
    config: Config,
    now: Instant,
    clients: Vec<Client>,
    /// Filters granted per client id, ever (a union: queued messages of a
    /// dropped subscription may still arrive).
    history: HashMap<String, Vec<(String, QoS)>>,
    accepted: u64,
    refused: u64,
    next_port: u16,
    /// Persistence on from the start: the store model is checked.
    store: Option<ModelStore>,
    persistent: bool,
    /// The step ran `handle_timeout(self.now)`.
    timed_out: bool,
    scratch: Vec<ConnId>,
    ops: Vec<StoreOp>,
    trace: bool,
}

impl<'a> Script<'a> {
    fn new(data: &'a [u8]) -> Script<'a> {
        let mut input = Input { data };
        let c = input.byte();
        let config = Config {
            max_connections: [4, 4, 2, 1][usize::from(c >> 5 & 3)],
            max_packet_size: MAX_PACKET_SIZE,
            max_inflight: MAX_INFLIGHT,
            max_queued_messages: MAX_QUEUED_MESSAGES,
            max_queued_bytes: MAX_QUEUED_BYTES,
            max_pending_output: if c & 0x80 == 0 { 1024 } else { 8192 },
            connect_timeout: CONNECT_TIMEOUT,
            session_expiry: [
                None,
                Some(Duration::ZERO),
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(30)),
            ][usize::from(c >> 2 & 3)],
            allow_zero_length_client_id: c & 2 == 0,
            sys_interval: if c & 0x10 == 0 {
                None
            } else {
                Some(Duration::from_secs(10))
            },
            ..Config::default()
        };
        let now = Instant::now();
        let mut core = Core::new(config.clone(), now);
        let persistent = c & 1 == 1;
        if persistent {
            core.enable_persistence();
        }
        Script {
            input,
            core,
            config,
            now,
            clients: Vec::new(),
            history: HashMap::new(),
            accepted: 0,
            refused: 0,
            next_port: 1,
            store: persistent.then(ModelStore::default),
            persistent,
            timed_out: false,
            scratch: Vec::new(),
            ops: Vec::new(),
            trace: false,
        }
    }

    fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            if self.input.is_empty() {
                break;
            }
            self.step();
        }
        // The end of a run: everything closes and is released.
        self.begin_step();
        self.core.shutdown(self.now);
        for client in &mut self.clients {
            client.close();
        }
        self.end_step();
        self.release_closing(true);
        assert_eq!(self.core.stats().connections, 0);
    }

    /// Picks a client (index), if any.
    fn pick(&mut self) -> Option<usize> {
        let b = self.input.byte();
        if self.clients.is_empty() {
            None
        } else {
            Some(usize::from(b) % self.clients.len())
        }
    }

    fn step(&mut self) {
        self.begin_step();
        let action = self.input.byte();
        if self.trace {
            eprintln!(
                "step {:?}: action {} (clients {:?})",
                self.now,
                action % 16,
                self.clients
                    .iter()
                    .map(|c| (c.id.0, c.phase, c.client_id.as_deref()))
                    .collect::<Vec<_>>()
            );
        }
        match action % 16 {
            0 => self.accept(),
            1..=3 => {
                if let Some(i) = self.pick() {
                    let bytes = self.packet(i);
                    let split = self.input.byte();
                    if split & 3 == 0 && bytes.len() > 1 {
                        let at = 1 + usize::from(split) % (bytes.len() - 1);
                        self.feed(i, &bytes[..at]);
                        self.end_step();
                        self.begin_step();
                        self.feed(i, &bytes[at..]);
                    } else {
                        self.feed(i, &bytes);
                    }
                }
            }
            4 => {
                if let Some(i) = self.pick() {
                    let bytes = self.input.bytes(255).to_vec();
                    self.feed(i, &bytes);
                }
            }
            5 => {
                if let Some(i) = self.pick() {
                    let n = 2 + self.input.byte() % 3;
                    let mut bytes = Vec::new();
                    for _ in 0..n {
                        bytes.extend(self.packet(i));
                    }
                    self.feed(i, &bytes);
                }
            }
            6 | 7 => self.advance_clock(action % 16 == 6),
            8 => self.reactor_pass(),
            9 => {
                if let Some(i) = self.pick() {
                    let amount = self.input.u16();
                    self.consume(i, usize::from(amount));
                }
            }
            10 => self.close_something(),
            11 => self.release_closing(false),
            12 => self.host_publish(),
            13 => {
                if !self.persistent {
                    // Late persistence: the store model is not checked then.
                    self.core.enable_persistence();
                    self.persistent = true;
                }
                self.core.take_store_ops(&mut self.ops);
                if let Some(store) = &mut self.store {
                    for op in &self.ops {
                        store.apply(op);
                    }
                }
            }
            14 => self.misc(),
            _ => {
                if let Some(i) = self.pick() {
                    self.smart_ack(i);
                }
            }
        }
        self.end_step();
    }

    fn accept(&mut self) {
        if self.clients.len() >= MAX_CLIENTS {
            return;
        }
        let port = self.next_port;
        self.next_port = self.next_port.wrapping_add(1);
        let peer = SocketAddr::from(([127, 0, 0, 1], port));
        let room = self.clients.len() < self.config.max_connections;
        match self.core.accept(self.now, peer) {
            Some(id) => {
                assert!(room, "accepted beyond max_connections");
                assert!(
                    self.clients.iter().all(|c| c.id != id),
                    "{id:?} given to two connections"
                );
                assert!(self.core.output(id).is_empty(), "new connection has output");
                self.accepted += 1;
                self.clients.push(Client {
                    id,
                    accepted_at: self.now,
                    phase: Phase::AwaitingConnect,
                    input: Vec::new(),
                    client_id: None,
                    clean: true,
                    protocol: Protocol::V311,
                    keep_alive: 0,
                    last_packet_at: self.now,
                    consumed: 0,
                    seen: 0,
                    out_tail: Vec::new(),
                    connack: None,
                    owed: VecDeque::new(),
                    inflight: BTreeMap::new(),
                    inflight_known: true,
                    in_resend: false,
                    pubrel_ambiguous: false,
                    own_history: Vec::new(),
                    closing_listed: false,
                    write_pending: false,
                    fed: false,
                    pending_before: 0,
                    open_before: true,
                });
            }
            None => {
                assert!(!room, "refused below max_connections");
                self.refused += 1;
            }
        }
    }

    /// A packet for client `i`, built from input fields and encoded.
    fn packet(&mut self, i: usize) -> Vec<u8> {
        let kind = self.input.byte() % 12;
        let mut out = Vec::new();
        let ok = match kind {
            0 => {
                let protocol = if self.input.byte() < 224 {
                    Protocol::V311
                } else {
                    Protocol::V31
                };
                let flags = self.input.byte();
                let keep_alive = match self.input.byte() % 4 {
                    0 => 0,
                    1 => 1,
                    2 => 10,
                    _ => self.input.u16(),
                };
                let client_id = self.input.word(&CLIENT_IDS);
                let will_topic = self.input.word(&TOPICS);
                let will_payload = self.input.payload();
                let will_qos = self.input.qos();
                let will = (flags & 2 != 0).then(|| Will {
                    topic: &will_topic,
                    payload: &will_payload,
                    qos: will_qos,
                    retain: flags & 4 != 0,
                });
                codec::encode(
                    &Packet::Connect(Connect {
                        protocol,
                        clean_session: flags & 1 == 0,
                        keep_alive,
                        client_id: &client_id,
                        will,
                        username: (flags & 8 != 0).then_some("user"),
                        password: (flags & 24 == 24).then_some(b"pw".as_slice()),
                    }),
                    &mut out,
                )
            }
            1 | 2 => {
                let qos = self.input.qos();
                let flags = self.input.byte();
                let topic = self.input.word(&TOPICS);
                let payload = self.input.payload();
                let packet_id = (qos != QoS::AtMostOnce).then(|| self.input.packet_id());
                codec::encode(
                    &Packet::Publish(Publish {
                        dup: qos != QoS::AtMostOnce && flags & 1 != 0,
                        qos,
                        retain: flags & 2 != 0,
                        topic: &topic,
                        packet_id,
                        payload: &payload,
                    }),
                    &mut out,
                )
            }
            3..=6 => {
                let id = self.smart_id(i);
                let packet = match kind {
                    3 => Packet::PubAck(id),
                    4 => Packet::PubRec(id),
                    5 => Packet::PubRel(id),
                    _ => Packet::PubComp(id),
                };
                codec::encode(&packet, &mut out)
            }
            7 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 3;
                let filters: Vec<(String, QoS)> = (0..n)
                    .map(|_| (self.input.word(&FILTERS), self.input.qos()))
                    .collect();
                codec::encode(
                    &Packet::Subscribe(Subscribe {
                        packet_id,
                        filters: filters.iter().map(|(f, q)| (f.as_str(), *q)).collect(),
                    }),
                    &mut out,
                )
            }
            8 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 2;
                let filters: Vec<String> = (0..n).map(|_| self.input.word(&FILTERS)).collect();
                codec::encode(
                    &Packet::Unsubscribe(Unsubscribe {
                        packet_id,
                        filters: filters.iter().map(String::as_str).collect(),
                    }),
                    &mut out,
                )
            }
            9 => codec::encode(&Packet::PingReq, &mut out),
            10 => codec::encode(&Packet::Disconnect, &mut out),
            _ => {
                // What a client may not send.
                let packet = match self.input.byte() % 4 {
                    0 => Packet::ConnAck(ConnAck {
                        session_present: false,
                        code: ConnectReturnCode::Accepted,
                    }),
                    1 => Packet::SubAck(SubAck {
                        packet_id: 1,
                        codes: vec![SubAckCode::Failure],
                    }),
                    2 => Packet::UnsubAck(1),
                    _ => Packet::PingResp,
                };
                codec::encode(&packet, &mut out)
            }
        };
        ok.expect("the script builds only encodable packets");
        out
    }

    /// A packet id to acknowledge: usually one the client has in flight.
    fn smart_id(&mut self, i: usize) -> u16 {
        let b = self.input.byte();
        let inflight = &self.clients[i].inflight;
        if b < 192 && !inflight.is_empty() {
            *inflight
                .keys()
                .nth(usize::from(b) % inflight.len())
                .expect("in range")
        } else {
            u16::from(b % 8) + 1
        }
    }

    /// Acknowledges a message client `i` has in flight, as a client does.
    fn smart_ack(&mut self, i: usize) {
        let b = self.input.byte();
        let client = &self.clients[i];
        let Some((&id, &stage)) = client
            .inflight
            .iter()
            .nth(usize::from(b) % client.inflight.len().max(1))
        else {
            return;
        };
        let packet = match stage {
            Stage::Ack(QoS::ExactlyOnce) => Packet::PubRec(id),
            Stage::Ack(_) => Packet::PubAck(id),
            Stage::Comp => Packet::PubComp(id),
        };
        let mut bytes = Vec::new();
        codec::encode(&packet, &mut bytes).expect("encodable");
        self.feed(i, &bytes);
    }

    /// Feeds bytes to client `i`'s connection and runs the model over them.
    fn feed(&mut self, i: usize, bytes: &[u8]) {
        let now = self.now;
        let id = self.clients[i].id;
        self.clients[i].fed = true;
        if self.trace {
            match codec::decode(bytes, usize::MAX) {
                Ok(Some((packet, used))) if used == bytes.len() => {
                    eprintln!("  -> {id:?}: {packet:?}")
                }
                _ => eprintln!(
                    "  -> {id:?}: {} bytes {:02x?}",
                    bytes.len(),
                    &bytes[..bytes.len().min(40)]
                ),
            }
        }
        self.core.handle_read(now, id, bytes);
        let client = &mut self.clients[i];
        if !client.open() {
            return; // The core ignores input of a closing connection.
        }
        client.input.extend_from_slice(bytes);
        let mut input = std::mem::take(&mut client.input);
        let mut pos = 0;
        let mut handled = 0;
        let mut acks = false;
        let mut connect = false;
        while self.clients[i].open() {
            match codec::decode(&input[pos..], MAX_PACKET_SIZE) {
                Ok(None) => break,
                Err(error) => {
                    let client = &mut self.clients[i];
                    if client.phase == Phase::AwaitingConnect
                        && matches!(error, DecodeError::UnsupportedProtocolLevel(_))
                    {
                        client.owed.push_back(Owed::ConnAck(
                            ConnectReturnCode::UnacceptableProtocolVersion,
                        ));
                    }
                    client.close();
                }
                Ok(Some((packet, used))) => {
                    pos += used;
                    handled += 1;
                    acks |= matches!(
                        packet,
                        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_)
                    );
                    if connect && matches!(packet, Packet::PubRec(_)) {
                        self.clients[i].pubrel_ambiguous = true;
                    }
                    connect |= matches!(packet, Packet::Connect(_));
                    self.clients[i].last_packet_at = now;
                    self.model_packet(i, packet);
                }
            }
        }
        let client = &mut self.clients[i];
        if client.open() {
            input.drain(..pos);
            client.input = input;
        }
        if handled > 1 && acks {
            client.inflight_known = false;
        }
    }

    /// What the core must do with one packet from client `i`.
    fn model_packet(&mut self, i: usize, packet: Packet<'_>) {
        let client = &mut self.clients[i];
        match client.phase {
            Phase::Closed => unreachable!("packet handled after close"),
            Phase::AwaitingConnect => {
                let Packet::Connect(connect) = packet else {
                    client.close();
                    return;
                };
                client.protocol = connect.protocol;
                if connect.client_id.is_empty()
                    && !(connect.clean_session
                        && connect.protocol == Protocol::V311
                        && self.config.allow_zero_length_client_id)
                {
                    client
                        .owed
                        .push_back(Owed::ConnAck(ConnectReturnCode::IdentifierRejected));
                    client.close();
                    return;
                }
                if let Some(will) = &connect.will {
                    if !is_valid_topic_name(will.topic) {
                        client.close();
                        return;
                    }
                }
                client.phase = Phase::Connected;
                client.clean = connect.clean_session;
                client.keep_alive = connect.keep_alive;
                client
                    .owed
                    .push_back(Owed::ConnAck(ConnectReturnCode::Accepted));
                let client_id = connect.client_id.to_string();
                if !client_id.is_empty() {
                    // Takeover: the other connection of this client id ends.
                    for (j, other) in self.clients.iter_mut().enumerate() {
                        if j != i
                            && other.phase == Phase::Connected
                            && other.client_id.as_deref() == Some(client_id.as_str())
                        {
                            other.close();
                        }
                    }
                    self.clients[i].client_id = Some(client_id);
                }
                // An empty client id gets a generated one, learnt from
                // `connected_clients` at the end of the step.
            }
            Phase::Connected => match packet {
                Packet::Publish(publish) => {
                    if !is_valid_topic_name(publish.topic) {
                        client.close();
                        return;
                    }
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => client.owed.push_back(Owed::PubAck(id)),
                        (QoS::ExactlyOnce, Some(id)) => client.owed.push_back(Owed::PubRec(id)),
                        _ => {}
                    }
                }
                Packet::PubAck(id) => {
                    if client.inflight.get(&id) == Some(&Stage::Ack(QoS::AtLeastOnce)) {
                        client.inflight.remove(&id);
                    }
                }
                Packet::PubRec(id) => {
                    if client.inflight.get(&id) == Some(&Stage::Ack(QoS::ExactlyOnce)) {
                        client.inflight.insert(id, Stage::Comp);
                    }
                    client.owed.push_back(Owed::PubRel(id));
                }
                Packet::PubComp(id) => {
                    if client.inflight.get(&id) == Some(&Stage::Comp) {
                        client.inflight.remove(&id);
                    }
                }
                Packet::PubRel(id) => client.owed.push_back(Owed::PubComp(id)),
                Packet::Subscribe(subscribe) => {
                    let mut codes = Vec::new();
                    for &(filter, qos) in &subscribe.filters {
                        if is_valid_topic_filter(filter) {
                            codes.push(SubAckCode::Granted(qos));
                            let entry = (filter.to_string(), qos);
                            match &client.client_id {
                                Some(cid) => {
                                    self.history.entry(cid.clone()).or_default().push(entry)
                                }
                                None => client.own_history.push(entry),
                            }
                        } else {
                            codes.push(SubAckCode::Failure);
                        }
                    }
                    client
                        .owed
                        .push_back(Owed::SubAck(subscribe.packet_id, codes));
                }
                Packet::Unsubscribe(unsubscribe) => {
                    client.owed.push_back(Owed::UnsubAck(unsubscribe.packet_id));
                }
                Packet::PingReq => client.owed.push_back(Owed::PingResp),
                // DISCONNECT, a second CONNECT, server-to-client packets.
                _ => client.close(),
            },
        }
    }

    fn advance_clock(&mut self, run_timers: bool) {
        let b = self.input.byte();
        let deadline = self.core.next_deadline();
        let step = match b % 6 {
            0 => Duration::from_millis(u64::from(b)),
            1 => Duration::from_millis(u64::from(self.input.u16())),
            2 => Duration::from_secs(u64::from(b / 6)),
            3 | 4 => match deadline {
                // Exactly to the next deadline, or just before it.
                Some(at) => at
                    .saturating_duration_since(self.now)
                    .saturating_sub(Duration::from_millis(u64::from(b % 6 == 4))),
                None => Duration::from_secs(1),
            },
            _ => Duration::from_secs(u64::from(self.input.u16())),
        };
        self.now += step;
        if !run_timers {
            return;
        }
        let now = self.now;
        self.core.handle_timeout(now);
        self.timed_out = true;
        let allow_timeout = |c: &Client| match c.phase {
            Phase::AwaitingConnect => now >= c.accepted_at + CONNECT_TIMEOUT,
            Phase::Connected => {
                c.keep_alive > 0
                    && now
                        >= c.last_packet_at + Duration::from_millis(u64::from(c.keep_alive) * 1500)
            }
            Phase::Closed => false,
        };
        for client in &mut self.clients {
            if allow_timeout(client) {
                client.close();
            }
        }
    }

    /// What a reactor does after a pass: write each dirty connection's
    /// output, all or part of it.
    fn reactor_pass(&mut self) {
        let mut dirty = std::mem::take(&mut self.scratch);
        self.core.take_dirty(&mut dirty);
        for id in &dirty {
            if let Some(client) = self.clients.iter_mut().find(|c| c.id == *id) {
                client.write_pending = true;
            }
        }
        // No lost wake-up: whatever has output is known to the driver.
        for client in &self.clients {
            if client.open() && !self.core.output(client.id).is_empty() {
                assert!(
                    client.write_pending,
                    "{:?} has {} bytes of output but was never listed dirty",
                    client.id,
                    self.core.output(client.id).len()
                );
            }
        }
        for id in &dirty {
            let Some(i) = self.clients.iter().position(|c| c.id == *id) else {
                continue;
            };
            let b = self.input.byte();
            let amount = match b % 4 {
                0 | 1 => usize::MAX,
                2 => usize::from(b),
                _ => 0,
            };
            self.consume(i, amount);
        }
        self.scratch = dirty;
    }

    /// Reports `amount` bytes of client `i`'s output written.
    fn consume(&mut self, i: usize, amount: usize) {
        // What is about to be written must have been parsed.
        self.parse_output(i);
        let id = self.clients[i].id;
        let pending = self.core.output(id).len();
        let written = amount.min(pending);
        self.core.consume_output(self.now, id, written);
        let client = &mut self.clients[i];
        client.consumed += written;
        if written == pending {
            client.write_pending = false;
        }
    }

    fn close_something(&mut self) {
        let b = self.input.byte();
        match b % 4 {
            0 | 1 => {
                if let Some(i) = self.pick() {
                    let id = self.clients[i].id;
                    if b & 3 == 0 {
                        self.core.handle_closed(self.now, id);
                    } else {
                        self.core
                            .close_connection(self.now, id, CloseReason::ProtocolError);
                    }
                    self.clients[i].close();
                }
            }
            2 => {
                let client_id = self.input.word(&CLIENT_IDS);
                let kicked = self.core.kick(self.now, &client_id);
                let mut expected = false;
                for client in &mut self.clients {
                    if client.phase == Phase::Connected
                        && client.client_id.as_deref() == Some(client_id.as_str())
                    {
                        client.close();
                        expected = true;
                    }
                }
                assert_eq!(kicked, expected, "kick({client_id:?})");
            }
            _ => {
                // Releasing an open connection is ignored.
                if let Some(i) = self.pick() {
                    if self.clients[i].open() {
                        let id = self.clients[i].id;
                        self.core.release(id);
                    }
                }
            }
        }
    }

    /// `take_closing` then `release`, as a reactor does.
    fn release_closing(&mut self, all: bool) {
        let mut closing = std::mem::take(&mut self.scratch);
        self.core.take_closing(&mut closing);
        for id in &closing {
            let client = self
                .clients
                .iter_mut()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("take_closing listed unknown {id:?}"));
            assert!(!client.open(), "take_closing listed open {id:?}");
            assert!(!client.closing_listed, "take_closing listed {id:?} twice");
            client.closing_listed = true;
        }
        let release = all || self.input.byte() & 3 != 0;
        if release {
            for client in &self.clients {
                if client.closing_listed {
                    self.core.release(client.id);
                    assert!(self.core.output(client.id).is_empty());
                }
            }
            self.clients.retain(|c| !c.closing_listed);
        }
        self.scratch = closing;
        if all {
            assert!(
                self.clients.is_empty(),
                "connections closed but never listed by take_closing"
            );
        }
    }

    fn host_publish(&mut self) {
        let topic = self.input.word(&TOPICS);
        let payload = self.input.payload();
        let payload = &payload[..payload.len().min(2048)];
        let qos = self.input.qos();
        let retain = self.input.flag();
        let result = self.core.publish(self.now, &topic, payload, qos, retain);
        assert_eq!(
            result.is_ok(),
            is_valid_topic_name(&topic),
            "host publish to {topic:?}: {result:?}"
        );
    }

    fn misc(&mut self) {
        let b = self.input.byte();
        match b % 8 {
            0 => {
                if b == 0 {
                    self.core.shutdown(self.now);
                    for client in &mut self.clients {
                        client.close();
                    }
                }
            }
            _ => {
                if let Some(i) = self.pick() {
                    self.core.mark_dirty(self.clients[i].id);
                }
            }
        }
    }

    fn begin_step(&mut self) {
        self.timed_out = false;
        for client in &mut self.clients {
            client.fed = false;
            client.pending_before = self.core.output(client.id).len();
            client.open_before = client.open();
        }
    }

    /// The checks after every step.
    fn end_step(&mut self) {
        // As the reactor does before it writes: save, then read the queue
        // pages the core asked for (which may send and record more).
        if self.persistent {
            self.save_and_page();
        }
        let now = self.now;
        if self.timed_out {
            if let Some(at) = self.core.next_deadline() {
                assert!(
                    at > now,
                    "next deadline {at:?} not after handle_timeout({now:?})"
                );
            }
        }
        for i in 0..self.clients.len() {
            self.parse_output(i);
            let client = &mut self.clients[i];
            client.in_resend = false;
            let id = client.id;
            if client.pubrel_ambiguous {
                client.pubrel_ambiguous = false;
                client.owed.retain(|o| !matches!(o, Owed::PubRel(_)));
            }
            assert_eq!(
                self.core.is_open(id),
                client.open(),
                "{id:?} ({:?}, {:?}): open in the core vs the model",
                client.client_id,
                client.phase
            );
            if client.open() {
                assert!(
                    client.owed.is_empty(),
                    "{id:?}: answers never sent: {:?}",
                    client.owed
                );
            } else {
                client.owed.clear();
            }
            let pending = self.core.output(id).len();
            if !client.open_before {
                assert!(
                    pending <= client.pending_before,
                    "{id:?}: output grew after close ({} -> {pending})",
                    client.pending_before
                );
            }
            if !client.fed && pending > client.pending_before {
                assert!(
                    pending < self.config.max_pending_output + MAX_PUBLISH,
                    "{id:?}: output grew from {} to {pending} with max_pending_output {}",
                    client.pending_before,
                    self.config.max_pending_output
                );
            }
            if client.inflight_known {
                assert!(
                    client.inflight.len() <= usize::from(MAX_INFLIGHT),
                    "{id:?}: {} messages in flight: {:?}",
                    client.inflight.len(),
                    client.inflight
                );
            }
        }
        self.check_clients();
        self.check_stats();
        if self.store.is_some() {
            self.check_store();
        }
    }

    /// Parses what the broker wrote to client `i` since the last step.
    fn parse_output(&mut self, i: usize) {
        let client = &mut self.clients[i];
        let out = self.core.output(client.id);
        let end = client.consumed + out.len();
        assert!(
            end >= client.seen,
            "{:?}: output shrank below what was seen",
            client.id
        );
        let new = &out[client.seen - client.consumed..];
        if new.is_empty() {
            return;
        }
        client.out_tail.extend_from_slice(new);
        client.seen = end;
        let tail = std::mem::take(&mut client.out_tail);
        let mut pos = 0;
        loop {
            match codec::decode(&tail[pos..], usize::MAX) {
                Ok(Some((packet, used))) => {
                    pos += used;
                    self.model_output(i, packet);
                }
                Ok(None) => break,
                Err(error) => panic!(
                    "broker wrote a malformed packet to {:?}: {error}: {:02x?}",
                    self.clients[i].id,
                    &tail[pos..(pos + 32).min(tail.len())]
                ),
            }
        }
        assert_eq!(
            pos,
            tail.len(),
            "broker output to {:?} ends in a partial packet",
            self.clients[i].id
        );
    }

    /// Checks one packet the broker wrote to client `i`.
    fn model_output(&mut self, i: usize, packet: Packet<'_>) {
        let granted = match &packet {
            Packet::Publish(publish) => self.granted(i, publish.topic),
            _ => None,
        };
        let client = &mut self.clients[i];
        let id = client.id;
        if self.trace {
            match &packet {
                Packet::Publish(p) => eprintln!(
                    "  <- {id:?}: PUBLISH {:?} q{} dup {} retain {} id {:?} ({} bytes)",
                    p.topic,
                    p.qos as u8,
                    p.dup,
                    p.retain,
                    p.packet_id,
                    p.payload.len()
                ),
                other => eprintln!("  <- {id:?}: {other:?}"),
            }
        }
        if client.connack.is_none() {
            let Packet::ConnAck(ack) = packet else {
                panic!("{id:?}: first packet is {packet:?}, not CONNACK");
            };
            assert_eq!(
                client.owed.pop_front(),
                Some(Owed::ConnAck(ack.code)),
                "{id:?}: unexpected {ack:?}"
            );
            if ack.session_present {
                assert!(
                    !client.clean && client.protocol == Protocol::V311,
                    "{id:?}: session present for a clean session or MQTT 3.1"
                );
            }
            client.connack = Some(ack.code);
            client.in_resend = ack.code == ConnectReturnCode::Accepted;
            return;
        }
        assert_eq!(
            client.connack,
            Some(ConnectReturnCode::Accepted),
            "{id:?}: {packet:?} after a refusing CONNACK"
        );
        let owed = match packet {
            Packet::Publish(publish) => {
                assert!(
                    is_valid_topic_name(publish.topic),
                    "{id:?}: PUBLISH to {:?}",
                    publish.topic
                );
                match granted {
                    None => panic!(
                        "{id:?}: PUBLISH to {:?}, which no filter of {:?} ever matched",
                        publish.topic, client.client_id
                    ),
                    Some(granted) => assert!(
                        publish.qos <= granted,
                        "{id:?}: PUBLISH to {:?} at {:?}, granted {granted:?}",
                        publish.topic,
                        publish.qos
                    ),
                }
                if publish.dup {
                    assert!(client.in_resend, "{id:?}: DUP PUBLISH outside a resend");
                } else {
                    client.in_resend = false;
                }
                if let Some(packet_id) = publish.packet_id {
                    let previous = client.inflight.insert(packet_id, Stage::Ack(publish.qos));
                    if client.inflight_known {
                        assert_eq!(
                            previous, None,
                            "{id:?}: packet id {packet_id} reused while in flight"
                        );
                    }
                }
                return;
            }
            Packet::PubRel(packet_id) if client.pubrel_ambiguous => {
                if let Some(at) = client
                    .owed
                    .iter()
                    .position(|o| *o == Owed::PubRel(packet_id))
                {
                    client.owed.remove(at);
                }
                client.inflight_known = false;
                return;
            }
            Packet::PubRel(packet_id) if client.in_resend => {
                let previous = client.inflight.insert(packet_id, Stage::Comp);
                if client.inflight_known {
                    assert_eq!(previous, None, "{id:?}: PUBREL {packet_id} resent twice");
                }
                return;
            }
            Packet::PubAck(id) => Owed::PubAck(id),
            Packet::PubRec(id) => Owed::PubRec(id),
            Packet::PubRel(id) => Owed::PubRel(id),
            Packet::PubComp(id) => Owed::PubComp(id),
            Packet::SubAck(suback) => Owed::SubAck(suback.packet_id, suback.codes),
            Packet::UnsubAck(id) => Owed::UnsubAck(id),
            Packet::PingResp => Owed::PingResp,
            other => panic!("{id:?}: broker wrote {other:?}"),
        };
        client.in_resend = false;
        assert_eq!(
            client.owed.pop_front().as_ref(),
            Some(&owed),
            "{id:?}: broker wrote {owed:?}"
        );
    }

    /// The highest QoS granted to client `i` by a filter matching `topic`,
    /// over all its subscriptions ever.
    fn granted(&self, i: usize, topic: &str) -> Option<QoS> {
        let client = &self.clients[i];
        let history = match &client.client_id {
            Some(cid) => self.history.get(cid).map(Vec::as_slice).unwrap_or(&[]),
            None => client.own_history.as_slice(),
        };
        history
            .iter()
            .filter(|(filter, _)| matches(filter, topic))
            .map(|&(_, qos)| qos)
            .max()
    }

    /// `connected_clients` against the model, and generated client ids.
    fn check_clients(&mut self) {
        let mut actual = self.core.connected_clients();
        actual.sort();
        let mut unknown = Vec::new();
        let mut known = Vec::new();
        for (i, client) in self.clients.iter().enumerate() {
            if client.phase == Phase::Connected {
                match &client.client_id {
                    Some(cid) => known.push(cid.clone()),
                    None => unknown.push(i),
                }
            }
        }
        let mut rest = actual.clone();
        for cid in &known {
            let at = rest
                .iter()
                .position(|a| a == cid)
                .unwrap_or_else(|| panic!("{cid:?} connected but not in {actual:?}"));
            rest.remove(at);
        }
        assert_eq!(
            rest.len(),
            unknown.len(),
            "connected_clients {actual:?}, model {known:?} and {} generated",
            unknown.len()
        );
        if let [i] = unknown[..] {
            let generated = rest.pop().expect("one left");
            assert!(generated.starts_with(&self.config.auto_id_prefix));
            let client = &mut self.clients[i];
            if !client.own_history.is_empty() {
                let own = std::mem::take(&mut client.own_history);
                self.history
                    .entry(generated.clone())
                    .or_default()
                    .extend(own);
            }
            self.clients[i].client_id = Some(generated);
        }
    }

    fn check_stats(&self) {
        let stats = self.core.stats();
        let open = self.clients.iter().filter(|c| c.open()).count() as u64;
        let connected = self
            .clients
            .iter()
            .filter(|c| c.phase == Phase::Connected)
            .count() as u64;
        assert_eq!(stats.connections, open, "stats.connections");
        assert_eq!(
            stats.connections_total, self.accepted,
            "stats.connections_total"
        );
        assert_eq!(
            stats.connections_refused, self.refused,
            "stats.connections_refused"
        );
        assert_eq!(
            stats.clients_connected, connected,
            "stats.clients_connected"
        );
        assert!(stats.sessions >= connected, "fewer sessions than clients");
    }

    /// Applies the store operations to the model store, and compares it
    /// with the clients' view.
    /// Applies the store operations to the model store (if checked) and
    /// answers the core's page requests from it (with nothing when
    /// persistence came late and no model is kept), until neither is left.
    fn save_and_page(&mut self) {
        let mut requests = Vec::new();
        loop {
            self.core.take_store_ops(&mut self.ops);
            if let Some(store) = &mut self.store {
                for op in &self.ops {
                    store.apply(op);
                }
            }
            self.core.take_page_requests(&mut requests);
            if requests.is_empty() {
                return;
            }
            for request in &requests {
                let page = match &self.store {
                    Some(store) => store.load_queued(request),
                    None => Vec::new(),
                };
                self.core.queue_page_loaded(request, page);
            }
        }
    }

    fn check_store(&mut self) {
        self.core.take_store_ops(&mut self.ops);
        let Some(store) = &mut self.store else {
            return;
        };
        for op in &self.ops {
            store.apply(op);
        }
        for session in store.sessions.values() {
            let queued = session
                .messages
                .values()
                .filter(|(_, id, _)| id.is_none())
                .count();
            assert!(queued <= MAX_QUEUED_MESSAGES, "{queued} messages queued");
        }
        for client in &self.clients {
            if client.phase != Phase::Connected || client.clean || !client.inflight_known {
                continue;
            }
            let Some(cid) = &client.client_id else {
                continue;
            };
            let session = store
                .sessions
                .get(cid)
                .unwrap_or_else(|| panic!("persistent session {cid:?} not in the store"));
            let stored: BTreeMap<u16, Stage> = session
                .messages
                .values()
                .filter_map(|&(qos, id, released)| {
                    id.map(|id| {
                        (
                            id,
                            if released {
                                Stage::Comp
                            } else {
                                Stage::Ack(qos)
                            },
                        )
                    })
                })
                .collect();
            assert_eq!(
                stored, client.inflight,
                "{cid:?}: in flight in the store vs on the wire"
            );
        }
    }
}
