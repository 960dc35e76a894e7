//! One test per `Config` limit on connections and sessions that goes past
//! it and checks what the limit's documentation says happens: refused or
//! closed (`max_connections`, `max_packet_size`, `connect_timeout`,
//! `auth_timeout`, `session_expiry`, `allow_zero_length_client_id`). The
//! limits are set through the `mqlite` binary's TOML file (which proves
//! them configurable) and the broker runs with `-v` so the reason can be
//! read in its log. `auth_timeout` needs an authentication hook, so it runs
//! in-process.
//!
//! The limits on queued and pending messages are in
//! `robust_limits_queues.rs`; that every limit has a documented default in
//! `robust_limits_defaults.rs`.

use crate::support;

use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use mqlite::codec::QoS;
use mqlite::hooks::AuthDecision;
use mqlite::{Broker, Config};
use support::robust::{broker, Spawn};
use support::{ConnectOptions, Pkt, RawClient, Recv, TempDir, TestBroker};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;

#[test]
fn max_connections_refuses_further_sockets() {
    // Documented: "further ones are accepted and closed at once"; counted
    // in Stats::connections_refused.
    let mut broker = broker("max_connections = 5");
    let mut clients: Vec<RawClient> = (0..5)
        .map(|i| {
            let mut c = RawClient::open(broker.addr);
            c.connect(&format!("mc-{i}"), true, 60);
            c
        })
        .collect();
    for i in 0..3 {
        let mut extra = RawClient::open(broker.addr);
        extra.send_connect(&ConnectOptions::new(&format!("mc-extra-{i}")));
        extra.expect_closed();
    }
    let line = broker.assert_log(&["refusing", "max_connections"]);
    assert!(line.contains("WARN"), "logged without -v too: {line}");
    for c in &mut clients {
        c.ping();
    }
    // A slot frees up when a client leaves.
    clients.pop().unwrap().disconnect();
    let mut again = None;
    assert!(support::poll_until(Duration::from_secs(5), || {
        let mut c = RawClient::open(broker.addr);
        c.send_connect(&ConnectOptions::new("mc-again"));
        match c.recv(Duration::from_secs(2)) {
            Recv::Packet(Pkt::ConnAck { code: 0, .. }) => {
                again = Some(c);
                true
            }
            _ => false,
        }
    }));
    again.unwrap().ping();

    // The counter, in-process (it is not among the $SYS topics).
    let inproc = TestBroker::start_with(|c| c.max_connections = 2);
    let _a = inproc.connect("a", true, 60);
    let _b = inproc.connect("b", true, 60);
    for _ in 0..3 {
        let mut extra = inproc.socket();
        extra.send_connect(&ConnectOptions::new("c"));
        extra.expect_closed();
    }
    let stats = inproc.stats();
    assert_eq!(stats.connections_refused, 3, "{stats:?}");
    assert_eq!(stats.connections, 2, "{stats:?}");
    drop(clients);
    broker.assert_running();
}

#[test]
fn max_packet_size_closes_the_connection_of_a_larger_packet() {
    // Documented: "Largest packet accepted, in bytes, counting the fixed
    // header. A larger packet closes its connection."
    let mut broker = broker("max_packet_size = 1024");
    let mut sub = RawClient::open(broker.addr);
    sub.connect("mps-sub", true, 60);
    sub.subscribe(&[("b", Q0)]);
    // PUBLISH QoS 0 to "b": 1 + 2 (remaining length) + 3 (topic) + payload.
    let mut fits = RawClient::open(broker.addr);
    fits.connect("mps-fits", true, 60);
    fits.publish_acked("b", &[1u8; 1018], Q0, false);
    let msg = sub.expect_publish();
    assert_eq!(msg.payload.len(), 1018, "the 1024-byte packet is accepted");

    let mut over = RawClient::open(broker.addr);
    over.connect("mps-over", true, 60);
    over.publish("b", &[2u8; 1019], Q0, false);
    over.expect_closed();
    broker.assert_log(&["packet of 1025 bytes exceeds the maximum of 1024 bytes"]);
    broker.assert_log(&["client mps-over disconnected: ProtocolError"]);

    // Refused from the fixed header alone, before any of the body.
    let mut header = RawClient::open(broker.addr);
    header.connect("mps-header", true, 60);
    header.send_raw(&[0x30, 0xa0, 0x8d, 0x06]); // remaining length 100 000
    header.expect_closed();
    broker.assert_log(&["packet of 100004 bytes exceeds the maximum of 1024 bytes"]);
    sub.expect_nothing();
    broker.assert_serves();
}

