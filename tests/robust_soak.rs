//! Soak: the `mqlite` binary with persistence on (`--db` in a temp dir)
//! under a steady mixed load for `MQLITE_SOAK_SECS` seconds (default 60,
//! the CI form; `scripts/soak.sh` runs 600 against the release build):
//!
//! - QoS 0, 1 and 2 publishers at fixed rates, reconnecting every ~10 s;
//! - 4 persistent subscribers (clean session 0; two at QoS 1, two at
//!   QoS 2, all also on the QoS 0 stream) that go offline for 0.3-1.5 s
//!   every 2-6 s, half the time with DISCONNECT, half by dropping the
//!   socket, and keep their QoS 2 receiver state across connections;
//! - retained churn: 200 topics set, replaced and cleared;
//! - connection churn: short-lived clean and persistent sessions (created
//!   and discarded), wills, bare TCP connections.
//!
//! Every `MQLITE_SOAK_SAMPLE_SECS` (default 10) it records the broker's
//! RSS, open descriptors, database size (file + WAL + SHM) and message
//! counters. At the end it checks: RSS flat after warm-up (no more than 5 %
//! above the first sample after warm-up), descriptors back to the start
//! figure, database size stable, every acknowledged QoS 1/2 message
//! received by every persistent subscriber (QoS 2 exactly once), the
//! retained store equal to what was published, and all of it again after
//! a restart on the same database. With `MQLITE_SOAK_REPORT=FILE` the
//! figures are also written there as Markdown.

mod robust_support;
mod support;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, QoS};
use robust_support::{files_size, sys_snapshot, sys_u64, wait_until, Mqlite, Spawn};
use support::{ConnectOptions, Pkt, RawClient, Recv, TempDir};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

/// Messages per second of each publisher.
const RATE_Q0: u64 = 300;
const RATE_Q1: u64 = 200;
const RATE_Q2: u64 = 100;
const RATE_RETAINED: u64 = 50;
/// Short-lived connections per second.
const RATE_CHURN: u64 = 20;
const SUBSCRIBERS: usize = 4;
const RETAINED_TOPICS: u64 = 200;

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// Live counters, shared by the load threads and the sampler.
#[derive(Default)]
struct Counters {
    sent: [AtomicU64; 3],
    acked: [AtomicU64; 3],
    /// PUBLISH packets received by the persistent subscribers (with
    /// duplicates).
    received: [AtomicU64; 3],
    connections: AtomicU64,
}

