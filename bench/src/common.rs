//! Helpers shared by the scenarios: connection setup, subscription, event
//! loop steps, resource limits and broker memory.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::net::Net;
use crate::proto::{self, Packet};

/// Keep-alive sent in CONNECT (seconds): longer than any scenario, so no
/// PINGREQ traffic is needed.
pub const KEEP_ALIVE: u16 = 600;

/// A client identifier unique to this process.
pub fn client_id(role: &str, i: usize) -> String {
    format!("mqb{}-{role}{i}", std::process::id())
}

/// One event-loop step: flush, wait up to `timeout`, decode everything
/// readable and hand each packet to `on(connection, packet, reply buffer)`.
/// A closed connection is an error.
pub fn step<F>(
    net: &mut Net,
    ready: &mut Vec<usize>,
    timeout: Duration,
    mut on: F,
) -> Result<(), String>
where
    F: FnMut(usize, Packet<'_>, &mut Vec<u8>),
{
    net.flush();
    net.poll(Some(timeout), ready)
        .map_err(|e| format!("poll: {e}"))?;
    for &id in ready.iter() {
        net.read(id, |p, _raw, out| on(id, p, out));
        if let Some(why) = &net.conns[id].closed {
            return Err(format!("connection {id}: {why}"));
        }
    }
    net.flush();
    Ok(())
}

/// Opens `n` connections named `role<i>`, sends CONNECT and waits for every
/// CONNACK. Returns the connection indices.
pub fn connect_all(
    net: &mut Net,
    addr: SocketAddr,
    role: &str,
    n: usize,
    rbuf: usize,
    timeout: Duration,
) -> Result<Vec<usize>, String> {
    connect_all_session(net, addr, role, n, rbuf, timeout, true)
}

/// [`connect_all`] with the Clean Session flag as given (false: persistent
/// sessions, which a broker with persistence stores).
pub fn connect_all_session(
    net: &mut Net,
    addr: SocketAddr,
    role: &str,
    n: usize,
    rbuf: usize,
    timeout: Duration,
    clean: bool,
) -> Result<Vec<usize>, String> {
    connect_all_as(net, addr, role, n, rbuf, timeout, clean, false).map(|(ids, _)| ids)
}

/// What the brokers' CONNACKs announced (the smallest value over the
/// connections); MQTT 3.1.1 CONNACKs announce nothing.
#[derive(Clone, Copy, Debug)]
pub struct Granted {
    /// Topic Alias Maximum (0: the client must not use topic aliases).
    pub topic_alias_max: u16,
    /// Receive Maximum (QoS 1/2 PUBLISHes the client may have unacknowledged).
    pub receive_max: u16,
}

/// [`connect_all_session`] speaking MQTT 5 if `v5` (CONNECT level 5 with an
/// empty property block; everything the connections receive is decoded as
/// MQTT 5). Also returns what the CONNACKs granted.
#[allow(clippy::too_many_arguments)]
pub fn connect_all_as(
    net: &mut Net,
    addr: SocketAddr,
    role: &str,
    n: usize,
    rbuf: usize,
    timeout: Duration,
    clean: bool,
    v5: bool,
) -> Result<(Vec<usize>, Granted), String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = net
            .connect(addr, rbuf)
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        if v5 {
            net.set_mqtt5(id, true);
            proto::connect_v5(net.out(id), &client_id(role, i), KEEP_ALIVE, clean);
        } else {
            proto::connect_session(net.out(id), &client_id(role, i), KEEP_ALIVE, clean);
        }
        ids.push(id);
    }
    let deadline = Instant::now() + timeout;
    let mut acked = 0;
    let mut refused = None;
    let mut granted = Granted {
        topic_alias_max: if v5 { u16::MAX } else { 0 },
        receive_max: u16::MAX,
    };
    let mut ready = Vec::new();
    while acked < n {
        if Instant::now() >= deadline {
            return Err(format!(
                "{role}: only {acked}/{n} CONNACKs within {timeout:?}"
            ));
        }
        step(net, &mut ready, Duration::from_millis(20), |_, p, _| {
            if let Packet::ConnAck { code, props } = p {
                acked += 1;
                if code != 0 && v5 {
                    let why = proto::find_prop(props, proto::prop::REASON_STRING)
                        .map(|s| format!(" ({})", String::from_utf8_lossy(s)))
                        .unwrap_or_default();
                    refused = Some(format!("0x{code:02x}{why}"));
                } else if code != 0 {
                    refused = Some(code.to_string());
                }
                // Absent: no aliases, and a Receive Maximum of 65535.
                let alias = proto::find_prop_u16(props, proto::prop::TOPIC_ALIAS_MAXIMUM);
                granted.topic_alias_max = granted.topic_alias_max.min(alias.unwrap_or(0));
                let recv = proto::find_prop_u16(props, proto::prop::RECEIVE_MAXIMUM);
                granted.receive_max = granted.receive_max.min(recv.unwrap_or(u16::MAX));
            }
        })?;
        if let Some(code) = refused {
            return Err(format!("{role}: CONNECT refused with return code {code}"));
        }
    }
    Ok((ids, granted))
}

