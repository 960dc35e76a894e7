//! Routing cost in the sans-IO core, with no sockets: how the time per
//! message grows with the number of subscriptions.
//!
//! `mqlite-routing [--filters N,M,...] [--rounds R] [--json]` builds one
//! `Core` per filter count, with the `subscriptions` scenario of
//! `mqlite-bench` (N filters on 4 subscribers, 10 % of them `sub/<i>/+`,
//! the rest `sub/<i>/x`; 4 publishers sending to `sub/<i>/x` for every `i`
//! in turn). It then feeds each core its publishers' packets in 4 KiB reads
//! and drains its subscribers' output, alternating between the cores in
//! short slices so that the machine's drift hits them all alike, and prints
//! the median time per message of each. Bytes are copied in and out as a
//! socket would, so the caches see the same traffic as in the broker.
//!
//! The network benchmark carries the kernel's noise (tens of percent from
//! minute to minute on a shared VM); this one isolates the core's routing,
//! and the ratio between filter counts is stable to a few percent.

use std::io::IoSlice;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use mqlite::codec::{self, Connect, Packet, Properties, Protocol, Publish, Subscribe};
use mqlite::core::{ConnId, Core};
use mqlite::{Config, QoS};

/// Publishers and subscribers, as in `mqlite-bench subscriptions`.
const CLIENTS: usize = 4;
/// Bytes handed to the core per read (a small socket read).
const READ: usize = 4096;
/// Input prepared per publisher, cycled through (larger than the caches).
const INPUT_BYTES: usize = 4 << 20;
/// Read passes per timed slice, and passes to warm up before it.
const PASSES: usize = 2000;
const WARM_PASSES: usize = 200;

/// One core with its clients and prepared input.
struct Setup {
    filters: usize,
    core: Core,
    now: Instant,
    publishers: Vec<ConnId>,
    subscribers: Vec<ConnId>,
    /// Per publisher: PUBLISH packets, and where the next read starts.
    inputs: Vec<(Vec<u8>, usize)>,
    /// Where reads are copied to and output is copied to, as by a socket.
    read_buf: Vec<u8>,
    sink: Vec<u8>,
    /// Nanoseconds per message of each timed slice.
    samples: Vec<f64>,
}

fn encode(packet: &Packet<'_>) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    codec::encode(packet, &mut bytes).map_err(|e| format!("encode: {e:?}"))?;
    Ok(bytes)
}

