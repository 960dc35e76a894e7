//! MQTT over WebSocket listeners, driven by tungstenite's client (and raw
//! bytes for what a well-behaved client never sends): packets that span
//! frames and frames that carry several packets, the `mqtt` and `mqttv3.1`
//! subprotocols, ping / pong, WebSocket over TLS; and bad input: a
//! request that is not an upgrade (400), a wrong or missing subprotocol
//! (400), a text frame, an unmasked frame, a frame over the maximum packet
//! size, each closing only its own connection.

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use mqlite::codec::{self, Packet, QoS};
use mqlite::{Listener, TlsSettings};
use support::pki::Pki;
use support::{encode, ConnectOptions, RawClient, TestBroker, TIMEOUT};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

fn ws_broker(configure: impl FnOnce(&mut mqlite::Config)) -> (TestBroker, SocketAddr) {
    let broker = TestBroker::start_with(|config| {
        config
            .custom_listeners
            .push(Listener::tcp("127.0.0.1:0".parse().unwrap()).with_websocket());
        configure(config);
    });
    let addr = broker.custom[0].expect("a TCP listener");
    (broker, addr)
}

/// A WebSocket client on `stream` offering `protocols`.
fn handshake<S: Read + Write>(
    stream: S,
    addr: SocketAddr,
    protocols: &str,
) -> Result<(WebSocket<S>, String), String> {
    let mut request = format!("ws://{addr}/mqtt").into_client_request().unwrap();
    if !protocols.is_empty() {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    }
    match tungstenite::client(request, stream) {
        Ok((ws, response)) => {
            let chosen = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            Ok((ws, chosen))
        }
        Err(error) => Err(error.to_string()),
    }
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// MQTT packets read from binary frames until `count` have come.
fn read_packets<S: Read + Write>(ws: &mut WebSocket<S>, count: usize) -> Vec<String> {
    let mut buf = Vec::new();
    let mut packets = Vec::new();
    while packets.len() < count {
        match ws.read().expect("a frame") {
            Message::Binary(bytes) => buf.extend_from_slice(&bytes),
            other => panic!("unexpected {other:?}"),
        }
        while let Some((packet, used)) = codec::decode(&buf, 1 << 20).expect("a valid packet") {
            packets.push(format!("{packet:?}"));
            buf.drain(..used);
        }
    }
    packets
}

/// Whether the broker ends the connection (a Close frame, or the end of
/// the stream) before the deadline.
fn closed<S: Read + Write>(ws: &mut WebSocket<S>) -> bool {
    loop {
        match ws.read() {
            Ok(Message::Close(_)) => {}
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return false
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return false
            }
            Err(_) => return true,
        }
    }
}

fn connect_packet(client_id: &str) -> Vec<u8> {
    ConnectOptions::new(client_id).encode()
}

#[test]
fn packets_span_frames_and_frames_carry_several_packets() {
    let (broker, addr) = ws_broker(|_| {});
    let mut plain = broker.connect("plain-sub", true, 60);
    plain.subscribe(&[("ws/#", QoS::AtLeastOnce)]);

    let (mut ws, protocol) = handshake(tcp(addr), addr, "mqtt").expect("the upgrade");
    assert_eq!(protocol, "mqtt");
    // CONNECT in three frames.
    let connect = connect_packet("ws-client");
    for part in [&connect[..3], &connect[3..7], &connect[7..]] {
        ws.send(Message::Binary(part.to_vec().into())).unwrap();
    }
    let connack = read_packets(&mut ws, 1);
    assert!(connack[0].contains("ConnAck"), "{connack:?}");

    // SUBSCRIBE and PUBLISH in one frame.
    let mut both = encode(&Packet::Subscribe(codec::Subscribe {
        packet_id: 1,
        filters: vec![("ws/#", codec::SubscriptionOptions::new(QoS::AtLeastOnce))],
        properties: codec::Properties::EMPTY,
    }));
    both.extend(encode(&Packet::Publish(codec::Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "ws/t",
        packet_id: Some(2),
        payload: b"framed",
        properties: codec::Properties::EMPTY,
    })));
    ws.send(Message::Binary(both.into())).unwrap();
    let mut got = read_packets(&mut ws, 3);
    got.sort();
    assert!(got.iter().any(|p| p.contains("SubAck")), "{got:?}");
    assert!(got.iter().any(|p| p.contains("PubAck")), "{got:?}");
    assert!(got.iter().any(|p| p.contains("topic: \"ws/t\"")), "{got:?}");
    // The plain TCP subscriber gets it too.
    plain.expect_message("ws/t", b"framed");

    // A ping is answered.
    ws.send(Message::Ping(b"hi".to_vec().into())).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Pong(data) => {
                assert_eq!(&data[..], b"hi");
                break;
            }
            Message::Binary(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    broker.assert_serves();
}

