//! `mqlite-bench`: a single-threaded MQTT 3.1.1 / 5.0 load generator.
//!
//! It speaks MQTT itself (see [`proto`]) so that it does not depend on the
//! broker under test. Every scenario is bounded in time and in message count
//! and prints one result line (`--json` for a JSON object).

mod ceiling;
mod common;
mod connections;
mod flow;
mod histogram;
mod latency;
mod mqttsn;
mod net;
mod proto;
mod report;
mod retained;
#[cfg(test)]
mod sn_fake;
mod sn_flow;
mod transport;
mod udp_batch;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

const USAGE: &str = "\
usage: mqlite-bench SCENARIO [options]

scenarios:
  fanin          P publishers -> 1 subscriber on bench/+ (throughput, latency, loss)
  fanout         1 publisher -> S subscribers on one topic (deliveries/s)
  latency        one message at a time, round trip p50/p99/mean (--qos 0|1|2)
  connections    K idle clients CONNECT + SUBSCRIBE idle/<i> (rate, broker RSS/conn)
  subscriptions  N filters (10% with '+') on a few connections, then fan-in
  retained       publish R retained messages, time SUBSCRIBE ret/# -> all R received
  ceiling        fanin against the generator's own in-process TCP forwarder
  mqttsn         P MQTT-SN clients over UDP (--sn-port; default 100) REGISTER
                 bench/sn/<i> and publish (--qos 0|1, --window, default 10)
                 to S MQTT subscribers (TCP) on bench/sn/#; the same load
                 over MQTT/TCP: fanin --publishers P --window W
  ceiling-server run the forwarder alone (for scripts): --bind ADDR --port PORT

options:
  --host H          broker host (127.0.0.1)        --port N       broker port (1883)
  --duration SECS   time bound of the measurement  --messages N   message bound
  --publishers P    publisher connections          --subscribers S subscriber connections
  --qos 0|1|2       QoS of publishes/subscriptions --payload B    payload bytes (>= 16)
  --window W        in-flight messages per publisher (handshakes for connections)
  --connections K   connections scenario (10000)   --filters N    subscriptions (100000)
  --wildcard-pct X  share of '+' filters (10)      --per-packet M filters per SUBSCRIBE (1000)
  --retained R      retained scenario (100000)     --broker-pid PID  for RSS per connection
  --hold SECS       keep idle connections open (1) --ceiling      run against in-process forwarder
  --label NAME      broker name in the result      --json         print JSON
  --persistent-sub  subscribers use clean session 0 (persistent sessions)
  --bind ADDR       ceiling-server bind address (127.0.0.1)
  --shared N        fanin: the subscribers are N members of one shared
                    subscription $share/bench/bench/+ (each message to one)
  --sn-port PORT    mqttsn: the broker's MQTT-SN gateway (UDP port on --host)
  --sub-port PORT   fanin, fanout: the subscribers connect to PORT (another
                    broker on the same host, reached through a bridge)

transports (every client connection; not with --ceiling):
  --tls CAFILE      MQTT over TLS (rustls), trusting the PEM CA(s) in CAFILE,
                    server name \"localhost\"
  --ws              MQTT over WebSocket: GET /mqtt with Sec-WebSocket-Protocol
                    mqtt, then masked binary frames (with --tls: wss)

MQTT 5 (fanin, fanout, subscriptions):
  --mqtt5           CONNECT with protocol level 5 (empty properties), MQTT 5
                    SUBSCRIBE / PUBLISH / acknowledgements
  --props           every PUBLISH carries a Content Type, a User Property and
                    a Message Expiry Interval (deliveries are checked for them)
  --topic-alias     fanin/fanout: each publisher's first PUBLISH sets topic
                    alias 1, the later ones have an empty topic and the alias

Flows send until --duration (10 s) or --messages (fanin/subscriptions 5000000,
latency 20000) is reached, whichever comes first, then drain for up to 5 s.
For connections and retained, --duration is the time limit of each phase.
";

