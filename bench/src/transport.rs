//! Client transports of the generator: plain TCP, TLS (rustls) and MQTT over
//! WebSocket (the RFC 6455 client framing, written here), chosen once for
//! the process with `--tls CAFILE` / `--ws`.
//!
//! Plain TCP goes straight to the socket (one `match` per read or write, no
//! copy). TLS drives a rustls [`ClientConnection`] over the nonblocking mio
//! socket itself: writes return `WouldBlock` while earlier ciphertext is
//! still queued, reads loop over the socket until rustls has plaintext or
//! the socket would block. WebSocket is a layer above either: [`Ws`] wraps
//! the MQTT bytes of a flush in masked binary frames and unwraps the
//! server's frames into the MQTT read buffer.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection};

/// The server name the TLS clients ask for and verify.
pub const SERVER_NAME: &str = "localhost";
/// The WebSocket path of the upgrade request.
pub const WS_PATH: &str = "/mqtt";
/// Largest frame payload the client sends (bigger writes span frames).
const WS_MAX_FRAME: usize = 32 * 1024;
/// Largest HTTP response header accepted for the upgrade.
const WS_MAX_HEADER: usize = 16 * 1024;
/// Largest server frame accepted.
const WS_MAX_IN_FRAME: u64 = 256 << 20;

/// How every client connection of this process is made.
pub struct Settings {
    /// TLS with this configuration (trusting the CA file), or plain TCP.
    pub tls: Option<Arc<ClientConfig>>,
    /// MQTT over WebSocket.
    pub ws: bool,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Sets the transport of every later client connection (once, at start).
pub fn configure(ca_file: Option<&str>, ws: bool) -> Result<(), String> {
    let tls = ca_file.map(tls_config).transpose()?;
    SETTINGS
        .set(Settings { tls, ws })
        .map_err(|_| "transport configured twice".to_string())
}

/// The transport's name for reports: `tcp`, `tls`, `ws` or `wss`.
pub fn name() -> &'static str {
    match SETTINGS.get() {
        Some(Settings {
            tls: Some(_),
            ws: true,
        }) => "wss",
        Some(Settings {
            tls: Some(_),
            ws: false,
        }) => "tls",
        Some(Settings {
            tls: None,
            ws: true,
        }) => "ws",
        _ => "tcp",
    }
}

fn tls_config(ca_file: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(ca_file).map_err(|e| format!("--tls {ca_file}: {e}"))?;
    for c in certs {
        let c = c.map_err(|e| format!("--tls {ca_file}: {e}"))?;
        roots
            .add(c)
            .map_err(|e| format!("--tls {ca_file}: bad CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("--tls {ca_file}: no certificate in the file"));
    }
    // ring, as the broker's listeners (its "no post-quantum" deprecation
    // note does not matter for a benchmark client).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // Every connection a full handshake, as from as many distinct devices:
    // no session resumption.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Wraps a freshly connected (already registered) socket in the configured
/// transport; also returns the WebSocket layer if `--ws`.
pub fn client(
    sock: TcpStream,
    addr: SocketAddr,
    rbuf: usize,
) -> io::Result<(Stream, Option<Box<Ws>>)> {
    let Some(s) = SETTINGS.get() else {
        return Ok((Stream::Plain(sock), None));
    };
    let stream = match &s.tls {
        None => Stream::Plain(sock),
        Some(config) => {
            let name = ServerName::try_from(SERVER_NAME)
                .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
            let conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
            Stream::Tls(Box::new(TlsStream { conn, sock }))
        }
    };
    let ws = s.ws.then(|| Box::new(Ws::new(addr.port(), rbuf)));
    Ok((stream, ws))
}

/// A client connection's byte stream.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.sock,
        }
    }

    /// The TCP socket underneath, for (de)registration.
    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &mut t.sock,
        }
    }

    /// Plain TCP: a short read means the socket is drained.
    #[inline]
    pub fn is_plain(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }

    /// TLS records rustls holds that the socket has not taken yet.
    #[inline]
    pub fn wants_write(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.conn.wants_write(),
        }
    }

    /// The TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(t) => t.conn.is_handshaking(),
        }
    }

    /// Hands queued TLS records to the socket: true once none is left,
    /// false if the socket is full.
    #[inline]
    pub fn push(&mut self) -> io::Result<bool> {
        match self {
            Stream::Plain(_) => Ok(true),
            Stream::Tls(t) => t.push(),
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// A rustls client connection over a nonblocking socket.
pub struct TlsStream {
    conn: ClientConnection,
    sock: TcpStream,
}

impl TlsStream {
    fn push(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "write returned 0")),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

impl Read for TlsStream {
    /// Plaintext rustls has, else records from the socket until there is
    /// some: `WouldBlock` once the socket is drained, 0 at the end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.conn.read_tls(&mut self.sock)? == 0 {
                return Ok(0);
            }
            let processed = self.conn.process_new_packets();
            // Handshake flights, alerts, the plaintext queued during the
            // handshake: sent now (a full socket: by the next flush).
            if self.conn.wants_write() {
                self.push()?;
            }
            if let Err(e) = processed {
                return Err(io::Error::new(ErrorKind::InvalidData, format!("TLS: {e}")));
            }
        }
    }
}

