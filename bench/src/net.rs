//! Single-threaded, edge-triggered mio event loop over many client sockets.
//!
//! Every connection has one contiguous read buffer (read in big chunks,
//! frames decoded in place) and one write buffer that is flushed with as few
//! `write` calls as the kernel allows.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::proto::{self, decode_as, Decode, Packet};
use crate::transport::{self, Stream, Ws};

/// Read buffer size for connections that carry traffic.
pub const BIG_BUF: usize = 1 << 20;
/// Read buffer size for mostly idle connections.
pub const SMALL_BUF: usize = 4096;

/// One client connection.
pub struct Conn {
    stream: Stream,
    /// MQTT over WebSocket: the framing layer (None: MQTT on the stream).
    ws: Option<Box<Ws>>,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    connected: bool,
    blocked: bool,
    dirty: bool,
    /// Frames are decoded as MQTT 5 (see [`Net::set_mqtt5`]).
    v5: bool,
    /// Set once the peer closed the connection or an I/O error happened.
    pub closed: Option<String>,
}

impl Conn {
    fn new(stream: Stream, ws: Option<Box<Ws>>, rbuf: usize) -> Conn {
        Conn {
            stream,
            ws,
            rbuf: vec![0; rbuf],
            rstart: 0,
            rend: 0,
            wbuf: Vec::new(),
            wpos: 0,
            connected: false,
            blocked: false,
            dirty: false,
            v5: false,
            closed: None,
        }
    }

    /// Bytes queued but not yet accepted by the kernel.
    pub fn pending(&self) -> usize {
        let mut n = self.wbuf.len() - self.wpos;
        if let Some(ws) = &self.ws {
            n += ws.pending();
        }
        n + usize::from(self.stream.wants_write())
    }

