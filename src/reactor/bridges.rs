//! The reactor's side of bridges: opening the connection to an upstream
//! broker (the core does the rest, see `core::bridge`), and opening it
//! again after it fails, with a backoff.
//!
//! A connection attempt is a non-blocking `connect` registered with the
//! poll, so the reactor never waits on it. A host name that is not an IP
//! address is resolved on a short-lived thread (the system resolver
//! blocks, for seconds when a DNS server is slow); its answer comes back
//! through a channel and wakes the reactor.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::inbox::Shared;
#[cfg(feature = "tls")]
use super::transport::TlsStream;
use super::transport::{Stream, Transport};

mod tls;
use super::Reactor;
use crate::bridge::{split_address, Bridge, BridgeStart};
use crate::core::{BridgeId, ConnId};
use tls::start_tls;

/// Tokens of connecting bridge sockets start here: above any connection's,
/// below the lingering sockets'.
const FIRST_DIAL_TOKEN: usize = usize::MAX / 4;
/// The longest a connection attempt (resolving included) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Where one bridge's connection is.
enum Phase {
    /// Waiting to try (at start: now).
    Waiting { at: Instant },
    /// A resolver thread is looking up the host.
    Resolving {
        answer: Receiver<io::Result<Vec<SocketAddr>>>,
        port: u16,
        deadline: Instant,
    },
    /// A non-blocking connect is under way.
    Connecting {
        stream: TcpStream,
        peer: SocketAddr,
        deadline: Instant,
    },
    /// Connected; the TLS handshake is under way.
    #[cfg(feature = "tls")]
    Handshaking {
        tls: Box<TlsStream<Stream>>,
        peer: SocketAddr,
        deadline: Instant,
    },
    /// Handed to the core as connection `conn`.
    Up { conn: ConnId },
    /// Not connecting again (`start_type once`, after its one go).
    Done,
    /// `start_type lazy`: waiting for `threshold` messages to queue.
    Dormant,
}

/// One bridge's connection attempts.
pub(super) struct Dialer {
    id: BridgeId,
    name: String,
    addresses: Vec<String>,
    round_robin: bool,
    start: BridgeStart,
    restart: Duration,
    restart_cap: Option<Duration>,
    /// `start_type lazy`: connect once this many messages wait.
    threshold: usize,
    /// The bridge's TLS settings, if it speaks TLS upstream.
    tls: Option<crate::BridgeTls>,
    phase: Phase,
    /// The address tried next.
    next_address: usize,
    /// The latest wait between attempts (for the backoff).
    last_wait: Duration,
    /// A small random state for the backoff's jitter.
    jitter: u64,
}

impl Dialer {
    pub(super) fn new(id: BridgeId, bridge: &Bridge, now: Instant) -> Dialer {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        let seed = clock ^ (id.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Dialer {
            id,
            name: bridge.name.clone(),
            addresses: bridge.addresses.clone(),
            round_robin: bridge.round_robin,
            start: bridge.start,
            restart: bridge.restart_timeout,
            restart_cap: bridge.restart_timeout_cap,
            tls: bridge.tls.clone(),
            threshold: bridge.threshold,
            phase: match bridge.start {
                BridgeStart::Lazy => Phase::Dormant,
                BridgeStart::Automatic | BridgeStart::Once => Phase::Waiting { at: now },
            },
            next_address: 0,
            last_wait: Duration::ZERO,
            jitter: seed | 1,
        }
    }

    /// When this dialer needs the reactor next.
    fn deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Waiting { at } => Some(*at),
            // A resolver's answer wakes the reactor; the deadline bounds it.
            Phase::Resolving { deadline, .. } | Phase::Connecting { deadline, .. } => {
                Some(*deadline)
            }
            #[cfg(feature = "tls")]
            Phase::Handshaking { deadline, .. } => Some(*deadline),
            Phase::Up { .. } | Phase::Done | Phase::Dormant => None,
        }
    }

    /// The wait before the next attempt after a failure: the configured
    /// one, or with a cap a "decorrelated jitter" backoff (each wait drawn
    /// between the base and three times the previous one, capped), as
    /// mosquitto's `restart_timeout BASE CAP`.
    fn next_wait(&mut self) -> Duration {
        let Some(cap) = self.restart_cap else {
            return self.restart;
        };
        // xorshift64: enough to spread reconnections.
        self.jitter ^= self.jitter << 13;
        self.jitter ^= self.jitter >> 7;
        self.jitter ^= self.jitter << 17;
        let low = self.restart.as_millis() as u64;
        let high = (self.last_wait.as_millis() as u64 * 3).max(low + 1);
        let wait = Duration::from_millis(low + self.jitter % (high - low)).min(cap);
        self.last_wait = wait;
        wait
    }

    /// The address tried now (validation keeps the list non-empty).
    fn address(&self) -> &str {
        self.addresses
            .get(self.next_address % self.addresses.len().max(1))
            .map_or("", String::as_str)
    }

    /// After a failed attempt: the next address, and a wait.
    fn failed(&mut self, now: Instant, why: &str) {
        log::warn!("bridge {}: {why}", self.name);
        self.next_address = (self.next_address + 1) % self.addresses.len().max(1);
        let wait = self.next_wait();
        self.phase = match self.start {
            BridgeStart::Once => Phase::Done,
            // A lazy bridge tries again while its messages wait.
            BridgeStart::Automatic | BridgeStart::Lazy => Phase::Waiting { at: now + wait },
        };
    }
}

