//! What carries a connection's MQTT bytes: a TCP or Unix socket, bare or
//! under TLS, WebSocket, or both. The reactor reads and writes MQTT bytes
//! through [`Transport`] and never sees a record or a frame; the core sees
//! only MQTT bytes.

#[cfg(feature = "tls")]
mod certificate;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub(crate) mod tls_client;
#[cfg(feature = "tls")]
pub(crate) mod tls_config;
#[cfg(feature = "websocket")]
mod websocket;

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::hooks::ClientCertificate;

#[cfg(feature = "tls")]
pub(crate) use tls::TlsStream;
#[cfg(feature = "websocket")]
use websocket::WsStream;

/// A connected socket.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Shuts down one or both directions.
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interests),
            Stream::Unix(s) => s.register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interests),
            Stream::Unix(s) => s.reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}

/// A connection's transport, from the socket up to MQTT bytes.
pub(crate) enum Transport {
    /// Bare MQTT on the socket.
    Plain(Stream),
    /// MQTT under TLS.
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<Stream>>),
    /// MQTT in WebSocket frames.
    #[cfg(feature = "websocket")]
    Ws(Box<WsStream<Stream>>),
    /// MQTT in WebSocket frames under TLS.
    #[cfg(all(feature = "tls", feature = "websocket"))]
    Wss(Box<WsStream<TlsStream<Stream>>>),
}

/// How a listener's connections are carried, beside the socket.
#[derive(Clone)]
pub(crate) struct Layers {
    /// TLS with this configuration (replaced at a reload).
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// WebSocket, accepting messages up to this size.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) websocket: Option<usize>,
}

impl Transport {
    /// The transport for a socket accepted on a listener with `layers`.
    #[cfg_attr(
        not(any(feature = "tls", feature = "websocket")),
        allow(unused_variables, clippy::unnecessary_wraps)
    )]
    pub(crate) fn new(stream: Stream, layers: &Layers) -> io::Result<Transport> {
        #[cfg(feature = "tls")]
        if let Some(config) = &layers.tls {
            let tls = TlsStream::new(std::sync::Arc::clone(config), stream)?;
            return Ok(match layers.websocket {
                #[cfg(feature = "websocket")]
                Some(max) => Transport::Wss(Box::new(WsStream::new(tls, max))),
                _ => Transport::Tls(Box::new(tls)),
            });
        }
        #[cfg(feature = "websocket")]
        if let Some(max) = layers.websocket {
            return Ok(Transport::Ws(Box::new(WsStream::new(stream, max))));
        }
        Ok(Transport::Plain(stream))
    }

    /// The socket, for registration.
    pub(crate) fn stream_mut(&mut self) -> Option<&mut Stream> {
        match self {
            Transport::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => Some(t.socket_mut()),
            #[cfg(feature = "websocket")]
            Transport::Ws(w) => w.inner_mut(),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.inner_mut().map(TlsStream::socket_mut),
        }
    }

    /// Whether this is bare MQTT on the socket: then a short read means
    /// the socket is drained.
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// Reads MQTT bytes; `Ok(0)` at the end of the stream.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.read(buf),
            #[cfg(feature = "websocket")]
            Transport::Ws(w) => w.read(buf),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.read(buf),
        }
    }

    /// Writes MQTT bytes; returns how many were taken.
    pub(crate) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => match bufs {
                [one] => s.write(one),
                several => s.write_vectored(several),
            },
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.write_vectored(bufs),
            #[cfg(feature = "websocket")]
            Transport::Ws(w) => w.write_vectored(bufs),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.write_vectored(bufs),
        }
    }

    /// Sends what the layers hold (handshake records, pongs, an upgrade
    /// answer); `WouldBlock` when some remains.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.flush(),
            #[cfg(feature = "websocket")]
            Transport::Ws(w) => w.flush(),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.flush(),
        }
    }

    /// The client's verified certificate, once, after the TLS handshake.
    pub(crate) fn take_certificate(&mut self) -> Option<ClientCertificate> {
        match self {
            #[cfg(feature = "tls")]
            Transport::Tls(t) => t.take_certificate(),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.inner_mut().and_then(TlsStream::take_certificate),
            _ => None,
        }
    }

    /// Ends the layers (TLS close_notify, WebSocket close frame, each sent
    /// if the socket takes it) and gives back the socket.
    pub(crate) fn close(self) -> Option<Stream> {
        match self {
            Transport::Plain(s) => Some(s),
            #[cfg(feature = "tls")]
            Transport::Tls(t) => Some(t.close()),
            #[cfg(feature = "websocket")]
            Transport::Ws(w) => w.close(),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Transport::Wss(w) => w.close().map(TlsStream::close),
        }
    }
}
