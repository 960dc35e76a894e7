//! The model of one simulated client's connection.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use mqlite::codec::{Protocol, QoS, ReasonCode};
use mqlite::core::ConnId;

/// Where an outbound QoS 1/2 message is, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// PUBLISH received, awaiting our PUBACK (QoS 1) or PUBREC (QoS 2).
    Ack(QoS),
    /// PUBREL received (QoS 2), awaiting our PUBCOMP.
    Comp,
}

/// The reason codes an answer may carry: one, or either of two (where the
/// model cannot tell which, such as Success or No matching subscribers).
/// A 3.1.1 answer has none on the wire and decodes as Success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Codes(u8, u8);

impl Codes {
    pub(super) const SUCCESS: Codes = Codes(0, 0);

    pub(super) fn one(code: ReasonCode) -> Codes {
        Codes(code.0, code.0)
    }

    pub(super) fn either(a: ReasonCode, b: ReasonCode) -> Codes {
        Codes(a.0, b.0)
    }

    pub(super) fn allows(self, code: ReasonCode) -> bool {
        code.0 == self.0 || code.0 == self.1
    }
}

/// An answer the broker owes a client, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Owed {
    ConnAck(ReasonCode),
    PubAck(u16, Codes),
    PubRec(u16, Codes),
    PubRel(u16),
    PubComp(u16, Codes),
    SubAck(u16, Vec<ReasonCode>),
    /// MQTT 5: one code per filter; 3.1.1: none.
    UnsubAck(u16, Vec<Codes>),
    PingResp,
}

/// The model's state of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    AwaitingConnect,
    Connected,
    Closed,
}

/// One simulated client: the model of its connection.
pub(super) struct Client {
    pub(super) id: ConnId,
    /// Unique over the run (connection ids are reused): the origin of the
    /// messages it publishes.
    pub(super) serial: u64,
    pub(super) accepted_at: Instant,
    pub(super) phase: Phase,
    /// Client-to-broker bytes not yet forming a whole packet.
    pub(super) input: Vec<u8>,
    /// From the accepted CONNECT.
    pub(super) client_id: Option<String>,
    /// Clean session (3.1.1) / Clean Start (MQTT 5).
    pub(super) clean: bool,
    pub(super) protocol: Protocol,
    pub(super) keep_alive: u16,
    /// Session Expiry Interval asked (3.1.1: 0 for clean session 1, never
    /// otherwise) and granted (cut to `Config::session_expiry`).
    pub(super) expiry_asked: u32,
    pub(super) expiry: u32,
    /// MQTT 5 CONNECT properties: Receive Maximum, Maximum Packet Size,
    /// Topic Alias Maximum (3.1.1: the defaults, no limit and no aliases).
    pub(super) receive_max: u16,
    pub(super) max_packet: u32,
    pub(super) alias_max: u16,
    /// Request Problem Information (1 unless the client sent 0).
    pub(super) problem_information: bool,
    /// MQTT 5: the client sent an empty client id, so CONNACK must assign
    /// one.
    pub(super) assigned_expected: bool,
    /// When the core last handled a packet from this client.
    pub(super) last_packet_at: Instant,
    /// Broker-to-client stream: bytes reported written, bytes parsed, and
    /// the unparsed tail.
    pub(super) consumed: usize,
    pub(super) seen: usize,
    pub(super) out_tail: Vec<u8>,
    pub(super) connack: Option<ReasonCode>,
    /// CONNACK said the session was present.
    pub(super) resumed: bool,
    pub(super) owed: VecDeque<Owed>,
    /// Outbound QoS 1/2 messages in flight, by packet id.
    pub(super) inflight: BTreeMap<u16, Stage>,
    /// The packet ids of `inflight` whose PUBLISH was written on this
    /// connection (not PUBRELs resent after a resume): what counts against
    /// the client's Receive Maximum.
    pub(super) published: BTreeSet<u16>,
    /// False once the in-flight model may be off (an acknowledgement read
    /// together with other packets: the model cannot order them against the
    /// broker's writes).
    pub(super) inflight_known: bool,
    /// Right after CONNACK 0: resent messages (DUP PUBLISH, PUBREL) may
    /// follow.
    pub(super) in_resend: bool,
    /// This step's read held CONNECT then PUBREC: a PUBREL right after
    /// CONNACK may be a resend or the answer, so PUBRELs are matched
    /// loosely.
    pub(super) pubrel_ambiguous: bool,
    /// This step fed a packet the model could not judge: the broker may
    /// have closed the connection for it.
    pub(super) ack_ambiguous: bool,
    /// Filters granted to this connection (clients with an empty client id);
    /// others use `Script::history`.
    pub(super) own_history: Vec<Granted>,
    /// The session's inbound QoS 2 packet ids awaiting PUBREL, when known
    /// (a new session: Clean Start, or a generated client id).
    pub(super) inbound_qos2: Option<BTreeSet<u16>>,
    /// The session's subscriptions (whole filters), when known.
    pub(super) subscriptions: Option<BTreeSet<String>>,
    /// Topic aliases this client set on its PUBLISHes (MQTT 5), alias 1 at 0.
    pub(super) aliases_in: Vec<Option<String>>,
    /// Topic aliases the broker set on the PUBLISHes it wrote here.
    pub(super) aliases_out: HashMap<u16, String>,
    /// MQTT 5: the reason codes of a DISCONNECT the broker may write
    /// (closes the model decided, or may have happened), whether one must
    /// come (the model closed the connection for a reason the broker
    /// tells), and whether one was written (nothing may follow it).
    pub(super) disconnect_allowed: Vec<ReasonCode>,
    pub(super) disconnect_required: bool,
    pub(super) disconnected: bool,
    /// Whether `take_closing` listed it.
    pub(super) closing_listed: bool,
    /// Whether the driver knows it has output to write: it was listed by
    /// `take_dirty` and its output was not emptied since.
    pub(super) write_pending: bool,
    /// Bookkeeping for the step being run.
    pub(super) fed: bool,
    pub(super) pending_before: usize,
    /// Bytes of a DISCONNECT written this step.
    pub(super) disconnect_len: usize,
    pub(super) open_before: bool,
}

