//! The soak's workload (`tests/robust/soak.rs`): QoS 0, 1 and 2
//! publishers at fixed rates, persistent subscribers that come and go and
//! keep a ledger of what they received, retained churn and connection
//! churn, each in its own thread until the end of the run, with the live
//! counters the sampler reads.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{ConnectOptions, Pkt, RawClient, Recv, Rng};
use mqlite::codec::{Ack, Packet, QoS, Reasoned};

pub const Q0: QoS = QoS::AtMostOnce;
pub const Q1: QoS = QoS::AtLeastOnce;
pub const Q2: QoS = QoS::ExactlyOnce;

/// Messages per second of each publisher.
const RATE_Q0: u64 = 300;
const RATE_Q1: u64 = 200;
const RATE_Q2: u64 = 100;
const RATE_RETAINED: u64 = 50;
/// Short-lived connections per second.
const RATE_CHURN: u64 = 20;
pub const SUBSCRIBERS: usize = 4;
const RETAINED_TOPICS: u64 = 200;

/// Live counters, shared by the load threads and the sampler.
#[derive(Default)]
pub struct Counters {
    pub sent: [AtomicU64; 3],
    pub acked: [AtomicU64; 3],
    /// PUBLISH packets received by the persistent subscribers (with
    /// duplicates).
    pub received: [AtomicU64; 3],
    pub connections: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Sends a 8-byte sequence number plus padding.
fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.resize(8 + size, (seq % 251) as u8);
    payload
}

fn seq_of(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload[..8].try_into().unwrap())
}

/// Paces a loop at `rate` per second.
struct Pace {
    next: Instant,
    interval: Duration,
}

impl Pace {
    fn new(rate: u64) -> Pace {
        Pace {
            next: Instant::now(),
            interval: Duration::from_micros(1_000_000 / rate),
        }
    }

    fn wait(&mut self) {
        self.next += self.interval;
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_secs(1) {
            // Fell behind (a slow machine): do not burst to catch up.
            self.next = now;
        }
    }
}

/// Sends DISCONNECT and reads until the broker closes, discarding what
/// arrives meanwhile (unacknowledged QoS 1/2 messages are sent again on
/// the next connection).
fn disconnect_draining(mut client: RawClient) {
    client.send(&Packet::Disconnect(Reasoned::default()));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "not closed 5 s after DISCONNECT");
        match client.recv(left) {
            Recv::Closed => return,
            Recv::Packet(_) | Recv::Timeout => {}
        }
    }
}

/// One QoS 1 or 2 publisher: returns the sequence numbers acknowledged.
pub fn publisher(
    addr: SocketAddr,
    qos: QoS,
    end: Instant,
    counters: Arc<Counters>,
) -> JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let q = qos as usize;
        let rate = [RATE_Q0, RATE_Q1, RATE_Q2][q];
        let mut pace = Pace::new(rate);
        let mut acked = Vec::new();
        let mut seq = 0u64;
        while Instant::now() < end {
            let mut client = RawClient::open(addr);
            client.connect(&format!("soak-pub-q{q}"), true, 30);
            Counters::add(&counters.connections);
            let reconnect_at = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end && Instant::now() < reconnect_at {
                let topic = format!("soak/q{q}/{}", seq % 16);
                let body = payload(seq, (seq as usize * 7919) % 400);
                Counters::add(&counters.sent[q]);
                if qos == Q0 {
                    client.publish(&topic, &body, Q0, false);
                    if seq % 100 == 99 {
                        client.ping();
                    }
                } else {
                    client.publish_acked(&topic, &body, qos, false);
                    Counters::add(&counters.acked[q]);
                    acked.push(seq);
                }
                seq += 1;
                pace.wait();
            }
            client.disconnect();
        }
        acked
    })
}

/// What a persistent subscriber received.
#[derive(Default)]
pub struct Ledger {
    pub id: String,
    pub qos: u8,
    /// Distinct sequence numbers received on the QoS 1 / QoS 2 stream.
    pub received: HashSet<u64>,
    /// Deliveries of an already received sequence number.
    pub duplicates: u64,
    /// QoS 2 PUBLISH resent for a packet id awaiting PUBREL (DUP, not a
    /// new delivery).
    pub resent_awaiting_rel: u64,
    pub qos0: u64,
    pub connections: u64,
}