impl Counters {
    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
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
    client.send(&Packet::Disconnect);
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
fn publisher(
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
struct Ledger {
    id: String,
    qos: u8,
    /// Distinct sequence numbers received on the QoS 1 / QoS 2 stream.
    received: HashSet<u64>,
    /// Deliveries of an already received sequence number.
    duplicates: u64,
    /// QoS 2 PUBLISH resent for a packet id awaiting PUBREL (DUP, not a
    /// new delivery).
    resent_awaiting_rel: u64,
    qos0: u64,
    connections: u64,
}

fn subscriber(
    addr: SocketAddr,
    k: usize,
    end: Instant,
    counters: Arc<Counters>,
    subscribed: Sender<()>,
) -> JoinHandle<Ledger> {
    std::thread::spawn(move || {
        let qos = if k.is_multiple_of(2) { Q1 } else { Q2 };
        let q = qos as usize;
        let mut rng = Rng(0x5eed + k as u64 * 7777);
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
                                client.send(&Packet::PubAck(id));
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
                                client.send(&Packet::PubRec(id));
                            }
                            other => panic!("{}: PUBLISH {other:?}", ledger.id),
                        }
                    }
                    Recv::Packet(Pkt::PubRel(id)) => {
                        awaiting_rel.remove(&id);
                        client.send(&Packet::PubComp(id));
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
fn retained_churn(
    addr: SocketAddr,
    end: Instant,
    counters: Arc<Counters>,
) -> JoinHandle<HashMap<String, Vec<u8>>> {
    std::thread::spawn(move || {
        let mut rng = Rng(0xbeef);
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
fn connection_churn(addr: SocketAddr, end: Instant, counters: Arc<Counters>) -> JoinHandle<u64> {
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

/// One line of the figures.
#[derive(Clone, Debug)]
struct Sample {
    at: u64,
    rss_kib: u64,
    fds: usize,
    db_bytes: u64,
    sent: [u64; 3],
    acked: [u64; 3],
    received: [u64; 3],
    connections: u64,
    sys: HashMap<String, String>,
}

/// The process figures now, then the next `$SYS` publication (up to
/// `sys_interval` later).
fn sample(broker: &Mqlite, started: Instant, counters: &Counters) -> Sample {
    let c = |a: &[AtomicU64; 3]| [0, 1, 2].map(|q| Counters::get(&a[q]));
    let mut sample = Sample {
        at: started.elapsed().as_secs(),
        rss_kib: broker.rss_kib(),
        fds: broker.fd_count(),
        db_bytes: files_size(&broker.dir, "mqlite.db"),
        sent: c(&counters.sent),
        acked: c(&counters.acked),
        received: c(&counters.received),
        connections: Counters::get(&counters.connections),
        sys: HashMap::new(),
    };
    sample.sys = sys_snapshot(broker.addr);
    sample
}

fn table(samples: &[Sample]) -> String {
    let mut out = String::new();
    out.push_str(
        "| t (s) | RSS (KiB) | fds | db+wal (KiB) | connections | q0 sent/recv | \
         q1 sent/acked/recv | q2 sent/acked/recv | sessions | retained | dropped |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in samples {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}/{} | {}/{}/{} | {}/{}/{} | {} | {} | {} |",
            s.at,
            s.rss_kib,
            s.fds,
            s.db_bytes / 1024,
            s.connections,
            s.sent[0],
            s.received[0],
            s.sent[1],
            s.acked[1],
            s.received[1],
            s.sent[2],
            s.acked[2],
            s.received[2],
            s.sys.get("clients/total").map_or("?", |v| v),
            s.sys.get("retained messages/count").map_or("?", |v| v),
            s.sys.get("publish/messages/dropped").map_or("?", |v| v),
        );
    }
    out
}

#[test]
fn soak() {
    let secs = env_secs("MQLITE_SOAK_SECS", 60);
    let every = env_secs("MQLITE_SOAK_SAMPLE_SECS", 10).max(1);
    // Warm-up: the first third of the run, at most 2 minutes.
    let warmup = (secs / 3).min(120);
    let dir = TempDir::new("soak");
    let config = "sys_interval = 1";
    let mut broker = Spawn::new(config).persist().dir(&dir.0).start();
    let addr = broker.addr;
    let fds_at_start = broker.fd_count();
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    println!(
        "soak: {secs} s against {} (pid {}), sampling every {every} s, warm-up {warmup} s",
        robust_support::bin_path().display(),
        broker.pid()
    );

    // Publishing starts once every persistent subscriber has subscribed.
    let (subscribed, ready) = channel();
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|k| subscriber(addr, k, end, Arc::clone(&counters), subscribed.clone()))
        .collect();
    for _ in 0..SUBSCRIBERS {
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("a persistent subscriber did not subscribe within 10 s");
    }
    let publishers: Vec<_> = [Q0, Q1, Q2]
        .into_iter()
        .map(|qos| publisher(addr, qos, end, Arc::clone(&counters)))
        .collect();
    let retained = retained_churn(addr, end, Arc::clone(&counters));
    let churn = connection_churn(addr, end, Arc::clone(&counters));

    let mut samples = vec![sample(&broker, started, &counters)];
    let threads_done = || {
        publishers.iter().all(|t| t.is_finished()) && retained.is_finished() && churn.is_finished()
    };
    let mut next_sample = started + Duration::from_secs(every);
    while Instant::now() < end {
        broker.assert_running();
        if threads_done() {
            break; // a load thread failed: its panic is reported below
        }
        if Instant::now() >= next_sample {
            samples.push(sample(&broker, started, &counters));
            let s = samples.last().unwrap();
            println!(
                "t={:>4}s rss={} KiB fds={} db={} KiB q1 {}/{}/{} q2 {}/{}/{}",
                s.at,
                s.rss_kib,
                s.fds,
                s.db_bytes / 1024,
                s.sent[1],
                s.acked[1],
                s.received[1],
                s.sent[2],
                s.acked[2],
                s.received[2]
            );
            next_sample += Duration::from_secs(every);
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    // Load ends; everyone finishes and disconnects.
    let acked: Vec<Vec<u64>> = publishers
        .into_iter()
        .map(|t| t.join().expect("publisher"))
        .collect();
    let expected_retained = retained.join().expect("retained churn");
    let churned = churn.join().expect("connection churn");
    let ledgers: Vec<Ledger> = subscribers
        .into_iter()
        .map(|t| t.join().expect("persistent subscriber"))
        .collect();
    samples.push(sample(&broker, started, &counters));

    // Every acknowledged QoS 1/2 message reached every persistent
    // subscriber of its stream; QoS 2 exactly once.
    let mut accounting = String::new();
    for ledger in &ledgers {
        let stream = &acked[ledger.qos as usize];
        let missing: Vec<u64> = stream
            .iter()
            .copied()
            .filter(|s| !ledger.received.contains(s))
            .collect();
        let _ = writeln!(
            accounting,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            ledger.id,
            ledger.qos,
            stream.len(),
            ledger.received.len(),
            missing.len(),
            ledger.duplicates,
            ledger.resent_awaiting_rel,
            ledger.connections
        );
        assert!(
            missing.is_empty(),
            "{} (QoS {}) misses {} of {} acknowledged messages, first {:?}",
            ledger.id,
            ledger.qos,
            missing.len(),
            stream.len(),
            &missing[..missing.len().min(10)]
        );
        if ledger.qos == 2 {
            assert_eq!(ledger.duplicates, 0, "{}: QoS 2 duplicates", ledger.id);
        }
    }
    let sent = samples.last().unwrap().sent;

    // The retained store is exactly what was published.
    let check_retained = |addr: SocketAddr| {
        let mut c = RawClient::open(addr);
        c.connect("soak-retained-check", true, 30);
        c.subscribe(&[("soak/ret/#", Q0)]);
        let mut found = HashMap::new();
        while let Recv::Packet(pkt) = c.recv(Duration::from_millis(1000)) {
            let Pkt::Publish(msg) = pkt else {
                panic!("{pkt:?}")
            };
            assert!(msg.retain);
            found.insert(msg.topic, msg.payload);
        }
        c.disconnect();
        assert_eq!(found.len(), expected_retained.len(), "retained topics");
        for (topic, payload) in &expected_retained {
            assert_eq!(found.get(topic), Some(payload), "retained {topic}");
        }
    };
    check_retained(addr);

    // No descriptor leak: back to the start figure once all are gone.
    let fds_closed = wait_until(Duration::from_secs(5), || broker.fd_count() <= fds_at_start);
    let fds_end = broker.fd_count();

    // And all of it survives a restart on the same database.
    let sessions = sys_u64(&samples.last().unwrap().sys, "clients/total");
    let port = addr.port();
    let status = broker.stop();
    assert!(status.success(), "mqlite exited with {status}");
    let restarted = Spawn::new(config).persist().port(port).dir(&dir.0).start();
    let restored = restarted
        .wait_log(&["restored"], Duration::from_secs(5))
        .unwrap_or_default();
    check_retained(restarted.addr);
    for ledger in &ledgers {
        let mut c = RawClient::open(restarted.addr);
        assert!(
            c.connect(&ledger.id, false, 30),
            "{}: session not restored",
            ledger.id
        );
        c.expect_nothing();
        c.disconnect();
    }
    drop(restarted);

    // The figures.
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warmup).collect();
    let base = after.first().copied().unwrap_or(samples.last().unwrap());
    let rss_max = after.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let rss_growth = (rss_max as f64 / base.rss_kib as f64 - 1.0) * 100.0;
    let db_max = after.iter().map(|s| s.db_bytes).max().unwrap_or(0);
    let db_growth = (db_max as f64 / base.db_bytes.max(1) as f64 - 1.0) * 100.0;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Soak of {secs} s ({}), samples every {every} s, warm-up {warmup} s.\n",
        robust_support::bin_path().display()
    );
    report.push_str(&table(&samples));
    let _ = writeln!(
        report,
        "\nRSS after warm-up: {} KiB at {} s, max {rss_max} KiB ({rss_growth:+.1} %). \
         Database (file + WAL + SHM) after warm-up: {} KiB, max {} KiB ({db_growth:+.1} %). \
         Descriptors: {fds_at_start} at start, {fds_end} at the end. \
         Connections opened by the load: {}; churn loop iterations: {churned}. \
         Sessions at the end: {sessions}. Restart: {}.\n",
        base.rss_kib,
        base.at,
        base.db_bytes / 1024,
        db_max / 1024,
        samples.last().unwrap().connections,
        restored
            .split_once(": ")
            .map_or("?", |(_, rest)| rest.trim()),
    );
    let _ = writeln!(
        report,
        "Published: QoS 0 {}, QoS 1 {} (acked {}), QoS 2 {} (acked {}).\n",
        sent[0],
        sent[1],
        acked[1].len(),
        sent[2],
        acked[2].len()
    );
    report.push_str(
        "| subscriber | QoS | acked on its stream | distinct received | missing | duplicates | \
         QoS 2 resends awaiting PUBREL | connections |\n|---|---|---|---|---|---|---|---|\n",
    );
    report.push_str(&accounting);
    println!("{report}");
    if let Ok(path) = std::env::var("MQLITE_SOAK_REPORT") {
        std::fs::write(&path, &report).expect("write the soak report");
    }

    assert!(
        fds_closed,
        "descriptor leak: {fds_at_start} at start, {fds_end} at the end"
    );
    assert!(
        rss_growth <= 5.0,
        "RSS grew {rss_growth:.1} % after warm-up ({} -> {rss_max} KiB)",
        base.rss_kib
    );
    assert!(
        db_growth <= 25.0,
        "database grew {db_growth:.1} % after warm-up ({} -> {db_max} bytes)",
        base.db_bytes
    );
}