impl Write for TlsStream {
    /// Encrypts what rustls's buffer takes and sends it; `WouldBlock` while
    /// earlier records are still waiting for the socket.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.push()? {
            return Err(ErrorKind::WouldBlock.into());
        }
        let n = self.conn.writer().write(buf)?;
        if n == 0 && !buf.is_empty() {
            // Handshake running and its plaintext buffer full.
            return Err(ErrorKind::WouldBlock.into());
        }
        self.push()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.push().map(|_| ())
    }
}

/// The WebSocket layer of a client connection: the upgrade, then MQTT in
/// masked binary frames out and the server's frames unwrapped in.
pub struct Ws {
    /// Bytes for the socket: the upgrade request, then frames.
    pub out: Vec<u8>,
    /// How much of `out` the socket took.
    pub opos: usize,
    raw: Vec<u8>,
    rpos: usize,
    rend: usize,
    /// The server answered 101 Switching Protocols.
    pub upgraded: bool,
    mask: u32,
}

impl Ws {
    fn new(port: u16, rbuf: usize) -> Ws {
        let request = format!(
            "GET {WS_PATH} HTTP/1.1\r\nHost: {SERVER_NAME}:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
        );
        Ws {
            out: request.into_bytes(),
            opos: 0,
            raw: vec![0; rbuf.max(4096)],
            rpos: 0,
            rend: 0,
            upgraded: false,
            // Any nonzero seed; the masks only have to vary.
            mask: 0x9e37_79b9 ^ u32::from(port),
        }
    }

    /// Bytes queued for the socket.
    pub fn pending(&self) -> usize {
        self.out.len() - self.opos
    }

    /// Moves `data` into `out` as masked binary frames.
    pub fn frame(&mut self, data: &[u8]) {
        for chunk in data.chunks(WS_MAX_FRAME) {
            let len = chunk.len();
            self.out.push(0x82); // FIN, binary
            if len < 126 {
                self.out.push(0x80 | len as u8);
            } else if len <= usize::from(u16::MAX) {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
            // xorshift32
            self.mask ^= self.mask << 13;
            self.mask ^= self.mask >> 17;
            self.mask ^= self.mask << 5;
            let key = self.mask.to_ne_bytes();
            self.out.extend_from_slice(&key);
            let start = self.out.len();
            self.out.extend_from_slice(chunk);
            for (i, b) in self.out[start..].iter_mut().enumerate() {
                *b ^= key[i & 3];
            }
        }
    }

    /// Room for the next socket read.
    pub fn space(&mut self) -> &mut [u8] {
        if self.rend == self.raw.len() {
            if self.rpos > 0 {
                self.raw.copy_within(self.rpos..self.rend, 0);
                self.rend -= self.rpos;
                self.rpos = 0;
            } else {
                let n = self.raw.len() * 2;
                self.raw.resize(n, 0);
            }
        }
        &mut self.raw[self.rend..]
    }

    /// Decodes the `n` bytes just read into [`Ws::space`]: the upgrade
    /// response, then frames, whose payloads are appended to the MQTT read
    /// buffer `rbuf` (data in `rstart..rend`). Returns whether the upgrade
    /// completed now.
    pub fn filled(
        &mut self,
        n: usize,
        rbuf: &mut Vec<u8>,
        rstart: &mut usize,
        rend: &mut usize,
    ) -> Result<bool, String> {
        self.rend += n;
        let mut upgraded_now = false;
        if !self.upgraded {
            let head = &self.raw[self.rpos..self.rend];
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                if head.len() > WS_MAX_HEADER {
                    return Err("WebSocket upgrade: response header too long".into());
                }
                return Ok(false);
            };
            let status = head.split(|&b| b == b'\r').next().unwrap_or_default();
            if !status.starts_with(b"HTTP/1.1 101") {
                return Err(format!(
                    "WebSocket upgrade refused: {}",
                    String::from_utf8_lossy(status)
                ));
            }
            self.rpos += end + 4;
            self.upgraded = true;
            upgraded_now = true;
        }
        loop {
            let b = &self.raw[self.rpos..self.rend];
            if b.len() < 2 {
                break;
            }
            let op = b[0] & 0x0f;
            if b[1] & 0x80 != 0 {
                return Err("WebSocket: the server sent a masked frame".into());
            }
            let (hlen, plen) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (4, u64::from(u16::from_be_bytes([b[2], b[3]]))),
                127 if b.len() >= 10 => {
                    let mut l = [0u8; 8];
                    l.copy_from_slice(&b[2..10]);
                    (10, u64::from_be_bytes(l))
                }
                126 | 127 => break,
                l => (2, u64::from(l)),
            };
            if plen > WS_MAX_IN_FRAME {
                return Err(format!("WebSocket: server frame of {plen} bytes"));
            }
            let total = hlen + plen as usize;
            if b.len() < total {
                break;
            }
            let payload = &b[hlen..total];
            match op {
                0 | 2 => append(rbuf, rstart, rend, payload),
                1 => return Err("WebSocket: the server sent a text frame".into()),
                8 => {
                    let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                    return Err(format!("WebSocket Close from the server (code {code:?})"));
                }
                9 => {
                    // Ping: answered with a Pong carrying its payload.
                    let ping = payload.to_vec();
                    self.rpos += total;
                    self.pong(&ping);
                    continue;
                }
                10 => {}
                op => return Err(format!("WebSocket: unknown opcode {op}")),
            }
            self.rpos += total;
        }
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
        Ok(upgraded_now)
    }

    fn pong(&mut self, payload: &[u8]) {
        let start = self.out.len();
        self.frame(payload);
        self.out[start] = 0x8a; // FIN, pong
    }
}

