//! Floods and storms over real sockets, against the `mqlite` binary run
//! with `-v`: CONNECT floods, takeover storms (many connections) and
//! subscribe storms (many filters, in one SUBSCRIBE or many). Malformed
//! input is in `robust_hostile.rs`, slow and silent clients in
//! `robust_hostile_slow.rs`.
//!
//! Each test checks three things: the abusive client is cut off by a stated
//! limit (or served, when it stays within the limits), the broker's stderr
//! says why, and the broker still serves a normal client afterwards (and
//! holds no descriptor of the abusers).

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, Properties, QoS, Subscribe};
use support::robust::{assert_fds_back, broker, neighbour_pings, sys_u64};
use support::{encode, ConnectOptions, Pkt, RawClient};

const Q1: QoS = QoS::AtLeastOnce;

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
        let ok = support::poll_until(Duration::from_secs(5), || {
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
            support::robust::tail(&broker.stderr(), 20)
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
            support::poll_until(Duration::from_secs(5), || broker
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
}

mod storms {
    use super::*;

    fn subscribe_packet(packet_id: u16, filters: &[String]) -> Vec<u8> {
        encode(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.iter().map(|f| (f.as_str(), Q1.into())).collect(),
            properties: Properties::EMPTY,
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
        assert!(support::poll_until(Duration::from_secs(5), || broker
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

    #[test]
    fn many_subscribes_from_one_client_are_served_and_freed() {
        // No limit caps the number of subscriptions one client holds (only
        // each SUBSCRIBE's size is capped): 10 pipelined SUBSCRIBEs of
        // 1 000 filters are all granted while a neighbour keeps being
        // answered, and everything is released when the client leaves.
        let mut broker = broker("");
        let stop = Arc::new(AtomicBool::new(false));
        let neighbour = neighbour_pings(broker.addr, "storm-neighbour", Arc::clone(&stop));
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
        assert!(support::poll_until(Duration::from_secs(5), || broker
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
        let neighbour = neighbour_pings(broker.addr, "storm-neighbour", Arc::clone(&stop));
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
