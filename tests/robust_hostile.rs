//! Malformed and abusive clients over real sockets, against the `mqlite`
//! binary run with `-v`: truncated packets, half-open connections, CONNECT
//! floods, takeover storms, slowloris (before and after CONNECT), subscribe
//! storms, deep topics, huge client ids and garbage bytes.
//!
//! Each test checks three things: the abusive client is cut off by a stated
//! limit (or served, when it stays within the limits), the broker's stderr
//! says why, and the broker still serves a normal client afterwards (and
//! holds no descriptor of the abusers).

mod robust_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, QoS, Subscribe};
use robust_support::{sys_u64, wait_until, Mqlite, Spawn};
use support::{encode, frame, ConnectOptions, Pkt, RawClient};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;

/// A verbose broker with these config lines.
fn broker(toml: &str) -> Mqlite {
    Spawn::new(toml).verbose().start()
}

/// Waits (at most 10 s) until the broker holds no more descriptors than
/// `baseline`: the abusers' sockets are all closed.
fn assert_fds_back(broker: &Mqlite, baseline: usize) {
    let ok = wait_until(Duration::from_secs(10), || broker.fd_count() <= baseline);
    assert!(
        ok,
        "the broker still holds {} descriptors (baseline {baseline})",
        broker.fd_count()
    );
}

