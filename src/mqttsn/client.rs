//! What the gateway keeps of one MQTT-SN client: where it is, the core
//! connection that stands for it, its state, its topic ids, and what the
//! gateway sent it that is not acknowledged yet.

use std::collections::VecDeque;

use super::FastMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::packet::{Flags, Forwarded, Packet};
use super::topics::Registry;
use crate::core::ConnId;

/// How long the gateway waits for each step of the will handshake (the
/// broker's default `connect_timeout`).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a client is: its address and, behind a forwarder, its node id
/// there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    /// Which of the gateway's sockets it writes to.
    pub(crate) socket: usize,
    pub(crate) addr: SocketAddr,
    pub(crate) node: Option<Box<[u8]>>,
}

/// The stages of a client's life at the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// CONNECT had the Will flag: WILLTOPICREQ sent, WILLTOPIC awaited.
    WillTopic,
    /// WILLMSGREQ sent, WILLMSG awaited.
    WillMessage,
    /// CONNECT handed to the core, CONNACK awaited.
    Connecting,
    /// Connected and awake.
    Active,
    /// Asleep since `since`, for `duration` (DISCONNECT with a duration):
    /// what the core sends it stays in the core.
    Asleep { since: Instant, duration: Duration },
    /// Woken by a PINGREQ with its client id: what was kept is being sent;
    /// PINGRESP ends it, and the client sleeps again.
    Awake { duration: Duration },
}

/// The CONNECT being completed by the will handshake.
#[derive(Clone, Debug)]
pub(crate) struct PendingConnect {
    pub(crate) client_id: String,
    pub(crate) clean_session: bool,
    /// WILLTOPIC's flags and topic, once it came.
    pub(crate) will_topic: Option<(Flags, String)>,
}

/// A message the gateway sent the client and sends again until it is
/// acknowledged (PUBLISH at QoS 1 / 2, PUBREL, REGISTER).
#[derive(Clone, Debug)]
pub(crate) struct Unacked {
    pub(crate) packet: Packet,
    pub(crate) sent_at: Instant,
    pub(crate) tries: u32,
}

/// What an outbound PUBLISH waits on before it may be sent: its topic's
/// registration.
#[derive(Clone, Debug)]
pub(crate) struct HeldPublish {
    pub(crate) topic: String,
    pub(crate) dup: bool,
    pub(crate) qos: crate::codec::QoS,
    pub(crate) retain: bool,
    pub(crate) packet_id: u16,
    pub(crate) payload: Vec<u8>,
}

/// One MQTT-SN client.
#[derive(Debug)]
pub(crate) struct SnClient {
    /// The forwarder's encapsulation to answer through, if any.
    pub(crate) forwarded: Option<Forwarded>,
    pub(crate) state: State,
    /// The core connection, once CONNECT went to the core.
    pub(crate) conn: Option<ConnId>,
    pub(crate) client_id: String,
    /// Keep alive (CONNECT's Duration), seconds; 0: none.
    pub(crate) keep_alive: u16,
    pub(crate) last_heard: Instant,
    pub(crate) pending: Option<PendingConnect>,
    pub(crate) topics: Registry,
    /// SUBSCRIBEs the core has not answered: message id to the topic id
    /// SUBACK reports.
    pub(crate) subscribes: FastMap<u16, u16>,
    /// Inbound QoS 1 / 2 PUBLISHes the core has not acknowledged: message
    /// id to topic id (PUBACK repeats the topic id, MQTT's does not).
    pub(crate) inbound_topics: FastMap<u16, u16>,
    /// Outbound PUBLISH / PUBREL awaiting the client, by message id.
    pub(crate) unacked: FastMap<u16, Unacked>,
    /// Outbound REGISTER awaiting REGACK, by message id.
    pub(crate) registering: FastMap<u16, Unacked>,
    /// The outbound PUBLISH waiting for a REGACK (the ones after it wait in
    /// the core's output).
    pub(crate) held: VecDeque<HeldPublish>,
    /// QoS 2 messages that could not be sent (no topic id left): the core
    /// is told they completed.
    pub(crate) abandoned_qos2: Vec<u16>,
    next_register_id: u16,
}

impl SnClient {
    pub(crate) fn new(forwarded: Option<Forwarded>, now: Instant) -> SnClient {
        SnClient {
            forwarded,
            state: State::Connecting,
            conn: None,
            client_id: String::new(),
            keep_alive: 0,
            last_heard: now,
            pending: None,
            topics: Registry::default(),
            subscribes: FastMap::default(),
            inbound_topics: FastMap::default(),
            unacked: FastMap::default(),
            registering: FastMap::default(),
            held: VecDeque::new(),
            abandoned_qos2: Vec::new(),
            next_register_id: 0,
        }
    }

    /// A message id for a REGISTER: its own sequence, since REGACK is
    /// matched only against REGISTERs.
    pub(crate) fn next_register_id(&mut self) -> u16 {
        self.next_register_id = self.next_register_id.wrapping_add(1).max(1);
        self.next_register_id
    }

    /// Whether the client takes datagrams now (awake, or woken to collect
    /// what was kept for it).
    pub(crate) fn reachable(&self) -> bool {
        matches!(
            self.state,
            State::Active | State::Awake { .. } | State::Connecting
        )
    }

    /// When the client is lost if it stays silent: 1.5 × its keep alive
    /// awake, 1.5 × its sleep duration asleep (as MQTT's keep alive).
    pub(crate) fn lost_at(&self) -> Option<Instant> {
        let window = |seconds: Duration| seconds + seconds / 2;
        match self.state {
            // A will handshake left half done must not hold a place for
            // ever (a keep alive of 0 would).
            State::WillTopic | State::WillMessage => Some(self.last_heard + HANDSHAKE_TIMEOUT),
            State::Asleep { since, duration } => Some(since + window(duration)),
            State::Awake { duration } => Some(self.last_heard + window(duration)),
            _ if self.keep_alive == 0 => None,
            _ => Some(self.last_heard + window(Duration::from_secs(u64::from(self.keep_alive)))),
        }
    }
}
