//! The client threads of the crash test (`tests/persistence/crash.rs`, which
//! describes what they do and what is checked): two persistent publishers
//! ([`publisher`], QoS 1 and 2, resending what is not acknowledged after
//! each reconnection) and two persistent subscribers ([`subscriber`],
//! recognizing QoS 2 redeliveries by packet id), with the [`Shared`] state
//! and the reports they hand back.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::{Ack, Packet, Properties, QoS, Reasoned, Subscribe};

use super::{Pkt, RawClient};

/// Messages a publisher keeps in flight.
const WINDOW: usize = 20;
/// Most messages the slowest subscriber may be behind the publishers.
const MAX_BACKLOG: u64 = 2000;

/// What the test and its client threads share.
pub struct Shared {
    pub addr: SocketAddr,
    /// Publishers stop making new messages (and finish the outstanding ones).
    pub stop_publishing: AtomicBool,
    /// Subscribers stop.
    pub stop_subscribers: AtomicBool,
    /// No client thread runs past this, whatever happens.
    pub hard_deadline: Instant,
    /// Messages made by all publishers.
    pub created: AtomicU64,
    /// Distinct messages received, per subscriber.
    pub received: [AtomicU64; 2],
}

impl Shared {
    /// Whether a publisher may make a new message: not while a subscriber
    /// is [`MAX_BACKLOG`] messages behind (the broker does not slow
    /// publishers down for slow subscribers; without this the queues, the
    /// file and the restart time would grow for the whole run).
    fn may_publish(&self) -> bool {
        let slowest = self
            .received
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        self.created.load(Ordering::Relaxed) < slowest + MAX_BACKLOG
    }
}

fn payload(tag: &str, seq: u64) -> Vec<u8> {
    format!("{tag}:{seq}").into_bytes()
}

fn parse_payload(bytes: &[u8]) -> Option<(String, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (tag, seq) = text.split_once(':')?;
    Some((tag.to_string(), seq.parse().ok()?))
}

// ---------------------------------------------------------------------------
// Publishers.

struct Outstanding {
    packet_id: u16,
    seq: u64,
    /// QoS 2: PUBREC received, PUBREL sent, PUBCOMP awaited.
    released: bool,
}

#[derive(Default)]
pub struct PublisherReport {
    /// Messages made (sequence numbers 0..created).
    pub created: u64,
    /// Sequence numbers acknowledged (PUBACK / PUBREC), with how often.
    pub acked: BTreeMap<u64, u32>,
    pub connects: u32,
    /// PUBLISH / PUBREL sent again after a reconnection.
    pub resent: u64,
    /// Protocol surprises and reconnections without the session.
    pub problems: Vec<String>,
}