#[test]
fn connect_timeout_closes_a_socket_without_connect() {
    // Documented: "A socket that sends no complete CONNECT within this time
    // is closed." Here the closes happen (within `expect_closed`'s 5 s, for
    // a 1 s timeout) and are logged; when, to the millisecond (not before
    // the timeout, a CONNECT completed just in time spared), is checked
    // with the core's fake clock in `src/core/tests/timers.rs`.
    let mut broker = broker("connect_timeout = 1");
    // Accepted before the others, so its connect timer, had its CONNECT not
    // cancelled it, would be due first.
    let mut in_time = RawClient::open(broker.addr);
    in_time.connect("ct-in-time", true, 0);
    let mut silent = RawClient::open(broker.addr);
    let mut partial = RawClient::open(broker.addr);
    partial.send_raw(&ConnectOptions::new("ct-partial").encode()[..6]);
    silent.expect_closed();
    partial.expect_closed();
    let ok = support::poll_until(Duration::from_secs(5), || {
        broker
            .log_lines("closed before CONNECT completed: ConnectTimeout")
            .len()
            >= 2
    });
    assert!(ok, "{}", broker.stderr());
    // Its timeout has passed too (the others' closes say so): still served.
    in_time.ping();
    broker.assert_serves();
}

/// Log lines of the in-process brokers of this test binary.
fn captured_log() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let mut lines = captured_log().lock().unwrap();
            if lines.len() < 100_000 {
                lines.push(format!("{} {}", record.level(), record.args()));
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Capture = Capture;
    let log = LOG.get_or_init(|| Mutex::new(Vec::new()));
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Debug);
    }
    log
}

#[test]
fn auth_timeout_refuses_a_pending_connect_with_0x05() {
    // Documented: "How long a CONNECT may wait for a pending
    // authentication decision before it is refused with CONNACK 0x05."
    let log = captured_log();
    let config = Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        auth_timeout: Duration::from_secs(1),
        ..Config::default()
    };
    let mut broker = Broker::new(config).unwrap();
    broker.set_auth_hook(|info| {
        if info.client_id.starts_with("pending") {
            AuthDecision::Pending
        } else {
            AuthDecision::Accept
        }
    });
    let addr = broker.local_addr();
    let handle = broker.handle();
    let thread = std::thread::spawn(move || broker.run());

    let mut waiting = std::net::TcpStream::connect(addr).unwrap();
    let peer = waiting.local_addr().unwrap();
    waiting
        .write_all(&ConnectOptions::new("pending-forever").encode())
        .unwrap();
    // Others are served while it waits.
    let mut ok = RawClient::open(addr);
    ok.connect("accepted-meanwhile", true, 60);
    ok.ping();
    ok.disconnect();
    // The refusal comes (within 5 s, for a 1 s timeout); when, to the
    // millisecond, is checked with the core's fake clock in
    // `src/core/tests/timers.rs`.
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut connack = [0u8; 4];
    waiting.read_exact(&mut connack).expect("a CONNACK");
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x05], "CONNACK 0x05");
    let mut rest = Vec::new();
    waiting
        .read_to_end(&mut rest)
        .expect("closed after the CONNACK");
    assert!(rest.is_empty(), "{rest:?}");
    let needle = format!("authentication of {peer} timed out");
    assert!(
        support::poll_until(Duration::from_secs(2), || log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&needle))),
        "no log line `{needle}`"
    );
    handle.stop();
    support::join_within(thread, Duration::from_secs(5))
        .expect("broker stopped")
        .unwrap();
}

#[test]
fn session_expiry_discards_a_disconnected_session_and_its_store() {
    // Documented: "How long a disconnected persistent session (clean
    // session 0) is kept". Persistence on: the expired session is also
    // gone from the database.
    let dir = TempDir::new("expiry");
    let broker = Spawn::new("session_expiry = 1")
        .verbose()
        .persist()
        .dir(&dir.0)
        .start();
    let mut early = RawClient::open(broker.addr);
    early.connect("se-early", false, 60);
    early.subscribe(&[("se", Q1)]);
    early.disconnect();
    // Back within the second: the session is there.
    let mut early = RawClient::open(broker.addr);
    assert!(early.connect("se-early", false, 60), "session present");
    early.disconnect();
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("se-pub", true, 60);
    publisher.publish_acked("se", b"queued", Q1, false);
    broker.assert_log(&["session se-early expired"]);
    let mut back = RawClient::open(broker.addr);
    assert!(!back.connect("se-early", false, 60), "session expired");
    back.expect_nothing();
    back.disconnect();
    publisher.disconnect();
    broker.assert_log(&["session se-early expired"]);
    // Gone from the store too: a restart restores no session (se-early's
    // new session from the reconnect above expires as well).
    assert!(support::poll_until(Duration::from_secs(5), || broker
        .log_lines("session se-early expired")
        .len()
        >= 2));
    let port = broker.addr.port();
    broker.stop();
    let broker = Spawn::new("session_expiry = 1")
        .verbose()
        .persist()
        .port(port)
        .dir(&dir.0)
        .start();
    broker.assert_log(&["restored 0 sessions"]);
}

#[test]
fn zero_length_client_id_refused_when_not_allowed() {
    // Documented: "Whether a client may connect with an empty client id
    // and clean session 1". When not: CONNACK 0x02.
    let mut broker = broker("allow_zero_length_client_id = false");
    let mut c = RawClient::open(broker.addr);
    c.send_connect(&ConnectOptions::new(""));
    assert_eq!(c.expect_connack(), (false, 2));
    c.expect_closed();
    broker.assert_log(&["closed before CONNECT completed: Refused"]);
    broker.assert_serves();
}
