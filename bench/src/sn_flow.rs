//! The `mqttsn` scenario: N MQTT-SN clients over UDP (one socket each, so
//! the gateway sees N peers) CONNECT, REGISTER `bench/sn/<i>` and PUBLISH
//! at QoS 0 or 1 to MQTT subscribers on `bench/sn/#` connected over TCP.
//!
//! Pacing is `fanin`'s, so that `fanin --publishers N --window W` is the
//! same load over MQTT/TCP: every client keeps at most `window` messages
//! outstanding, where a message is outstanding until every subscriber
//! received it (and at QoS 1 until its PUBACK came). Without it QoS 0 would
//! only measure how fast the kernel drops datagrams. Unlike TCP, UDP may
//! lose a datagram, which would freeze a full window forever: a client whose
//! window made no progress for [`STALL`] writes its outstanding messages off
//! (counted in `written_off`; they end up in `lost` unless they arrive late).
//! QoS 1 PUBLISHes are not retransmitted: a lost one is reported as lost.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::common::{connect_all, disconnect_all, secs, send_subscribes, wait_subacks};
use crate::histogram::Histogram;
use crate::mqttsn::{self, SnPacket};
use crate::net::{nanos_since, Net, BIG_BUF, EXTERNAL};
use crate::proto::{self, kind, read_stamp, Packet};
use crate::report::Report;
use crate::udp_batch::Batch;
use crate::Opts;

/// Keep alive in the clients' CONNECT (seconds); they publish all the time,
/// so no PINGREQ is needed.
const KEEP_ALIVE: u16 = 60;
/// A window that made no progress for this long is written off as lost.
const STALL: Duration = Duration::from_millis(200);
/// Handshake messages (CONNECT, REGISTER) are sent again after this long.
const RETRY: Duration = Duration::from_millis(500);
/// The MsgId of each client's REGISTER.
const REGISTER_ID: u16 = 1;

enum Phase {
    Connecting,
    Registering,
    Ready,
}

/// One MQTT-SN client.
struct Client {
    sock: mio::net::UdpSocket,
    phase: Phase,
    topic_id: u16,
    last_tx: Option<Instant>,
    sent: u64,
    acked: u64,
    /// Messages written off after a stall (count as delivered and acked
    /// for pacing only).
    credit: u64,
    /// When the window last moved (ns since the run's base).
    last_move: u64,
}

struct Stats {
    hist: Histogram,
    received: u64,
    bytes: u64,
    unstamped: u64,
    /// Per (subscriber, client): deliveries, and highest sequence + 1.
    cnt: Vec<u64>,
    wm: Vec<u64>,
    last_rx: u64,
    refused: u64,
    refused_code: u8,
}