pub fn subscriber(
    addr: SocketAddr,
    k: usize,
    end: Instant,
    counters: Arc<Counters>,
    subscribed: Sender<()>,
) -> JoinHandle<Ledger> {
    std::thread::spawn(move || {
        let qos = if k.is_multiple_of(2) { Q1 } else { Q2 };
        let q = qos as usize;
        let mut rng = Rng::new(0x5eed + k as u64 * 7777);
        let mut ledger = Ledger {
            id: format!("soak-sub-{k}"),
            qos: q as u8,
            ..Ledger::default()
        };
        // The receiver's QoS 2 state survives reconnections, as the
        // session does.
        let mut awaiting_rel: HashSet<u16> = HashSet::new();
        let mut first = true;
        loop {
            let final_phase = Instant::now() >= end;
            let mut client = RawClient::open(addr);
            let present = client.connect(&ledger.id, false, 30);
            ledger.connections += 1;
            Counters::add(&counters.connections);
            if first {
                assert!(!present, "{}: stale session at start", ledger.id);
                let filter = format!("soak/q{q}/#");
                assert_eq!(
                    client.subscribe(&[(&filter, qos), ("soak/q0/#", Q0)]),
                    vec![q as u8, 0]
                );
                first = false;
                let _ = subscribed.send(());
            } else {
                assert!(present, "{}: persistent session lost", ledger.id);
            }
            let online_until = Instant::now() + rng.millis(2000, 6000);
            let mut last_message = Instant::now();
            loop {
                match client.recv(Duration::from_millis(200)) {
                    Recv::Packet(Pkt::Publish(msg)) => {
                        last_message = Instant::now();
                        match (msg.qos, msg.packet_id) {
                            (QoS::AtMostOnce, _) => {
                                ledger.qos0 += 1;
                                Counters::add(&counters.received[0]);
                            }
                            (QoS::AtLeastOnce, Some(id)) => {
                                Counters::add(&counters.received[1]);
                                if !ledger.received.insert(seq_of(&msg.payload)) {
                                    ledger.duplicates += 1;
                                }
                                client.send(&Packet::PubAck(Ack::new(id)));
                            }
                            (QoS::ExactlyOnce, Some(id)) => {
                                if awaiting_rel.insert(id) {
                                    Counters::add(&counters.received[2]);
                                    if !ledger.received.insert(seq_of(&msg.payload)) {
                                        ledger.duplicates += 1;
                                    }
                                } else {
                                    assert!(msg.dup, "{}: pid {id} reused early", ledger.id);
                                    ledger.resent_awaiting_rel += 1;
                                }
                                client.send(&Packet::PubRec(Ack::new(id)));
                            }
                            other => panic!("{}: PUBLISH {other:?}", ledger.id),
                        }
                    }
                    Recv::Packet(Pkt::PubRel(id)) => {
                        awaiting_rel.remove(&id);
                        client.send(&Packet::PubComp(Ack::new(id)));
                    }
                    Recv::Packet(other) => panic!("{}: unexpected {other:?}", ledger.id),
                    Recv::Closed => panic!("{}: closed by the broker", ledger.id),
                    Recv::Timeout => {}
                }
                if final_phase {
                    if last_message.elapsed() > Duration::from_secs(2) {
                        break;
                    }
                } else if Instant::now() >= online_until || Instant::now() >= end {
                    break;
                }
            }
            if final_phase {
                disconnect_draining(client);
                return ledger;
            }
            if rng.next().is_multiple_of(2) {
                disconnect_draining(client);
            } else {
                client.close_abruptly();
            }
            if Instant::now() < end {
                std::thread::sleep(rng.millis(300, 1500));
            }
        }
    })
}

/// Retained churn: returns the expected retained store (topic -> payload).
pub fn retained_churn(
    addr: SocketAddr,
    end: Instant,
    counters: Arc<Counters>,
) -> JoinHandle<HashMap<String, Vec<u8>>> {
    std::thread::spawn(move || {
        let mut rng = Rng::new(0xbeef);
        let mut pace = Pace::new(RATE_RETAINED);
        let mut expected = HashMap::new();
        let mut i = 0u64;
        while Instant::now() < end {
            let mut client = RawClient::open(addr);
            client.connect("soak-retained", true, 30);
            Counters::add(&counters.connections);
            let reconnect_at = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end && Instant::now() < reconnect_at {
                let topic = format!("soak/ret/{}", rng.next() % RETAINED_TOPICS);
                let body = if i % 10 == 9 {
                    Vec::new()
                } else {
                    payload(i, (rng.next() % 2000) as usize)
                };
                client.publish_acked(&topic, &body, Q1, true);
                if body.is_empty() {
                    expected.remove(&topic);
                } else {
                    expected.insert(topic, body);
                }
                i += 1;
                pace.wait();
            }
            client.disconnect();
        }
        expected
    })
}

/// Short-lived connections of every kind.
pub fn connection_churn(
    addr: SocketAddr,
    end: Instant,
    counters: Arc<Counters>,
) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut pace = Pace::new(RATE_CHURN);
        let mut i = 0u64;
        while Instant::now() < end {
            Counters::add(&counters.connections);
            match i % 5 {
                0 => {
                    let mut c = RawClient::open(addr);
                    c.connect(&format!("churn-c-{}", i % 100), true, 30);
                    c.subscribe(&[(&format!("churn/x/{i}"), Q1)]);
                    c.publish_acked("churn/y", b"hello", Q0, false);
                    c.disconnect();
                }
                1 => {
                    // A persistent session left behind ...
                    let mut c = RawClient::open(addr);
                    c.connect(&format!("churn-p-{}", (i / 5) % 50), false, 30);
                    c.subscribe(&[("churn/p", Q1)]);
                    c.disconnect();
                }
                2 => {
                    // ... and discarded by a clean connection.
                    let mut c = RawClient::open(addr);
                    c.connect(&format!("churn-p-{}", (i / 5 + 25) % 50), true, 30);
                    c.disconnect();
                }
                3 => {
                    // Gone without DISCONNECT: its will goes out.
                    let mut c = RawClient::open(addr);
                    c.connect_with(&ConnectOptions::new(&format!("churn-w-{}", i % 100)).will(
                        "churn/will",
                        b"bye",
                        Q1,
                        false,
                    ));
                    c.close_abruptly();
                }
                _ => {
                    // TCP only.
                    let c = RawClient::open(addr);
                    c.close_abruptly();
                }
            }
            i += 1;
            pace.wait();
        }
        i
    })
}
