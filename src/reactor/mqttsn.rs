//! The MQTT-SN gateway's UDP sockets: datagrams read into the gateway
//! (`crate::mqttsn`), and what it queued sent. UDP is lossy by nature: a
//! datagram the kernel cannot take now is dropped, and the gateway's
//! retransmissions cover what must arrive.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};

use super::udp_batch::{send_batch, Batch, BATCH};
use crate::core::{ConnId, Core};
use crate::mqttsn::gateway::Gateway;
use crate::mqttsn::{MqttSnGateway, MqttSnStats};
use crate::Error;

/// The gateway's socket tokens: below the bridges' dialers
/// (`usize::MAX / 4`), far above any connection's.
const FIRST_TOKEN: usize = usize::MAX / 8;
/// Datagrams read from one socket per pass before others get their turn.
const READ_BUDGET: usize = 4096;

/// The gateway with its sockets.
pub(super) struct MqttSnSockets {
    sockets: Vec<UdpSocket>,
    addrs: Vec<SocketAddr>,
    pub(super) gateway: Gateway,
    batch: Batch,
    /// Sockets that still had datagrams when their budget ran out.
    backlog: Vec<usize>,
}

impl MqttSnSockets {
    /// Binds every address of `settings` and registers the sockets.
    pub(super) fn bind(
        settings: &MqttSnGateway,
        registry: &Registry,
        now: Instant,
    ) -> Result<MqttSnSockets, Error> {
        let mut sockets = Vec::new();
        let mut addrs = Vec::new();
        for (index, addr) in settings.listen.iter().enumerate() {
            let mut socket = bind_udp(*addr).map_err(|error| {
                Error::Io(io::Error::new(
                    error.kind(),
                    format!("cannot bind the MQTT-SN gateway to udp {addr}: {error}"),
                ))
            })?;
            addrs.push(socket.local_addr()?);
            registry.register(&mut socket, Token(FIRST_TOKEN + index), Interest::READABLE)?;
            sockets.push(socket);
        }
        Ok(MqttSnSockets {
            sockets,
            addrs,
            gateway: Gateway::new(settings.clone(), now),
            batch: Batch::new(),
            backlog: Vec::new(),
        })
    }

    /// Whether `token` is one of the gateway's sockets.
    pub(super) fn owns(token: Token) -> bool {
        (FIRST_TOKEN..usize::MAX / 4).contains(&token.0)
    }

    /// The bound addresses, in the order of the settings.
    pub(super) fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The gateway's counters.
    pub(super) fn stats(&self) -> MqttSnStats {
        self.gateway.stats()
    }

    /// A socket is readable: its datagrams go to the gateway.
    pub(super) fn ready(&mut self, now: Instant, core: &mut Core, token: Token) {
        if let Some(index) = token.0.checked_sub(FIRST_TOKEN) {
            self.read(now, core, index);
        }
    }

    /// Reads what the budget left on sockets in an earlier pass.
    pub(super) fn read_backlog(&mut self, now: Instant, core: &mut Core) {
        for index in std::mem::take(&mut self.backlog) {
            self.read(now, core, index);
        }
    }

    /// Whether a socket still has datagrams to read.
    pub(super) fn has_backlog(&self) -> bool {
        !self.backlog.is_empty()
    }

    fn read(&mut self, now: Instant, core: &mut Core, index: usize) {
        for _ in 0..READ_BUDGET / BATCH {
            let Some(socket) = self.sockets.get(index) else {
                return;
            };
            match self.batch.read(socket) {
                Ok(_) => {
                    for (from, datagram) in self.batch.datagrams() {
                        self.gateway
                            .handle_datagram(now, core, index, from, datagram);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors from earlier sends (port unreachable) come
                // back as errors of a later read: nothing to do.
                Err(error) => log::debug!("mqtt-sn: udp read: {error}"),
            }
        }
        if !self.backlog.contains(&index) {
            self.backlog.push(index);
        }
    }

    /// Turns the core's output for gateway connection `id` into datagrams;
    /// false when `id` is not the gateway's.
    pub(super) fn write(&mut self, now: Instant, core: &mut Core, id: ConnId) -> bool {
        if !self.gateway.owns(id) {
            return false;
        }
        self.gateway.write(now, core, id);
        true
    }

    /// The core closed gateway connection `id`; false when `id` is not the
    /// gateway's.
    pub(super) fn release(&mut self, now: Instant, core: &mut Core, id: ConnId) -> bool {
        if !self.gateway.owns(id) {
            return false;
        }
        self.gateway.release(now, core, id);
        true
    }

    /// Sends every datagram the gateway queued, per socket in batches.
    pub(super) fn send_queued(&mut self) {
        if self.gateway.outgoing.is_empty() {
            return;
        }
        let outgoing = std::mem::take(&mut self.gateway.outgoing);
        for (index, socket) in self.sockets.iter().enumerate() {
            let datagrams: Vec<(SocketAddr, &[u8])> = outgoing
                .iter()
                .filter(|d| d.socket == index)
                .map(|d| (d.to, d.bytes.as_slice()))
                .collect();
            let mut at = 0;
            while at < datagrams.len() {
                match send_batch(socket, &datagrams[at..]) {
                    Ok(0) => break,
                    Ok(sent) => at += sent,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        // This one is dropped; the rest still go.
                        if let Some((to, _)) = datagrams.get(at) {
                            log::debug!("mqtt-sn: udp send to {to}: {error}");
                        }
                        at += 1;
                    }
                }
            }
        }
        // The buffer's allocation is kept for the next pass.
        let mut outgoing = outgoing;
        outgoing.clear();
        self.gateway.outgoing = outgoing;
    }
}

/// A non-blocking UDP socket bound to `addr`; an IPv6 one takes IPv6 only,
/// so that `0.0.0.0` and `[::]` can share a port.
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    // Room for bursts from many sensors at once.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.set_broadcast(true)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}
