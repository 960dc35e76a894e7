//! One test per `Config` limit that goes past it and checks what the
//! limit's documentation says happens: refused, closed, or dropped and
//! counted. The limits are set through the `mqlite` binary's TOML file
//! (which proves them configurable) and the broker runs with `-v` so the
//! reason can be read in its log; counters come from `$SYS/broker/...`.
//! `auth_timeout` needs an authentication hook, so it runs in-process.
//!
//! The last test checks that every limit has a documented default: the
//! `--help` key list, the `Config` doc comments and `Config::default()`
//! agree.

mod robust_support;
mod support;

use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, QoS};
use mqlite::hooks::AuthDecision;
use mqlite::{Broker, Config};
use robust_support::{wait_until, Mqlite, Spawn};
use support::{ConnectOptions, Pkt, RawClient, Recv, TempDir, TestBroker};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

fn broker(toml: &str) -> Mqlite {
    Spawn::new(toml).verbose().start()
}

fn dropped(broker: &Mqlite) -> u64 {
    broker.sys_u64("publish/messages/dropped")
}

/// The 4-byte sequence number at the front of a payload.
fn seq(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().unwrap())
}

fn numbered(n: u32, size: usize) -> Vec<u8> {
    let mut payload = n.to_be_bytes().to_vec();
    payload.resize(size.max(4), 0x5a);
    payload
}

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
    assert!(wait_until(Duration::from_secs(5), || {
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
fn max_inflight_holds_further_messages_in_order() {
    // Documented: "Most outbound QoS 1/2 messages awaiting acknowledgement
    // per client; more are queued in order."
    let mut broker = broker("max_inflight = 3");
    for qos in [Q1, Q2] {
        let topic = format!("inflight/{}", qos as u8);
        let mut sub = RawClient::open(broker.addr);
        sub.connect(&format!("mi-sub-{}", qos as u8), true, 60);
        sub.subscribe(&[(&topic, qos)]);
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect(&format!("mi-pub-{}", qos as u8), true, 60);
        for i in 0..10u32 {
            publisher.publish_acked(&topic, &numbered(i, 4), qos, false);
        }
        let mut window: Vec<_> = (0..3).map(|_| sub.expect_publish()).collect();
        assert_eq!(
            window.iter().map(|m| seq(&m.payload)).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        sub.expect_nothing();
        let mut next = 3;
        while !window.is_empty() {
            let oldest = window.remove(0);
            let id = oldest.packet_id.unwrap();
            if qos == Q1 {
                sub.send(&Packet::PubAck(id));
            } else {
                // QoS 2 holds its slot until PUBCOMP.
                sub.send(&Packet::PubRec(id));
                assert_eq!(sub.expect_packet(), Pkt::PubRel(id));
                sub.expect_nothing_for(Duration::from_millis(100));
                sub.send(&Packet::PubComp(id));
            }
            if next < 10 {
                let msg = sub.expect_publish();
                assert_eq!(seq(&msg.payload), next, "in order");
                window.push(msg);
                next += 1;
            }
        }
        sub.expect_nothing();
        sub.disconnect();
        publisher.disconnect();
    }
    broker.assert_serves();
}

#[test]
fn max_queued_messages_drops_and_counts_the_newest() {
    // Documented: "Most QoS 1/2 messages queued per client beyond the
    // in-flight window, online or offline. When full, new messages for
    // that client are dropped (and counted)."
    let mut broker = broker("max_inflight = 2\nmax_queued_messages = 5");
    // Online, not acknowledging: 2 in flight + 5 queued, 13 dropped.
    let mut stuck = RawClient::open(broker.addr);
    stuck.connect("mq-online", true, 60);
    stuck.subscribe(&[("mq/online", Q1)]);
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("mq-pub", true, 60);
    let before = dropped(&broker);
    for i in 0..20u32 {
        publisher.publish_acked("mq/online", &numbered(i, 4), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 13);
    let mut got = Vec::new();
    loop {
        match stuck.recv(Duration::from_millis(500)) {
            Recv::Packet(Pkt::Publish(msg)) => {
                got.push(seq(&msg.payload));
                stuck.ack(&msg);
            }
            Recv::Timeout => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got,
        (0..7).collect::<Vec<_>>(),
        "the oldest 7 kept, in order"
    );

    // Offline: nothing is in flight, 5 queued, 3 dropped.
    let mut offline = RawClient::open(broker.addr);
    offline.connect("mq-offline", false, 60);
    offline.subscribe(&[("mq/offline", Q1)]);
    offline.disconnect();
    let before = dropped(&broker);
    for i in 0..8u32 {
        publisher.publish_acked("mq/offline", &numbered(i, 4), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 3);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("mq-offline", false, 60));
    for i in 0..5u32 {
        let msg = back.expect_publish();
        assert_eq!(seq(&msg.payload), i);
        back.ack(&msg);
    }
    back.expect_nothing();
    back.disconnect();
    broker.assert_serves();
}

#[test]
fn max_queued_bytes_drops_and_counts_past_the_byte_limit() {
    // Documented: "Most payload+topic bytes queued per client, same policy
    // as max_queued_messages."
    let mut broker = broker("max_queued_bytes = 1000");
    let mut offline = RawClient::open(broker.addr);
    offline.connect("qb-offline", false, 60);
    offline.subscribe(&[("qb", Q1)]);
    offline.disconnect();
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("qb-pub", true, 60);
    let before = dropped(&broker);
    // 2 topic bytes + 98 payload bytes = 100 bytes each: 10 fit.
    for i in 0..15u32 {
        publisher.publish_acked("qb", &numbered(i, 98), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 5);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("qb-offline", false, 60));
    for i in 0..10u32 {
        let msg = back.expect_publish();
        assert_eq!(seq(&msg.payload), i);
        back.ack(&msg);
    }
    back.expect_nothing();
    back.disconnect();

    // One message larger than the whole limit is dropped even into an
    // empty queue.
    let before = dropped(&broker);
    publisher.publish_acked("qb", &numbered(99, 2000), Q1, false);
    assert_eq!(dropped(&broker) - before, 1);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("qb-offline", false, 60));
    back.expect_nothing();
    back.disconnect();
    broker.assert_serves();
}

#[test]
fn max_pending_output_drops_qos0_and_queues_qos1_of_a_stuck_reader() {
    // Documented: "Bytes of unwritten output a connection may hold before
    // its QoS 0 messages are dropped and its QoS 1/2 messages wait in its
    // queue, so a subscriber that stops reading costs bounded memory."
    let mut broker = broker("max_pending_output = 65536\nmax_inflight = 1000");
    let mut stuck = RawClient::open(broker.addr);
    stuck.connect("po-stuck", true, 0);
    stuck.subscribe(&[("po/0", Q0), ("po/1", Q1)]);
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("po-pub", true, 0);
    let rss_before = broker.rss_kib();
    let before = dropped(&broker);

    // 32 MB of QoS 0 to a client that does not read: far more than the
    // kernel's socket buffers and the 64 KiB of pending output.
    let chunk = 32 * 1024;
    for i in 0..1000u32 {
        publisher.publish("po/0", &numbered(i, chunk), Q0, false);
    }
    publisher.ping();
    let dropped_qos0 = dropped(&broker) - before;
    let rss_after = broker.rss_kib();
    assert!(dropped_qos0 > 500, "only {dropped_qos0} of 1000 dropped");
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB for a stuck reader"
    );

    // QoS 1 waits instead: nothing more is dropped.
    let before = dropped(&broker);
    for i in 0..100u32 {
        publisher.publish_acked("po/1", &numbered(i, chunk), Q1, false);
    }
    assert_eq!(dropped(&broker), before, "QoS 1 was dropped");

    // Reading again: some QoS 0 (in order), then every QoS 1 in order.
    let mut last0 = None;
    let mut qos0 = 0;
    let mut next1 = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while next1 < 100 {
        assert!(Instant::now() < deadline, "QoS 1 {next1}/100 after 30 s");
        let msg = stuck.expect_publish();
        let n = seq(&msg.payload);
        if msg.topic == "po/0" {
            assert!(last0.is_none_or(|l| n > l), "QoS 0 {n} after {last0:?}");
            last0 = Some(n);
            qos0 += 1;
        } else {
            assert_eq!(n, next1, "QoS 1 in order");
            next1 += 1;
        }
        stuck.ack(&msg);
    }
    stuck.expect_nothing();
    assert_eq!(qos0 + dropped_qos0, 1000, "QoS 0: delivered + dropped");
    broker.assert_serves();
}

#[test]
fn connect_timeout_closes_a_socket_without_connect() {
    // Documented: "A socket that sends no complete CONNECT within this time
    // is closed."
    let mut broker = broker("connect_timeout = 1");
    let started = Instant::now();
    let mut silent = RawClient::open(broker.addr);
    let mut partial = RawClient::open(broker.addr);
    partial.send_raw(&ConnectOptions::new("ct-partial").encode()[..6]);
    let mut late = RawClient::open(broker.addr);
    std::thread::sleep(Duration::from_millis(500));
    late.connect("ct-in-time", true, 0);
    silent.expect_closed();
    partial.expect_closed();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "closed after {elapsed:?}"
    );
    let ok = wait_until(Duration::from_secs(5), || {
        broker
            .log_lines("closed before CONNECT completed: ConnectTimeout")
            .len()
            >= 2
    });
    assert!(ok, "{}", broker.stderr());
    // A client that connected in time stays.
    std::thread::sleep(Duration::from_millis(1000));
    late.ping();
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

    let started = Instant::now();
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
    waiting
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut connack = [0u8; 4];
    waiting.read_exact(&mut connack).expect("a CONNACK");
    assert_eq!(connack, [0x20, 0x02, 0x00, 0x05], "CONNACK 0x05");
    let elapsed = started.elapsed();
    let mut rest = Vec::new();
    waiting
        .read_to_end(&mut rest)
        .expect("closed after the CONNACK");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "refused after {elapsed:?}"
    );
    let needle = format!("authentication of {peer} timed out");
    assert!(
        wait_until(Duration::from_secs(2), || log
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
    assert!(wait_until(Duration::from_secs(5), || broker
        .log_lines("session se-early expired")
        .len()
        >= 2));
    let port = broker.addr.port();
    assert!(broker.stop().success());
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

#[test]
fn every_limit_has_a_documented_default() {
    // Each limit: a default in Config::default(), the same default in the
    // Config doc comment ("Default: ...") and in `mqlite --help`, and a
    // TOML key that sets it.
    let defaults = Config::default();
    let help = std::process::Command::new(robust_support::bin_path())
        .arg("--help")
        .output()
        .expect("mqlite --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config.rs"))
        .expect("read src/config.rs");
    let secs = |d: Duration| d.as_secs() as usize;
    let limits: [(&str, usize, Unit); 9] = [
        ("max_connections", defaults.max_connections, Unit::Count),
        ("max_packet_size", defaults.max_packet_size, Unit::Bytes),
        (
            "max_inflight",
            usize::from(defaults.max_inflight),
            Unit::Count,
        ),
        (
            "max_queued_messages",
            defaults.max_queued_messages,
            Unit::Count,
        ),
        ("max_queued_bytes", defaults.max_queued_bytes, Unit::Bytes),
        (
            "max_pending_output",
            defaults.max_pending_output,
            Unit::Bytes,
        ),
        (
            "connect_timeout",
            secs(defaults.connect_timeout),
            Unit::Secs,
        ),
        ("auth_timeout", secs(defaults.auth_timeout), Unit::Secs),
        (
            "session_expiry",
            defaults.session_expiry.map_or(0, secs),
            Unit::SecsOrNone,
        ),
    ];
    for (key, value, unit) in limits {
        // --help: "  key   VALUE ..."
        let line = help
            .lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("--help does not list {key}:\n{help}"));
        let shown: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(shown, value, "--help default of {key}: {line}");
        // The doc comment above the field.
        let field = doc
            .find(&format!("pub {key}:"))
            .unwrap_or_else(|| panic!("no field {key}"));
        let comment: Vec<&str> = doc[..field]
            .lines()
            .rev()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("///"))
            .collect();
        let comment = comment
            .into_iter()
            .rev()
            .map(|l| l.trim_start().trim_start_matches("///").trim())
            .collect::<Vec<_>>()
            .join(" ");
        let spellings = unit.spellings(value);
        assert!(
            spellings
                .iter()
                .any(|d| comment.contains(&format!("Default: {d}"))),
            "{key}'s doc comment does not say `Default: ` one of {spellings:?}:\n{comment}"
        );
        // The TOML key sets it.
        let text = format!("{key} = 4096\n");
        let config = Config::from_toml(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_ne!(config, defaults, "{key} = 4096 changed nothing");
    }
}

/// How a default is written in the `Config` doc comments.
#[derive(Clone, Copy)]
enum Unit {
    Count,
    Bytes,
    Secs,
    /// Zero is `None`.
    SecsOrNone,
}

impl Unit {
    /// The ways `value` may be written: `1000`, `100 000`, `16 MiB`,
    /// `10 s`, `` `None` ``.
    fn spellings(self, value: usize) -> Vec<String> {
        let grouped = {
            let digits = value.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(' ');
                }
                out.push(c);
            }
            out
        };
        let mut all = vec![value.to_string(), grouped];
        match self {
            Unit::Count => {}
            Unit::Bytes => {
                for (size, name) in [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
                    if value >= size && value.is_multiple_of(size) {
                        all.push(format!("{} {name}", value / size));
                    }
                }
            }
            Unit::Secs => all = vec![format!("{value} s")],
            Unit::SecsOrNone if value == 0 => all = vec!["`None`".to_string()],
            Unit::SecsOrNone => all = vec![format!("{value} s")],
        }
        all
    }
}
