//! The gateway: MQTT-SN clients by address, each standing for a
//! connection of the core; datagrams in, datagrams out, and the timers of
//! keep alive, sleep, retransmission and ADVERTISE. It does no I/O: the
//! reactor hands it the datagrams it read and sends what it queued
//! (`src/reactor/mqttsn.rs`), so the tests drive it with a core alone.

use super::FastMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ClientKey, SnClient, State};
use super::codec::{self, DecodeError};
use super::packet::{Datagram, Forwarded, Packet};
use super::topics::Predefined;
use super::MqttSnGateway;
use crate::core::{ConnId, Core};

/// A datagram to send.
#[derive(Debug)]
pub(crate) struct Outgoing {
    /// Which of the gateway's sockets (an index into `listen`).
    pub(crate) socket: usize,
    pub(crate) to: SocketAddr,
    pub(crate) bytes: Vec<u8>,
}

/// What a core connection of the gateway stands for.
#[derive(Clone, Debug)]
pub(crate) enum Role {
    /// A client's connection.
    Client(ClientKey),
    /// A connection made for one connectionless (QoS −1) PUBLISH, or one
    /// a client left behind when it connected again: it closes by itself
    /// and its output is not for anyone.
    Detached,
}

/// The gateway's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MqttSnStats {
    /// Datagrams read.
    pub datagrams_received: u64,
    /// Datagrams sent.
    pub datagrams_sent: u64,
    /// Datagrams dropped as malformed (wrong length, unknown type,
    /// truncated field).
    pub malformed: u64,
    /// Messages that came when their sender's state did not allow them
    /// (from an unknown client, out of order in the will handshake), and
    /// outbound messages dropped for want of a topic id.
    pub dropped: u64,
    /// Clients lost: silent past their keep alive or sleep, or not
    /// acknowledging after every retry.
    pub lost: u64,
    /// Connectionless (QoS −1) PUBLISHes taken.
    pub connectionless_publishes: u64,
    /// Clients held now, in every state (connecting, awake, asleep).
    pub clients: usize,
}

/// The MQTT-SN gateway's state.
pub(crate) struct Gateway {
    pub(crate) settings: Arc<MqttSnGateway>,
    pub(crate) predefined: Predefined,
    pub(crate) clients: FastMap<ClientKey, SnClient>,
    pub(crate) conns: FastMap<ConnId, Role>,
    pub(crate) outgoing: Vec<Outgoing>,
    pub(crate) stats: MqttSnStats,
    /// Bytes for the core, built per message.
    pub(crate) scratch: Vec<u8>,
    /// A copy of a connection's output, to read whole packets from.
    pub(crate) output: Vec<u8>,
    next_tick: Instant,
    next_advertise: Option<Instant>,
}

impl Gateway {
    /// A gateway with no clients; the first ADVERTISE goes out at once.
    pub(crate) fn new(settings: MqttSnGateway, now: Instant) -> Gateway {
        let predefined = Predefined::new(&settings.predefined_topics);
        let next_advertise = settings.advertise_interval.map(|_| now);
        Gateway {
            predefined,
            clients: FastMap::default(),
            conns: FastMap::default(),
            outgoing: Vec::new(),
            stats: MqttSnStats::default(),
            scratch: Vec::new(),
            output: Vec::new(),
            next_tick: now + tick(&settings),
            next_advertise,
            settings: Arc::new(settings),
        }
    }

    /// Whether core connection `id` is one of the gateway's.
    pub(crate) fn owns(&self, id: ConnId) -> bool {
        self.conns.contains_key(&id)
    }

    /// The counters, with the clients held now.
    pub(crate) fn stats(&self) -> MqttSnStats {
        MqttSnStats {
            clients: self.clients.len(),
            ..self.stats
        }
    }