#[test]
fn old_clients_get_mqttv3_1() {
    let (_broker, addr) = ws_broker(|_| {});
    let (mut ws, protocol) = handshake(tcp(addr), addr, "mqttv3.1").expect("the upgrade");
    assert_eq!(protocol, "mqttv3.1");
    ws.send(Message::Binary(connect_packet("old").into()))
        .unwrap();
    assert!(read_packets(&mut ws, 1)[0].contains("ConnAck"));
}

#[test]
fn refused_upgrades_get_400() {
    let (broker, addr) = ws_broker(|_| {});
    for protocols in ["chat", ""] {
        let error = handshake(tcp(addr), addr, protocols).expect_err("refused");
        assert!(error.contains("400"), "{protocols:?}: {error}");
    }
    // Not an upgrade at all.
    let mut raw = tcp(addr);
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    broker.assert_serves();
}

#[test]
fn bad_frames_close_only_their_connection() {
    let (broker, addr) = ws_broker(|config| config.max_packet_size = 1024);
    // A text frame.
    let (mut ws, _) = handshake(tcp(addr), addr, "mqtt").unwrap();
    ws.send(Message::Binary(connect_packet("texter").into()))
        .unwrap();
    read_packets(&mut ws, 1);
    ws.send(Message::Text("hello".into())).unwrap();
    assert!(closed(&mut ws), "a text frame did not close the connection");

    // A frame over the maximum packet size.
    let (mut ws, _) = handshake(tcp(addr), addr, "mqtt").unwrap();
    ws.send(Message::Binary(vec![0u8; 2048].into())).unwrap();
    assert!(
        closed(&mut ws),
        "an oversized frame did not close the connection"
    );

    // An unmasked frame, after a hand-made upgrade.
    let mut raw = tcp(addr);
    raw.write_all(
        b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Protocol: mqtt\r\n\r\n",
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        raw.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    raw.write_all(&[0x82, 0x02, 0xC0, 0x00]).unwrap();
    let mut rest = Vec::new();
    let end = raw.read_to_end(&mut rest);
    assert!(
        end.is_ok() || end.is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the connection stayed open"
    );

    broker.assert_serves();
    let stats = broker.stats_until("the bad connections close", |s| s.connections == 0);
    assert_eq!(stats.connections, 0);
}

#[test]
fn websocket_over_tls() {
    let pki = Pki::new("test CA");
    let broker = TestBroker::start_with(|config| {
        config.custom_listeners.push(
            Listener::tcp("127.0.0.1:0".parse().unwrap())
                .with_tls(TlsSettings::new(&pki.server_cert, &pki.server_key))
                .with_websocket(),
        );
    });
    let addr = broker.custom[0].unwrap();
    let tls = support::pki::tls_connect(addr, &pki.ca, rustls::DEFAULT_VERSIONS).expect("TLS");
    let (mut ws, protocol) = handshake(tls, addr, "mqtt").expect("the upgrade");
    assert_eq!(protocol, "mqtt");
    ws.send(Message::Binary(connect_packet("wss").into()))
        .unwrap();
    assert!(read_packets(&mut ws, 1)[0].contains("ConnAck"));
    let mut sub = RawClient::open(broker.addr);
    sub.connect("plain", true, 60);
    sub.subscribe(&[("wss/t", QoS::AtMostOnce)]);
    ws.send(Message::Binary(
        encode(&Packet::Publish(codec::Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "wss/t",
            packet_id: None,
            payload: b"secure",
            properties: codec::Properties::EMPTY,
        }))
        .into(),
    ))
    .unwrap();
    sub.expect_message("wss/t", b"secure");
}