/// A subscription granted to a client, as the model keeps it.
#[derive(Clone, Debug)]
pub(super) struct Granted {
    /// The topic filter it matches with (a shared subscription's filter
    /// part).
    pub(super) filter: String,
    pub(super) qos: QoS,
    pub(super) no_local: bool,
    /// Subscription Identifier, 0 when none.
    pub(super) identifier: u32,
}

impl Client {
    pub(super) fn new(id: ConnId, serial: u64, now: Instant) -> Client {
        Client {
            id,
            serial,
            accepted_at: now,
            phase: Phase::AwaitingConnect,
            input: Vec::new(),
            client_id: None,
            clean: true,
            protocol: Protocol::V311,
            keep_alive: 0,
            expiry_asked: 0,
            expiry: 0,
            receive_max: u16::MAX,
            max_packet: u32::MAX,
            alias_max: 0,
            problem_information: true,
            assigned_expected: false,
            last_packet_at: now,
            consumed: 0,
            seen: 0,
            out_tail: Vec::new(),
            connack: None,
            resumed: false,
            owed: VecDeque::new(),
            inflight: BTreeMap::new(),
            published: BTreeSet::new(),
            inflight_known: true,
            ack_ambiguous: false,
            in_resend: false,
            pubrel_ambiguous: false,
            own_history: Vec::new(),
            inbound_qos2: None,
            subscriptions: None,
            aliases_in: Vec::new(),
            aliases_out: HashMap::new(),
            disconnect_allowed: Vec::new(),
            disconnect_required: false,
            disconnected: false,
            closing_listed: false,
            write_pending: false,
            fed: false,
            pending_before: 0,
            disconnect_len: 0,
            open_before: true,
        }
    }

    pub(super) fn open(&self) -> bool {
        self.phase != Phase::Closed
    }

    pub(super) fn v5(&self) -> bool {
        self.protocol == Protocol::V5
    }

    /// The stage of the message with packet id `id`, when the model knows
    /// the broker holds it in flight in that stage.
    pub(super) fn known_stage(&self, id: u16) -> Option<Stage> {
        if self.inflight_known {
            self.inflight.get(&id).copied()
        } else {
            None
        }
    }

    /// Ends the flow of an outbound message.
    pub(super) fn complete(&mut self, id: u16) {
        self.inflight.remove(&id);
        self.published.remove(&id);
    }

    /// The connection ends without the broker telling the client why (the
    /// client disconnected or its socket closed, or it was never
    /// connected).
    pub(super) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.input.clear();
    }

    /// The broker ends the connection: an MQTT 5 client it had accepted is
    /// sent DISCONNECT with `code` first.
    pub(super) fn close_with(&mut self, code: ReasonCode) {
        if self.phase == Phase::Connected && self.v5() {
            self.disconnect_allowed.push(code);
            self.disconnect_required = true;
        }
        self.close();
    }

    /// The broker may have ended the connection with `code` for the packet
    /// just modelled (resolved at the end of the step from `is_open`).
    pub(super) fn may_close_with(&mut self, code: ReasonCode) {
        self.ack_ambiguous = true;
        if self.phase == Phase::Connected && self.v5() {
            self.disconnect_allowed.push(code);
        }
    }
}