/// Every bridge's dialer.
#[derive(Default)]
pub(super) struct Dialers {
    dialers: Vec<Dialer>,
}

impl Dialers {
    /// Whether `token` is a connecting bridge socket's.
    pub(super) fn owns(token: Token) -> bool {
        (FIRST_DIAL_TOKEN..FIRST_DIAL_TOKEN * 2).contains(&token.0)
    }

    pub(super) fn add(&mut self, dialer: Dialer) {
        self.dialers.push(dialer);
    }

    /// Stops dialing bridge `id` (it was removed), closing a socket still
    /// connecting.
    pub(super) fn remove(&mut self, registry: &Registry, id: BridgeId) {
        if let Some(index) = self.dialers.iter().position(|d| d.id == id) {
            let mut dialer = self.dialers.remove(index);
            match &mut dialer.phase {
                Phase::Connecting { stream, .. } => {
                    let _ = registry.deregister(stream);
                }
                #[cfg(feature = "tls")]
                Phase::Handshaking { tls, .. } => {
                    if let Stream::Tcp(stream) = tls.socket_mut() {
                        let _ = registry.deregister(stream);
                    }
                }
                _ => {}
            }
        }
    }

    /// The earliest moment a dialer needs a pass.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.dialers.iter().filter_map(Dialer::deadline).min()
    }
}

impl Reactor {
    /// Adds a bridge: it connects at the next pass.
    pub(crate) fn add_bridge(&mut self, now: Instant, bridge: Bridge) -> Result<(), crate::Error> {
        refuse_unsupported(&bridge)?;
        let id = self.core.add_bridge(now, bridge)?;
        self.dial_bridge(id, now);
        Ok(())
    }

    /// Removes the bridge `name` (or the stored queue of one no longer
    /// configured): its link closes and what it still had queued is
    /// dropped. False if there was neither.
    pub(crate) fn remove_bridge(&mut self, now: Instant, name: &str) -> bool {
        if let Some(id) = self.core.bridge_named(name) {
            self.dialers.remove(self.poll.registry(), id);
        }
        self.core.remove_bridge(now, name)
    }

    /// Adds the dialer of bridge `id`: it connects at the next pass.
    pub(super) fn dial_bridge(&mut self, id: BridgeId, now: Instant) {
        let Some((_, bridge)) = self.core.bridges().find(|(b, _)| *b == id) else {
            return;
        };
        let dialer = Dialer::new(id, bridge, now);
        self.dialers.add(dialer);
    }