    /// One datagram from `from` on socket `socket`.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        core: &mut Core,
        socket: usize,
        from: SocketAddr,
        bytes: &[u8],
    ) {
        self.stats.datagrams_received += 1;
        let datagram = match codec::decode(bytes) {
            Ok(datagram) => datagram,
            Err(error) => {
                self.malformed(from, &error);
                return;
            }
        };
        let Datagram { forwarded, packet } = datagram;
        let key = ClientKey {
            socket,
            addr: from,
            node: forwarded
                .as_ref()
                .map(|f| f.node_id.clone().into_boxed_slice()),
        };
        self.handle_packet(now, core, key, forwarded, packet);
    }

    fn malformed(&mut self, from: SocketAddr, error: &DecodeError) {
        self.stats.malformed += 1;
        log::debug!("mqtt-sn: malformed datagram from {from}: {error}");
    }

    /// Queues `packet` for the client at `key` (through its forwarder, if
    /// it came through one).
    pub(crate) fn send(&mut self, key: &ClientKey, forwarded: Option<&Forwarded>, packet: &Packet) {
        if !fits(packet) {
            self.stats.dropped += 1;
            return;
        }
        let mut bytes = Vec::new();
        match forwarded {
            Some(forwarded) => codec::encode_forwarded(forwarded, packet, &mut bytes),
            None => codec::encode(packet, &mut bytes),
        }
        self.stats.datagrams_sent += 1;
        self.outgoing.push(Outgoing {
            socket: key.socket,
            to: key.addr,
            bytes,
        });
    }

    /// Queues `packet` for the client at `key`, as it reached the gateway.
    pub(crate) fn send_to_client(&mut self, key: &ClientKey, packet: &Packet) {
        let forwarded = self.clients.get(key).and_then(|c| c.forwarded.clone());
        self.send(key, forwarded.as_ref(), packet);
    }

    /// When [`Gateway::handle_timeout`] has something to do.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let tick = (!self.clients.is_empty()).then_some(self.next_tick);
        match (tick, self.next_advertise) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// ADVERTISE when due; clients silent too long are lost (their wills
    /// published), unacknowledged messages sent again.
    pub(crate) fn handle_timeout(&mut self, now: Instant, core: &mut Core) {
        if let (Some(at), Some(interval)) = (self.next_advertise, self.settings.advertise_interval)
        {
            if at <= now {
                self.advertise(interval);
                self.next_advertise = Some(now + interval);
            }
        }
        if self.next_tick > now {
            return;
        }
        self.next_tick = now + tick(&self.settings);
        let keys: Vec<ClientKey> = self.clients.keys().cloned().collect();
        for key in keys {
            self.check_client(now, core, &key);
        }
    }

    fn advertise(&mut self, interval: Duration) {
        let packet = Packet::Advertise {
            gw_id: self.settings.gateway_id,
            duration: u16::try_from(interval.as_secs()).unwrap_or(u16::MAX),
        };
        let mut bytes = Vec::new();
        codec::encode(&packet, &mut bytes);
        let targets = self.settings.advertise_to.clone();
        for to in targets {
            // From the first socket of the address's family.
            let socket = self
                .settings
                .listen
                .iter()
                .position(|l| l.is_ipv4() == to.is_ipv4());
            if let Some(socket) = socket {
                self.stats.datagrams_sent += 1;
                self.outgoing.push(Outgoing {
                    socket,
                    to,
                    bytes: bytes.clone(),
                });
            }
        }
    }

    /// Loses a silent client, or sends again what it has not acknowledged
    /// (losing it once the retries are spent).
    fn check_client(&mut self, now: Instant, core: &mut Core, key: &ClientKey) {
        let Some(client) = self.clients.get(key) else {
            return;
        };
        if client.lost_at().is_some_and(|at| at <= now) {
            log::info!(
                "mqtt-sn client {} ({}) lost: silent past its {}",
                client.client_id,
                key.addr,
                if matches!(client.state, State::Asleep { .. }) {
                    "sleep duration"
                } else {
                    "keep alive"
                }
            );
            self.lose(now, core, key);
            return;
        }
        if !client.reachable() {
            return;
        }
        let retry = self.settings.retry_interval;
        let max = self.settings.max_retries;
        let mut resend = Vec::new();
        let mut spent = false;
        if let Some(client) = self.clients.get_mut(key) {
            for unacked in client
                .unacked
                .values_mut()
                .chain(client.registering.values_mut())
            {
                if now.saturating_duration_since(unacked.sent_at) < retry {
                    continue;
                }
                if unacked.tries >= max {
                    spent = true;
                    break;
                }
                unacked.tries += 1;
                unacked.sent_at = now;
                resend.push(with_dup(&unacked.packet));
            }
        }
        if spent {
            log::info!(
                "mqtt-sn client at {} lost: no acknowledgement after {max} retries",
                key.addr
            );
            self.lose(now, core, key);
            return;
        }
        for packet in resend {
            self.send_to_client(key, &packet);
        }
    }

    /// The client is gone without a DISCONNECT: its connection closes as a
    /// network failure would close it (will published).
    pub(crate) fn lose(&mut self, now: Instant, core: &mut Core, key: &ClientKey) {
        self.stats.lost += 1;
        if let Some(client) = self.clients.remove(key) {
            if let Some(conn) = client.conn {
                self.conns.insert(conn, Role::Detached);
                core.handle_closed(now, conn);
            }
        }
    }

    /// The core closed connection `id` (it is released after this): the
    /// client hears DISCONNECT, unless the connection was detached.
    pub(crate) fn release(&mut self, now: Instant, core: &mut Core, id: ConnId) {
        // What the core wrote last (a refusing CONNACK) goes out first.
        self.write(now, core, id);
        if let Some(Role::Client(key)) = self.conns.remove(&id) {
            if let Some(client) = self.clients.remove(&key) {
                let forwarded = client.forwarded.clone();
                if client.state != State::Connecting {
                    self.send(
                        &key,
                        forwarded.as_ref(),
                        &Packet::Disconnect { duration: None },
                    );
                }
            }
        }
    }
}

/// Whether `packet` can be sent at all: MQTT-SN's Length field counts to
/// 65,535 bytes.
pub(crate) fn fits(packet: &Packet) -> bool {
    codec::encoded_len(packet) <= codec::MAX_MESSAGE_LEN
}

/// How often clients' deadlines are looked at: often enough for the
/// retry interval, at least once a second.
fn tick(settings: &MqttSnGateway) -> Duration {
    (settings.retry_interval / 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// `packet` as sent again: PUBLISH with DUP set.
pub(crate) fn with_dup(packet: &Packet) -> Packet {
    let mut packet = packet.clone();
    if let Packet::Publish { flags, .. } = &mut packet {
        flags.dup = true;
    }
    packet
}

/// The message id of a message the gateway sends again, to send them in
/// the order they were first sent (ids grow, but for wrapping).
pub(crate) fn message_id(packet: &Packet) -> u16 {
    match packet {
        Packet::Publish { msg_id, .. }
        | Packet::PubRel { msg_id }
        | Packet::Register { msg_id, .. } => *msg_id,
        _ => 0,
    }
}
