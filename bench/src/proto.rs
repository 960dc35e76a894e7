//! Minimal MQTT 3.1.1 encoder and allocation-free frame decoder.
//!
//! The generator deliberately does not depend on the broker under test: it
//! encodes the handful of packets it needs itself, and decodes incoming
//! frames in place from a read buffer (every [`Packet`] borrows from it).

/// Packet type numbers (the high nibble of the fixed header).
pub mod kind {
    /// CONNECT
    pub const CONNECT: u8 = 1;
    /// CONNACK
    pub const CONNACK: u8 = 2;
    /// PUBLISH
    pub const PUBLISH: u8 = 3;
    /// PUBACK
    pub const PUBACK: u8 = 4;
    /// PUBREC
    pub const PUBREC: u8 = 5;
    /// PUBREL
    pub const PUBREL: u8 = 6;
    /// PUBCOMP
    pub const PUBCOMP: u8 = 7;
    /// SUBSCRIBE
    pub const SUBSCRIBE: u8 = 8;
    /// SUBACK
    pub const SUBACK: u8 = 9;
    /// PINGREQ
    pub const PINGREQ: u8 = 12;
    /// PINGRESP
    pub const PINGRESP: u8 = 13;
    /// DISCONNECT
    pub const DISCONNECT: u8 = 14;
}

/// Number of payload bytes the generator stamps into every message:
/// a monotonic timestamp (u64, ns), the publisher index (u32) and the
/// per-publisher sequence number (u32), all little endian.
pub const STAMP_LEN: usize = 16;

/// Appends an MQTT "remaining length" variable byte integer.
pub fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Appends a CONNECT packet (MQTT 3.1.1, clean session, no will, no auth).
pub fn connect(out: &mut Vec<u8>, client_id: &str, keep_alive: u16) {
    connect_session(out, client_id, keep_alive, true);
}

/// Appends a CONNECT packet with the Clean Session flag as given.
pub fn connect_session(out: &mut Vec<u8>, client_id: &str, keep_alive: u16, clean: bool) {
    let body = 10 + 2 + client_id.len();
    out.push(kind::CONNECT << 4);
    put_varint(out, body);
    put_str(out, b"MQTT");
    out.push(4); // protocol level 3.1.1
    out.push(if clean { 0x02 } else { 0x00 });
    out.extend_from_slice(&keep_alive.to_be_bytes());
    put_str(out, client_id.as_bytes());
}

/// Appends a SUBSCRIBE packet for `filters`, all requested at `qos`.
pub fn subscribe<S: AsRef<[u8]>>(out: &mut Vec<u8>, pid: u16, filters: &[S], qos: u8) {
    let body: usize = 2 + filters.iter().map(|f| 3 + f.as_ref().len()).sum::<usize>();
    out.push((kind::SUBSCRIBE << 4) | 0x02);
    put_varint(out, body);
    out.extend_from_slice(&pid.to_be_bytes());
    for f in filters {
        put_str(out, f.as_ref());
        out.push(qos);
    }
}

/// Appends a two-byte-body acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP).
#[inline]
pub fn ack(out: &mut Vec<u8>, packet_kind: u8, pid: u16) {
    let flags = if packet_kind == kind::PUBREL { 0x02 } else { 0 };
    let p = pid.to_be_bytes();
    out.extend_from_slice(&[(packet_kind << 4) | flags, 2, p[0], p[1]]);
}

/// Appends a DISCONNECT.
pub fn disconnect(out: &mut Vec<u8>) {
    out.extend_from_slice(&[kind::DISCONNECT << 4, 0]);
}