    /// Moves every bridge's connection along: starts attempts that are
    /// due, takes resolvers' answers, finishes connects, and notices links
    /// the core closed (to connect again).
    pub(super) fn drive_bridges(&mut self, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let mut dialers = std::mem::take(&mut self.dialers.dialers);
        for (index, dialer) in dialers.iter_mut().enumerate() {
            let token = Token(FIRST_DIAL_TOKEN + index);
            if matches!(dialer.phase, Phase::Dormant)
                && self.core.bridge_queued(dialer.id) >= dialer.threshold
            {
                log::info!(
                    "bridge {}: {} messages wait, connecting",
                    dialer.name,
                    dialer.threshold
                );
                dialer.phase = Phase::Waiting { at: now };
            }
            loop {
                match step(dialer, now, token, self.poll.registry(), &shared) {
                    Step::Stay => break,
                    Step::Again => {}
                    Step::Connected(transport, peer) => {
                        self.hand_over(dialer, now, transport, peer);
                        break;
                    }
                }
            }
            if let Phase::Up { conn } = dialer.phase {
                if self.core.bridge_conn(dialer.id) != Some(conn) {
                    // The core closed the link: connect again (from the
                    // first address unless `round_robin`).
                    if !dialer.round_robin {
                        dialer.next_address = 0;
                    }
                    dialer.last_wait = Duration::ZERO;
                    dialer.phase = match dialer.start {
                        BridgeStart::Once => Phase::Done,
                        BridgeStart::Automatic => Phase::Waiting {
                            at: now + dialer.restart,
                        },
                        BridgeStart::Lazy => Phase::Dormant,
                    };
                    if matches!(dialer.phase, Phase::Done) {
                        log::info!("bridge {}: not reconnecting (start_type once)", dialer.name);
                    }
                }
            }
        }
        self.dialers.dialers = dialers;
    }

    /// A connected socket becomes the bridge's connection in the core.
    fn hand_over(
        &mut self,
        dialer: &mut Dialer,
        now: Instant,
        mut transport: Transport,
        peer: SocketAddr,
    ) {
        let Some(Stream::Tcp(stream)) = transport.stream_mut() else {
            dialer.phase = Phase::Done;
            return;
        };
        let _ = self.poll.registry().deregister(stream);
        if let Err(error) = stream.set_nodelay(true) {
            log::debug!("bridge {}: TCP_NODELAY failed: {error}", dialer.name);
        }
        let Some(id) = self.core.handle_bridge_connected(now, dialer.id, peer) else {
            dialer.phase = Phase::Done;
            return;
        };
        if let Err(error) = self.attach_socket(id, transport) {
            log::warn!(
                "bridge {}: cannot register its socket: {error}",
                dialer.name
            );
            self.core.handle_closed(now, id);
            dialer.failed(now, "connection lost at once");
            return;
        }
        log::info!("bridge {}: connected to {peer}", dialer.name);
        dialer.phase = Phase::Up { conn: id };
    }
}

/// Refuses what this build cannot do, naming the bridge and the option;
/// checks the TLS files now, so that a bad path is an error at start
/// rather than a warning at every attempt.
pub(super) fn refuse_unsupported(bridge: &Bridge) -> Result<(), crate::Error> {
    let Some(tls) = &bridge.tls else {
        return Ok(());
    };
    #[cfg(feature = "tls")]
    let checked = super::transport::tls_client::client_config(tls).map(|_| ());
    #[cfg(not(feature = "tls"))]
    let checked: Result<(), String> = {
        let _ = tls;
        Err("TLS is not compiled into this build (the `tls` feature)".into())
    };
    checked.map_err(|reason| crate::Error::Config {
        field: format!("bridge {}: bridge_cafile", bridge.name),
        reason,
    })
}

/// What one look at a dialer did.
enum Step {
    /// Nothing more to do now.
    Stay,
    /// Its phase changed: look again.
    Again,
    /// Its socket connected (and with TLS, its handshake completed).
    Connected(Transport, SocketAddr),
}