/// Command-line options shared by all scenarios. `None` means "use the
/// scenario's default".
pub struct Opts {
    /// Scenario name.
    pub scenario: String,
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Time bound in seconds.
    pub duration: Option<f64>,
    /// Message count bound.
    pub messages: Option<u64>,
    /// Number of publisher connections.
    pub publishers: Option<usize>,
    /// Number of subscriber connections.
    pub subscribers: Option<usize>,
    /// QoS level.
    pub qos: u8,
    /// Payload size in bytes.
    pub payload: usize,
    /// In-flight window.
    pub window: Option<u32>,
    /// Print JSON instead of text.
    pub json: bool,
    /// Subscribers connect with clean session 0 (persistent sessions).
    pub persistent_sub: bool,
    /// Idle connections for `connections`.
    pub connections: usize,
    /// Filters for `subscriptions`.
    pub filters: usize,
    /// Percentage of wildcard filters for `subscriptions`.
    pub wildcard_pct: u32,
    /// Filters per SUBSCRIBE packet.
    pub per_packet: usize,
    /// Retained messages for `retained`.
    pub retained: usize,
    /// Broker process id (RSS measurement).
    pub broker_pid: Option<u32>,
    /// Seconds to hold idle connections open.
    pub hold: f64,
    /// Run against the in-process forwarder.
    pub ceiling: bool,
    /// Broker label printed in results.
    pub label: String,
    /// Bind address of `ceiling-server`.
    pub bind: String,
    /// Speak MQTT 5.
    pub mqtt5: bool,
    /// MQTT 5: application properties on every PUBLISH.
    pub props: bool,
    /// MQTT 5: publishers use a topic alias.
    pub topic_alias: bool,
    /// Fan-in to the members of one shared subscription.
    pub shared: Option<usize>,
    /// TLS: the CA file the clients trust.
    pub tls: Option<String>,
    /// MQTT over WebSocket.
    pub ws: bool,
    /// Subscribers connect to this port (on `host`) instead of `port`:
    /// another broker, reached through a bridge.
    pub sub_port: Option<u16>,
    /// `mqttsn`: the UDP port of the broker's MQTT-SN gateway.
    pub sn_port: Option<u16>,
}

impl Opts {
    /// The broker address.
    pub fn addr(&self) -> Result<SocketAddr, String> {
        self.addr_on(self.port)
    }

    /// The subscribers' broker address (`--sub-port`, else the broker's).
    pub fn sub_addr(&self) -> Result<SocketAddr, String> {
        self.addr_on(self.sub_port.unwrap_or(self.port))
    }

