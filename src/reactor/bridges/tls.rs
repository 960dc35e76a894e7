//! A bridge's TLS handshake, started by the dialer once its socket is
//! connected (the handshake itself is driven like the connect, see
//! `Phase::Handshaking`).

#[cfg(feature = "tls")]
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
#[cfg(feature = "tls")]
use mio::Interest;
use mio::{Registry, Token};

#[cfg(feature = "tls")]
use super::super::transport::Stream;
#[cfg(feature = "tls")]
use super::super::transport::TlsStream;
#[cfg(feature = "tls")]
use super::split_address;
#[cfg(feature = "tls")]
use super::Phase;
use super::{Dialer, Step};

/// Starts the TLS handshake on a connected socket: the upstream's
/// certificate is checked against the bridge's CAs and the address's host.
#[cfg(feature = "tls")]
#[allow(clippy::too_many_arguments)]
pub(super) fn start_tls(
    dialer: &mut Dialer,
    now: Instant,
    mut stream: TcpStream,
    peer: SocketAddr,
    deadline: Instant,
    settings: &crate::BridgeTls,
    token: Token,
    registry: &Registry,
) -> Step {
    let host = match split_address(dialer.address(), 8883) {
        Ok((host, _)) => host,
        Err(why) => {
            let _ = registry.deregister(&mut stream);
            dialer.failed(now, &why);
            return Step::Stay;
        }
    };
    let started = super::super::transport::tls_client::client_config(settings).and_then(|config| {
        let name = super::super::transport::tls_client::server_name(&host)?;
        TlsStream::new_client(config, name, Stream::Tcp(stream)).map_err(|error| error.to_string())
    });
    match started {
        Ok(mut tls) => {
            let reregistered = match tls.socket_mut() {
                Stream::Tcp(stream) => {
                    registry.reregister(stream, token, Interest::READABLE | Interest::WRITABLE)
                }
                Stream::Unix(_) => Err(io::ErrorKind::Unsupported.into()),
            };
            if let Err(error) = reregistered {
                dialer.failed(now, &format!("cannot register a socket: {error}"));
                return Step::Stay;
            }
            dialer.phase = Phase::Handshaking {
                tls: Box::new(tls),
                peer,
                deadline,
            };
            Step::Again
        }
        Err(why) => {
            dialer.failed(now, &format!("TLS: {why}"));
            Step::Stay
        }
    }
}

/// Without the `tls` feature no bridge has TLS settings (they are refused
/// when added).
#[cfg(not(feature = "tls"))]
#[allow(clippy::too_many_arguments)]
pub(super) fn start_tls(
    dialer: &mut Dialer,
    now: Instant,
    _stream: TcpStream,
    _peer: SocketAddr,
    _deadline: Instant,
    _settings: &crate::BridgeTls,
    _token: Token,
    _registry: &Registry,
) -> Step {
    dialer.failed(now, "TLS is not compiled in");
    Step::Stay
}
