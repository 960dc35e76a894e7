//! TLS over a socket with rustls, driven by the reactor's readiness
//! events: no thread, no blocking. A server's handshake runs inside `read`
//! as records arrive; its deadline is the core's connect timeout, which
//! started at accept. A bridge's client handshake is driven by the dialer
//! ([`TlsStream::handshake`]) before the core gets the connection.

use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use crate::hooks::ClientCertificate;

/// Plaintext a connection may have encrypted and not yet sent before
/// writes are refused (`WouldBlock`) until the socket takes it.
const SEND_BUFFER_LIMIT: usize = 64 * 1024;

/// A TLS connection over `S`: a listener's (server) or a bridge's
/// (client).
pub(crate) struct TlsStream<S> {
    conn: Connection,
    socket: S,
    /// Whether the client's certificate has been handed out.
    certificate_taken: bool,
}

impl<S: Read + Write> TlsStream<S> {
    /// Starts the server side of a handshake on `socket`.
    pub(crate) fn new(config: Arc<ServerConfig>, socket: S) -> io::Result<TlsStream<S>> {
        let mut conn = ServerConnection::new(config).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
        Ok(TlsStream {
            conn: Connection::Server(conn),
            socket,
            certificate_taken: false,
        })
    }

    /// Starts the client side of a handshake with `server` on `socket`.
    pub(crate) fn new_client(
        config: Arc<ClientConfig>,
        server: ServerName<'static>,
        socket: S,
    ) -> io::Result<TlsStream<S>> {
        let mut conn = ClientConnection::new(config, server).map_err(io::Error::other)?;
        conn.set_buffer_limit(Some(SEND_BUFFER_LIMIT));
        Ok(TlsStream {
            conn: Connection::Client(conn),
            socket,
            certificate_taken: true,
        })
    }

    /// Moves a handshake along with what the socket has and takes:
    /// `Ok(true)` once it is complete, `Ok(false)` while it waits for the
    /// socket; an error when the peer closed or the handshake failed.
    pub(crate) fn handshake(&mut self) -> io::Result<bool> {
        loop {
            match self.flush_records() {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error),
            }
            if !self.conn.is_handshaking() {
                return Ok(true);
            }
            match self.conn.read_tls(&mut self.socket) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => {
                    if let Err(error) = self.conn.process_new_packets() {
                        // The alert rustls queued tells the peer why.
                        let _ = self.flush_records();
                        return Err(io::Error::new(io::ErrorKind::InvalidData, error));
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(error) => return Err(error),
            }
        }
    }

    /// The socket under the TLS layer.
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// Gives up the socket, after queueing a close_notify alert and
    /// trying to send what is pending.
    pub(crate) fn close(mut self) -> S {
        self.conn.send_close_notify();
        let _ = self.flush_records();
        self.socket
    }

    /// The client's certificate, once, when the handshake has completed
    /// with one.
    pub(crate) fn take_certificate(&mut self) -> Option<ClientCertificate> {
        if self.certificate_taken || self.conn.is_handshaking() {
            return None;
        }
        self.certificate_taken = true;
        let der = self.conn.peer_certificates()?.first()?;
        super::certificate::describe(der.as_ref())
    }

    /// Sends the TLS records waiting to go out; `WouldBlock` when some
    /// remain.
    pub(crate) fn flush_records(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.socket)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Feeds what the socket has to rustls until plaintext comes out.
    /// Handshake answers are sent on the way.
    fn read_plaintext(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed the socket without close_notify: an
                // ordinary end for MQTT, which has its own DISCONNECT.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) => return Err(error),
            }
            if self.conn.read_tls(&mut self.socket)? == 0 {
                return Ok(0);
            }
            if let Err(error) = self.conn.process_new_packets() {
                // The alert rustls queued tells the client why.
                let _ = self.flush_records();
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
            match self.flush_records() {
                Err(error) if error.kind() != io::ErrorKind::WouldBlock => return Err(error),
                _ => {}
            }
        }
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_plaintext(buf)
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    /// Takes plaintext only once earlier records have gone out, so what
    /// waits in memory stays within [`SEND_BUFFER_LIMIT`].
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.flush_records()?;
        if self.conn.is_handshaking() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write_vectored(bufs)?;
        match self.flush_records() {
            Err(error) if error.kind() != io::ErrorKind::WouldBlock => Err(error),
            _ if n == 0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}