    /// Whether the TCP handshake completed.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    fn fail(&mut self, why: String) {
        if self.closed.is_none() {
            self.closed = Some(why);
        }
    }

    fn check_connected(&mut self) {
        if self.connected || self.closed.is_some() {
            return;
        }
        match self.stream.tcp().take_error() {
            Ok(Some(e)) | Err(e) => return self.fail(format!("connect: {e}")),
            Ok(None) => {}
        }
        match self.stream.tcp().peer_addr() {
            Ok(_) => self.connected = true,
            Err(e) if e.kind() == ErrorKind::NotConnected => {}
            Err(e) => self.fail(format!("connect: {e}")),
        }
    }

    /// Writes as much of the write buffer as the socket accepts.
    pub fn flush(&mut self) {
        if !self.connected || self.blocked || self.closed.is_some() {
            return;
        }
        // WebSocket: the MQTT bytes go out in frames once upgraded.
        let (buf, pos) = match self.ws.as_deref_mut() {
            None => (&mut self.wbuf, &mut self.wpos),
            Some(ws) => {
                if ws.upgraded && self.wpos < self.wbuf.len() {
                    ws.frame(&self.wbuf[self.wpos..]);
                    self.wbuf.clear();
                    self.wpos = 0;
                }
                (&mut ws.out, &mut ws.opos)
            }
        };
        while *pos < buf.len() {
            match self.stream.write(&buf[*pos..]) {
                Ok(0) => return self.fail("write returned 0".into()),
                Ok(n) => *pos += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.blocked = true;
                    break;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("write: {e}")),
            }
        }
        if *pos == buf.len() {
            buf.clear();
            *pos = 0;
        } else if *pos > (1 << 20) && *pos * 2 > buf.len() {
            buf.drain(..*pos);
            *pos = 0;
        }
        // TLS records still queued in rustls.
        if !self.blocked && self.stream.wants_write() {
            match self.stream.push() {
                Ok(true) => {}
                Ok(false) => self.blocked = true,
                Err(e) => self.fail(format!("write: {e}")),
            }
        }
    }

    /// Reads everything available and calls `f` for every complete frame
    /// (decoded packet, raw frame bytes, this connection's write buffer for
    /// replies).
    pub fn read_with<F>(&mut self, mut f: F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        if self.closed.is_some() {
            return;
        }
        if self.ws.is_some() {
            self.read_ws(&mut f);
        } else {
            self.read_stream(&mut f);
        }
        if !self.stream.is_plain() && self.blocked && !self.stream.is_handshaking() {
            // TLS: reading may have completed the handshake or sent what
            // rustls held; a write blocked on either is retried now.
            self.blocked = false;
            if self.pending() > 0 {
                self.dirty = true;
            }
        }
    }

    fn read_stream<F>(&mut self, f: &mut F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        loop {
            if self.rend == self.rbuf.len() {
                // Make room: compact, or grow for a frame bigger than the buffer.
                if self.rstart > 0 {
                    self.rbuf.copy_within(self.rstart..self.rend, 0);
                    self.rend -= self.rstart;
                    self.rstart = 0;
                } else {
                    let n = self.rbuf.len() * 2;
                    self.rbuf.resize(n, 0);
                }
            }
            match self.stream.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => {
                    self.parse(f);
                    return self.fail("connection closed by peer".into());
                }
                Ok(n) => {
                    let asked = self.rbuf.len() - self.rend;
                    self.rend += n;
                    self.parse(f);
                    // A short read drained the socket: Linux raises a new
                    // edge-triggered event for any data arriving later, so
                    // the read that would return WouldBlock can be skipped.
                    // (Not for TLS: rustls hands out a record at a time.)
                    if self.closed.is_some() || (n < asked && self.stream.is_plain()) {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("read: {e}")),
            }
        }
    }

    /// [`Conn::read_stream`] for WebSocket: frames are read into the
    /// framing layer's buffer and their payloads copied to `rbuf`.
    fn read_ws<F>(&mut self, f: &mut F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        loop {
            let Some(ws) = self.ws.as_deref_mut() else {
                return;
            };
            match self.stream.read(ws.space()) {
                Ok(0) => return self.fail("connection closed by peer".into()),
                Ok(n) => {
                    match ws.filled(n, &mut self.rbuf, &mut self.rstart, &mut self.rend) {
                        Ok(upgraded) => {
                            // Pongs, and the MQTT bytes held back until the
                            // upgrade, go out with the next flush.
                            if upgraded || ws.pending() > 0 {
                                self.dirty = true;
                            }
                        }
                        Err(why) => return self.fail(why),
                    }
                    self.parse(f);
                    if self.closed.is_some() {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return self.fail(format!("read: {e}")),
            }
        }
    }

    fn parse<F>(&mut self, f: &mut F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        if self.v5 {
            self.parse_as::<true, F>(f)
        } else {
            self.parse_as::<false, F>(f)
        }
    }

    fn parse_as<const V5: bool, F>(&mut self, f: &mut F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        let before = self.wbuf.len();
        loop {
            match decode_as::<V5>(&self.rbuf[self.rstart..self.rend]) {
                Decode::Frame(Packet::Disconnect { reason, props }, _) if V5 => {
                    // The broker closes the connection and says why.
                    let why = proto::find_prop(props, proto::prop::REASON_STRING)
                        .map(|s| format!(": {}", String::from_utf8_lossy(s)))
                        .unwrap_or_default();
                    self.fail(format!(
                        "broker sent DISCONNECT with reason code 0x{reason:02x}{why}"
                    ));
                    break;
                }
                Decode::Frame(pkt, n) => {
                    f(
                        pkt,
                        &self.rbuf[self.rstart..self.rstart + n],
                        &mut self.wbuf,
                    );
                    self.rstart += n;
                }
                Decode::Incomplete(need) => {
                    if let Some(need) = need {
                        if need > self.rbuf.len() {
                            let n = need.next_power_of_two();
                            self.rbuf.resize(n, 0);
                        }
                    }
                    break;
                }
                Decode::Invalid(why) => {
                    self.fail(format!("protocol error: {why}"));
                    break;
                }
            }
        }
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
        }
        if self.wbuf.len() != before {
            self.dirty = true;
        }
    }
}

/// A poll instance with its connections (token = index in `conns`).
pub struct Net {
    poll: Poll,
    events: Events,
    /// All connections, indexed by their token.
    pub conns: Vec<Conn>,
    dirty: Vec<usize>,
    listener: Option<TcpListener>,
    free: Vec<usize>,
}

const LISTENER: Token = Token(usize::MAX);

/// Tokens from here on belong to sockets registered with
/// [`Net::register_external`] (the MQTT-SN clients' UDP sockets): [`Net::poll`]
/// reports them in `ready` as they are, and the caller reads them itself.
pub const EXTERNAL: usize = usize::MAX / 2;

impl Net {
    /// Creates an empty event loop.
    pub fn new() -> io::Result<Net> {
        Ok(Net {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            conns: Vec::new(),
            dirty: Vec::new(),
            listener: None,
            free: Vec::new(),
        })
    }

    /// Registers a socket the caller owns (readable interest) under token
    /// `EXTERNAL + n`, so one [`Net::poll`] waits for it and the TCP
    /// connections together.
    pub fn register_external<S: mio::event::Source>(
        &mut self,
        source: &mut S,
        n: usize,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .register(source, Token(EXTERNAL + n), Interest::READABLE)
    }