/// Reads a raw socket until end-of-file or `timeout`; true on EOF/reset.
fn closed_within(stream: &mut TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

mod truncated {
    use super::*;

    #[test]
    fn truncated_packets_close_only_their_connection() {
        let mut broker = broker("");
        let baseline = broker.fd_count();

        // A PUBLISH whose topic length runs past its remaining length.
        let mut c = RawClient::open(broker.addr);
        c.connect("short-field", true, 60);
        c.send_raw(&frame(0x30, &[0x00, 0x10, b'a']));
        c.expect_closed();

        // A remaining length that never ends (5 continuation bytes).
        let mut d = RawClient::open(broker.addr);
        d.connect("endless-length", true, 60);
        d.send_raw(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
        d.expect_closed();

        broker.assert_log(&["malformed input", "packet truncated"]);
        broker.assert_log(&["malformed input", "malformed remaining length"]);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn truncated_packet_then_eof_is_dropped_with_the_connection() {
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut watcher = RawClient::open(broker.addr);
        watcher.connect("trunc-watcher", true, 60);
        watcher.subscribe(&[("will/#", Q1)]);

        // A CONNECT cut in the middle, then end-of-file.
        let connect = ConnectOptions::new("cut-connect").encode();
        let mut a = RawClient::open(broker.addr);
        a.send_raw(&connect[..connect.len() / 2]);
        a.close_abruptly();

        // A connected client sends half a PUBLISH and vanishes: its will
        // goes out (a network failure), the half packet is discarded.
        let mut b = RawClient::open(broker.addr);
        b.connect_with(&ConnectOptions::new("cut-publish").will("will/cut", b"gone", Q1, false));
        let publish = encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q1,
            retain: false,
            topic: "trunc/t",
            packet_id: Some(1),
            payload: &[7u8; 1000],
        }));
        b.send_raw(&publish[..100]);
        b.close_abruptly();
        watcher.expect_message("will/cut", b"gone");

        broker.assert_log(&["closed before CONNECT completed", "Network"]);
        broker.assert_log(&["client cut-publish disconnected", "Network"]);
        // Nothing of the cut PUBLISH was delivered.
        watcher.expect_nothing();
        watcher.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod half_open {
    use super::*;

    #[test]
    fn silent_sockets_are_closed_at_connect_timeout() {
        let mut broker = broker("connect_timeout = 1");
        let baseline = broker.fd_count();
        let started = Instant::now();
        let mut silent: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(broker.addr).expect("TCP connect"))
            .collect();
        for stream in &mut silent {
            assert!(
                closed_within(stream, Duration::from_secs(5)),
                "a silent socket is still open 5 s after connect_timeout = 1 s"
            );
        }
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "closed before connect_timeout: {:?}",
            started.elapsed()
        );
        let ok = wait_until(Duration::from_secs(5), || {
            broker
                .log_lines("closed before CONNECT completed: ConnectTimeout")
                .len()
                >= 20
        });
        assert!(
            ok,
            "expected 20 ConnectTimeout log lines:\n{}",
            robust_support::tail(&broker.stderr(), 30)
        );
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn vanished_client_is_closed_at_keepalive_and_its_will_sent() {
        // A peer that disappears without FIN or RST looks, to the broker,
        // like a client that stopped sending: 1.5 x keepalive ends it.
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut watcher = RawClient::open(broker.addr);
        watcher.connect("ka-watcher", true, 60);
        watcher.subscribe(&[("will/ka", Q1)]);
        let started = Instant::now();
        let mut gone = RawClient::open(broker.addr);
        gone.connect_with(&ConnectOptions::new("vanished").keepalive(1).will(
            "will/ka",
            b"vanished",
            Q1,
            false,
        ));
        watcher.expect_message("will/ka", b"vanished");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1400),
            "will before 1.5 x keepalive: {elapsed:?}"
        );
        gone.expect_closed();
        broker.assert_log(&["keepalive expired for"]);
        broker.assert_log(&["client vanished disconnected: KeepaliveTimeout"]);
        watcher.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn half_closed_client_is_closed() {
        // A client that shuts down its sending side: the broker sees
        // end-of-file and closes its side too (no half-open leftovers).
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut streams = Vec::new();
        for i in 0..10 {
            let mut stream = TcpStream::connect(broker.addr).unwrap();
            stream
                .write_all(&ConnectOptions::new(&format!("half-{i}")).encode())
                .unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            streams.push(stream);
        }
        for stream in &mut streams {
            assert!(
                closed_within(stream, Duration::from_secs(5)),
                "half-closed client still open"
            );
        }
        broker.assert_log(&["client half-9 disconnected: Network"]);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod floods {
    use super::*;

    #[test]
    fn connect_flood_leaves_no_trace_and_others_are_served() {
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let addr = broker.addr;
        let mut steady = RawClient::open(addr);
        steady.connect("flood-steady", true, 60);

        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..300 {
                        let Ok(mut stream) =
                            TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                        else {
                            continue;
                        };
                        stream
                            .set_read_timeout(Some(Duration::from_secs(5)))
                            .unwrap();
                        let connect = ConnectOptions::new(&format!("flood-{t}-{i}")).encode();
                        match i % 3 {
                            // CONNECT and gone at once.
                            0 => {
                                let _ = stream.write_all(&connect);
                            }
                            // CONNECT, CONNACK, gone without DISCONNECT.
                            1 => {
                                let _ = stream.write_all(&connect);
                                let mut ack = [0u8; 4];
                                let _ = stream.read_exact(&mut ack);
                            }
                            // Nothing at all.
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        // The steady client keeps being answered during the flood.
        let mut pings = 0;
        while threads.iter().any(|t| !t.is_finished()) {
            steady.ping();
            pings += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert!(pings > 0);
        steady.ping();

        // Every flood connection is gone, and each close was logged.
        assert_fds_back(&broker, baseline + 1);
        let ok = wait_until(Duration::from_secs(5), || {
            let log = broker.stderr();
            let closes = log
                .lines()
                .filter(|l| {
                    l.contains("client flood-") && l.contains("disconnected: Network")
                        || l.contains("closed before CONNECT completed: Network")
                })
                .count();
            closes >= 1200
        });
        assert!(
            ok,
            "not every flood connection's close was logged:\n{}",
            robust_support::tail(&broker.stderr(), 20)
        );
        // Connected now: steady + the $SYS reader.
        assert_eq!(broker.sys_u64("clients/connected"), 2);
        steady.disconnect();
        broker.assert_serves();
    }

    #[test]
    fn takeover_storm_keeps_one_connection() {
        // 300 connections with the same client id, each taking over the
        // previous one: each old socket is closed, one session remains.
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut clients = Vec::new();
        for _ in 0..300 {
            let mut c = RawClient::open(broker.addr);
            c.connect("same-id", false, 60);
            clients.push(c);
        }
        let last = clients.pop().unwrap();
        for mut old in clients {
            old.expect_closed();
        }
        let mut last = last;
        last.ping();
        let taken = broker.log_lines("client same-id taken over by a new connection");
        assert!(
            wait_until(Duration::from_secs(5), || broker
                .log_lines("client same-id taken over")
                .len()
                >= 299),
            "expected 299 takeover log lines, got {}",
            taken.len()
        );
        let sys = broker.sys();
        assert_eq!(sys_u64(&sys, "clients/connected"), 2, "{sys:?}");
        assert_eq!(sys_u64(&sys, "clients/total"), 2, "{sys:?}");
        last.disconnect();
        broker.assert_serves();
        // The persistent session stays; its socket does not.
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn garbage_bytes_are_refused() {
        // Random bytes, an HTTP request and a TLS ClientHello on the MQTT
        // port: each connection is closed, by a decode error or by
        // connect_timeout for bytes that look like the start of a packet.
        let mut broker = broker("connect_timeout = 1");
        let baseline = broker.fd_count();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut inputs: Vec<Vec<u8>> = (0..50)
            .map(|_| (0..200).map(|_| next() as u8).collect())
            .collect();
        inputs.push(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec());
        // A TLS 1.2 ClientHello record header and the start of its body.
        inputs.push(vec![
            0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
        ]);
        let count = inputs.len();
        let mut clients: Vec<RawClient> = inputs
            .iter()
            .map(|bytes| {
                let mut c = RawClient::open(broker.addr);
                c.send_raw(bytes);
                c
            })
            .collect();
        for c in &mut clients {
            // A CONNACK 0x01 may come first (bytes that read as a CONNECT
            // of another protocol level); never a CONNACK 0.
            for pkt in c.drain_until_closed() {
                assert!(
                    !matches!(pkt, Pkt::ConnAck { code: 0, .. }),
                    "garbage accepted: {pkt:?}"
                );
            }
        }
        let ok = wait_until(Duration::from_secs(5), || {
            broker
                .stderr()
                .lines()
                .filter(|l| {
                    l.contains("malformed input from")
                        || l.contains("first packet was")
                        || l.contains("closed before CONNECT completed")
                })
                .count()
                >= count
        });
        assert!(
            ok,
            "not every garbage connection's close has a reason in the log:\n{}",
            robust_support::tail(&broker.stderr(), 30)
        );
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod slowloris {
    use super::*;

    /// Writes `bytes` one per `interval` from a thread until told to stop
    /// or the socket fails.
    fn dribble(
        stream: &TcpStream,
        bytes: Vec<u8>,
        interval: Duration,
    ) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
        let mut writer = stream.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for byte in bytes {
                if flag.load(Ordering::Relaxed) || writer.write_all(&[byte]).is_err() {
                    return;
                }
                // Sleep in small steps so a stop is quick.
                let until = Instant::now() + interval;
                while Instant::now() < until {
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        });
        (stop, thread)
    }

    #[test]
    fn byte_a_second_connect_is_cut_at_connect_timeout() {
        // A CONNECT trickling in at one byte a second never completes in
        // time: bytes arriving do not extend connect_timeout.
        let mut broker = broker("connect_timeout = 2");
        let baseline = broker.fd_count();
        let started = Instant::now();
        let mut loris = Vec::new();
        for i in 0..10 {
            let stream = TcpStream::connect(broker.addr).unwrap();
            let connect = ConnectOptions::new(&format!("loris-{i}")).encode();
            let (stop, thread) = dribble(&stream, connect, Duration::from_secs(1));
            loris.push((stream, stop, thread));
        }
        // A normal client meanwhile.
        let mut normal = RawClient::open(broker.addr);
        normal.connect("loris-neighbour", true, 60);
        for (stream, stop, _) in &mut loris {
            assert!(
                closed_within(stream, Duration::from_secs(8)),
                "slowloris still connected 8 s after connect_timeout = 2 s"
            );
            stop.store(true, Ordering::Relaxed);
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1900),
            "closed before connect_timeout: {elapsed:?}"
        );
        for (_, _, thread) in loris {
            thread.join().unwrap();
        }
        normal.ping();
        let ok = wait_until(Duration::from_secs(5), || {
            broker
                .log_lines("closed before CONNECT completed: ConnectTimeout")
                .len()
                >= 10
        });
        assert!(ok, "{}", robust_support::tail(&broker.stderr(), 20));
        normal.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    #[test]
    fn byte_a_second_packet_after_connect_is_cut_at_keepalive() {
        // After CONNECT, only complete packets count as activity: a PUBLISH
        // trickling in byte by byte does not keep a connection with
        // keepalive 2 s alive past 3 s.
        let mut broker = broker("");
        let baseline = broker.fd_count();
        let mut stream = TcpStream::connect(broker.addr).unwrap();
        stream
            .write_all(&ConnectOptions::new("loris-after").keepalive(2).encode())
            .unwrap();
        let mut ack = [0u8; 4];
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.read_exact(&mut ack).unwrap();
        assert_eq!(ack, [0x20, 0x02, 0x00, 0x00]);
        let started = Instant::now();
        let publish = encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q0,
            retain: false,
            topic: "loris/topic/that/is/long/enough",
            packet_id: None,
            payload: b"0123456789",
        }));
        let (stop, thread) = dribble(&stream, publish, Duration::from_millis(500));
        assert!(
            closed_within(&mut stream, Duration::from_secs(10)),
            "trickling client still connected 10 s after keepalive 2 s"
        );
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(
            elapsed >= Duration::from_millis(2900) && elapsed < Duration::from_secs(8),
            "closed after {elapsed:?}, expected about 3 s (1.5 x keepalive)"
        );
        broker.assert_log(&["client loris-after disconnected: KeepaliveTimeout"]);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}

mod storms {
    use super::*;

    fn subscribe_packet(packet_id: u16, filters: &[String]) -> Vec<u8> {
        encode(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.iter().map(|f| (f.as_str(), Q1)).collect(),
        }))
    }

    #[test]
    fn ten_thousand_filters_in_one_subscribe() {
        // Within max_packet_size (16 MiB by default) a 10 000-filter
        // SUBSCRIBE is served in full, and released when the client leaves.
        let mut broker = broker("");
        let filters: Vec<String> = (0..10_000).map(|i| format!("storm/{i}/+")).collect();
        let mut storm = RawClient::open(broker.addr);
        storm.connect("storm", true, 60);
        storm.send_raw(&subscribe_packet(1, &filters));
        match storm.expect_packet() {
            Pkt::SubAck { packet_id, codes } => {
                assert_eq!(packet_id, 1);
                assert_eq!(codes.len(), 10_000);
                assert!(codes.iter().all(|&c| c == 1), "all granted QoS 1");
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
        // One of them works.
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("storm-pub", true, 60);
        publisher.publish_acked("storm/7777/x", b"hit", Q1, false);
        storm.expect_message("storm/7777/x", b"hit");
        storm.expect_nothing();
        // 10 000 + the $SYS reader's own subscription.
        assert_eq!(broker.sys_u64("subscriptions/count"), 10_001);
        storm.disconnect();
        assert!(wait_until(Duration::from_secs(5), || broker
            .sys_u64("subscriptions/count")
            == 1));
        publisher.disconnect();
        broker.assert_serves();
    }

    #[test]
    fn subscribe_storm_past_max_packet_size_is_cut() {
        let mut broker = broker("max_packet_size = 65536");
        let baseline = broker.fd_count();
        let filters: Vec<String> = (0..10_000).map(|i| format!("storm/{i}/+")).collect();
        let packet = subscribe_packet(1, &filters);
        assert!(packet.len() > 65_536);
        let mut storm = RawClient::open(broker.addr);
        storm.connect("storm-cut", true, 60);
        storm.send_raw(&packet);
        storm.expect_closed();
        let line = broker.assert_log(&["malformed input from", "exceeds the maximum of 65536"]);
        assert!(
            line.contains(&format!("packet of {} bytes", packet.len())),
            "{line}"
        );
        broker.assert_log(&["client storm-cut disconnected: ProtocolError"]);
        assert_eq!(broker.sys_u64("subscriptions/count"), 1);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }

    /// Pings from a neighbour client every 50 ms until `stop`; returns the
    /// slowest round trip. Panics if one takes longer than 5 s.
    fn neighbour_pings(
        addr: std::net::SocketAddr,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<Duration> {
        let mut neighbour = RawClient::open(addr);
        neighbour.connect("storm-neighbour", true, 0);
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                neighbour.ping();
                worst = worst.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(50));
            }
            neighbour.disconnect();
            worst
        })
    }

    #[test]
    fn many_subscribes_from_one_client_are_served_and_freed() {
        // No limit caps the number of subscriptions one client holds (only
        // each SUBSCRIBE's size is capped): 10 pipelined SUBSCRIBEs of
        // 1 000 filters are all granted while a neighbour keeps being
        // answered, and everything is released when the client leaves.
        let mut broker = broker("");
        let stop = Arc::new(AtomicBool::new(false));
        let neighbour = neighbour_pings(broker.addr, Arc::clone(&stop));
        let mut storm = RawClient::open(broker.addr);
        storm.connect("storm-many", true, 60);
        let mut bytes = Vec::new();
        for p in 0..10u16 {
            let filters: Vec<String> = (0..1_000).map(|i| format!("many/{p}/{i}/leaf")).collect();
            bytes.extend_from_slice(&subscribe_packet(p + 1, &filters));
        }
        storm.send_raw(&bytes);
        for p in 0..10u16 {
            match storm.expect_packet() {
                Pkt::SubAck { packet_id, codes } => {
                    assert_eq!((packet_id, codes.len()), (p + 1, 1_000));
                }
                other => panic!("expected SUBACK, got {other:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        neighbour
            .join()
            .expect("the neighbour was answered within 5 s");
        assert_eq!(broker.sys_u64("subscriptions/count"), 10_001);
        storm.disconnect();
        assert!(wait_until(Duration::from_secs(5), || broker
            .sys_u64("subscriptions/count")
            == 1));
        broker.assert_serves();
    }

    #[test]
    // Was quadratic (Session::add_subscription scanned the session's whole
    // filter list: ~16 s of broker CPU, a neighbour's PINGREQ waiting ~8 s);
    // fixed by d34c718.
    fn hundred_thousand_subscriptions_do_not_stall_the_broker() {
        // A subscribe storm spread over many packets: a neighbour's PINGREQ
        // must still be answered within 5 s at every moment.
        let mut broker = broker("");
        let stop = Arc::new(AtomicBool::new(false));
        let neighbour = neighbour_pings(broker.addr, Arc::clone(&stop));
        let mut storm = RawClient::open(broker.addr);
        storm.connect("storm-huge", true, 0);
        let mut bytes = Vec::new();
        for p in 0..20u16 {
            let filters: Vec<String> = (0..5_000).map(|i| format!("many/{p}/{i}/leaf")).collect();
            bytes.extend_from_slice(&subscribe_packet(p + 1, &filters));
        }
        storm.send_raw(&bytes);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut acks = 0;
        while acks < 20 {
            assert!(Instant::now() < deadline, "{acks} SUBACKs in 60 s");
            match storm.recv(Duration::from_secs(5)) {
                support::Recv::Packet(Pkt::SubAck { codes, .. }) => {
                    assert_eq!(codes.len(), 5_000);
                    acks += 1;
                }
                support::Recv::Timeout => {}
                other => panic!("expected SUBACK, got {other:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        let worst = neighbour
            .join()
            .expect("the neighbour was answered within 5 s");
        println!("slowest neighbour PINGREQ during the storm: {worst:?}");
        assert_eq!(broker.sys_u64("subscriptions/count"), 100_001);
        storm.disconnect();
        broker.assert_serves();
    }
}

mod deep_topics {
    use super::*;

    #[test]
    fn deepest_topics_and_filters_are_served_and_persisted() {
        // The longest topic the protocol allows (65 535 bytes) with the most
        // levels (32 768, or 65 536 empty ones): subscribe, publish,
        // retain, persist across a restart, clear.
        let dir = support::TempDir::new("deep");
        let broker = Spawn::new("").verbose().persist().dir(&dir.0).start();
        let topic = format!("{}d", "d/".repeat(32_767));
        let plus = format!("{}+", "+/".repeat(32_767));
        let hash = format!("{}#", "d/".repeat(32_767));
        let empty_levels = "/".repeat(65_535);
        for s in [&topic, &plus, &hash, &empty_levels] {
            assert_eq!(s.len(), 65_535);
        }

        let mut sub = RawClient::open(broker.addr);
        sub.connect("deep-sub", true, 60);
        assert_eq!(
            sub.subscribe(&[(&topic, Q1), (&plus, Q1), (&hash, Q1), (&empty_levels, Q1)]),
            vec![1, 1, 1, 1]
        );
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("deep-pub", true, 60);
        publisher.publish_acked(&topic, b"deep", Q1, true);
        // Three matching filters, one delivery.
        let msg = sub.expect_message(&topic, b"deep");
        assert!(!msg.retain);
        sub.expect_nothing();
        publisher.publish_acked(&empty_levels, b"empty levels", Q1, false);
        sub.expect_message(&empty_levels, b"empty levels");
        sub.disconnect();
        publisher.disconnect();

        // The retained deep message survives a restart.
        let port = broker.addr.port();
        let status = broker.stop();
        assert!(status.success(), "{status}");
        let mut broker = Spawn::new("")
            .verbose()
            .persist()
            .port(port)
            .dir(&dir.0)
            .start();
        let mut late = RawClient::open(broker.addr);
        late.connect("deep-late", true, 60);
        assert_eq!(late.subscribe(&[("#", Q1)]), vec![1]);
        let msg = late.expect_message(&topic, b"deep");
        assert!(msg.retain, "retained copy has the retain flag");
        late.expect_nothing();
        // Cleared with an empty retained message.
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("deep-clear", true, 60);
        publisher.publish_acked(&topic, b"", Q1, true);
        late.expect_message(&topic, b"");
        late.disconnect();
        let mut check = RawClient::open(broker.addr);
        check.connect("deep-check", true, 60);
        assert_eq!(check.subscribe(&[("d/#", Q1)]), vec![1]);
        check.expect_nothing();
        check.disconnect();
        publisher.disconnect();
        broker.assert_serves();
    }
}

mod client_ids {
    use super::*;

    #[test]
    fn longest_client_ids_are_served() {
        // 65 535-byte client ids are valid within max_packet_size: two of
        // them differing in the last byte are two sessions, and a
        // persistent one resumes.
        let mut broker = broker("");
        let id_a = format!("{}a", "x".repeat(65_534));
        let id_b = format!("{}b", "x".repeat(65_534));
        let mut a = RawClient::open(broker.addr);
        assert!(!a.connect(&id_a, false, 60));
        a.subscribe(&[("huge/t", Q1)]);
        let mut b = RawClient::open(broker.addr);
        b.connect(&id_b, true, 60);
        b.ping();
        a.ping();
        a.disconnect();
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect("huge-pub", true, 60);
        publisher.publish_acked("huge/t", b"for a", Q1, false);
        let mut a = RawClient::open(broker.addr);
        assert!(a.connect(&id_a, false, 60), "session present");
        a.expect_message("huge/t", b"for a");
        // A takeover with a huge id.
        let mut a2 = RawClient::open(broker.addr);
        assert!(a2.connect(&id_a, false, 60));
        a.expect_closed();
        a2.disconnect();
        b.disconnect();
        publisher.disconnect();
        broker.assert_serves();
    }

    #[test]
    fn client_id_past_max_packet_size_is_cut() {
        // The only cap on a client id is max_packet_size.
        let mut broker = broker("max_packet_size = 4096");
        let baseline = broker.fd_count();
        let mut c = RawClient::open(broker.addr);
        c.send_connect(&ConnectOptions::new(&"y".repeat(8_000)));
        c.expect_closed();
        broker.assert_log(&["malformed input from", "exceeds the maximum of 4096 bytes"]);
        broker.assert_log(&["closed before CONNECT completed: ProtocolError"]);
        // Just under the limit is fine.
        let mut ok = RawClient::open(broker.addr);
        ok.connect(&"z".repeat(4_000), true, 60);
        ok.disconnect();
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}
