//! Overload by consumers, against the `mqlite` binary: subscribers that
//! stop reading, or read slowly, while publishers run at full speed.
//!
//! What must hold: a stuck subscriber costs bounded memory (RSS of the
//! broker process, sampled), its messages are dropped per the stated
//! policy and counted, and the other subscribers keep receiving. Only
//! generous liveness bounds are asserted, never speeds. Too many
//! connections and too few descriptors are in `robust_overload.rs`.

use crate::support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, Properties, Publish, QoS};
use support::robust::{neighbour_pings, rss_kib, Spawn};
use support::{encode, ConnectOptions, Pkt, RawClient, Recv};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;

fn seq(payload: &[u8]) -> u64 {
    u64::from_be_bytes(payload[..8].try_into().unwrap())
}

/// Samples a process's RSS (KiB) every 250 ms until `stop`.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            samples.push(rss_kib(pid));
            // The sampling period.
            std::thread::sleep(Duration::from_millis(250));
        }
        samples
    })
}

/// A subscriber that reads (and acknowledges) in a thread until `stop` is
/// set and nothing has come for 300 ms, counting PUBLISH packets per
/// 500 ms window; returns the counts and the payload sequence numbers.
fn reader(
    addr: SocketAddr,
    id: &str,
    filter: &str,
    qos: QoS,
    stop: Arc<AtomicBool>,
) -> JoinHandle<(Vec<u64>, Vec<u64>)> {
    let mut client = RawClient::open(addr);
    client.connect(id, true, 0);
    assert_eq!(client.subscribe(&[(filter, qos)]), vec![qos as u8]);
    std::thread::spawn(move || {
        let mut windows = vec![0u64];
        let mut seqs = Vec::new();
        let mut window_start = Instant::now();
        let mut last = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !(stop.load(Ordering::Relaxed) && last.elapsed() > Duration::from_millis(300)) {
            assert!(Instant::now() < deadline, "reader still busy after 120 s");
            match client.recv(Duration::from_millis(100)) {
                Recv::Packet(Pkt::Publish(msg)) => {
                    last = Instant::now();
                    *windows.last_mut().unwrap() += 1;
                    if msg.payload.len() >= 8 {
                        seqs.push(seq(&msg.payload));
                    }
                    client.ack(&msg);
                }
                Recv::Packet(other) => panic!("reader got {other:?}"),
                Recv::Closed => panic!("the broker closed a reading subscriber"),
                Recv::Timeout => {}
            }
            if window_start.elapsed() >= Duration::from_millis(500) {
                windows.push(0);
                window_start = Instant::now();
            }
        }
        client.disconnect();
        (windows, seqs)
    })
}

/// Messages each blasting publisher sends at least, however slow the
/// machine: enough to overflow a stuck subscriber's 1 MiB of output many
/// times over.
const MIN_BLAST: u64 = 64 * 1024;

/// A publisher that sends QoS 0 PUBLISH packets of `size` bytes to
/// `topic` as fast as the broker takes them, until `until` and at least
/// `MIN_BLAST` of them. Returns how many it sent (sequence numbers from
/// `first`).
fn blast_qos0(addr: SocketAddr, id: &str, topic: &str, size: usize, until: Instant) -> u64 {
    let mut client = RawClient::open(addr);
    client.connect(id, true, 0);
    let mut sent = 0u64;
    while Instant::now() < until || sent < MIN_BLAST {
        let mut batch = Vec::with_capacity(64 * (size + 16));
        for _ in 0..64 {
            let mut payload = sent.to_be_bytes().to_vec();
            payload.resize(size, 0x33);
            batch.extend_from_slice(&encode(&Packet::Publish(Publish {
                dup: false,
                qos: Q0,
                retain: false,
                topic,
                packet_id: None,
                payload: &payload,
                properties: Properties::EMPTY,
            })));
            sent += 1;
        }
        // Panics if the broker stops reading for 5 s.
        client.send_raw(&batch);
    }
    client.ping();
    client.disconnect();
    sent
}