    fn addr_on(&self, port: u16) -> Result<SocketAddr, String> {
        (self.host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| format!("resolving {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))
    }
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut it = args.iter();
    let scenario = it.next().ok_or("missing scenario")?.clone();
    let mut o = Opts {
        scenario,
        host: "127.0.0.1".into(),
        port: 1883,
        duration: None,
        messages: None,
        publishers: None,
        subscribers: None,
        qos: 0,
        payload: 16,
        window: None,
        json: false,
        persistent_sub: false,
        connections: 10_000,
        filters: 100_000,
        wildcard_pct: 10,
        per_packet: 1000,
        retained: 100_000,
        broker_pid: None,
        hold: 1.0,
        ceiling: false,
        label: String::new(),
        bind: "127.0.0.1".into(),
        mqtt5: false,
        props: false,
        topic_alias: false,
        shared: None,
        tls: None,
        sub_port: None,
        sn_port: None,
        ws: false,
    };
    while let Some(a) = it.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        match key {
            "--json" => o.json = true,
            "--persistent-sub" => o.persistent_sub = true,
            "--ceiling" => o.ceiling = true,
            "--mqtt5" => o.mqtt5 = true,
            "--props" => o.props = true,
            "--topic-alias" => o.topic_alias = true,
            "--ws" => o.ws = true,
            "-h" | "--help" => return Err(String::new()),
            _ => {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().ok_or(format!("{key} needs a value"))?.clone(),
                };
                let bad = |e: &dyn std::fmt::Display| format!("{key} {v}: {e}");
                match key {
                    "--host" => o.host = v.clone(),
                    "--port" | "-p" => o.port = v.parse().map_err(|e| bad(&e))?,
                    "--duration" => o.duration = Some(v.parse().map_err(|e| bad(&e))?),
                    "--messages" => o.messages = Some(v.parse().map_err(|e| bad(&e))?),
                    "--publishers" => o.publishers = Some(v.parse().map_err(|e| bad(&e))?),
                    "--subscribers" => o.subscribers = Some(v.parse().map_err(|e| bad(&e))?),
                    "--qos" => o.qos = v.parse().map_err(|e| bad(&e))?,
                    "--payload" => o.payload = v.parse().map_err(|e| bad(&e))?,
                    "--window" => o.window = Some(v.parse().map_err(|e| bad(&e))?),
                    "--connections" => o.connections = v.parse().map_err(|e| bad(&e))?,
                    "--filters" => o.filters = v.parse().map_err(|e| bad(&e))?,
                    "--wildcard-pct" => o.wildcard_pct = v.parse().map_err(|e| bad(&e))?,
                    "--per-packet" => o.per_packet = v.parse().map_err(|e| bad(&e))?,
                    "--retained" => o.retained = v.parse().map_err(|e| bad(&e))?,
                    "--broker-pid" => o.broker_pid = Some(v.parse().map_err(|e| bad(&e))?),
                    "--hold" => o.hold = v.parse().map_err(|e| bad(&e))?,
                    "--label" => o.label = v.clone(),
                    "--bind" => o.bind = v.clone(),
                    "--shared" => o.shared = Some(v.parse().map_err(|e| bad(&e))?),
                    "--sub-port" => o.sub_port = Some(v.parse().map_err(|e| bad(&e))?),
                    "--sn-port" => o.sn_port = Some(v.parse().map_err(|e| bad(&e))?),
                    "--tls" => o.tls = Some(v.clone()),
                    _ => return Err(format!("unknown option {key}")),
                }
            }
        }
    }
    if o.qos > 2 {
        return Err("--qos must be 0, 1 or 2".into());
    }
    if o.payload < proto::STAMP_LEN {
        return Err(format!("--payload must be at least {}", proto::STAMP_LEN));
    }
    if o.window == Some(0) || o.publishers == Some(0) || o.subscribers == Some(0) {
        return Err("--window, --publishers and --subscribers must be positive".into());
    }
    if o.per_packet == 0 || o.wildcard_pct > 100 {
        return Err("--per-packet must be positive and --wildcard-pct at most 100".into());
    }
    if (o.props || o.topic_alias) && !o.mqtt5 {
        return Err("--props and --topic-alias need --mqtt5".into());
    }
    let ceiling = o.ceiling || o.scenario.starts_with("ceiling");
    if o.mqtt5 && (ceiling || !matches!(o.scenario.as_str(), "fanin" | "fanout" | "subscriptions"))
    {
        return Err("--mqtt5 is for fanin, fanout and subscriptions against a broker".into());
    }
    if o.topic_alias && !matches!(o.scenario.as_str(), "fanin" | "fanout") {
        return Err("--topic-alias is for fanin and fanout".into());
    }
    if let Some(n) = o.shared {
        if n == 0 || o.scenario != "fanin" || ceiling {
            return Err("--shared N: N positive, for fanin against a broker".into());
        }
    }
    if (o.tls.is_some() || o.ws) && (ceiling || o.scenario == "ceiling-server") {
        return Err("--tls and --ws are for runs against a broker, not the forwarder".into());
    }
    if o.label.is_empty() {
        o.label = if o.ceiling || o.scenario == "ceiling" {
            "ceiling".into()
        } else {
            format!("{}:{}", o.host, o.port)
        };
    }
    Ok(o)
}

fn run(mut o: Opts) -> Result<report::Report, String> {
    // Scenarios that can run against the in-process forwarder.
    let _forwarder = if o.ceiling || o.scenario == "ceiling" {
        match o.scenario.as_str() {
            "fanin" | "fanout" | "latency" | "connections" | "ceiling" => {}
            s => return Err(format!("--ceiling is not meaningful for {s}")),
        }
        let f = ceiling::spawn().map_err(|e| format!("starting the forwarder: {e}"))?;
        o.host = f.addr.ip().to_string();
        o.port = f.addr.port();
        Some(f)
    } else {
        None
    };
    match o.scenario.as_str() {
        "fanin" | "ceiling" | "subscriptions" | "fanout" => flow::run(&o),
        "latency" => latency::run(&o),
        "connections" => connections::run(&o),
        "retained" => retained::run(&o),
        "mqttsn" => sn_flow::run(&o),
        s => Err(format!("unknown scenario {s}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("mqlite-bench: {e}");
            }
            eprint!("{USAGE}");
            return if e.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    if o.scenario == "ceiling-server" {
        return match ceiling::serve_forever(&o.bind, o.port) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mqlite-bench ceiling-server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = transport::configure(o.tls.as_deref(), o.ws) {
        eprintln!("mqlite-bench: {e}");
        return ExitCode::FAILURE;
    }
    let json = o.json;
    match run(o) {
        Ok(mut r) => {
            if transport::name() != "tcp" {
                r.text("transport", transport::name());
            }
            r.float("gen_cpu_s", common::own_cpu_seconds());
            println!("{}", r.render(json));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mqlite-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
