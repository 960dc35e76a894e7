//! Bridges facing an upstream that misbehaves: refuses, answers garbage,
//! disconnects in the middle of a packet, or goes silent. Each time the
//! bridge gives up on that connection and tries again, and the local
//! broker goes on serving its clients.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use mqlite::codec::QoS;
use mqlite::{Bridge, BridgeDirection, BridgeTopic};

use crate::support::{RawClient, TestBroker, TIMEOUT};

/// A fake upstream: accepts connections and lets `behave` answer each.
struct FakeUpstream {
    listener: TcpListener,
}

impl FakeUpstream {
    fn new() -> FakeUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        FakeUpstream { listener }
    }

    fn bridge(&self, keepalive: Duration) -> Bridge {
        let mut bridge = Bridge::new(
            "faulty",
            &self.listener.local_addr().unwrap().to_string(),
            vec![BridgeTopic::new(
                "x/#",
                BridgeDirection::Both,
                QoS::AtLeastOnce,
            )],
        );
        bridge.keepalive = keepalive;
        bridge.restart_timeout = Duration::from_millis(100);
        bridge.restart_timeout_cap = None;
        bridge
    }

    /// The next connection, within `within`.
    fn accept(&self, within: Duration) -> TcpStream {
        let deadline = Instant::now() + within;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                    return stream;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(error) => panic!("no connection from the bridge: {error}"),
            }
        }
    }
}

/// Reads a CONNECT (the whole packet) from the bridge.
fn read_connect(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 0x10, "CONNECT first");
    let mut len = usize::from(head[1] & 0x7f);
    let mut shift = 7;
    let mut byte = head[1];
    while byte & 0x80 != 0 {
        let mut next = [0u8; 1];
        stream.read_exact(&mut next).unwrap();
        byte = next[0];
        len |= usize::from(byte & 0x7f) << shift;
        shift += 7;
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    body
}

/// The local broker still serves a client.
fn still_serving(local: &TestBroker) {
    let mut client = RawClient::open(local.addr);
    client.connect("still-here", true, 30);
    client.ping();
}

#[test]
fn a_refusal_is_retried() {
    let upstream = FakeUpstream::new();
    let local =
        TestBroker::start_with(|c| c.bridges = vec![upstream.bridge(Duration::from_secs(60))]);
    let mut first = upstream.accept(TIMEOUT);
    read_connect(&mut first);
    // CONNACK 5: not authorised.
    first.write_all(&[0x20, 0x02, 0x00, 0x05]).unwrap();
    let mut second = upstream.accept(TIMEOUT);
    read_connect(&mut second);
    still_serving(&local);
}

#[test]
fn garbage_is_dropped_and_retried() {
    let upstream = FakeUpstream::new();
    let local =
        TestBroker::start_with(|c| c.bridges = vec![upstream.bridge(Duration::from_secs(60))]);
    let mut first = upstream.accept(TIMEOUT);
    read_connect(&mut first);
    first
        .write_all(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x00])
        .unwrap();
    let mut second = upstream.accept(TIMEOUT);
    read_connect(&mut second);
    // A PUBLISH before CONNACK is no better.
    second.write_all(&[0x30, 0x03, 0x00, 0x01, b'x']).unwrap();
    let mut third = upstream.accept(TIMEOUT);
    read_connect(&mut third);
    still_serving(&local);
}

#[test]
fn a_cut_in_the_middle_of_a_packet_is_retried() {
    let upstream = FakeUpstream::new();
    let local =
        TestBroker::start_with(|c| c.bridges = vec![upstream.bridge(Duration::from_secs(60))]);
    let mut first = upstream.accept(TIMEOUT);
    read_connect(&mut first);
    first.write_all(&[0x20, 0x02]).unwrap();
    drop(first);
    let mut second = upstream.accept(TIMEOUT);
    read_connect(&mut second);
    still_serving(&local);
}

#[test]
fn a_silent_upstream_is_taken_for_dead_within_the_keepalive() {
    let upstream = FakeUpstream::new();
    let local =
        TestBroker::start_with(|c| c.bridges = vec![upstream.bridge(Duration::from_secs(1))]);
    let mut first = upstream.accept(TIMEOUT);
    read_connect(&mut first);
    // CONNACK 0, then nothing ever again: no SUBACK, no PINGRESP.
    first.write_all(&[0x20, 0x02, 0x00, 0x00]).unwrap();
    let up_at = Instant::now();
    // The bridge pings at 1 s and gives up at 1.5 s without an answer.
    let mut second = upstream.accept(TIMEOUT);
    read_connect(&mut second);
    assert!(
        up_at.elapsed() >= Duration::from_secs(1),
        "closed before its keep alive ran out"
    );
    // What the first connection received: SUBSCRIBE, the state PUBLISH,
    // a PINGREQ, then the end.
    let mut received = Vec::new();
    let _ = first.read_to_end(&mut received);
    assert!(
        received.windows(2).any(|w| w == [0xc0, 0x00]),
        "no PINGREQ: {received:?}"
    );
    still_serving(&local);
}
