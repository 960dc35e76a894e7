//! Accepting connections: a bounded batch per pass, TCP_NODELAY (set once
//! on the listener where the system passes it on), and a retry timer
//! instead of a busy loop when the process is out of descriptors.

use std::io;
use std::os::unix::io::AsRawFd;
use std::time::Instant;

use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::listeners::Accepted;
use super::transport::{Stream, Transport};
use super::{Reactor, ACCEPT_BUDGET, ACCEPT_RETRY};
use crate::core::ConnId;
use crate::Peer;

impl Reactor {
    /// Accepts what the listeners have, up to [`ACCEPT_BUDGET`] per pass,
    /// wraps each socket in its listener's layers, registers it and tells
    /// the core.
    pub(super) fn accept(&mut self, now: Instant) {
        self.accept_backlog = false;
        let mut accepted = 0;
        for index in 0..self.listeners.len() {
            loop {
                if accepted >= ACCEPT_BUDGET {
                    self.accept_backlog = true;
                    return;
                }
                let connection = match self.listeners[index].acceptor.accept() {
                    Ok(connection) => connection,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        // Out of descriptors and the like: the pending
                        // connections wait in the kernel's backlog until a
                        // retry a moment later.
                        if self.log_allowed(now) {
                            log::warn!("accept failed: {error}; retrying every {ACCEPT_RETRY:?}");
                        }
                        self.accept_retry_at = Some(now + ACCEPT_RETRY);
                        break;
                    }
                };
                accepted += 1;
                let (stream, peer) = match connection {
                    Accepted::Tcp(stream, addr) => {
                        self.set_nodelay(&stream, addr);
                        (Stream::Tcp(stream), Peer::Tcp(addr))
                    }
                    Accepted::Unix(stream, path) => (Stream::Unix(stream), Peer::Unix(path)),
                };
                // Listener numbers fit: the config cannot hold 65 536.
                let listener = u16::try_from(index).unwrap_or(u16::MAX);
                let Some(id) = self.core.handle_accept_on(now, peer.clone(), listener) else {
                    if self.log_allowed(now) {
                        log::warn!(
                            "refusing {peer} on {}: max_connections reached ({} refused so far)",
                            self.listeners[index].name,
                            self.core.stats().connections_refused
                        );
                    }
                    continue;
                };
                let transport = match Transport::new(stream, &self.listeners[index].layers) {
                    Ok(transport) => transport,
                    Err(error) => {
                        log::warn!("cannot set up {peer}: {error}");
                        self.core.handle_closed(now, id);
                        continue;
                    }
                };
                if let Err(error) = self.attach_socket(id, transport) {
                    log::warn!("cannot register {peer}: {error}");
                    self.core.handle_closed(now, id);
                    continue;
                }
                log::debug!("accepted {peer} on {}", self.listeners[index].name);
            }
        }
    }

    /// Registers `transport` with the poll as connection `id`'s socket and
    /// keeps it (accepted, or a bridge's connected link).
    pub(super) fn attach_socket(&mut self, id: ConnId, mut transport: Transport) -> io::Result<()> {
        let token = Token(id.0 + self.conn_base);
        match transport.stream_mut() {
            Some(stream) => self.poll.registry().register(
                stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            )?,
            None => return Err(io::ErrorKind::NotConnected.into()),
        }
        if self.sockets.len() <= id.0 {
            self.sockets.resize_with(id.0 + 1, || None);
        }
        self.sockets[id.0] = Some(transport);
        Ok(())
    }

    /// TCP_NODELAY on an accepted socket, unless it came with it from its
    /// listener (learnt from the first one).
    fn set_nodelay(&mut self, stream: &TcpStream, peer: SocketAddr) {
        if self.nodelay_inherited == Some(true) {
            return;
        }
        let inherited = self.nodelay_inherited.is_none() && matches!(stream.nodelay(), Ok(true));
        self.nodelay_inherited = Some(inherited);
        if !inherited {
            if let Err(error) = stream.set_nodelay(true) {
                log::debug!("TCP_NODELAY failed for {peer}: {error}");
            }
        }
    }
}

/// Sets TCP_NODELAY on a listening socket (mio has no setter for listeners).
pub(super) fn set_nodelay(listener: &TcpListener) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor owned by `listener`, and a pointer
    // to a live c_int with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use std::time::Duration;

    #[test]
    fn accepted_sockets_have_tcp_nodelay() {
        let config = Config {
            listeners: vec!["127.0.0.1:0".parse().unwrap()],
            sys_interval: None,
            ..Config::default()
        };
        let (mut reactor, _shared) = Reactor::new(config, None).unwrap();
        let addr = reactor.local_addrs()[0];
        let clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        while reactor.sockets.iter().flatten().count() < clients.len() {
            assert!(Instant::now() < deadline, "not accepted");
            reactor.run_once(Some(Duration::from_millis(10))).unwrap();
        }
        for socket in reactor.sockets.iter_mut().flatten() {
            let Some(Stream::Tcp(stream)) = socket.stream_mut() else {
                panic!("not a TCP socket");
            };
            assert!(stream.nodelay().unwrap(), "TCP_NODELAY not set");
        }
        assert!(reactor.nodelay_inherited.is_some());
    }
}