pub fn publisher(
    shared: Arc<Shared>,
    client_id: &'static str,
    tag: &'static str,
    qos: QoS,
) -> PublisherReport {
    let topic = format!("crash/{tag}");
    let mut report = PublisherReport::default();
    let mut outstanding: Vec<Outstanding> = Vec::new();
    let mut conn: Option<RawClient> = None;
    let mut next_packet_id: u16 = 0;
    loop {
        if Instant::now() >= shared.hard_deadline {
            report.problems.push(format!(
                "{client_id}: gave up with {} messages outstanding",
                outstanding.len()
            ));
            return report;
        }
        let stopping = shared.stop_publishing.load(Ordering::Acquire);
        if stopping && outstanding.is_empty() {
            if let Some(mut c) = conn.take() {
                let _ = c.try_send(&Packet::Disconnect(Reasoned::default()));
            }
            return report;
        }
        let Some(c) = conn.as_mut() else {
            match RawClient::try_connect_to(shared.addr, client_id, false) {
                Ok((mut c, present)) => {
                    if report.connects > 0 && !present {
                        report.problems.push(format!(
                            "{client_id}: reconnection {} found no session",
                            report.connects
                        ));
                    }
                    report.connects += 1;
                    // Resend, in order, everything not yet complete.
                    let mut ok = true;
                    for out in &outstanding {
                        let sent = if out.released {
                            c.try_send(&Packet::PubRel(Ack::new(out.packet_id)))
                        } else {
                            c.try_send_publish(
                                &topic,
                                &payload(tag, out.seq),
                                qos,
                                false,
                                true,
                                Some(out.packet_id),
                            )
                        };
                        if sent.is_err() {
                            ok = false;
                            break;
                        }
                        report.resent += 1;
                    }
                    if ok {
                        conn = Some(c);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            continue;
        };

        // Fill the window.
        let mut failed = false;
        while !stopping && outstanding.len() < WINDOW && shared.may_publish() {
            let seq = report.created;
            report.created += 1;
            shared.created.fetch_add(1, Ordering::Relaxed);
            let packet_id = loop {
                next_packet_id = next_packet_id.wrapping_add(1).max(1);
                if !outstanding.iter().any(|o| o.packet_id == next_packet_id) {
                    break next_packet_id;
                }
            };
            outstanding.push(Outstanding {
                packet_id,
                seq,
                released: false,
            });
            let sent = c.try_send_publish(
                &topic,
                &payload(tag, seq),
                qos,
                false,
                false,
                Some(packet_id),
            );
            if sent.is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            conn = None;
            continue;
        }

        let pkt = match c.try_recv(Duration::from_millis(20)) {
            Ok(Some(pkt)) => pkt,
            Ok(None) => continue,
            Err(_) => {
                conn = None;
                continue;
            }
        };
        let position = |id: u16| outstanding.iter().position(|o| o.packet_id == id);
        let result = match (qos, pkt) {
            (QoS::AtLeastOnce, Pkt::PubAck(id)) => {
                match position(id) {
                    Some(index) => {
                        let out = outstanding.remove(index);
                        *report.acked.entry(out.seq).or_default() += 1;
                    }
                    None => report
                        .problems
                        .push(format!("{client_id}: PUBACK({id}) for nothing outstanding")),
                }
                Ok(())
            }
            (QoS::ExactlyOnce, Pkt::PubRec(id)) => match position(id) {
                Some(index) => {
                    let out = &mut outstanding[index];
                    if !out.released {
                        out.released = true;
                        *report.acked.entry(out.seq).or_default() += 1;
                    }
                    c.try_send(&Packet::PubRel(Ack::new(id)))
                }
                None => {
                    report
                        .problems
                        .push(format!("{client_id}: PUBREC({id}) for nothing outstanding"));
                    Ok(())
                }
            },
            (QoS::ExactlyOnce, Pkt::PubComp(id)) => {
                match position(id) {
                    Some(index) if outstanding[index].released => {
                        outstanding.remove(index);
                    }
                    _ => report.problems.push(format!(
                        "{client_id}: PUBCOMP({id}) for no PUBREL outstanding"
                    )),
                }
                Ok(())
            }
            (_, other) => {
                report
                    .problems
                    .push(format!("{client_id}: unexpected {other:?}"));
                Ok(())
            }
        };
        if result.is_err() {
            conn = None;
        }
    }
}

// ---------------------------------------------------------------------------
// Subscribers.

#[derive(Default)]
pub struct SubscriberReport {
    /// Every PUBLISH counted as received: (publisher tag, seq) -> the QoS of
    /// each arrival.
    pub received: HashMap<(String, u64), Vec<QoS>>,
    /// QoS 2 redeliveries recognized by packet id (not counted above).
    pub recognized_duplicates: u64,
    /// Inbound QoS 2 packet ids awaiting PUBREL, with the payload.
    pub awaiting_release: HashMap<u16, Vec<u8>>,
    pub subscribed: bool,
    pub connects: u32,
    pub problems: Vec<String>,
}

impl SubscriberReport {
    /// Counts one arrival.
    fn count(&mut self, shared: &Shared, index: usize, key: (String, u64), qos: QoS) {
        let arrivals = self.received.entry(key).or_default();
        if arrivals.is_empty() {
            shared.received[index].fetch_add(1, Ordering::Relaxed);
        }
        arrivals.push(qos);
    }
}

/// A subscriber's id, QoS, shared report and thread.
pub type SubscriberThread = (
    &'static str,
    QoS,
    Arc<Mutex<SubscriberReport>>,
    JoinHandle<()>,
);

pub fn subscriber(
    shared: Arc<Shared>,
    index: usize,
    client_id: &'static str,
    qos: QoS,
    report: Arc<Mutex<SubscriberReport>>,
) {
    let mut conn: Option<RawClient> = None;
    loop {
        if shared.stop_subscribers.load(Ordering::Acquire) {
            if let Some(mut c) = conn.take() {
                let _ = c.try_send(&Packet::Disconnect(Reasoned::default()));
            }
            return;
        }
        if Instant::now() >= shared.hard_deadline {
            report
                .lock()
                .unwrap()
                .problems
                .push(format!("{client_id}: still running at the hard deadline"));
            return;
        }
        let Some(c) = conn.as_mut() else {
            match RawClient::try_connect_to(shared.addr, client_id, false) {
                Ok((mut c, present)) => {
                    let mut r = report.lock().unwrap();
                    if r.connects > 0 && !present {
                        let message =
                            format!("{client_id}: reconnection {} found no session", r.connects);
                        r.problems.push(message);
                    }
                    r.connects += 1;
                    let subscribed = r.subscribed;
                    drop(r);
                    if subscribed
                        || c.try_send(&Packet::Subscribe(Subscribe {
                            packet_id: 1,
                            filters: vec![("crash/#", qos.into())],
                            properties: Properties::EMPTY,
                        }))
                        .is_ok()
                    {
                        conn = Some(c);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
            continue;
        };
        let pkt = match c.try_recv(Duration::from_millis(20)) {
            Ok(Some(pkt)) => pkt,
            Ok(None) => continue,
            Err(_) => {
                conn = None;
                continue;
            }
        };
        let mut guard = report.lock().unwrap();
        let r = &mut *guard;
        let reply = match pkt {
            Pkt::SubAck {
                packet_id: 1,
                codes,
            } if codes == [qos as u8] => {
                r.subscribed = true;
                None
            }
            Pkt::Publish(msg) => {
                let key = match parse_payload(&msg.payload) {
                    Some(key) => key,
                    None => {
                        r.problems
                            .push(format!("{client_id}: unknown payload {msg:?}"));
                        (String::new(), u64::MAX)
                    }
                };
                match (msg.qos, msg.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => {
                        if r.awaiting_release.contains_key(&id) {
                            r.problems.push(format!(
                                "{client_id}: QoS 1 PUBLISH under packet id {id}, still in a \
                                 QoS 2 flow: {msg:?}"
                            ));
                        }
                        r.count(&shared, index, key, msg.qos);
                        Some(Packet::PubAck(Ack::new(id)))
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        match r.awaiting_release.get(&id) {
                            Some(known) if *known == msg.payload => {
                                r.recognized_duplicates += 1;
                                if !msg.dup {
                                    r.problems.push(format!(
                                        "{client_id}: QoS 2 message redelivered without DUP: \
                                         {msg:?}"
                                    ));
                                }
                            }
                            Some(known) => {
                                let known = String::from_utf8_lossy(known).into_owned();
                                r.problems.push(format!(
                                    "{client_id}: packet id {id} reused for {msg:?} while \
                                     {known} awaits PUBREL"
                                ));
                            }
                            None => {
                                r.awaiting_release.insert(id, msg.payload.clone());
                                r.count(&shared, index, key, msg.qos);
                            }
                        }
                        Some(Packet::PubRec(Ack::new(id)))
                    }
                    _ => {
                        r.problems
                            .push(format!("{client_id}: unexpected PUBLISH {msg:?}"));
                        None
                    }
                }
            }
            Pkt::PubRel(id) => {
                r.awaiting_release.remove(&id);
                Some(Packet::PubComp(Ack::new(id)))
            }
            other => {
                r.problems
                    .push(format!("{client_id}: unexpected {other:?}"));
                None
            }
        };
        drop(guard);
        if let Some(packet) = reply {
            if c.try_send(&packet).is_err() {
                conn = None;
            }
        }
    }
}
