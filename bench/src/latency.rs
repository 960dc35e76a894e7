//! `latency`: one message at a time. Publish, wait until the subscriber got
//! it (and, for QoS 1/2, until the publisher's flow completed), repeat.

use std::time::{Duration, Instant};

use crate::common::{
    client_id, connect_all, disconnect_all, secs, send_subscribes, step, wait_subacks,
};
use crate::histogram::Histogram;
use crate::net::{nanos_since, Net, BIG_BUF};
use crate::proto::{self, kind, read_stamp, Packet, PublishArena};
use crate::report::Report;
use crate::Opts;

/// Runs the latency scenario.
pub fn run(o: &Opts) -> Result<Report, String> {
    let addr = o.addr()?;
    let qos = o.qos;
    let duration = secs(o.duration.unwrap_or(10.0));
    let max_messages = o.messages.unwrap_or(20_000);
    let setup = Duration::from_secs(30);
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;
    let sub = connect_all(&mut net, addr, "lsub", 1, BIG_BUF, setup)?[0];
    let topic = format!("bench/lat/{}", client_id("", 0));
    let mut pid = 0;
    let packets = send_subscribes(&mut net, sub, &[topic.as_str()], qos, 1, &mut pid);
    wait_subacks(&mut net, packets, setup)?;
    let publisher = connect_all(&mut net, addr, "lpub", 1, 1 << 16, setup)?[0];
    let mut arena = PublishArena::new(o.payload, qos, false);
    arena.add_topic(topic.as_bytes());

    let base = Instant::now();
    let mut hist = Histogram::new();
    let mut ready = Vec::new();
    let mut lost = 0u64;
    let mut sent = 0u64;
    let t0 = Instant::now();
    let end = t0 + duration;
    while sent < max_messages && Instant::now() < end {
        let seq = sent as u32;
        let pkt_id = (sent % 65_535) as u16 + 1;
        arena.write(net.out(publisher), 0, pkt_id, nanos_since(base), 0, seq);
        sent += 1;
        let mut got = false;
        let mut acked = qos == 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(got && acked) {
            if Instant::now() >= deadline {
                lost += u64::from(!got);
                break;
            }
            step(
                &mut net,
                &mut ready,
                Duration::from_millis(100),
                |id, p, out| match p {
                    Packet::Publish {
                        qos: q,
                        pid,
                        payload,
                        ..
                    } if id == sub => {
                        match q {
                            1 => proto::ack(out, kind::PUBACK, pid),
                            2 => proto::ack(out, kind::PUBREC, pid),
                            _ => {}
                        }
                        if let Some((ts, _, s)) = read_stamp(payload) {
                            if s == seq && !got {
                                got = true;
                                hist.record(nanos_since(base).saturating_sub(ts));
                            }
                        }
                    }
                    Packet::Ack(kind::PUBREL, pid) if id == sub => {
                        proto::ack(out, kind::PUBCOMP, pid)
                    }
                    Packet::Ack(kind::PUBACK, _) if id == publisher => acked = true,
                    Packet::Ack(kind::PUBREC, pid) if id == publisher => {
                        proto::ack(out, kind::PUBREL, pid)
                    }
                    Packet::Ack(kind::PUBCOMP, _) if id == publisher => acked = true,
                    _ => {}
                },
            )?;
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    disconnect_all(&mut net);
    let mut r = Report::new("latency", &o.label);
    r.int("qos", u64::from(qos))
        .int("payload", arena.payload_len() as u64)
        .int("sent", sent)
        .int("received", hist.count())
        .int("lost", lost)
        .float("duration_s", elapsed)
        .float("msg_per_s", hist.count() as f64 / elapsed.max(1e-9))
        .latency(&hist);
    Ok(r)
}