fn step(
    dialer: &mut Dialer,
    now: Instant,
    token: Token,
    registry: &Registry,
    shared: &Arc<Shared>,
) -> Step {
    match &mut dialer.phase {
        Phase::Waiting { at } if *at <= now => {
            let (host, port) = match split_address(dialer.address(), 1883) {
                Ok(split) => split,
                Err(why) => {
                    dialer.failed(now, &why);
                    return Step::Stay;
                }
            };
            match host.parse::<IpAddr>() {
                Ok(ip) => connect(dialer, now, SocketAddr::new(ip, port), token, registry),
                Err(_) => {
                    let (tell, answer) = mpsc::channel();
                    let shared = Arc::clone(shared);
                    let lookup = format!("{host}:{port}");
                    let spawned = std::thread::Builder::new()
                        .name("mqlite-resolve".into())
                        .spawn(move || {
                            let found = lookup.to_socket_addrs().map(Iterator::collect);
                            // The reactor may have given up and gone.
                            let _ = tell.send(found);
                            shared.wake();
                        });
                    match spawned {
                        Ok(_) => {
                            dialer.phase = Phase::Resolving {
                                answer,
                                port,
                                deadline: now + CONNECT_TIMEOUT,
                            };
                            Step::Stay
                        }
                        Err(error) => {
                            dialer.failed(now, &format!("cannot resolve {host}: {error}"));
                            Step::Stay
                        }
                    }
                }
            }
        }
        Phase::Waiting { .. } | Phase::Up { .. } | Phase::Done | Phase::Dormant => Step::Stay,
        Phase::Resolving {
            answer,
            port,
            deadline,
        } => {
            let port = *port;
            match answer.try_recv() {
                Ok(Ok(addrs)) => match addrs.first() {
                    Some(addr) => connect(
                        dialer,
                        now,
                        SocketAddr::new(addr.ip(), port),
                        token,
                        registry,
                    ),
                    None => {
                        let address = dialer.address().to_string();
                        dialer.failed(now, &format!("{address}: no address found"));
                        Step::Stay
                    }
                },
                Ok(Err(error)) => {
                    let address = dialer.address().to_string();
                    dialer.failed(now, &format!("cannot resolve {address}: {error}"));
                    Step::Stay
                }
                Err(TryRecvError::Empty) if *deadline <= now => {
                    dialer.failed(now, "resolving the upstream's name timed out");
                    Step::Stay
                }
                Err(TryRecvError::Empty) => Step::Stay,
                Err(TryRecvError::Disconnected) => {
                    dialer.failed(now, "the resolver failed");
                    Step::Stay
                }
            }
        }
        Phase::Connecting {
            stream,
            peer,
            deadline,
        } => {
            let peer = *peer;
            match stream.take_error() {
                Ok(Some(error)) | Err(error) => {
                    let _ = registry.deregister(stream);
                    dialer.failed(now, &format!("cannot connect to {peer}: {error}"));
                    return Step::Stay;
                }
                Ok(None) => {}
            }
            match stream.peer_addr() {
                Ok(_) => {
                    let Phase::Connecting {
                        stream, deadline, ..
                    } = std::mem::replace(&mut dialer.phase, Phase::Done)
                    else {
                        return Step::Stay;
                    };
                    match dialer.tls.clone() {
                        None => Step::Connected(Transport::Plain(Stream::Tcp(stream)), peer),
                        Some(tls) => {
                            start_tls(dialer, now, stream, peer, deadline, &tls, token, registry)
                        }
                    }
                }
                Err(_) if *deadline <= now => {
                    let _ = registry.deregister(stream);
                    dialer.failed(now, &format!("connecting to {peer} timed out"));
                    Step::Stay
                }
                // Not yet: the socket's writability brings the next look.
                Err(_) => Step::Stay,
            }
        }
        #[cfg(feature = "tls")]
        Phase::Handshaking {
            tls,
            peer,
            deadline,
        } => {
            let peer = *peer;
            match tls.handshake() {
                Ok(true) => {
                    let Phase::Handshaking { tls, .. } =
                        std::mem::replace(&mut dialer.phase, Phase::Done)
                    else {
                        return Step::Stay;
                    };
                    Step::Connected(Transport::Tls(tls), peer)
                }
                Ok(false) if *deadline <= now => {
                    if let Stream::Tcp(stream) = tls.socket_mut() {
                        let _ = registry.deregister(stream);
                    }
                    dialer.failed(now, &format!("TLS handshake with {peer} timed out"));
                    Step::Stay
                }
                Ok(false) => Step::Stay,
                Err(error) => {
                    if let Stream::Tcp(stream) = tls.socket_mut() {
                        let _ = registry.deregister(stream);
                    }
                    dialer.failed(now, &format!("TLS handshake with {peer} failed: {error}"));
                    Step::Stay
                }
            }
        }
    }
}

/// Starts a non-blocking connect to `peer`.
fn connect(
    dialer: &mut Dialer,
    now: Instant,
    peer: SocketAddr,
    token: Token,
    registry: &Registry,
) -> Step {
    match TcpStream::connect(peer) {
        Ok(mut stream) => match registry.register(&mut stream, token, Interest::WRITABLE) {
            Ok(()) => {
                dialer.phase = Phase::Connecting {
                    stream,
                    peer,
                    deadline: now + CONNECT_TIMEOUT,
                };
                Step::Again
            }
            Err(error) => {
                dialer.failed(now, &format!("cannot register a socket: {error}"));
                Step::Stay
            }
        },
        Err(error) => {
            dialer.failed(now, &format!("cannot connect to {peer}: {error}"));
            Step::Stay
        }
    }
}