    /// Listens on `addr`; accepted connections are added by [`Net::poll`].
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        let mut l = TcpListener::bind(addr)?;
        self.poll
            .registry()
            .register(&mut l, LISTENER, Interest::READABLE)?;
        let local = l.local_addr()?;
        self.listener = Some(l);
        Ok(local)
    }

    /// Releases a closed connection's slot (its socket is closed when the
    /// slot is reused) and its buffers.
    pub fn recycle(&mut self, id: usize) {
        let c = &mut self.conns[id];
        let _ = self.poll.registry().deregister(c.stream.tcp_mut());
        c.rbuf = Vec::new();
        c.wbuf = Vec::new();
        c.rstart = 0;
        c.rend = 0;
        c.wpos = 0;
        self.free.push(id);
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let Some(l) = self.listener.as_ref() else {
                return Ok(());
            };
            let mut stream = match l.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: leave the rest in the backlog.
                    eprintln!("mqlite-bench: accept: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            stream.set_nodelay(true)?;
            let id = match self.free.pop() {
                Some(id) => id,
                None => self.conns.len(),
            };
            self.poll.registry().register(
                &mut stream,
                Token(id),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let mut c = Conn::new(Stream::Plain(stream), None, BIG_BUF);
            c.connected = true;
            if id == self.conns.len() {
                self.conns.push(c);
            } else {
                self.conns[id] = c;
            }
        }
    }

    /// Starts a non-blocking connection (TCP_NODELAY set) over the
    /// transport of `--tls` / `--ws`; returns its index.
    pub fn connect(&mut self, addr: SocketAddr, rbuf: usize) -> io::Result<usize> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let id = self.conns.len();
        self.poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let (stream, ws) = transport::client(stream, addr, rbuf)?;
        self.conns.push(Conn::new(stream, ws, rbuf));
        Ok(id)
    }

    /// Decodes what connection `id` receives as MQTT 5 (or 3.1.1, the
    /// default): set it before the CONNACK can arrive.
    pub fn set_mqtt5(&mut self, id: usize, on: bool) {
        self.conns[id].v5 = on;
    }

    /// The write buffer of connection `id` (marks it for the next flush).
    #[inline]
    pub fn out(&mut self, id: usize) -> &mut Vec<u8> {
        self.mark(id);
        &mut self.conns[id].wbuf
    }

    #[inline]
    fn mark(&mut self, id: usize) {
        let c = &mut self.conns[id];
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Reads and decodes everything available on `id`.
    pub fn read<F>(&mut self, id: usize, f: F)
    where
        F: FnMut(Packet<'_>, &[u8], &mut Vec<u8>),
    {
        let c = &mut self.conns[id];
        let was = c.dirty;
        c.read_with(f);
        if c.dirty && !was {
            self.dirty.push(id);
        }
    }

    /// Flushes every connection with queued output.
    pub fn flush(&mut self) {
        let mut i = 0;
        while i < self.dirty.len() {
            let id = self.dirty[i];
            let c = &mut self.conns[id];
            c.flush();
            if c.pending() == 0 || c.closed.is_some() || !c.connected || c.blocked {
                // Blocked or unconnected connections are flushed again from
                // their writable event.
                c.dirty = false;
                self.dirty.swap_remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Waits for events (at most `timeout`), handles writability itself and
    /// appends the indices of readable connections to `ready`.
    pub fn poll(&mut self, timeout: Option<Duration>, ready: &mut Vec<usize>) -> io::Result<()> {
        ready.clear();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        let mut accept = false;
        for ev in self.events.iter() {
            if ev.token() == LISTENER {
                accept = true;
                continue;
            }
            let id = ev.token().0;
            if id >= EXTERNAL {
                ready.push(id);
                continue;
            }
            let c = &mut self.conns[id];
            if ev.is_writable() || ev.is_error() {
                c.check_connected();
                c.blocked = false;
                c.flush();
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                ready.push(id);
            }
        }
        if accept {
            self.accept()?;
        }
        Ok(())
    }

    /// Deregisters and closes every connection (after a best-effort flush of
    /// anything already queued, e.g. DISCONNECT).
    pub fn close_all(&mut self) {
        let deadline = Instant::now() + Duration::from_millis(500);
        let mut ready = Vec::new();
        loop {
            self.flush();
            let pending = self
                .conns
                .iter()
                .any(|c| c.closed.is_none() && c.connected && c.pending() > 0);
            if !pending || Instant::now() >= deadline {
                break;
            }
            if self
                .poll(Some(Duration::from_millis(10)), &mut ready)
                .is_err()
            {
                break;
            }
        }
        for c in &mut self.conns {
            let _ = self.poll.registry().deregister(c.stream.tcp_mut());
        }
        self.conns.clear();
        self.dirty.clear();
    }
}

/// Current monotonic time in nanoseconds since `base`.
#[inline]
pub fn nanos_since(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}
