//! Slow and silent clients over real sockets, against the `mqlite` binary
//! run with `-v`: half-open connections (silent sockets, vanished peers,
//! half-closed sockets) and slowloris, a byte at a time before and after
//! CONNECT. Malformed input is in `robust_hostile.rs`, floods and storms
//! in `robust_hostile_floods.rs`.
//!
//! Each test checks three things: the abusive client is cut off by a stated
//! limit (or served, when it stays within the limits), the broker's stderr
//! says why, and the broker still serves a normal client afterwards (and
//! holds no descriptor of the abusers).
//!
//! No test asserts on when the cut comes, only that it comes within a
//! generous deadline; the moment each timer fires is checked with the
//! core's fake clock (`src/core/tests/timers.rs`, `connect.rs`,
//! `wills.rs`).

use crate::support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, Properties, QoS};
use support::robust::{assert_fds_back, broker};
use support::{encode, ConnectOptions, RawClient};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;

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

mod half_open {
    use super::*;

    #[test]
    fn silent_sockets_are_closed_at_connect_timeout() {
        let mut broker = broker("connect_timeout = 1");
        let baseline = broker.fd_count();
        let mut silent: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(broker.addr).expect("TCP connect"))
            .collect();
        for stream in &mut silent {
            assert!(
                closed_within(stream, Duration::from_secs(5)),
                "a silent socket is still open 5 s after connect_timeout = 1 s"
            );
        }
        let ok = support::poll_until(Duration::from_secs(5), || {
            broker
                .log_lines("closed before CONNECT completed: ConnectTimeout")
                .len()
                >= 20
        });
        assert!(
            ok,
            "expected 20 ConnectTimeout log lines:\n{}",
            support::robust::tail(&broker.stderr(), 30)
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
        let mut gone = RawClient::open(broker.addr);
        gone.connect_with(&ConnectOptions::new("vanished").keepalive(1).will(
            "will/ka",
            b"vanished",
            Q1,
            false,
        ));
        // Within `expect_message`'s 5 s, for 1.5 s of silence.
        watcher.expect_message("will/ka", b"vanished");
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
        // Were each byte to extend the timeout, the CONNECT (over 20 bytes,
        // one a second) would complete before the 8 s are out.
        for (stream, stop, _) in &mut loris {
            assert!(
                closed_within(stream, Duration::from_secs(8)),
                "slowloris still connected 8 s after connect_timeout = 2 s"
            );
            stop.store(true, Ordering::Relaxed);
        }
        for (_, _, thread) in loris {
            thread.join().unwrap();
        }
        normal.ping();
        let ok = support::poll_until(Duration::from_secs(5), || {
            broker
                .log_lines("closed before CONNECT completed: ConnectTimeout")
                .len()
                >= 10
        });
        assert!(ok, "{}", support::robust::tail(&broker.stderr(), 20));
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
        let publish = encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q0,
            retain: false,
            topic: "loris/topic/that/is/long/enough",
            packet_id: None,
            payload: b"0123456789",
            properties: Properties::EMPTY,
        }));
        // Were each byte to count as activity, the PUBLISH (over 40
        // bytes, two a second) would still be trickling in after the 10 s.
        let (stop, thread) = dribble(&stream, publish, Duration::from_millis(500));
        assert!(
            closed_within(&mut stream, Duration::from_secs(10)),
            "trickling client still connected 10 s after keepalive 2 s"
        );
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        broker.assert_log(&["client loris-after disconnected: KeepaliveTimeout"]);
        broker.assert_serves();
        assert_fds_back(&broker, baseline);
    }
}