/// Appends `data` to the read buffer `rbuf` (data in `rstart..rend`),
/// compacting or growing it as needed.
fn append(rbuf: &mut Vec<u8>, rstart: &mut usize, rend: &mut usize, data: &[u8]) {
    if rbuf.len() - *rend < data.len() {
        if *rstart > 0 {
            rbuf.copy_within(*rstart..*rend, 0);
            *rend -= *rstart;
            *rstart = 0;
        }
        if rbuf.len() - *rend < data.len() {
            rbuf.resize((*rend + data.len()).next_power_of_two(), 0);
        }
    }
    rbuf[*rend..*rend + data.len()].copy_from_slice(data);
    *rend += data.len();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut ws = Ws::new(1883, 4096);
        ws.out.clear();
        let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        ws.frame(&data);
        // Unmask the client frames as a server would, re-encode unmasked.
        let mut server = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
        let mut i = 0;
        while i < ws.out.len() {
            let l7 = ws.out[i + 1] & 0x7f;
            let (h, len) = match l7 {
                126 => (
                    4,
                    u16::from_be_bytes([ws.out[i + 2], ws.out[i + 3]]) as usize,
                ),
                127 => (
                    10,
                    u64::from_be_bytes(ws.out[i + 2..i + 10].try_into().unwrap()) as usize,
                ),
                l => (2, l as usize),
            };
            let key = &ws.out[i + h..i + h + 4];
            let p: Vec<u8> = ws.out[i + h + 4..i + h + 4 + len]
                .iter()
                .enumerate()
                .map(|(k, b)| b ^ key[k & 3])
                .collect();
            server.push(0x82);
            server.push(126);
            server.extend_from_slice(&(len as u16).to_be_bytes());
            server.extend_from_slice(&p);
            i += h + 4 + len;
        }
        let (mut rbuf, mut rs, mut re) = (vec![0u8; 16], 0, 0);
        let mut fed = 0;
        let mut upgraded = false;
        while fed < server.len() {
            let room = ws.space();
            let n = room.len().min(server.len() - fed).min(1000);
            room[..n].copy_from_slice(&server[fed..fed + n]);
            fed += n;
            upgraded |= ws.filled(n, &mut rbuf, &mut rs, &mut re).unwrap();
        }
        assert!(upgraded);
        assert_eq!(&rbuf[rs..re], &data[..]);
    }

    #[test]
    fn refused_upgrade() {
        let mut ws = Ws::new(1883, 4096);
        let resp = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        ws.space()[..resp.len()].copy_from_slice(resp);
        let (mut rbuf, mut rs, mut re) = (vec![0u8; 16], 0, 0);
        let err = ws
            .filled(resp.len(), &mut rbuf, &mut rs, &mut re)
            .unwrap_err();
        assert!(err.contains("400"), "{err}");
    }
}