impl Setup {
    fn new(filters: usize) -> Result<Setup, String> {
        let now = Instant::now();
        let config = Config {
            sys_interval: None,
            ..Config::default()
        };
        let mut setup = Setup {
            filters,
            core: Core::new(config, now),
            now,
            publishers: Vec::new(),
            subscribers: Vec::new(),
            inputs: Vec::new(),
            read_buf: vec![0; 1 << 20],
            sink: vec![0; 1 << 20],
            samples: Vec::new(),
        };
        for k in 0..CLIENTS {
            let id = setup.connect(&format!("sub{k}"))?;
            setup.subscribers.push(id);
        }
        for i in 0..filters {
            let filter = if i % 10 == 0 {
                format!("sub/{i}/+")
            } else {
                format!("sub/{i}/x")
            };
            let subscribe = Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![(&filter, QoS::AtMostOnce.into())],
                properties: Properties::EMPTY,
            });
            let id = setup.subscribers[i % CLIENTS];
            setup.core.handle_read(now, id, &encode(&subscribe)?);
        }
        setup.drain();
        for k in 0..CLIENTS {
            let id = setup.connect(&format!("pub{k}"))?;
            setup.publishers.push(id);
        }
        for p in 0..CLIENTS {
            // Publisher p sends to sub/<i>/x for i = p, p + 4, ... (every
            // topic in turn), repeated past INPUT_BYTES.
            let mut input = Vec::new();
            let mut i = p;
            while input.len() < INPUT_BYTES {
                let topic = format!("sub/{}/x", i % filters);
                let publish = Packet::Publish(Publish {
                    dup: false,
                    qos: QoS::AtMostOnce,
                    retain: false,
                    topic: &topic,
                    packet_id: None,
                    payload: &[7; 16],
                    properties: Properties::EMPTY,
                });
                codec::encode(&publish, &mut input).map_err(|e| format!("encode: {e:?}"))?;
                i += CLIENTS;
            }
            setup.inputs.push((input, 0));
        }
        Ok(setup)
    }

    fn connect(&mut self, client_id: &str) -> Result<ConnId, String> {
        let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
        let id = self
            .core
            .handle_accept(self.now, peer)
            .ok_or("connection refused")?;
        let connect = Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V311,
            clean_session: true,
            keep_alive: 0,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: Properties::EMPTY,
        }));
        self.core.handle_read(self.now, id, &encode(&connect)?);
        self.drain();
        Ok(id)
    }

    /// Writes every connection's output to the sink, as `writev` would.
    fn drain(&mut self) {
        let ids: Vec<ConnId> = self
            .subscribers
            .iter()
            .chain(&self.publishers)
            .copied()
            .collect();
        for id in ids {
            loop {
                let mut slices = [IoSlice::new(&[]); 64];
                let filled = self.core.output_slices(id, &mut slices);
                let mut written = 0;
                for slice in &slices[..filled] {
                    let room = self.sink.len() - slice.len();
                    let at = (written * 64) % room.max(1);
                    self.sink[at..at + slice.len()].copy_from_slice(slice);
                    written += slice.len();
                }
                if written == 0 {
                    break;
                }
                self.core.handle_written(self.now, id, written);
            }
        }
    }

    /// One read per publisher then a drain, `passes` times. Returns the
    /// messages handed to the core.
    fn run(&mut self, passes: usize) -> u64 {
        let mut messages = 0;
        for _ in 0..passes {
            for p in 0..CLIENTS {
                let (input, start) = &mut self.inputs[p];
                let (end, count) = whole_packets(input, *start, READ);
                messages += count;
                let len = end - *start;
                // Reads land at moving places of the buffer, as the
                // reactor's 1 MiB buffer fills.
                let at = (*start % (self.read_buf.len() - READ)) & !63;
                self.read_buf[at..at + len].copy_from_slice(&input[*start..end]);
                *start = if end >= input.len() { 0 } else { end };
                let id = self.publishers[p];
                self.core
                    .handle_read(self.now, id, &self.read_buf[at..at + len]);
            }
            self.drain();
        }
        messages
    }
}

/// The end of the whole packets in `input[start..]` within `max` bytes,
/// and how many there are.
fn whole_packets(input: &[u8], start: usize, max: usize) -> (usize, u64) {
    let mut end = start;
    let mut count = 0;
    while let Ok(Some((_, used))) = codec::decode(&input[end..], usize::MAX) {
        if end + used - start > max {
            break;
        }
        end += used;
        count += 1;
    }
    (end, count)
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> ExitCode {
    let mut filters = vec![100, 100_000];
    let mut rounds = 15;
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let parsed = match arg.as_str() {
            "--filters" => args.next().and_then(|v| {
                v.split(',')
                    .map(|n| n.parse().ok().filter(|&n: &usize| n > 0))
                    .collect::<Option<Vec<usize>>>()
                    .map(|v| filters = v)
            }),
            "--rounds" => args.next().and_then(|v| v.parse().ok()).map(|r| rounds = r),
            "--json" => {
                json = true;
                Some(())
            }
            _ => None,
        };
        if parsed.is_none() {
            eprintln!("usage: mqlite-routing [--filters N,M,...] [--rounds R] [--json]");
            return ExitCode::from(2);
        }
    }
    let mut setups = Vec::new();
    for &n in &filters {
        match Setup::new(n) {
            Ok(setup) => setups.push(setup),
            Err(e) => {
                eprintln!("mqlite-routing: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for _ in 0..rounds {
        for setup in &mut setups {
            setup.run(WARM_PASSES);
            let start = Instant::now();
            let messages = setup.run(PASSES);
            let ns = start.elapsed().as_nanos() as f64 / messages.max(1) as f64;
            setup.samples.push(ns);
        }
    }
    let base = setups
        .first_mut()
        .map(|s| median(&mut s.samples))
        .unwrap_or(f64::NAN);
    for setup in &mut setups {
        let ns = median(&mut setup.samples);
        let change = (base / ns - 1.0) * 100.0;
        if json {
            println!(
                "{{\"scenario\":\"routing-core\",\"filters\":{},\"ns_per_msg\":{ns:.1},\"throughput_vs_first\":{change:.1}}}",
                setup.filters
            );
        } else {
            println!(
                "{:>8} filters: {ns:6.1} ns/msg in the core, throughput {change:+.1}% vs {} filters",
                setup.filters, filters[0]
            );
        }
    }
    ExitCode::SUCCESS
}
