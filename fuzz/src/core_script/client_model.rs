//! The model of one simulated client's connection.

use std::collections::{BTreeMap, VecDeque};
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

/// An answer the broker owes a client, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Owed {
    ConnAck(ReasonCode),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    SubAck(u16, Vec<ReasonCode>),
    UnsubAck(u16),
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
    pub(super) accepted_at: Instant,
    pub(super) phase: Phase,
    /// Client-to-broker bytes not yet forming a whole packet.
    pub(super) input: Vec<u8>,
    /// From the accepted CONNECT.
    pub(super) client_id: Option<String>,
    pub(super) clean: bool,
    pub(super) protocol: Protocol,
    pub(super) keep_alive: u16,
    /// When the core last handled a packet from this client.
    pub(super) last_packet_at: Instant,
    /// Broker-to-client stream: bytes reported written, bytes parsed, and
    /// the unparsed tail.
    pub(super) consumed: usize,
    pub(super) seen: usize,
    pub(super) out_tail: Vec<u8>,
    pub(super) connack: Option<ReasonCode>,
    pub(super) owed: VecDeque<Owed>,
    /// Outbound QoS 1/2 messages in flight, by packet id.
    pub(super) inflight: BTreeMap<u16, Stage>,
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
    /// This step fed an acknowledgement the model could not judge: the
    /// broker may have closed the connection for it.
    pub(super) ack_ambiguous: bool,
    /// Filters granted to this connection (clients with an empty client id);
    /// others use `Script::history`.
    pub(super) own_history: Vec<(String, QoS)>,
    /// Whether `take_closing` listed it.
    pub(super) closing_listed: bool,
    /// Whether the driver knows it has output to write: it was listed by
    /// `take_dirty` and its output was not emptied since.
    pub(super) write_pending: bool,
    /// Bookkeeping for the step being run.
    pub(super) fed: bool,
    pub(super) pending_before: usize,
    pub(super) open_before: bool,
}

impl Client {
    pub(super) fn open(&self) -> bool {
        self.phase != Phase::Closed
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

    pub(super) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.input.clear();
    }
}