/// Sends `filters` on connection `id` in SUBSCRIBE packets of at most
/// `per_packet` filters (all pipelined).
pub fn send_subscribes<S: AsRef<[u8]>>(
    net: &mut Net,
    id: usize,
    filters: &[S],
    qos: u8,
    per_packet: usize,
    pid: &mut u16,
) -> usize {
    send_subscribes_as(net, id, filters, qos, per_packet, pid, false)
}

/// [`send_subscribes`] in the MQTT 5 form if `v5`.
pub fn send_subscribes_as<S: AsRef<[u8]>>(
    net: &mut Net,
    id: usize,
    filters: &[S],
    qos: u8,
    per_packet: usize,
    pid: &mut u16,
    v5: bool,
) -> usize {
    let mut packets = 0;
    for chunk in filters.chunks(per_packet) {
        *pid = pid.wrapping_add(1).max(1);
        if v5 {
            proto::subscribe_v5(net.out(id), *pid, chunk, qos);
        } else {
            proto::subscribe(net.out(id), *pid, chunk, qos);
        }
        packets += 1;
    }
    packets
}

/// Waits for `packets` SUBACKs in total; returns the number of refused
/// filters (return code 0x80).
pub fn wait_subacks(net: &mut Net, packets: usize, timeout: Duration) -> Result<u64, String> {
    let deadline = Instant::now() + timeout;
    let mut got = 0;
    let mut refused = 0u64;
    let mut ready = Vec::new();
    while got < packets {
        if Instant::now() >= deadline {
            return Err(format!("only {got}/{packets} SUBACKs within {timeout:?}"));
        }
        step(net, &mut ready, Duration::from_millis(20), |_, p, _| {
            if let Packet::SubAck { codes, .. } = p {
                got += 1;
                // 3.1.1: 0x80 is the failure code; MQTT 5: every reason
                // code from 0x80 on is one.
                refused += codes.iter().filter(|&&c| c & 0x80 != 0).count() as u64;
            }
        })?;
    }
    Ok(refused)
}

/// Queues DISCONNECT on every open connection, flushes and closes them all.
pub fn disconnect_all(net: &mut Net) {
    for id in 0..net.conns.len() {
        if net.conns[id].closed.is_none() && net.conns[id].is_connected() {
            proto::disconnect(net.out(id));
        }
    }
    net.close_all();
}

/// Raises RLIMIT_NOFILE so that `need` descriptors fit; returns the new soft
/// limit.
pub fn raise_nofile(need: u64) -> Result<u64, String> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
    }
    if r.rlim_cur >= need {
        return Ok(r.rlim_cur);
    }
    let want = libc::rlimit {
        rlim_cur: need.max(r.rlim_max),
        rlim_max: need.max(r.rlim_max),
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        return Ok(want.rlim_cur);
    }
    // Not allowed to raise the hard limit: take what there is.
    let soft = libc::rlimit {
        rlim_cur: r.rlim_max,
        rlim_max: r.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
        return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
    }
    Ok(r.rlim_max)
}

/// Resident memory of a process in bytes (VmRSS from /proc/PID/status).
pub fn vm_rss(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let s = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| format!("{path}: no VmRSS"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{path}: bad VmRSS line {line:?}"))?;
    Ok(kb * 1024)
}

/// Seconds as a [`Duration`] (negative and NaN become zero).
pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

/// CPU time (user + system, seconds) this process used so far, including
/// the in-process forwarder thread of `--ceiling` runs.
/// CPU time (user + system, seconds) used so far by process `pid`, from
/// `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let path = format!("/proc/{pid}/stat");
    let s = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name (field 2) may hold spaces: count after its `)`.
    let rest = s
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path}: no command field"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    let ticks = |i: usize| -> Result<f64, String> {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("{path}: bad field {i}"))
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Ok((ticks(14)? + ticks(15)?) / hz)
}

pub fn own_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return f64::NAN;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
