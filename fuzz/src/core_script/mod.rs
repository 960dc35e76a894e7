//! The `core` fuzz target: the fuzz input is a script run against the
//! sans-IO core by a few simulated clients and a fake clock, with a model of
//! what the core must do checked after every step.
//!
//! This module depends only on `mqlite` and `std`, so the regression tests
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
//!   messages equal what the client has in flight; with `session_expiry`
//!   0 no session is in the store (it ends with its connection).
//!
//! The model follows MQTT 3.1, 3.1.1 and 5.0 clients. An MQTT 5 client
//! sends packets with properties and reason codes (see `packets5`), and
//! the model checks what MQTT 5 adds (see `client_output5`): packets decode
//! as MQTT 5, the client's Receive Maximum, Maximum Packet Size and Topic
//! Alias Maximum are kept, CONNACK properties, the broker's DISCONNECT and
//! its reason code, No Local, Subscription Identifiers, and that tagged
//! messages reach subscribers with their properties forwarded unchanged.

mod actions;
mod checks;
mod client_input;
mod client_model;
mod client_output;
mod client_output5;
mod input;
mod packets;
mod packets5;
mod store_model;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mqlite::codec::ReasonCode;
use mqlite::core::{ConnId, Core, StoreBatch};
use mqlite::Config;

use client_model::{Client, Granted};
use client_output5::Sent;
use input::Input;
use store_model::ModelStore;

/// Small limits, so the limit paths are reached with small inputs.
/// Near-maximum payloads (see `Input::payload`) are past the output
/// queue's splice threshold (8 KiB), so spliced output is exercised too.
pub const MAX_PACKET_SIZE: usize = 10 * 1024;
/// Outbound in-flight window.
pub const MAX_INFLIGHT: u16 = 4;
/// Queued messages per session.
pub const MAX_QUEUED_MESSAGES: usize = 16;
const MAX_QUEUED_BYTES: usize = 48 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CLIENTS: usize = 4;
const MAX_STEPS: usize = 400;
/// Largest PUBLISH the broker can write: a message from a packet of at most
/// `MAX_PACKET_SIZE` bytes, plus a packet id.
const MAX_PUBLISH: usize = MAX_PACKET_SIZE + 16;
/// The same to an MQTT 5 client, whose copy also carries a Message Expiry
/// Interval, a Topic Alias and the Subscription Identifiers of every
/// matching subscription (a generous bound), and which may be told
/// DISCONNECT.
const MAX_PUBLISH_V5: usize = MAX_PACKET_SIZE + 8192;
/// The broker's Topic Alias Maximum for its clients (`Config::max_topic_alias`)
/// and its own aliases (`Config::outgoing_topic_aliases`): the defaults.
const MAX_TOPIC_ALIAS: u16 = 10;
const OUTGOING_TOPIC_ALIASES: u16 = 10;

const TOPICS: [&str; 14] = [
    "a", "a/b", "a/b/c", "b", "a/b", "c/d", "$SYS/x", "/a", "a/", "x", "", "#", "a/+", "+/b",
];
const FILTERS: [&str; 15] = [
    "#", "a/#", "a/+", "+/b", "a", "a/b", "$SYS/#", "+", "+/+", "/#", "b", "", "a/#/b", "a+", "c/d",
];
/// The filters of MQTT 5 clients: the same, and shared subscriptions
/// (valid and not).
const FILTERS5: [&str; 20] = [
    "#",
    "a/#",
    "a/+",
    "+/b",
    "a",
    "a/b",
    "$SYS/#",
    "+",
    "$share/g/#",
    "$share/g/a/+",
    "$share/h/a",
    "$share/g/a",
    "b",
    "",
    "a/#/b",
    "$share/g",
    "$share//a",
    "$share/+/a",
    "c/d",
    "$share/g/$SYS/#",
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

struct Script<'a> {
    input: Input<'a>,
    core: Core,
    config: Config,
    now: Instant,
    clients: Vec<Client>,
    /// Filters granted per client id, ever (a union: queued messages of a
    /// dropped subscription may still arrive).
    history: HashMap<String, Vec<Granted>>,
    /// Messages published by MQTT 5 clients with a tag (a User Property),
    /// by tag: what the broker took, to check each copy it delivers.
    sent: HashMap<u64, Sent>,
    /// The next tag and client serial the script gives.
    next_tag: u64,
    next_serial: u64,
    accepted: u64,
    refused: u64,
    next_port: u16,
    /// Persistence on from the start: the store model is checked.
    store: Option<ModelStore>,
    persistent: bool,
    /// The step ran `handle_timeout(self.now)`.
    timed_out: bool,
    scratch: Vec<ConnId>,
    batch: StoreBatch,
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
            sent: HashMap::new(),
            next_tag: 1,
            next_serial: 1,
            accepted: 0,
            refused: 0,
            next_port: 1,
            store: persistent.then(ModelStore::default),
            persistent,
            timed_out: false,
            scratch: Vec::new(),
            batch: StoreBatch::default(),
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
        self.core.handle_shutdown(self.now);
        for client in &mut self.clients {
            client.close_with(ReasonCode::SERVER_SHUTTING_DOWN);
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
                self.save_and_page();
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
        match self.core.handle_accept(self.now, peer) {
            Some(id) => {
                assert!(room, "accepted beyond max_connections");
                assert!(
                    self.clients.iter().all(|c| c.id != id),
                    "{id:?} given to two connections"
                );
                assert!(self.core.output(id).is_empty(), "new connection has output");
                self.accepted += 1;
                let serial = self.next_serial;
                self.next_serial += 1;
                self.clients.push(Client::new(id, serial, self.now));
            }
            None => {
                assert!(!room, "refused below max_connections");
                self.refused += 1;
            }
        }
    }
}