/// Runs the `mqttsn` scenario.
pub fn run(o: &Opts) -> Result<Report, String> {
    let sn_port = o
        .sn_port
        .ok_or("mqttsn needs --sn-port (the gateway's UDP port)")?;
    let gw = o.addr_on(sn_port)?;
    if o.qos > 1 {
        return Err("mqttsn: --qos 0 or 1".into());
    }
    let qos = o.qos;
    let n = o.publishers.unwrap_or(100);
    let nsub = o.subscribers.unwrap_or(1);
    let window = u64::from(o.window.unwrap_or(10));
    let refill = (window / 4).max(1);
    let duration = secs(o.duration.unwrap_or(10.0));
    let max_messages = o.messages.unwrap_or(5_000_000);
    let setup = Duration::from_secs(30);
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;

    let subs = connect_all(&mut net, o.sub_addr()?, "sub", nsub, BIG_BUF, setup)?;
    let mut pid = 0u16;
    let mut packets = 0;
    for &s in &subs {
        packets += send_subscribes(&mut net, s, &["bench/sn/#"], qos, 1, &mut pid);
    }
    if wait_subacks(&mut net, packets, setup)? > 0 {
        return Err("the broker refused the subscription to bench/sn/#".into());
    }

    let base = Instant::now();
    let mut clients = open_clients(&mut net, gw, n)?;
    let t_setup = Instant::now();
    handshake(&mut net, &mut clients, gw, setup)?;
    let setup_s = t_setup.elapsed().as_secs_f64();

    let mut st = Stats {
        hist: Histogram::new(),
        received: 0,
        bytes: 0,
        unstamped: 0,
        cnt: vec![0; nsub * n],
        wm: vec![0; nsub * n],
        last_rx: 0,
        refused: 0,
        refused_code: 0,
    };
    let flags = mqttsn::publish_flags(qos, false);
    let mut data = vec![0u8; o.payload];
    let mut dgram = Vec::with_capacity(o.payload + 16);
    let mut batch = Batch::default();
    let mut ready = Vec::new();
    let mut written_off = 0u64;
    let mut send_blocked = 0u64;
    let mut total_sent = 0u64;
    let mut stalled = false;
    let t0 = Instant::now();
    let send_end = t0 + duration;
    let mut sending = true;
    let mut drain_end = send_end;
    let mut last_progress = (t0, 0u64);
    for c in clients.iter_mut() {
        c.last_move = nanos_since(base);
    }
    loop {
        let now = Instant::now();
        if sending && (now >= send_end || total_sent >= max_messages) {
            sending = false;
            drain_end = now + Duration::from_secs(5);
        }
        let acked: u64 = clients.iter().map(|c| c.acked).sum();
        let expected = total_sent * nsub as u64;
        let progress = st.received + acked;
        if progress != last_progress.1 {
            last_progress = (now, progress);
        }
        let idle = now.duration_since(last_progress.0);
        if !sending {
            let done = st.received >= expected && (qos == 0 || acked >= total_sent);
            // Lost datagrams never arrive: a second without any is the end.
            if done || now >= drain_end || idle > Duration::from_secs(1) {
                break;
            }
        } else if idle > Duration::from_secs(3) {
            stalled = true;
            break;
        }
        if sending {
            let ts = nanos_since(base);
            for (i, c) in clients.iter_mut().enumerate() {
                let delivered = (0..nsub)
                    .map(|s| st.cnt[s * n + i].max(st.wm[s * n + i]))
                    .min()
                    .unwrap_or(0);
                let mut done = delivered + c.credit;
                if qos == 1 {
                    done = done.min(c.acked + c.credit);
                }
                let mut outstanding = c.sent.saturating_sub(done);
                // Nothing moved for a while: what is outstanding was lost.
                if outstanding > 0 && ts.saturating_sub(c.last_move) > STALL.as_nanos() as u64 {
                    c.credit += outstanding;
                    written_off += outstanding;
                    c.last_move = ts;
                    outstanding = 0;
                }
                let room = window
                    .saturating_sub(outstanding)
                    .min(max_messages - total_sent);
                if room == 0 {
                    continue;
                }
                // Refill in batches (a quarter window, as fanin) rather than
                // one datagram per delivery, unless the window is empty or
                // the message budget nearly spent.
                if room < refill && outstanding > 0 && room < max_messages - total_sent {
                    continue;
                }
                batch.clear();
                for k in 0..room {
                    let seq = c.sent + k;
                    let msg_id = if qos == 0 {
                        0
                    } else {
                        (seq % 65_535) as u16 + 1
                    };
                    stamp(&mut data, ts, i as u32, seq as u32);
                    batch.push(|out| mqttsn::publish(out, flags, c.topic_id, msg_id, &data))?;
                }
                match batch.send(&c.sock) {
                    Ok(sent) => {
                        c.sent += sent;
                        total_sent += sent;
                        if sent < room {
                            send_blocked += 1;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => send_blocked += 1,
                    Err(e) => return Err(udp_error(gw, i, &e)),
                }
            }
        }
        net.flush();
        net.poll(Some(Duration::from_millis(2)), &mut ready)
            .map_err(|e| format!("poll: {e}"))?;
        for &id in ready.iter() {
            if id >= EXTERNAL {
                let i = id - EXTERNAL;
                let c = &mut clients[i];
                recv_all(c, gw, i, |p| match p {
                    SnPacket::PubAck { code, .. } => {
                        c_ack(&mut st, code);
                        Ok(true)
                    }
                    SnPacket::Disconnect => Err(format!("client {i}: the gateway sent DISCONNECT")),
                    _ => Ok(false),
                })
                .map(|acks| {
                    c.acked += acks;
                    if acks > 0 {
                        c.last_move = nanos_since(base);
                    }
                })?;
                continue;
            }
            let Some(s) = subs.iter().position(|&s| s == id) else {
                continue;
            };
            net.read(id, |p, _raw, out| {
                if let Packet::Publish {
                    qos: q,
                    pid,
                    payload,
                    ..
                } = p
                {
                    if q == 1 {
                        proto::ack(out, kind::PUBACK, pid);
                    }
                    on_delivery(&mut st, &mut clients, s, n, payload, base);
                }
            });
            if let Some(why) = &net.conns[id].closed {
                return Err(format!("subscriber connection: {why}"));
            }
        }
    }
    let expected = total_sent * nsub as u64;
    let t0_ns = t0.duration_since(base).as_nanos() as u64;
    let elapsed = (st.last_rx.saturating_sub(t0_ns) as f64 / 1e9).max(1e-9);
    for c in &clients {
        dgram.clear();
        mqttsn::disconnect(&mut dgram);
        // Best effort: the gateway drops the clients after their keep
        // alive anyway.
        let _ = c.sock.send(&dgram);
    }
    disconnect_all(&mut net);

    let mut r = Report::new("mqttsn", &o.label);
    r.int("qos", u64::from(qos))
        .int("payload", o.payload as u64)
        .int("publishers", n as u64)
        .int("subscribers", nsub as u64)
        .int("window", window)
        .int("sent", total_sent)
        .int("received", st.received)
        .int("lost", expected.saturating_sub(st.received));
    if st.received > expected {
        r.int("duplicates", st.received - expected);
    }
    r.float("duration_s", elapsed)
        .float("msg_per_s", st.received as f64 / elapsed)
        .float("mb_per_s", st.bytes as f64 / elapsed / 1e6)
        .latency(&st.hist)
        .float("setup_s", setup_s)
        .int("written_off", written_off)
        .int("send_blocked", send_blocked);
    if qos == 1 {
        let acked: u64 = clients.iter().map(|c| c.acked).sum();
        r.int("unacked", total_sent.saturating_sub(acked));
    }
    if st.refused > 0 {
        r.int("refused", st.refused)
            .int("refused_code", u64::from(st.refused_code));
    }
    if st.unstamped > 0 {
        r.int("unstamped", st.unstamped);
    }
    if stalled {
        r.text("note", "stalled: no progress for 3 s");
    }
    Ok(r)
}

/// A PUBACK: counted as acknowledged either way (it ends the message's
/// flow); a refusal (e.g. 0x01 congestion) is also counted apart.
fn c_ack(st: &mut Stats, code: u8) {
    if code != 0 {
        st.refused += 1;
        st.refused_code = code;
    }
}

fn on_delivery(
    st: &mut Stats,
    clients: &mut [Client],
    s: usize,
    n: usize,
    payload: &[u8],
    base: Instant,
) {
    st.received += 1;
    st.bytes += payload.len() as u64;
    let now = nanos_since(base);
    st.last_rx = now;
    match read_stamp(payload) {
        Some((ts, p, seq)) if (p as usize) < n => {
            st.hist.record(now.saturating_sub(ts));
            let i = s * n + p as usize;
            st.cnt[i] += 1;
            st.wm[i] = st.wm[i].max(u64::from(seq) + 1);
            clients[p as usize].last_move = now;
        }
        _ => st.unstamped += 1,
    }
}

/// Writes the generator's stamp (as `proto::PublishArena` does) at the
/// start of the payload.
fn stamp(data: &mut [u8], ts: u64, client: u32, seq: u32) {
    data[0..8].copy_from_slice(&ts.to_le_bytes());
    data[8..12].copy_from_slice(&client.to_le_bytes());
    data[12..16].copy_from_slice(&seq.to_le_bytes());
}

fn udp_error(gw: SocketAddr, i: usize, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::ConnectionRefused {
        format!("client {i}: {gw} refused the datagrams: no MQTT-SN gateway listening there?")
    } else {
        format!("client {i}: UDP to {gw}: {e}")
    }
}

/// Opens `n` UDP sockets connected to the gateway (so each has its own
/// port, and the kernel reports an unreachable gateway as an error).
fn open_clients(net: &mut Net, gw: SocketAddr, n: usize) -> Result<Vec<Client>, String> {
    let local: SocketAddr = if gw.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let std_sock = UdpSocket::bind(local).map_err(|e| format!("UDP bind: {e}"))?;
        std_sock
            .connect(gw)
            .map_err(|e| format!("UDP connect to {gw}: {e}"))?;
        std_sock
            .set_nonblocking(true)
            .map_err(|e| format!("UDP: {e}"))?;
        let mut sock = mio::net::UdpSocket::from_std(std_sock);
        net.register_external(&mut sock, i)
            .map_err(|e| format!("poll: {e}"))?;
        clients.push(Client {
            sock,
            phase: Phase::Connecting,
            topic_id: 0,
            last_tx: None,
            sent: 0,
            acked: 0,
            credit: 0,
            last_move: 0,
        });
    }
    Ok(clients)
}

/// Reads every datagram waiting on a client's socket (edge-triggered
/// readiness: until it would block), decodes each and hands it to `on`,
/// which says whether it counts. Returns how many counted.
fn recv_all<F>(c: &Client, gw: SocketAddr, i: usize, mut on: F) -> Result<u64, String>
where
    F: FnMut(SnPacket) -> Result<bool, String>,
{
    let mut buf = [0u8; 2048];
    let mut counted = 0;
    loop {
        match c.sock.recv(&mut buf) {
            Ok(len) => {
                let p = mqttsn::decode(&buf[..len])
                    .map_err(|e| format!("client {i}: from the gateway: {e}"))?;
                if on(p)? {
                    counted += 1;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(counted),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(udp_error(gw, i, &e)),
        }
    }
}

/// CONNECT then REGISTER `bench/sn/<i>` on every client, sending each
/// again after [`RETRY`] (datagrams may be lost), until every REGACK came.
fn handshake(
    net: &mut Net,
    clients: &mut [Client],
    gw: SocketAddr,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let pid = std::process::id();
    let mut buf = Vec::new();
    let mut ready = Vec::new();
    loop {
        let now = Instant::now();
        let pending = clients
            .iter()
            .filter(|c| !matches!(c.phase, Phase::Ready))
            .count();
        if pending == 0 {
            return Ok(());
        }
        if now >= deadline {
            return Err(format!(
                "mqttsn: {pending}/{} clients not connected and registered within {timeout:?}",
                clients.len()
            ));
        }
        for (i, c) in clients.iter_mut().enumerate() {
            if c.last_tx.is_some_and(|t| now.duration_since(t) < RETRY) {
                continue;
            }
            buf.clear();
            match c.phase {
                // At most 23 bytes: "sn" + pid (<= 7 digits) + "-" + index.
                Phase::Connecting => {
                    mqttsn::connect(&mut buf, &format!("sn{pid}-{i}"), KEEP_ALIVE, true)
                }
                Phase::Registering => {
                    mqttsn::register(&mut buf, REGISTER_ID, &format!("bench/sn/{i}"))?
                }
                Phase::Ready => continue,
            }
            match c.sock.send(&buf) {
                Ok(_) => c.last_tx = Some(now),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(udp_error(gw, i, &e)),
            }
        }
        net.flush();
        net.poll(Some(Duration::from_millis(20)), &mut ready)
            .map_err(|e| format!("poll: {e}"))?;
        for &id in ready.iter() {
            if id < EXTERNAL {
                // The subscribers: nothing is published yet.
                net.read(id, |_, _, _| {});
                continue;
            }
            let i = id - EXTERNAL;
            let c = &mut clients[i];
            let mut next = None;
            recv_all(c, gw, i, |p| {
                match (&c.phase, p) {
                    (Phase::Connecting, SnPacket::ConnAck { code: 0 }) => {
                        next = Some((Phase::Registering, 0))
                    }
                    (Phase::Connecting, SnPacket::ConnAck { code }) => {
                        return Err(format!("client {i}: CONNECT refused, return code {code}"))
                    }
                    (
                        Phase::Registering,
                        SnPacket::RegAck {
                            topic_id,
                            msg_id: REGISTER_ID,
                            code,
                        },
                    ) => {
                        if code != 0 {
                            return Err(format!(
                                "client {i}: REGISTER refused, return code {code}"
                            ));
                        }
                        next = Some((Phase::Ready, topic_id));
                    }
                    _ => {}
                }
                Ok(false)
            })?;
            if let Some((phase, topic_id)) = next {
                c.phase = phase;
                c.topic_id = topic_id;
                // The next step goes out at once.
                c.last_tx = None;
            }
        }
    }
}