/// Appends a complete PUBLISH packet with an arbitrary payload (used for
/// one-off messages such as deleting retained messages).
pub fn publish(out: &mut Vec<u8>, topic: &[u8], qos: u8, retain: bool, pid: u16, payload: &[u8]) {
    let body = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    out.push((kind::PUBLISH << 4) | (qos << 1) | u8::from(retain));
    put_varint(out, body);
    put_str(out, topic);
    if qos > 0 {
        out.extend_from_slice(&pid.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// A decoded incoming packet, borrowing from the read buffer.
#[derive(Debug)]
pub enum Packet<'a> {
    /// CONNACK with its return code.
    ConnAck {
        /// Return code (0 = accepted).
        code: u8,
    },
    /// SUBACK with the granted QoS / failure codes.
    SubAck {
        /// One code per filter, 0x80 = failure.
        codes: &'a [u8],
    },
    /// PUBLISH.
    Publish {
        /// QoS of the delivery.
        qos: u8,
        /// RETAIN flag.
        retain: bool,
        /// Topic name.
        topic: &'a [u8],
        /// Packet identifier (0 for QoS 0).
        pid: u16,
        /// Application payload.
        payload: &'a [u8],
    },
    /// SUBSCRIBE (only the forwarder of the `ceiling` scenario receives it).
    Subscribe {
        /// Packet identifier.
        pid: u16,
        /// The payload: length-prefixed filters, each followed by a QoS byte.
        filters: &'a [u8],
    },
    /// PUBACK, PUBREC, PUBREL or PUBCOMP (kind, packet identifier).
    Ack(u8, u16),
    /// Any other packet type (type number).
    Other(u8),
}

/// Outcome of trying to decode one frame from the front of a buffer.
pub enum Decode<'a> {
    /// A full frame: the packet and the number of bytes it occupied.
    Frame(Packet<'a>, usize),
    /// More bytes are needed; the frame will be this many bytes long if known.
    Incomplete(Option<usize>),
    /// The stream is not valid MQTT.
    Invalid(&'static str),
}

/// Reads the fixed header: (first byte, remaining length, header length).
#[inline]
pub fn fixed_header(buf: &[u8]) -> Result<Option<(u8, usize, usize)>, &'static str> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let mut len = 0usize;
    let mut mult = 1usize;
    for i in 1..5 {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        len += (b & 0x7f) as usize * mult;
        if b & 0x80 == 0 {
            return Ok(Some((buf[0], len, i + 1)));
        }
        mult *= 128;
    }
    Err("remaining length longer than 4 bytes")
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes one frame from the front of `buf` without allocating.
#[inline]
pub fn decode(buf: &[u8]) -> Decode<'_> {
    let (first, rem, hlen) = match fixed_header(buf) {
        Ok(Some(h)) => h,
        Ok(None) => return Decode::Incomplete(None),
        Err(e) => return Decode::Invalid(e),
    };
    let total = hlen + rem;
    if buf.len() < total {
        return Decode::Incomplete(Some(total));
    }
    let body = &buf[hlen..total];
    let t = first >> 4;
    let pkt = match t {
        kind::PUBLISH => {
            let qos = (first >> 1) & 3;
            let Some(tlen) = be16(body, 0) else {
                return Decode::Invalid("short PUBLISH");
            };
            let tend = 2 + tlen as usize;
            let (pid, pstart) = if qos > 0 {
                match be16(body, tend) {
                    Some(p) => (p, tend + 2),
                    None => return Decode::Invalid("short PUBLISH"),
                }
            } else {
                (0, tend)
            };
            if pstart > body.len() {
                return Decode::Invalid("short PUBLISH");
            }
            Packet::Publish {
                qos,
                retain: first & 1 == 1,
                topic: &body[2..tend],
                pid,
                payload: &body[pstart..],
            }
        }
        kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => match be16(body, 0) {
            Some(p) => Packet::Ack(t, p),
            None => return Decode::Invalid("short acknowledgement"),
        },
        kind::CONNACK => match body.get(1) {
            Some(&code) => Packet::ConnAck { code },
            None => return Decode::Invalid("short CONNACK"),
        },
        kind::SUBACK => match be16(body, 0) {
            Some(_) => Packet::SubAck { codes: &body[2..] },
            None => return Decode::Invalid("short SUBACK"),
        },
        kind::SUBSCRIBE => match be16(body, 0) {
            Some(pid) => Packet::Subscribe {
                pid,
                filters: &body[2..],
            },
            None => return Decode::Invalid("short SUBSCRIBE"),
        },
        other => Packet::Other(other),
    };
    Decode::Frame(pkt, total)
}

/// Reads the generator's stamp (timestamp ns, publisher index, sequence) from
/// a payload, if it is long enough.
#[inline]
pub fn read_stamp(payload: &[u8]) -> Option<(u64, u32, u32)> {
    if payload.len() < STAMP_LEN {
        return None;
    }
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&payload[0..8]);
    let mut p = [0u8; 4];
    p.copy_from_slice(&payload[8..12]);
    let mut s = [0u8; 4];
    s.copy_from_slice(&payload[12..16]);
    Some((
        u64::from_le_bytes(ts),
        u32::from_le_bytes(p),
        u32::from_le_bytes(s),
    ))
}

/// Pre-encoded PUBLISH packets: one header (fixed header, topic, packet id
/// placeholder) per topic, and one shared payload template. Writing a message
/// is two `memcpy`s plus in-place patching of the packet id and the stamp.
pub struct PublishArena {
    headers: Vec<u8>,
    offsets: Vec<(u32, u32)>,
    payload: Vec<u8>,
    qos: u8,
}

impl PublishArena {
    /// Creates an arena for messages of `payload_len` bytes (at least
    /// [`STAMP_LEN`]) at the given QoS and retain flag.
    pub fn new(payload_len: usize, qos: u8, retain: bool) -> PublishArena {
        let payload_len = payload_len.max(STAMP_LEN);
        let mut payload = vec![b'x'; payload_len];
        payload[..STAMP_LEN].fill(0);
        PublishArena {
            headers: Vec::new(),
            offsets: Vec::new(),
            payload,
            qos: qos | if retain { 0x10 } else { 0 },
        }
    }

    /// Adds a topic; returns its index.
    pub fn add_topic(&mut self, topic: &[u8]) -> usize {
        let qos = self.qos & 3;
        let retain = self.qos & 0x10 != 0;
        let start = self.headers.len();
        let body = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + self.payload.len();
        self.headers
            .push((kind::PUBLISH << 4) | (qos << 1) | u8::from(retain));
        put_varint(&mut self.headers, body);
        put_str(&mut self.headers, topic);
        if qos > 0 {
            self.headers.extend_from_slice(&[0, 0]);
        }
        self.offsets.push((start as u32, self.headers.len() as u32));
        self.offsets.len() - 1
    }

    /// Number of topics.
    pub fn topics(&self) -> usize {
        self.offsets.len()
    }

    /// Bytes one message for `topic` occupies on the wire.
    pub fn wire_len(&self, topic: usize) -> usize {
        let (s, e) = self.offsets[topic];
        (e - s) as usize + self.payload.len()
    }

    /// Payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// Appends one message for `topic` with the given packet id and stamp.
    #[inline]
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        topic: usize,
        pid: u16,
        ts: u64,
        publisher: u32,
        seq: u32,
    ) {
        let (s, e) = self.offsets[topic];
        out.extend_from_slice(&self.headers[s as usize..e as usize]);
        let end = out.len();
        if self.qos & 3 > 0 {
            out[end - 2..end].copy_from_slice(&pid.to_be_bytes());
        }
        out.extend_from_slice(&self.payload);
        let stamp = &mut out[end..end + STAMP_LEN];
        stamp[0..8].copy_from_slice(&ts.to_le_bytes());
        stamp[8..12].copy_from_slice(&publisher.to_le_bytes());
        stamp[12..16].copy_from_slice(&seq.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_round_trip() {
        let mut a = PublishArena::new(20, 1, true);
        let t = a.add_topic(b"bench/3");
        let mut out = Vec::new();
        a.write(&mut out, t, 77, 123_456, 3, 9);
        assert_eq!(out.len(), a.wire_len(t));
        match decode(&out) {
            Decode::Frame(
                Packet::Publish {
                    qos,
                    retain,
                    topic,
                    pid,
                    payload,
                },
                n,
            ) => {
                assert_eq!(
                    (qos, retain, topic, pid, n),
                    (1, true, &b"bench/3"[..], 77, out.len())
                );
                assert_eq!(read_stamp(payload), Some((123_456, 3, 9)));
                assert_eq!(payload.len(), 20);
            }
            _ => panic!("not decoded"),
        }
        assert!(matches!(
            decode(&out[..out.len() - 1]),
            Decode::Incomplete(Some(_))
        ));
    }

    #[test]
    fn varint_large() {
        let mut a = PublishArena::new(65536, 0, false);
        let t = a.add_topic(b"bench/0");
        let mut out = Vec::new();
        a.write(&mut out, t, 0, 1, 0, 0);
        assert!(matches!(decode(&out), Decode::Frame(Packet::Publish { .. }, n) if n == out.len()));
    }
}