/// Two QoS 0 publishers `<name>-0` and `<name>-1` blasting 1 KiB messages
/// to `load/0` and `load/1` until `until`; returns how many they sent.
fn two_blasting_publishers(addr: SocketAddr, name: &str, until: Instant) -> u64 {
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            let id = format!("{name}-{p}");
            std::thread::spawn(move || blast_qos0(addr, &id, &format!("load/{p}"), 1024, until))
        })
        .collect();
    publishers.into_iter().map(|p| p.join().unwrap()).sum()
}

#[test]
fn stuck_qos0_subscriber_is_counted_and_others_keep_receiving() {
    // Policy (max_pending_output, here 1 MiB): past it, the stuck client's
    // QoS 0 messages are discarded and counted; it stays connected.
    let mut broker = Spawn::new("max_pending_output = 1048576").start();
    let addr = broker.addr;
    let mut stuck = RawClient::open(addr);
    stuck.connect("stuck0", true, 0);
    stuck.subscribe(&[("load/#", Q0)]);
    let dropped_before = broker.sys_u64("publish/messages/dropped");
    let rss_before = broker.rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let healthy = reader(addr, "healthy0", "load/#", Q0, Arc::clone(&stop));
    let neighbour = neighbour_pings(addr, "neighbour", Arc::clone(&stop));
    let rss = sample_rss(broker.pid(), Arc::clone(&stop));
    let until = Instant::now() + Duration::from_secs(5);
    let sent = two_blasting_publishers(addr, "blast0", until);
    stop.store(true, Ordering::Relaxed);
    let (windows, _) = healthy.join().unwrap();
    let worst_ping = neighbour
        .join()
        .expect("a neighbour's PINGREQ answered within 5 s during the blast");
    let rss = rss.join().unwrap();
    let dropped = broker.sys_u64("publish/messages/dropped") - dropped_before;
    let peak = rss.iter().copied().max().unwrap_or(0);
    let received: u64 = windows.iter().sum();
    println!(
        "QoS 0 blast: {sent} sent, healthy received {received} ({:?} per 500 ms), \
         {dropped} dropped; slowest neighbour PINGREQ {worst_ping:?}; \
         broker RSS {rss_before} KiB before, peak {peak} KiB, samples {rss:?}",
        windows
    );
    // The memory bound itself is checked (and currently fails) in
    // `stuck_subscribers_cost_at_most_max_pending_output_each` and
    // `slow_reader_memory_stays_flat`; here only the figures are shown.
    assert!(sent >= 2 * MIN_BLAST, "only {sent} messages sent");
    assert!(dropped > 0, "nothing dropped for the stuck subscriber");
    // The healthy subscriber received in every 500 ms window of the blast.
    let blast_windows = &windows[1..9];
    assert!(
        blast_windows.iter().all(|&n| n > 0),
        "the healthy subscriber stalled: {windows:?}"
    );
    // The stuck one was not disconnected: it reads what was kept, then
    // receives new messages.
    let mut kept = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Recv::Packet(pkt) = stuck.recv(Duration::from_millis(500)) {
        assert!(Instant::now() < deadline, "still draining after 30 s");
        assert!(matches!(pkt, Pkt::Publish(_)), "{pkt:?}");
        kept += 1;
    }
    println!("the stuck subscriber kept {kept} messages");
    assert!(kept < sent);
    // Every message is accounted for: each subscriber got it, or it was
    // dropped and counted.
    assert_eq!(
        dropped,
        (sent - kept) + (sent - received),
        "dropped = what the stuck one missed + what the healthy one missed"
    );
    let mut publisher = RawClient::open(addr);
    publisher.connect("after0", true, 60);
    publisher.publish_acked("load/after", b"after", Q1, false);
    let msg = stuck.expect_publish();
    assert_eq!(msg.payload, b"after");
    broker.assert_serves();
}

#[test]
fn stuck_qos1_subscriber_queue_is_bounded_and_counted() {
    // Policy: max_inflight in flight, max_queued_messages queued (the
    // defaults), newer messages dropped and counted; the client stays
    // connected and gets the kept ones, in order, when it reads again.
    let defaults = mqlite::Config::default();
    let kept = u64::from(defaults.max_inflight) + defaults.max_queued_messages as u64;
    let mut broker = Spawn::new("").start();
    let addr = broker.addr;
    let mut stuck = RawClient::open(addr);
    stuck.connect("stuck1", true, 0);
    stuck.subscribe(&[("q1/#", Q1)]);
    let dropped_before = broker.sys_u64("publish/messages/dropped");
    let rss_before = broker.rss_kib();

    let stop = Arc::new(AtomicBool::new(false));
    let healthy = reader(addr, "healthy1", "q1/#", Q1, Arc::clone(&stop));
    let rss = sample_rss(broker.pid(), Arc::clone(&stop));
    // One QoS 1 publisher, pipelined: up to 100 PUBLISH awaiting PUBACK.
    let mut publisher = RawClient::open(addr);
    publisher.connect("blast1", true, 0);
    let until = Instant::now() + Duration::from_secs(4);
    let mut sent = 0u64;
    let mut acked = 0u64;
    while Instant::now() < until || acked < sent {
        if Instant::now() < until && sent - acked < 100 {
            let mut batch = Vec::new();
            for _ in 0..20 {
                let mut payload = sent.to_be_bytes().to_vec();
                payload.resize(1024, 0x44);
                batch.extend_from_slice(&encode(&Packet::Publish(Publish {
                    dup: false,
                    qos: Q1,
                    retain: false,
                    topic: "q1/load",
                    packet_id: Some((sent % 60_000 + 1) as u16),
                    payload: &payload,
                    properties: Properties::EMPTY,
                })));
                sent += 1;
            }
            publisher.send_raw(&batch);
        }
        match publisher.recv(Duration::from_millis(if sent - acked >= 100 {
            5000
        } else {
            1
        })) {
            Recv::Packet(Pkt::PubAck(_)) => acked += 1,
            Recv::Timeout if sent - acked < 100 => {}
            other => panic!("publisher: {other:?} ({acked}/{sent} acked)"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let (windows, seqs) = healthy.join().unwrap();
    let rss = rss.join().unwrap();
    let dropped = broker.sys_u64("publish/messages/dropped") - dropped_before;
    let peak = rss.iter().copied().max().unwrap_or(0);
    let mut unique = seqs.clone();
    unique.sort_unstable();
    unique.dedup();
    println!(
        "QoS 1 blast: {sent} sent and acked, healthy received {} ({} distinct; {:?} per 500 ms), \
         {dropped} dropped; broker RSS {rss_before} KiB before, peak {peak} KiB",
        seqs.len(),
        unique.len(),
        windows
    );
    assert!(
        peak < rss_before + 64 * 1024,
        "RSS {rss_before} -> {peak} KiB"
    );
    let blast_windows = &windows[1..7];
    assert!(
        blast_windows.iter().all(|&n| n > 0),
        "the healthy subscriber stalled: {windows:?}"
    );
    assert_eq!(unique.len(), seqs.len(), "duplicates without a reconnect");
    // Everything dropped was the stuck client's overflow, or the healthy
    // one's if it fell more than `kept` behind.
    let healthy_lost = sent - unique.len() as u64;
    assert_eq!(
        dropped,
        (sent - kept) + healthy_lost,
        "dropped = stuck overflow + healthy losses"
    );
    // The stuck client gets exactly the first `kept`, in order.
    for expected in 0..kept {
        let msg = stuck.expect_publish();
        assert_eq!(seq(&msg.payload), expected, "stuck subscriber order");
        stuck.ack(&msg);
    }
    stuck.expect_nothing();
    stuck.disconnect();
    publisher.disconnect();
    broker.assert_serves();
}

/// A raw subscriber (no decoding): CONNECT, SUBSCRIBE `filter` QoS 0, then
/// the caller reads the socket at whatever pace it likes.
fn raw_subscriber(addr: SocketAddr, id: &str, filter: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(&ConnectOptions::new(id).keepalive(0).encode())
        .unwrap();
    let mut connack = [0u8; 4];
    stream.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    stream
        .write_all(&encode(&Packet::Subscribe(mqlite::codec::Subscribe {
            packet_id: 1,
            filters: vec![(filter, Q0.into())],
            properties: Properties::EMPTY,
        })))
        .unwrap();
    let mut suback = [0u8; 5];
    stream.read_exact(&mut suback).unwrap();
    assert_eq!(suback, [0x90, 3, 0, 1, 0]);
    stream
}

#[test]
fn slow_reader_memory_stays_bounded() {
    // A subscriber that keeps reading, slowly (64 KiB every 5 ms), while
    // QoS 0 arrives much faster, with the default limits: past
    // max_pending_output its messages are dropped, and the broker's memory
    // must stay within about twice that limit (a growing Vec doubles) plus
    // slack, however long it goes on.
    use std::io::Read;
    let limit = mqlite::Config::default().max_pending_output as u64 / 1024;
    let broker = Spawn::new("").start();
    let addr = broker.addr;
    let mut slow = raw_subscriber(addr, "slow-reader", "load/#");
    let before = broker.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(broker.pid(), Arc::clone(&stop));
    let until = Instant::now() + Duration::from_secs(10);
    let publishers: Vec<_> = (0..2)
        .map(|p| {
            std::thread::spawn(move || {
                blast_qos0(
                    addr,
                    &format!("flood-{p}"),
                    &format!("load/{p}"),
                    1024,
                    until,
                )
            })
        })
        .collect();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    while Instant::now() < until {
        read += slow.read(&mut buf).expect("the slow reader is served");
        std::thread::sleep(Duration::from_millis(5));
    }
    let sent: u64 = publishers.into_iter().map(|p| p.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    let rss = rss.join().unwrap();
    let peak = rss.iter().copied().max().unwrap_or(0);
    let per_second: Vec<u64> = rss.iter().step_by(4).map(|k| k / 1024).collect();
    println!(
        "slow reader: read {} MiB of {sent} x 1 KiB sent; RSS {before} KiB before, \
         peak {peak} KiB; MiB each second {per_second:?}",
        read >> 20
    );
    assert!(
        peak < before + 2 * limit + 16 * 1024,
        "one slow reader with max_pending_output = {limit} KiB: RSS {before} -> {peak} KiB"
    );
}

#[test]
fn stuck_subscribers_cost_at_most_max_pending_output_each() {
    // Ten subscribers that never read, under a QoS 0 flood: each may hold
    // max_pending_output (here 1 MiB) of output, so the broker's RSS may
    // grow by about 10 MiB (20 MiB allowed, plus 16 MiB of slack), and no
    // more.
    let broker = Spawn::new("max_pending_output = 1048576").start();
    let addr = broker.addr;
    let stuck: Vec<RawClient> = (0..10)
        .map(|i| {
            let mut c = RawClient::open(addr);
            c.connect(&format!("stuck-{i}"), true, 0);
            c.subscribe(&[("load/#", Q0)]);
            c
        })
        .collect();
    let before = broker.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(broker.pid(), Arc::clone(&stop));
    let until = Instant::now() + Duration::from_secs(5);
    let sent = two_blasting_publishers(addr, "flood", until);
    stop.store(true, Ordering::Relaxed);
    let rss = rss.join().unwrap();
    let peak = rss.iter().copied().max().unwrap_or(0);
    println!("10 stuck subscribers, {sent} x 1 KiB QoS 0: RSS {before} KiB -> peak {peak} KiB");
    assert!(
        peak < before + (20 + 16) * 1024,
        "10 stuck subscribers with max_pending_output = 1 MiB: RSS {before} -> {peak} KiB"
    );
    drop(stuck);
}
